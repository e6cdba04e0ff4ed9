//! The HTTP/1.1 server: one thread accepts, each connection gets a thread of its own that
//! reads its requests, calls the router and writes the answers. A request that waits for
//! media (a blocking playlist reload, a hinted part) is handed with its socket to the
//! responder (`responder/`), one thread that answers every parked request when its media
//! is published; the connection thread ends (back to the pool, `workers.rs`). The kept-alive
//! connection then rests in the responder, which reads its next request itself and answers
//! or parks an LL-HLS one (`Handler::never_blocks`) on its own thread; any other request goes
//! back to a connection thread with the bytes read. A connection whose LL-HLS request its
//! thread answered directly rests there too. Beyond the responder's cap such a request
//! parks its own thread instead, as before, so it never delays anyone else. Replies go out
//! with TCP_NODELAY in one vectored write. A
//! streamed body (the MJPEG live view) keeps its connection's thread until it ends or the
//! client leaves, and the connection closes after it.
//!
//! Memory and slots are bounded under abuse: the router admits a request on its head alone
//! (route, method, auth, the route's body limit) before any body is read, bodies in flight
//! share one budget, a connection's buffer shrinks back between requests, each peer address
//! holds at most its share of the slots, and when all are taken (or a peer's share is) the
//! connection that has waited longest without a request in progress makes room.
//!
//! Why not tiny_http (the design's first choice): measured with `cargo bench --bench
//! segment_latency`, its connection pool left some new connections unserved indefinitely (a
//! race in its task pool), Nagle's algorithm added ~40 ms to every playlist answer, and the
//! hand-off from its connection threads to ours cost a thread per waiting request.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::budget::{Budget, Reservation};
use super::chunked;
use super::responder::{Responder, Resumed, Waiter};
use super::response::{StreamBody, Upgrade, PLACEHOLDERS};
use super::slots::{Refusal, Slots};
use super::throttle::Throttle;
use super::wire::{self, Framing, Head, WireError};
use super::workers::Workers;
use super::{Body, Request, Response};
use crate::heartbeat::Heartbeat;
use crate::in_flight::InFlight;
use crate::sync::LockExt;

/// The body limit of a route that sets none: every JSON body the API takes is far smaller.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024;
/// How long a kept-alive connection may sit idle between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a client may take to send a request once it has started one (and a new
/// connection its first byte).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a new connection may take to send its first byte when most slots are taken.
const CROWDED_FIRST_BYTE: Duration = Duration::from_secs(2);
/// How long a reply may take to drain into a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connection threads need little stack: requests are parsed into heap buffers.
const STACK_SIZE: usize = 256 * 1024;
/// What an idle connection keeps of its read buffer.
const IDLE_BUFFER: usize = 4096;
/// A refused request's body up to this size is read and dropped to keep the connection;
/// a larger one (or one of unknown size) closes it.
const SKIP_BODY: usize = 16 * 1024;
/// At most this many bytes are drained from a refused client before closing.
const LINGER_BYTES: usize = 8 << 20;
/// The longest a refused connection is drained before it is closed.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// How often a failing `accept` (out of descriptors, most likely) is logged.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(5);
/// How long the accept thread pauses after `accept` failed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The accept thread waits for a connection at most this long at a time, then beats its
/// heartbeat and looks whether it should stop.
pub const ACCEPT_POLL: Duration = Duration::from_millis(500);

/// What the router decides from a request's head alone, before any body is read.
pub enum Admission {
    /// Read a body of at most this many bytes, then call [`Handler::handle`].
    Accept { max_body: usize },
    /// Answer this without reading the body (and without `100 Continue`).
    Refuse(Response),
}

/// What the server calls for every request.
pub trait Handler: Send + Sync + 'static {
    /// Decides on the head alone (`req.body` is empty) whether the body is worth reading.
    fn admit(&self, _req: &Request) -> Admission {
        Admission::Accept {
            max_body: DEFAULT_MAX_BODY,
        }
    }

    fn handle(&self, req: &Request) -> Response;

    /// Given the responder's waker once at start: a handler that answers `Response::parked`
    /// calls it whenever what its parked requests wait for may have come.
    fn attach_waker(&self, _wake: Arc<dyn Fn() + Send + Sync>) {}

    /// Whether [`Handler::handle`] answers this request (no body, `may_park` set) without
    /// blocking, so that the responder may call it on its own thread when a resting
    /// connection sends it: an answer at once or `Response::parked`. The router's
    /// [`Handler::admit`] is called first, on the same thread.
    fn never_blocks(&self, _req: &Request) -> bool {
        false
    }
}

