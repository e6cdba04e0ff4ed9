//! The HTTP/1.1 server: one thread accepts, each connection gets a thread of its own that
//! reads its requests, calls the router and writes the answers. A request that waits for
//! media (a blocking playlist reload, a hinted part) simply parks its connection's thread, so
//! it never delays anyone else. Replies go out with TCP_NODELAY in one vectored write. A
//! streamed body (the MJPEG live view) keeps its connection's thread until it ends or the
//! client leaves, and the connection closes after it.
//!
//! Why not tiny_http (the design's first choice): measured with `cargo bench --bench
//! segment_latency`, its connection pool left some new connections unserved indefinitely (a
//! race in its task pool), Nagle's algorithm added ~40 ms to every playlist answer, and the
//! hand-off from its connection threads to ours cost a thread per waiting request.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::response::StreamBody;
use super::wire::{self, Head};
use super::{Body, Request, Response};

/// Bodies larger than this are refused with 413 before they are read.
pub const MAX_BODY: usize = 1 << 20;
/// How long a kept-alive connection may sit idle between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a client may take to send a request once it has started one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a reply may take to drain into a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connection threads need little stack: requests are parsed into heap buffers.
const STACK_SIZE: usize = 256 * 1024;

/// What the server calls for every request.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;
}

impl<F: Fn(&Request) -> Response + Send + Sync + 'static> Handler for F {
    fn handle(&self, req: &Request) -> Response {
        self(req)
    }
}

pub struct HttpServer {
    addr: SocketAddr,
    acceptor: thread::JoinHandle<()>,
    /// The accept thread's socket, to wake its `accept` when stopping.
    listener: TcpListener,
    stopping: Arc<AtomicBool>,
}

