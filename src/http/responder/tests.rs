//! The responder over real loopback sockets, behind the real `HttpServer`: a handler parks
//! `/wait` until a gate opens (or its hold ends) and stamps every answer with the request's
//! id, as the router's middleware does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::parking::Pending;
use crate::http::server::{Handler, HttpServer, Limits};
use crate::http::{Body, Request, Response};
use crate::sync::LockExt;

struct Gate {
    open: AtomicBool,
    wake: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    /// Parked requests alive (dropped when answered or abandoned).
    alive: AtomicUsize,
    hold: Duration,
    body: usize,
    /// `/wait` and `/plain` may be answered on the responder's thread.
    inline: bool,
    /// Requests the handler saw on the responder's thread.
    on_responder: AtomicUsize,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        if let Some(wake) = self.wake.lock_unpoisoned().as_ref() {
            wake();
        }
    }

    fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }

    fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    fn on_responder(&self) -> usize {
        self.on_responder.load(Ordering::SeqCst)
    }
}

struct Wait {
    gate: Arc<Gate>,
    since: Instant,
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.gate.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pending for Wait {
    fn key(&self) -> &str {
        "gate"
    }

    fn poll(&self) -> Result<Response, Instant> {
        if !self.gate.open.load(Ordering::SeqCst) {
            return Err(self.since + self.gate.hold);
        }
        let body = Body::Bytes(vec![b'o'; self.gate.body]);
        Ok(Response::new(200, "text/plain", body).with_header("Cache-Control", "no-cache"))
    }

    fn expire(&self, _: Instant) -> Response {
        Response::detail(503, "timed out").with_header("Cache-Control", "no-store")
    }
}

struct Gated(Arc<Gate>);

impl Handler for Gated {
    fn handle(&self, req: &Request) -> Response {
        if req.on_responder {
            self.0.on_responder.fetch_add(1, Ordering::SeqCst);
        }
        let resp = match req.path.as_str() {
            "/wait" if !req.may_park => Response::new(200, "text/plain", Body::Static(b"unparked")),
            "/wait" => {
                self.0.alive.fetch_add(1, Ordering::SeqCst);
                Response::parked(Box::new(Wait {
                    gate: Arc::clone(&self.0),
                    since: Instant::now(),
                }))
            }
            "/plain" | "/thread" => Response::new(200, "text/plain", Body::Static(b"plain")),
            _ => Response::not_found(),
        };
        // What the middleware does: headers of the request's own, set if absent.
        let id = req.header("X-Request-Id").unwrap_or("none").to_string();
        resp.with_header("X-Request-Id", &id)
            .with_header("X-Frame-Options", "DENY")
    }

    fn attach_waker(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        *self.0.wake.lock_unpoisoned() = Some(wake);
    }

    fn never_blocks(&self, req: &Request) -> bool {
        self.0.inline && matches!(req.path.as_str(), "/wait" | "/plain")
    }
}

fn server(limits: Limits, hold: Duration, body: usize) -> (HttpServer, Arc<Gate>) {
    server_with(limits, hold, body, false)
}

fn server_with(
    limits: Limits,
    hold: Duration,
    body: usize,
    inline: bool,
) -> (HttpServer, Arc<Gate>) {
    let gate = Arc::new(Gate {
        open: AtomicBool::new(false),
        wake: Mutex::new(None),
        alive: AtomicUsize::new(0),
        hold,
        body,
        inline,
        on_responder: AtomicUsize::new(0),
    });
    let server = HttpServer::start_with(
        "127.0.0.1:0".parse().unwrap(),
        limits,
        Arc::new(Gated(Arc::clone(&gate))),
    )
    .unwrap();
    (server, gate)
}

struct Client(BufReader<TcpStream>);

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client(BufReader::new(stream))
    }

    fn send(&mut self, path: &str, id: &str) {
        self.send_raw(&request("GET", path, id));
    }

    fn send_raw(&mut self, bytes: &str) {
        self.0.get_mut().write_all(bytes.as_bytes()).unwrap();
    }

    /// Status, headers (lower-case names) and body of the next answer.
    fn answer(&mut self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            let Some((n, v)) = line.trim_end().split_once(": ") else {
                break;
            };
            headers.push((n.to_ascii_lowercase(), v.to_string()));
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).unwrap();
        (status, headers, body)
    }
}