impl<F: Fn(&Request) -> Response + Send + Sync + 'static> Handler for F {
    fn handle(&self, req: &Request) -> Response {
        self(req)
    }
}

/// How much the server lets its clients take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one peer address may hold at once.
    pub per_address: usize,
    /// Bytes of request bodies in memory at once, across all connections.
    pub body_budget: usize,
    /// Requests parked in the responder at once (each holds its socket, not a slot); one
    /// peer may park as many as it may hold connections. 0: no responder.
    pub max_parked: usize,
}

impl Limits {
    pub fn new(max_connections: usize) -> Limits {
        Limits {
            max_connections,
            per_address: max_connections,
            body_budget: 8 << 20,
            max_parked: max_connections,
        }
    }
}

pub struct HttpServer {
    addr: SocketAddr,
    acceptor: thread::JoinHandle<()>,
    /// The accept thread's socket, to wake its `accept` when stopping.
    listener: TcpListener,
    /// The socket came from the service manager, which keeps it open across restarts.
    inherited: bool,
    stopping: Arc<AtomicBool>,
    /// Requests between their head and the end of their answer (streams excluded).
    answering: Arc<InFlight>,
    responder: Option<Arc<Responder>>,
}

type SharedSlots = Arc<Mutex<Slots<TcpStream>>>;

impl HttpServer {
    /// Binds and starts accepting; at most `max_connections` are served at once.
    pub fn start<H: Handler + ?Sized>(
        addr: SocketAddr,
        max_connections: usize,
        handler: Arc<H>,
    ) -> io::Result<HttpServer> {
        HttpServer::start_with(addr, Limits::new(max_connections), handler)
    }

    /// Binds and starts accepting within `limits`.
    pub fn start_with<H: Handler + ?Sized>(
        addr: SocketAddr,
        limits: Limits,
        handler: Arc<H>,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(addr)?;
        let heartbeat = Arc::new(Heartbeat::new(Instant::now()));
        HttpServer::start_on(listener, false, limits, handler, heartbeat)
    }