impl HttpServer {
    /// Binds and starts accepting; at most `max_connections` are served at once.
    pub fn start<H: Handler + ?Sized>(
        addr: SocketAddr,
        max_connections: usize,
        handler: Arc<H>,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let active = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let ours = listener.try_clone()?;
        let stop = Arc::clone(&stopping);
        let acceptor = thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || {
                accept_loop(&listener, max_connections.max(1), &handler, &active, &stop)
            })?;
        Ok(HttpServer {
            addr,
            acceptor,
            listener: ours,
            stopping,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes the listening socket, so new clients are refused;
    /// connections already open go on.
    pub fn stop_accepting(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Shutting a listening socket down makes a blocked `accept` return (EINVAL).
        // SAFETY: the descriptor belongs to `self.listener`, alive here.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        let _ = self.acceptor.join();
    }
}

/// Decrements the connection count when a connection thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop<H: Handler + ?Sized>(
    listener: &TcpListener,
    max: usize,
    handler: &Arc<H>,
    active: &Arc<AtomicUsize>,
    stopping: &AtomicBool,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                log::warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= max {
            active.fetch_sub(1, Ordering::SeqCst);
            let busy =
                Response::detail(503, "Too many connections").with_header("Retry-After", "1");
            let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
            let _ = write_response(&mut stream, &busy, false, false);
            continue;
        }
        let slot = Slot(Arc::clone(active));
        let handler = Arc::clone(handler);
        let spawned = thread::Builder::new()
            .name("http-conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let _slot = slot;
                if let Err(e) = serve_connection(stream, handler.as_ref()) {
                    log::debug!("connection ended: {e}");
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start a connection thread: {e}");
        }
    }
}

fn serve_connection<H: Handler + ?Sized>(mut stream: TcpStream, handler: &H) -> io::Result<()> {
    let peer = stream.peer_addr().ok();
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        let Some(head) = read_head(&mut stream, &mut buf, first)? else {
            return Ok(());
        };
        first = false;
        buf.drain(..head.head_len);
        if head.expect_continue {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        while buf.len() < head.body_len {
            match fill_before(&mut stream, &mut buf, Some(deadline)) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {
                    let resp = Response::detail(408, "Request timed out");
                    return write_response(&mut stream, &resp, false, false);
                }
                Err(e) => return Err(e),
            }
        }
        let Head {
            mut request,
            body_len,
            keep_alive,
            ..
        } = head;
        request.body = buf.drain(..body_len).collect();
        request.peer = peer;
        let response = dispatch(handler, &request);
        let head_only = request.method == "HEAD";
        write_response(&mut stream, &response, keep_alive, head_only)?;
        if let Body::Stream(body) = response.body {
            if !head_only {
                run_stream(&mut stream, body, &request);
            }
            return Ok(());
        }
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Reads until a whole request head is in `buf`. `None` when the client closed or went idle;
/// a malformed head is answered here and ends the connection.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, first: bool) -> io::Result<Option<Head>> {
    // A request must arrive whole within REQUEST_TIMEOUT of its first byte, however slowly
    // the client trickles it, and a new connection must send one that soon; only a kept-alive
    // connection between requests has the longer idle timeout.
    let mut deadline = first.then(|| Instant::now() + REQUEST_TIMEOUT);
    // Bytes already known not to complete a head: parse again only when a head can end,
    // so a head trickled a byte at a time costs linear, not quadratic, work.
    let mut searched: usize = 0;
    loop {
        if buf.len() > wire::MAX_HEAD || contains_head_end(&buf[searched.saturating_sub(3)..]) {
            match wire::parse_head(buf, MAX_BODY) {
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(e) => {
                    let resp = Response::detail(e.status, e.detail);
                    write_response(stream, &resp, false, false)?;
                    linger(stream);
                    return Ok(None);
                }
            }
        }
        searched = buf.len();
        if deadline.is_none() && !buf.is_empty() {
            deadline = Some(Instant::now() + REQUEST_TIMEOUT);
        }
        match fill_before(stream, buf, deadline) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                if !buf.is_empty() {
                    let resp = Response::detail(408, "Request timed out");
                    let _ = write_response(stream, &resp, false, false);
                }
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

fn contains_head_end(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// After refusing a request whose body is still arriving, reads and drops what the client
/// keeps sending for a moment before closing; closing with unread data would reset the
/// connection and the client might never see the answer.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut budget: usize = 8 * MAX_BODY;
    while budget > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget = budget.saturating_sub(n),
        }
    }
}

/// Reads more into `buf`, giving up at `deadline` (or after the idle timeout without one).
fn fill_before(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    let timeout = match deadline {
        None => IDLE_TIMEOUT,
        Some(d) => d
            .checked_duration_since(Instant::now())
            .filter(|t| !t.is_zero())
            .ok_or(io::ErrorKind::TimedOut)?,
    };
    stream.set_read_timeout(Some(timeout))?;
    fill(stream, buf)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Runs the handler; a panic becomes a 500 instead of a dead connection.
fn dispatch<H: Handler + ?Sized>(handler: &H, req: &Request) -> Response {
    panic::catch_unwind(AssertUnwindSafe(|| handler.handle(req))).unwrap_or_else(|_| {
        log::error!("handler panicked on {} {}", req.method, req.path);
        Response::detail(500, "Internal Server Error")
    })
}

/// Lets a streamed body write to the client until it returns or a write fails (the client
/// went away, or stopped reading for longer than the write timeout). A panic in it ends
/// only this connection.
fn run_stream(stream: &mut TcpStream, body: StreamBody, req: &Request) {
    match panic::catch_unwind(AssertUnwindSafe(|| body.run(stream))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::debug!("stream {} ended: {e}", req.path),
        Err(_) => log::error!("stream {} panicked", req.path),
    }
}

/// Writes head and body with as few system calls as the kernel allows.
fn write_response(
    stream: &mut TcpStream,
    resp: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut head = Vec::with_capacity(256);
    wire::write_head(resp, keep_alive, &mut head);
    let mut slices = vec![IoSlice::new(&head)];
    if !head_only {
        slices.extend(
            resp.body
                .slices()
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(IoSlice::new),
        );
    }
    let mut remaining: &mut [IoSlice<'_>] = &mut slices;
    while !remaining.is_empty() {
        let n = stream.write_vectored(remaining)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut remaining, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    /// Streams: `/finite` writes two lines and returns, `/endless` writes until the client
    /// goes away and reports how it ended.
    struct Streams {
        runs: Arc<AtomicUsize>,
        ended: crossbeam_channel::Sender<io::Result<()>>,
    }

    impl Handler for Streams {
        fn handle(&self, req: &Request) -> Response {
            let runs = Arc::clone(&self.runs);
            let ended = self.ended.clone();
            let body = match req.path.as_str() {
                "/finite" => StreamBody::new(move |out| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    out.write_all(b"one\n")?;
                    out.flush()?;
                    thread::sleep(Duration::from_millis(20));
                    out.write_all(b"two\n")
                }),
                "/endless" => StreamBody::new(move |out| {
                    let result = loop {
                        if let Err(e) = out.write_all(b"tick") {
                            break Err(e);
                        }
                        thread::sleep(Duration::from_millis(5));
                    };
                    let _ = ended.send(result);
                    Ok(())
                }),
                _ => return Response::not_found(),
            };
            Response::new(200, "text/plain", Body::Stream(body))
        }
    }

    fn stream_server() -> (
        HttpServer,
        Arc<AtomicUsize>,
        crossbeam_channel::Receiver<io::Result<()>>,
    ) {
        let runs = Arc::new(AtomicUsize::new(0));
        let (ended, ended_rx) = crossbeam_channel::unbounded();
        let handler = Arc::new(Streams {
            runs: Arc::clone(&runs),
            ended,
        });
        let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), 8, handler).unwrap();
        (server, runs, ended_rx)
    }

    /// Sends `request` on a new connection and reads until the server closes it.
    fn exchange(server: &HttpServer, request: &str) -> String {
        let mut client = TcpStream::connect(server.local_addr()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        client
            .read_to_end(&mut answer)
            .expect("the server ends the connection after a stream");
        String::from_utf8(answer).unwrap()
    }

    #[test]
    fn a_streamed_body_reaches_the_client_and_ends_the_connection() {
        let (server, runs, _) = stream_server();
        let answer = exchange(&server, "GET /finite HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "{head}"
        );
        assert_eq!(body, "one\ntwo\n");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let answer = exchange(
            &server,
            "GET /missing HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(
            answer.starts_with("HTTP/1.1 404"),
            "the server still serves"
        );
    }

    #[test]
    fn head_requests_do_not_run_the_stream() {
        let (server, runs, _) = stream_server();
        let answer = exchange(&server, "HEAD /finite HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("Connection: close\r\n\r\n"), "{answer}");
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_stream_ends_when_its_client_goes_away() {
        let (server, _, ended) = stream_server();
        let mut client = TcpStream::connect(server.local_addr()).unwrap();
        client.write_all(b"GET /endless HTTP/1.1\r\n\r\n").unwrap();
        let mut first = [0u8; 64];
        assert!(client.read(&mut first).unwrap() > 0);
        drop(client);
        let result = ended
            .recv_timeout(Duration::from_secs(5))
            .expect("the stream noticed the client left");
        assert!(result.is_err());
    }

    #[test]
    fn a_trickling_client_still_meets_the_deadline() {
        let (mut server, mut client) = pair();
        let trickle = thread::spawn(move || {
            for _ in 0..20 {
                if client.write_all(b"G").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(30));
            }
        });
        let deadline = Instant::now() + Duration::from_millis(150);
        let mut buf = Vec::new();
        let err = loop {
            match fill_before(&mut server, &mut buf, Some(deadline)) {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert!(is_timeout(&err), "{err}");
        assert!(
            Instant::now() < deadline + Duration::from_millis(100),
            "gave up on time"
        );
        assert!(!buf.is_empty() && buf.len() < 20);
        drop(server);
        trickle.join().unwrap();
    }
}