fn request(method: &str, path: &str, id: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {id}\r\n\r\n")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn parked_requests_hold_no_slot_and_are_all_answered_then_served_again() {
    // Eight connection slots, sixty parked requests: a parked one holds no slot.
    let mut limits = Limits::new(8);
    (limits.max_parked, limits.per_address) = (100, 100);
    let (server, gate) = server(limits, Duration::from_secs(30), 100);
    let mut clients: Vec<Client> = (0..60)
        .map(|i| {
            let mut c = Client::connect(server.local_addr());
            c.send("/wait", &format!("id-{i}"));
            wait_until("parked", || gate.alive() == i + 1);
            c
        })
        .collect();
    gate.open();
    for (i, c) in clients.iter_mut().enumerate() {
        let (status, headers, body) = c.answer();
        assert_eq!((status, body), (200, vec![b'o'; 100]));
        assert_eq!(header(&headers, "x-request-id"), Some(&*format!("id-{i}")));
        assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
        assert_eq!(header(&headers, "content-type"), Some("text/plain"));
        assert_eq!(header(&headers, "connection"), Some("keep-alive"));
        assert_eq!(headers.len(), 6, "{headers:?}");
    }
    wait_until("every waiter dropped", || gate.alive() == 0);
    // Answered, the sixty connections rest in the responder, still without a slot, and
    // each is served again when its next request comes.
    for c in &mut clients {
        c.send("/plain", "again");
        let (status, headers, body) = c.answer();
        assert_eq!((status, &body[..]), (200, &b"plain"[..]));
        assert_eq!(header(&headers, "x-request-id"), Some("again"));
    }
    // Open now: the next request is answered at once (and parks nothing).
    // (The first ones have given their slots up to the later ones by now.)
    clients[59].send("/wait", "open");
    assert_eq!(clients[59].answer().0, 200);
}

#[test]
fn a_parked_client_that_hangs_up_is_dropped() {
    let (server, gate) = server(Limits::new(64), Duration::from_secs(30), 10);
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for c in &mut clients {
        c.send("/wait", "x");
    }
    wait_until("3 parked", || gate.alive() == 3);
    drop(clients.pop());
    wait_until("the one that left dropped", || gate.alive() == 2);
    drop(clients);
    wait_until("all dropped", || gate.alive() == 0);
    // Their places under the cap came back with them.
    let mut again: Vec<Client> = (0..64)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for c in &mut again {
        c.send("/wait", "y");
    }
    wait_until("64 parked again", || gate.alive() == 64);
}