    /// Starts accepting on `listener` within `limits`; `inherited` when the service manager
    /// passed it (socket activation). The accept thread beats `heartbeat` at least every
    /// [`ACCEPT_POLL`].
    pub fn start_on<H: Handler + ?Sized>(
        listener: TcpListener,
        inherited: bool,
        limits: Limits,
        handler: Arc<H>,
        heartbeat: Arc<Heartbeat>,
    ) -> io::Result<HttpServer> {
        // A connection reset between poll and accept must not block the loop.
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let slots = Arc::new(Mutex::new(Slots::new(
            limits.max_connections,
            limits.per_address,
        )));
        let stopping = Arc::new(AtomicBool::new(false));
        let answering = Arc::new(InFlight::default());
        let spawner = Spawner {
            slots,
            budget: Budget::new(limits.body_budget),
            handler,
            stopping: Arc::clone(&stopping),
            answering: Arc::clone(&answering),
            responder: Arc::new(OnceLock::new()),
            workers: Arc::new(Workers::new("http-conn", STACK_SIZE)),
        };
        let responder = if limits.max_parked > 0 {
            let resumer = spawner.clone();
            let server = spawner.clone();
            let serve = move |req: &Request| {
                let handler = server.handler.as_ref();
                if server.stopping.load(Ordering::SeqCst) || !handler.never_blocks(req) {
                    return None;
                }
                let _answering = server.answering.begin();
                Some(match handler.admit(req) {
                    Admission::Refuse(resp) => resp,
                    Admission::Accept { .. } => dispatch(handler, req),
                })
            };
            let responder = Arc::new(Responder::start(
                limits.max_parked,
                limits.per_address,
                Box::new(move |r: Resumed| resumer.start(r.stream, r.peer, r.buf, false)),
                Box::new(serve),
                Arc::clone(&stopping),
            )?);
            spawner.handler.attach_waker(responder.waker());
            let _ = spawner.responder.set(Arc::clone(&responder));
            Some(responder)
        } else {
            None
        };
        let ours = listener.try_clone()?;
        let acceptor = thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || accept_loop(&listener, &spawner, &heartbeat))?;
        Ok(HttpServer {
            addr,
            acceptor,
            listener: ours,
            inherited,
            stopping,
            answering,
            responder,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes the listening socket, so new clients are refused;
    /// connections already open go on, parked requests are answered 503 and closed. Returns what counts the answers still being made
    /// (streams excluded), for the caller to wait on.
    /// An inherited socket is left open: systemd keeps it, and the connections that arrive
    /// meanwhile wait in it for the next picamd.
    pub fn stop_accepting(self) -> Arc<InFlight> {
        self.stopping.store(true, Ordering::SeqCst);
        if !self.inherited {
            // Shutting a listening socket down wakes the accept thread's poll at once.
            // SAFETY: the descriptor belongs to `self.listener`, alive here.
            unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        }
        let _ = self.acceptor.join();
        if let Some(responder) = &self.responder {
            responder.stop();
        }
        self.answering
    }
}

/// A connection's slot, given back when its thread ends, however it ends.
struct Slot {
    id: u64,
    slots: SharedSlots,
}

impl Slot {
    fn mark_busy(&self) {
        self.slots.lock_unpoisoned().mark_busy(self.id);
    }

    fn mark_idle(&self) {
        self.slots
            .lock_unpoisoned()
            .mark_idle(self.id, Instant::now());
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock_unpoisoned().release(self.id);
    }
}

/// What starts connection threads: the accept thread for new connections, the responder
/// for kept-alive ones going back to normal serving after a parked answer.
struct Spawner<H: ?Sized> {
    slots: SharedSlots,
    budget: Budget,
    handler: Arc<H>,
    stopping: Arc<AtomicBool>,
    answering: Arc<InFlight>,
    responder: Arc<OnceLock<Arc<Responder>>>,
    workers: Arc<Workers>,
}

impl<H: ?Sized> Clone for Spawner<H> {
    fn clone(&self) -> Self {
        Spawner {
            slots: Arc::clone(&self.slots),
            budget: self.budget.clone(),
            handler: Arc::clone(&self.handler),
            stopping: Arc::clone(&self.stopping),
            answering: Arc::clone(&self.answering),
            responder: Arc::clone(&self.responder),
            workers: Arc::clone(&self.workers),
        }
    }
}

impl<H: Handler + ?Sized> Spawner<H> {
    /// Gives `stream` a slot and a thread; `buf` holds bytes already read from it, `fresh`
    /// whether it is a new connection (which must send its first byte soon).
    fn start(&self, mut stream: TcpStream, peer: SocketAddr, buf: Vec<u8>, fresh: bool) {
        let closer = match stream.try_clone() {
            Ok(c) => c,
            Err(e) => {
                log::debug!("cannot serve a connection: {e}");
                return;
            }
        };
        let granted = self
            .slots
            .lock_unpoisoned()
            .admit(peer.ip(), Instant::now(), closer);
        let granted = match granted {
            Ok(g) => g,
            Err(refusal) => {
                let detail = match refusal {
                    Refusal::PerAddress => "Too many connections from your address",
                    Refusal::Full => "Too many connections",
                };
                let busy = Response::detail(503, detail).with_header("Retry-After", "1");
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = write_response(&mut stream, &busy, false, false);
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        };
        for old in granted.evicted {
            log::debug!("closing a silent connection to make room");
            let _ = old.shutdown(Shutdown::Both);
        }
        let first_byte = match (fresh, granted.crowded) {
            (false, _) => None,
            (true, true) => Some(CROWDED_FIRST_BYTE),
            (true, false) => Some(REQUEST_TIMEOUT),
        };
        let slot = Slot {
            id: granted.id,
            slots: Arc::clone(&self.slots),
        };
        let handler = Arc::clone(&self.handler);
        let conn = Connection {
            stream,
            peer,
            slot,
            budget: self.budget.clone(),
            first_byte,
            answering: Arc::clone(&self.answering),
            stopping: Arc::clone(&self.stopping),
            responder: self.responder.get().cloned(),
            pending: buf,
        };
        let spawned = self.workers.run(Box::new(move || {
            if let Err(e) = conn.serve(handler.as_ref()) {
                log::debug!("connection ended: {e}");
            }
        }));
        if let Err(e) = spawned {
            log::error!("cannot start a connection thread: {e}");
        }
    }
}

/// Waits until `listener` has a connection to accept, at most `timeout`.
fn wait_for_connection(listener: &TcpListener, timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut fd, 1, timeout.as_millis() as libc::c_int) };
    n > 0
}

fn accept_loop<H: Handler + ?Sized>(
    listener: &TcpListener,
    spawner: &Spawner<H>,
    heartbeat: &Heartbeat,
) {
    let stopping = &spawner.stopping;
    let mut failures = Throttle::new(ACCEPT_LOG_INTERVAL);
    loop {
        heartbeat.beat(Instant::now());
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        if !wait_for_connection(listener, ACCEPT_POLL) {
            continue;
        }
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                if let Some(n) = failures.hit(Instant::now()) {
                    log::warn!("accept failed {n} time(s) in the last few seconds: {e}");
                }
                // Out of file descriptors, most likely: back off instead of spinning.
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        // Linux does not pass the listener's O_NONBLOCK on; this says so.
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        spawner.start(stream, peer, Vec::new(), true);
    }
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    budget: Budget,
    /// How long a new connection may take to send its first byte (`None`: a kept-alive
    /// one coming back from the responder, which has the idle timeout).
    first_byte: Option<Duration>,
    answering: Arc<InFlight>,
    stopping: Arc<AtomicBool>,
    responder: Option<Arc<Responder>>,
    /// Bytes already read (pipelined behind a parked request).
    pending: Vec<u8>,
}

/// What became of a request's body.
enum BodyRead {
    Read(Vec<u8>, Reservation),
    /// The connection ended or was answered already.
    Ended,
}

impl Connection {
    fn serve<H: Handler + ?Sized>(mut self, handler: &H) -> io::Result<()> {
        self.stream.set_nodelay(true)?;
        self.stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut buf: Vec<u8> = std::mem::take(&mut self.pending);
        buf.reserve(IDLE_BUFFER);
        let mut first = self.first_byte;
        let in_flight = Arc::clone(&self.answering);
        loop {
            let Some(head) = read_head(&mut self.stream, &mut buf, first.take())? else {
                return Ok(());
            };
            self.slot.mark_busy();
            buf.drain(..head.head_len);
            let Head {
                mut request,
                body: framing,
                keep_alive,
                expect_continue,
                ..
            } = head;
            request.peer = Some(self.peer);
            // Counted before the check, so a stop either sees this request under way and
            // waits for its answer, or this request sees the stop.
            let answering = in_flight.begin();
            if self.stopping.load(Ordering::SeqCst) {
                let resp =
                    Response::detail(503, "picamd is stopping").with_header("Retry-After", "5");
                write_response(&mut self.stream, &resp, false, request.method == "HEAD")?;
                drop(answering);
                linger(&mut self.stream);
                return Ok(());
            }
            let max_body = match handler.admit(&request) {
                Admission::Accept { max_body } => max_body,
                Admission::Refuse(resp) => {
                    let kept = keep_alive
                        && !expect_continue
                        && self.skip_body(&mut buf, framing, &request);
                    let head_only = request.method == "HEAD";
                    write_response(&mut self.stream, &resp, kept, head_only)?;
                    if !kept {
                        linger(&mut self.stream);
                        return Ok(());
                    }
                    shrink(&mut buf);
                    self.between_requests(&buf);
                    continue;
                }
            };
            let body = match self.read_body(&mut buf, framing, max_body, expect_continue)? {
                BodyRead::Read(body, reservation) => (body, reservation),
                BodyRead::Ended => return Ok(()),
            };
            shrink(&mut buf);
            let (body, _reservation) = body;
            request.body = body;
            let ticket = self
                .responder
                .as_ref()
                .and_then(|r| r.ticket(self.peer.ip()));
            request.may_park = ticket.is_some();
            let response = dispatch(handler, &request);
            request.body = Vec::new();
            let head_only = request.method == "HEAD";
            if let Body::Parked(pending) = response.body {
                drop(answering);
                let headers = response
                    .headers
                    .into_iter()
                    .filter(|(n, _)| !PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(n)))
                    .collect();
                let (Some(responder), Some(ticket)) = (self.responder.as_ref(), ticket) else {
                    log::error!("{} {} parked without a place", request.method, request.path);
                    let resp = Response::detail(500, "Internal Server Error");
                    return write_response(&mut self.stream, &resp, false, head_only);
                };
                let waiter = Waiter {
                    stream: self.stream,
                    peer: self.peer,
                    buf,
                    keep_alive,
                    head_only,
                    headers,
                    own_head: Vec::new(),
                    pending: Some(pending),
                    place: ticket,
                };
                if let Err(mut w) = responder.park(waiter) {
                    let resp =
                        Response::detail(503, "picamd is stopping").with_header("Retry-After", "5");
                    write_response(&mut w.stream, &resp, false, head_only)?;
                }
                return Ok(());
            }
            // An LL-HLS viewer's kept-alive connection keeps its place, to wait for its next
            // request in the responder (no thread, no slot) as after a parked answer.
            let place = ticket.filter(|_| keep_alive && handler.never_blocks(&request));
            write_response(&mut self.stream, &response, keep_alive, head_only)?;
            drop(answering);
            match response.body {
                Body::Stream(body) => {
                    if !head_only {
                        run_stream(&mut self.stream, body, &request);
                    }
                    return Ok(());
                }
                Body::Upgrade(upgrade) => {
                    if !head_only {
                        let stream = self.stream.try_clone()?;
                        let read_ahead = std::mem::take(&mut buf);
                        run_upgrade(stream, upgrade, read_ahead, &request);
                    }
                    return Ok(());
                }
                _ => {}
            }
            if !keep_alive {
                return Ok(());
            }
            if let (Some(responder), Some(place)) = (self.responder.as_ref(), place) {
                if buf.is_empty() {
                    let resting = Waiter {
                        stream: self.stream,
                        peer: self.peer,
                        buf,
                        keep_alive,
                        head_only,
                        headers: Vec::new(),
                        own_head: Vec::new(),
                        pending: None,
                        place,
                    };
                    if let Err(w) = responder.park(resting) {
                        let _ = w.stream.shutdown(Shutdown::Both);
                    }
                    return Ok(());
                }
            }
            self.between_requests(&buf);
        }
    }