#[test]
fn the_hold_ends_with_the_timeout_answer_and_the_connection_goes_on() {
    let hold = Duration::from_millis(300);
    let (server, gate) = server(Limits::new(8), hold, 10);
    let mut c = Client::connect(server.local_addr());
    let sent = Instant::now();
    c.send("/wait", "late");
    let (status, headers, body) = c.answer();
    assert!(sent.elapsed() >= hold, "answered at the end of the hold");
    assert_eq!(status, 503);
    assert_eq!(body, br#"{"detail":"timed out"}"#);
    assert_eq!(header(&headers, "x-request-id"), Some("late"));
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(gate.alive(), 0);
    c.send("/plain", "next");
    assert_eq!(c.answer().2, b"plain");
}

#[test]
fn beyond_the_cap_a_request_is_not_parked() {
    let mut limits = Limits::new(16);
    limits.max_parked = 2;
    let (server, gate) = server(limits, Duration::from_secs(30), 10);
    let mut parked: Vec<Client> = (0..2)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for c in &mut parked {
        c.send("/wait", "p");
    }
    wait_until("2 parked", || gate.alive() == 2);
    let mut third = Client::connect(server.local_addr());
    third.send("/wait", "third");
    assert_eq!(
        third.answer().2,
        b"unparked",
        "the handler was told not to park"
    );
    gate.open();
    for c in &mut parked {
        assert_eq!(c.answer().0, 200);
    }
    wait_until("places back", || gate.alive() == 0);
    third.send("/wait", "now");
    assert_eq!(third.answer().0, 200);
}

#[test]
fn an_answer_larger_than_the_socket_takes_is_finished_when_the_client_reads() {
    let size = 48 << 20;
    let (server, gate) = server(Limits::new(8), Duration::from_secs(30), size);
    let mut c = Client::connect(server.local_addr());
    c.send("/wait", "big");
    wait_until("parked", || gate.alive() == 1);
    gate.open();
    // The client does not read for a while: the rest waits for EPOLLOUT.
    thread::sleep(Duration::from_millis(300));
    let (status, _, body) = c.answer();
    assert_eq!((status, body.len()), (200, size));
    assert!(body.iter().all(|&b| b == b'o'));
    c.send("/plain", "after");
    assert_eq!(c.answer().2, b"plain");
}

#[test]
fn stopping_answers_parked_requests_and_closes_them() {
    let (server, gate) = server(Limits::new(8), Duration::from_secs(30), 10);
    let mut c = Client::connect(server.local_addr());
    c.send("/wait", "stop");
    wait_until("parked", || gate.alive() == 1);
    let _ = server.stop_accepting();
    let (status, headers, body) = c.answer();
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert_eq!(body, br#"{"detail":"picamd is stopping"}"#);
    let mut rest = Vec::new();
    assert_eq!(c.0.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    assert_eq!(gate.alive(), 0);
}

#[test]
fn a_rested_connection_is_served_on_the_responder_until_a_request_needs_a_thread() {
    let (server, gate) = server_with(Limits::new(8), Duration::from_secs(30), 10, true);
    let mut c = Client::connect(server.local_addr());
    // The first request comes through a connection thread and parks.
    c.send("/wait", "first");
    wait_until("parked", || gate.alive() == 1);
    gate.open();
    assert_eq!(c.answer().0, 200);
    assert_eq!(gate.on_responder(), 0);
    // Resting in the responder: its next requests are read and answered there.
    c.send("/plain", "plain");
    let (status, headers, body) = c.answer();
    assert_eq!((status, &body[..]), (200, &b"plain"[..]));
    assert_eq!(header(&headers, "x-request-id"), Some("plain"));
    assert_eq!(header(&headers, "connection"), Some("keep-alive"));
    assert_eq!(gate.on_responder(), 1);
    c.send("/wait", "open");
    assert_eq!(c.answer().2, vec![b'o'; 10], "ready: answered at once");
    gate.close();
    c.send("/wait", "parks-here");
    wait_until("parked by the responder", || gate.alive() == 1);
    gate.open();
    let (status, headers, _) = c.answer();
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-request-id"), Some("parks-here"));
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert_eq!(gate.on_responder(), 3);
    // HEAD: the head alone, with the length of the body it would have.
    c.send_raw(&request("HEAD", "/plain", "head"));
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        let mut line = String::new();
        c.0.read_line(&mut line).unwrap();
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 5\r\n"), "{head}");
    // Two pipelined requests are answered in order, then one that needs a thread goes to
    // a connection thread and the connection goes on there.
    c.send_raw(
        &[
            request("GET", "/plain", "p1"),
            request("GET", "/wait", "p2"),
        ]
        .concat(),
    );
    assert_eq!(header(&c.answer().1, "x-request-id"), Some("p1"));
    assert_eq!(header(&c.answer().1, "x-request-id"), Some("p2"));
    assert_eq!(gate.on_responder(), 6);
    c.send("/thread", "thread");
    let (status, headers, _) = c.answer();
    assert_eq!(
        (status, header(&headers, "x-request-id")),
        (200, Some("thread"))
    );
    assert_eq!(
        gate.on_responder(),
        6,
        "/thread was not served on the responder"
    );
    c.send("/plain", "after");
    assert_eq!(c.answer().2, b"plain");
}

#[test]
fn a_bad_or_stalled_request_on_a_rested_connection_is_answered_as_anywhere() {
    let (server, gate) = server_with(Limits::new(8), Duration::from_secs(30), 10, true);
    gate.open();
    let rested = |id: &str| {
        let mut c = Client::connect(server.local_addr());
        c.send("/wait", id);
        assert_eq!(c.answer().0, 200);
        c
    };
    // A malformed head goes to a connection thread, which answers 400 and closes.
    let mut bad = rested("bad");
    bad.send_raw("GET /plain HTTP/1.1\rX: y\r\n\r\n");
    assert_eq!(bad.answer().0, 400);
    // A request with a body too.
    let mut post = rested("post");
    post.send_raw("POST /plain HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(post.answer().2, b"plain");
    // A client that hangs up while resting is closed (nothing to answer).
    let mut gone = rested("gone");
    gone.0
        .get_mut()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(gone.0.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn a_connection_answered_by_its_thread_rests_in_the_responder_after_a_quick_request() {
    let (server, gate) = server_with(Limits::new(8), Duration::from_secs(30), 10, true);
    let mut c = Client::connect(server.local_addr());
    c.send("/plain", "thread");
    assert_eq!(c.answer().2, b"plain");
    assert_eq!(
        gate.on_responder(),
        0,
        "a new connection's request: a connection thread"
    );
    c.send("/plain", "responder");
    assert_eq!(c.answer().2, b"plain");
    assert_eq!(gate.on_responder(), 1, "then it rested in the responder");
    // A route that may block is still answered by a thread, and the connection stays there.
    c.send("/thread", "t");
    assert_eq!(c.answer().2, b"plain");
    c.send("/thread", "t2");
    assert_eq!(c.answer().2, b"plain");
    assert_eq!(gate.on_responder(), 1);
}