    /// A kept-alive connection that holds no part of a next request may give its slot up
    /// to a newcomer, like one that never sent a request.
    fn between_requests(&self, buf: &[u8]) {
        if buf.is_empty() {
            self.slot.mark_idle();
        }
    }

    /// Reads the body of an admitted request within its limit and the global budget; a
    /// request that fails either is answered here and the connection closes.
    fn read_body(
        &mut self,
        buf: &mut Vec<u8>,
        framing: Framing,
        max_body: usize,
        expect_continue: bool,
    ) -> io::Result<BodyRead> {
        let wanted = match framing {
            Framing::Length(n) if n > max_body => {
                return self.refuse(&WireError {
                    status: 413,
                    detail: "Request body too large",
                })
            }
            Framing::Length(n) => n,
            Framing::Chunked => max_body,
        };
        let Some(reservation) = self.budget.reserve(wanted) else {
            let busy = Response::detail(503, "Too many request bodies in flight, try again")
                .with_header("Retry-After", "1");
            write_response(&mut self.stream, &busy, false, false)?;
            linger(&mut self.stream);
            return Ok(BodyRead::Ended);
        };
        if expect_continue && !framing.is_empty() {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let body = match framing {
            Framing::Length(n) => {
                while buf.len() < n {
                    if !self.fill_or_answer(buf, deadline)? {
                        return Ok(BodyRead::Ended);
                    }
                }
                buf.drain(..n).collect()
            }
            Framing::Chunked => {
                let mut decoder = chunked::Decoder::new(max_body);
                loop {
                    match decoder.feed(buf) {
                        Ok(used) => drop(buf.drain(..used)),
                        Err(e) => return self.refuse(&e),
                    }
                    if decoder.is_done() {
                        break decoder.into_body();
                    }
                    if !self.fill_or_answer(buf, deadline)? {
                        return Ok(BodyRead::Ended);
                    }
                }
            }
        };
        Ok(BodyRead::Read(body, reservation))
    }

    /// Reads more before `deadline`; `false` when the client left or was answered 408.
    fn fill_or_answer(&mut self, buf: &mut Vec<u8>, deadline: Instant) -> io::Result<bool> {
        match fill_before(&mut self.stream, buf, Some(deadline)) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) if is_timeout(&e) => {
                let resp = Response::detail(408, "Request timed out");
                write_response(&mut self.stream, &resp, false, false)?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn refuse(&mut self, e: &WireError) -> io::Result<BodyRead> {
        let resp = Response::detail(e.status, e.detail);
        write_response(&mut self.stream, &resp, false, false)?;
        linger(&mut self.stream);
        Ok(BodyRead::Ended)
    }

    /// Reads and drops a refused request's body when that is cheap, so the connection can
    /// serve the next request; `false` when it must close instead.
    fn skip_body(&mut self, buf: &mut Vec<u8>, framing: Framing, req: &Request) -> bool {
        let Framing::Length(n) = framing else {
            return false;
        };
        if n > SKIP_BODY {
            return false;
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        while buf.len() < n {
            match fill_before(&mut self.stream, buf, Some(deadline)) {
                Ok(0) | Err(_) => {
                    log::debug!("{} {}: body not skipped", req.method, req.path);
                    return false;
                }
                Ok(_) => {}
            }
        }
        buf.drain(..n);
        true
    }
}

/// Gives back what a large request made the buffer grow to, keeping pipelined bytes.
fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > 2 * IDLE_BUFFER.max(buf.len()) {
        let mut fresh = Vec::with_capacity(IDLE_BUFFER.max(buf.len()));
        fresh.extend_from_slice(buf);
        *buf = fresh;
    }
}

/// Reads until a whole request head is in `buf`. `None` when the client closed or went idle;
/// a malformed head is answered here and ends the connection. `first_byte` is how long a new
/// connection may wait before sending anything.
fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    first_byte: Option<Duration>,
) -> io::Result<Option<Head>> {
    // A request must arrive whole within REQUEST_TIMEOUT of its first byte, however slowly
    // the client trickles it, and a new connection must send one that soon; only a kept-alive
    // connection between requests has the longer idle timeout.
    let mut started = !buf.is_empty();
    let mut deadline = if started {
        Some(Instant::now() + REQUEST_TIMEOUT)
    } else {
        first_byte.map(|t| Instant::now() + t)
    };
    // Bytes already known not to complete a head: parse again only when a head can end
    // (or a bare CR makes it malformed), so a head trickled a byte at a time costs linear,
    // not quadratic, work.
    let mut searched: usize = 0;
    loop {
        let fresh = &buf[searched.saturating_sub(3)..];
        if buf.len() > wire::MAX_HEAD || contains_head_end(fresh) || wire::has_bare_cr(fresh) {
            match wire::parse_head(buf) {
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
        if !started && !buf.is_empty() {
            started = true;
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
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 8192];
    let mut budget: usize = LINGER_BYTES;
    // A client that trickles bytes must not keep its slot: the whole linger is bounded.
    let deadline = Instant::now() + LINGER_TIME;
    while budget > 0 && Instant::now() < deadline {
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

/// Hands an upgraded connection (a WebSocket) to its handler, with no timeouts of ours left
/// on it; a panic in it ends only this connection.
fn run_upgrade(stream: TcpStream, upgrade: Upgrade, read_ahead: Vec<u8>, req: &Request) {
    let _ = stream.set_read_timeout(None);
    if panic::catch_unwind(AssertUnwindSafe(|| upgrade.run(stream, read_ahead))).is_err() {
        log::error!("upgraded connection {} panicked", req.path);
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
    use std::sync::atomic::{AtomicUsize, Ordering};

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
            "GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        );
        assert!(
            answer.starts_with("HTTP/1.1 404"),
            "the server still serves"
        );
    }

    #[test]
    fn head_requests_do_not_run_the_stream() {
        let (server, runs, _) = stream_server();
        let answer = exchange(&server, "HEAD /finite HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("Connection: close\r\n\r\n"), "{answer}");
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_stream_ends_when_its_client_goes_away() {
        let (server, _, ended) = stream_server();
        let mut client = TcpStream::connect(server.local_addr()).unwrap();
        client
            .write_all(b"GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 64];
        assert!(client.read(&mut first).unwrap() > 0);
        drop(client);
        let result = ended
            .recv_timeout(Duration::from_secs(5))
            .expect("the stream noticed the client left");
        assert!(result.is_err());
    }

    #[test]
    fn an_upgrade_hands_the_socket_over_after_its_head() {
        let handler = |_: &Request| {
            let upgrade = Upgrade::new(|mut stream: TcpStream, read_ahead: Vec<u8>| {
                let mut first = [0u8; 3];
                stream.read_exact(&mut first).unwrap();
                let mut echo = read_ahead;
                echo.extend_from_slice(&first);
                stream.write_all(&echo).unwrap();
            });
            Response {
                status: 101,
                headers: vec![("Upgrade".into(), "echo".into())],
                body: Body::Upgrade(upgrade),
            }
        };
        let server =
            HttpServer::start("127.0.0.1:0".parse().unwrap(), 8, Arc::new(handler)).unwrap();
        let mut client = TcpStream::connect(server.local_addr()).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Bytes sent right after the head reach the new owner too.
        client
            .write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: echo\r\n\r\nab")
            .unwrap();
        thread::sleep(Duration::from_millis(50));
        client.write_all(b"cde").unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, rest) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(head.contains("\r\nConnection: Upgrade"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "{head}"
        );
        assert_eq!(rest, "abcde");
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
