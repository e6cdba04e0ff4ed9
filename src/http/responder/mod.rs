//! The responder: one thread that owns the sockets of parked requests (blocking playlist
//! reloads, preload-hinted parts) and answers them when the media they wait for exists.
//!
//! A connection thread that gets `Body::Parked` from the router hands its socket here and
//! ends, so a parked viewer holds neither a thread nor a connection slot. The responder
//! waits in epoll for: a wake-up (a new waiter, or the store announcing a change), a parked
//! client hanging up (it is dropped), a socket ready for the rest of a partial write, or the
//! next deadline (the hold's end: the answer the blocking path gives on timeout). When the
//! answer to a key exists it is rendered once (status line, the route's headers, body) and
//! written to every waiter of that key with its own middleware headers, in one `writev` each
//! on a non-blocking socket (a round of 32 or more is split with a second writer thread, so
//! that both cores write); the rest of a partial write waits for `EPOLLOUT`. A kept-alive
//! connection then rests here (no thread, no slot) until its next request arrives. The
//! responder reads it (non-blocking, `next_request.rs`): a request the handler answers
//! without blocking (`Handler::never_blocks`: the LL-HLS routes) is answered here, parked
//! again if it must wait, and the connection rests again; anything else (a body, another
//! route, a malformed head) goes back to normal serving through `resume` (a connection
//! thread, with every byte read). The waiter book itself is sans-IO (`parking.rs`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::next_request::{NextRequest, Step};
use super::parking::{Pending, Quota, Registry};
use super::response::PLACEHOLDERS;
use super::wire::{self, Head};
use super::{Body, Request, Response};
use crate::sync::LockExt;

mod answer;
mod wake;
mod writer;

use answer::{prepare, Outgoing, Rendered};
use wake::WakeFd;
use writer::{Done, Helper, Job};

/// How long an answer may take to drain into a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest epoll wait, so a lost wake-up could never hold anyone long.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// The epoll token of the wake-up eventfd.
const WAKE: u64 = u64::MAX;
const EVENTS: usize = 256;
/// How often the write, idle and request timeouts are looked at (they are seconds long).
const SWEEP: Duration = Duration::from_millis(250);
/// A round of answers to at least this many waiters is written by two threads.
const SPLIT_ROUND: usize = 32;

/// A place under the parking cap, given back when dropped.
pub struct Ticket {
    quota: Arc<Mutex<Quota>>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.quota.lock_unpoisoned().give_back(self.ip);
    }
}

/// A request handed over by its connection thread.
pub struct Waiter {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Bytes the client sent after the request (pipelined), for the connection's next turn.
    pub buf: Vec<u8>,
    pub keep_alive: bool,
    pub head_only: bool,
    /// The middleware's headers (the placeholders dropped).
    pub headers: Vec<(String, String)>,
    /// `headers` rendered, by the responder while the request waits (empty until then), so
    /// that answering it takes no formatting.
    pub own_head: Vec<u8>,
    /// What it waits for; taken (and dropped) once it is answered.
    pub pending: Option<Box<dyn Pending>>,
    /// Its place under the cap, given back when it is answered or dropped.
    pub place: Ticket,
}

/// A connection going back to normal serving after its parked answer.
pub struct Resumed {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub buf: Vec<u8>,
}

pub type Resume = Box<dyn FnMut(Resumed) + Send>;

/// Answers a rested connection's next request (no body; `may_park` set) on the responder
/// thread, or `None` when a connection thread must (the handler may block on it).
pub type Serve = Box<dyn FnMut(&Request) -> Option<Response> + Send>;

/// The server's handle on its responder.
pub struct Responder {
    tx: Sender<Waiter>,
    wake: Arc<WakeFd>,
    quota: Arc<Mutex<Quota>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Responder {
    /// Starts the responder thread; at most `max` requests park at once, `per_peer` per peer.
    /// It stops when `stopping` is set and it is woken ([`Responder::stop`]).
    pub fn start(
        max: usize,
        per_peer: usize,
        resume: Resume,
        serve: Serve,
        stopping: Arc<AtomicBool>,
    ) -> io::Result<Responder> {
        let wake = Arc::new(WakeFd::new()?);
        // SAFETY: plain syscall; the descriptor is owned below.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `epfd` is a new descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(epfd) };
        ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            wake.0.as_raw_fd(),
            libc::EPOLLIN,
            WAKE,
        )?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let waker = Arc::clone(&wake);
        let helper = Helper::start()?;
        let thread = thread::Builder::new()
            .name("http-responder".into())
            .spawn(move || {
                Shell {
                    epoll,
                    wake: waker,
                    rx,
                    parked: Registry::default(),
                    writing: HashMap::new(),
                    resume,
                    serve,
                    helper,
                    answered: Vec::new(),
                    resting: HashMap::new(),
                    next_sweep: Instant::now(),
                    stopping,
                }
                .run()
            })?;
        Ok(Responder {
            tx,
            wake,
            quota: Arc::new(Mutex::new(Quota::new(max, per_peer))),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// A place for a request from `ip`, if the cap leaves one.
    pub fn ticket(&self, ip: IpAddr) -> Option<Ticket> {
        self.quota.lock_unpoisoned().take(ip).then(|| Ticket {
            quota: Arc::clone(&self.quota),
            ip,
        })
    }

    /// Hands a waiter over (or, with no `pending`, a kept-alive connection to rest until
    /// its next request); gives it back when the responder has stopped.
    pub fn park(&self, waiter: Waiter) -> Result<(), Box<Waiter>> {
        self.tx.send(waiter).map_err(|e| Box::new(e.0))?;
        self.wake.wake();
        Ok(())
    }

    /// What wakes the responder to look whether waited-for media exists now.
    pub fn waker(&self) -> Arc<dyn Fn() + Send + Sync> {
        let wake = Arc::clone(&self.wake);
        Arc::new(move || wake.wake())
    }

    /// Wakes the responder to see its `stopping` flag (set by the caller): every parked
    /// request is answered 503 and closed, then the thread ends.
    pub fn stop(&self) {
        self.wake.wake();
        if let Some(thread) = self.thread.lock_unpoisoned().take() {
            let _ = thread.join();
        }
    }
}

/// A waiter whose answer did not fit the socket at once.
struct Writing {
    waiter: Waiter,
    out: Outgoing,
    deadline: Instant,
}

/// An answered keep-alive connection waiting for its next request, holding no thread and
/// no slot (its place under the parking cap it keeps).
struct Resting {
    stream: TcpStream,
    peer: SocketAddr,
    place: Ticket,
    next: NextRequest,
    deadline: Instant,
}

/// The responder thread's state: the IO around the sans-IO registry.
struct Shell {
    epoll: OwnedFd,
    wake: Arc<WakeFd>,
    rx: Receiver<Waiter>,
    parked: Registry<Waiter>,
    writing: HashMap<u64, Writing>,
    resume: Resume,
    serve: Serve,
    helper: Helper,
    /// Answered connections to give back once every answer of the round is written: a new
    /// connection thread must not take a CPU from the answers still to write.
    answered: Vec<(u64, Waiter)>,
    resting: HashMap<u64, Resting>,
    /// When the write, idle and request timeouts are next looked at.
    next_sweep: Instant,
    stopping: Arc<AtomicBool>,
}

impl Shell {
    fn run(mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        loop {
            let timeout = self.wait_time(Instant::now());
            // SAFETY: `events` is a live buffer of EVENTS entries for the call's duration.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS as libc::c_int,
                    timeout.as_millis().min(i32::MAX as u128) as libc::c_int,
                )
            };
            let n = if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("responder: epoll_wait failed: {e}");
                    thread::sleep(Duration::from_millis(10));
                }
                0
            } else {
                n as usize
            };
            let mut woken = false;
            for ev in &events[..n] {
                let (flags, token) = (ev.events, ev.u64);
                if token == WAKE {
                    woken = true;
                    continue;
                }
                self.on_socket(token, flags);
            }
            if self.stopping.load(Ordering::SeqCst) {
                self.stop();
                return;
            }
            if woken {
                self.wake.drain();
                self.take_new();
                self.answer_ready();
            }
            self.on_deadlines(Instant::now());
            self.give_back();
        }
    }

    fn wait_time(&self, now: Instant) -> Duration {
        if !self.answered.is_empty() {
            // Pipelined requests answered in the last round: their connections go on now.
            return Duration::ZERO;
        }
        // Write, idle and request timeouts are swept every SWEEP, not looked up each turn:
        // with a thousand resting connections that would cost more than answering them.
        let next = self
            .parked
            .next_deadline()
            .map_or(self.next_sweep, |d| d.min(self.next_sweep));
        // Rounded up, so a deadline is never woken for a millisecond early.
        (next.saturating_duration_since(now) + Duration::from_micros(999)).min(MAX_WAIT)
    }

    fn on_socket(&mut self, id: u64, flags: u32) {
        let gone = flags & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 != 0;
        if let Some(mut r) = self.resting.remove(&id) {
            // Its next request (or its hang-up) is here.
            read_ahead(&mut r);
            self.advance(id, r);
            return;
        }
        if let Some(mut w) = self.writing.remove(&id) {
            if gone {
                self.forget(&w.waiter.stream);
                return;
            }
            match w.out.write(&mut w.waiter.stream) {
                Ok(true) => self.finish(id, w.waiter),
                Ok(false) => {
                    self.writing.insert(id, w);
                }
                Err(_) => self.forget(&w.waiter.stream),
            }
        } else if gone {
            // A parked client hung up: its place, its count and its socket go with it.
            if let Some(w) = self.parked.take(id) {
                self.forget(&w.stream);
            }
        }
    }

    /// Registers the waiters the connection threads handed over, answering at once those
    /// whose answer exists already (published between their look and their hand-over).
    fn take_new(&mut self) {
        while let Ok(w) = self.rx.try_recv() {
            if w.stream.set_nonblocking(true).is_err() {
                continue;
            }
            if w.pending.is_none() {
                // Answered by its connection thread: it rests here until its next request.
                let id = self.parked.fresh_id();
                self.answered.push((id, w));
                continue;
            }
            self.wait_or_answer(w);
        }
    }

    /// Parks a waiter until its answer exists, or answers it now if it does.
    fn wait_or_answer(&mut self, w: Waiter) {
        let Some(pending) = &w.pending else {
            return;
        };
        match pending.poll() {
            Ok(resp) => {
                let id = self.parked.fresh_id();
                self.answer(id, w, &Rendered::new(resp));
            }
            Err(deadline) => {
                let key = pending.key().to_string();
                let fd = w.stream.as_raw_fd();
                let mut w = w;
                // Rendered while it waits, so that the answer takes no formatting.
                wire::write_headers(&w.headers, &mut w.own_head);
                let id = self.parked.park(&key, deadline, w);
                if self.watch(fd, libc::EPOLLRDHUP, id).is_err() {
                    if let Some(w) = self.parked.take(id) {
                        self.forget(&w.stream);
                    }
                }
            }
        }
    }

    /// Takes a resting connection one step on: wait, close, answer 408, serve its request
    /// here or hand it to a connection thread.
    fn advance(&mut self, id: u64, mut r: Resting) {
        let now = Instant::now();
        match r.next.step(now) {
            Step::Wait(deadline) => {
                r.deadline = deadline;
                self.resting.insert(id, r);
            }
            Step::Close => self.forget(&r.stream),
            Step::TimedOut => {
                let resp = Response::detail(408, "Request timed out");
                let mut head = Vec::new();
                wire::write_head(&resp, false, &mut head);
                head.extend_from_slice(&resp.body.to_vec());
                let _ = (&r.stream).write(&head);
                self.forget(&r.stream);
            }
            Step::HandBack => self.hand_back_resting(r),
            Step::Request(head) => self.serve_next(id, r, *head),
        }
    }

    /// Answers a rested connection's request on this thread when the handler can without
    /// blocking: at once, or parked until its media exists.
    fn serve_next(&mut self, id: u64, mut r: Resting, head: Head) {
        let Head {
            mut request,
            head_len,
            keep_alive,
            ..
        } = head;
        request.peer = Some(r.peer);
        // The connection holds its place under the cap while it rests here.
        request.may_park = true;
        request.on_responder = true;
        let Some(mut resp) = (self.serve)(&request) else {
            self.hand_back_resting(r);
            return;
        };
        r.next.consume(head_len, Instant::now());
        let head_only = request.method == "HEAD";
        let Resting {
            stream,
            peer,
            place,
            next,
            ..
        } = r;
        let mut w = Waiter {
            stream,
            peer,
            buf: next.into_buf(),
            keep_alive,
            head_only,
            headers: Vec::new(),
            own_head: Vec::new(),
            pending: None,
            place,
        };
        match std::mem::replace(&mut resp.body, Body::Empty) {
            Body::Parked(pending) => {
                w.headers = resp
                    .headers
                    .into_iter()
                    .filter(|(n, _)| !PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(n)))
                    .collect();
                w.pending = Some(pending);
                self.wait_or_answer(w);
            }
            Body::Stream(_) | Body::Upgrade(_) => {
                log::error!(
                    "responder: {} {} needs a thread",
                    request.method,
                    request.path
                );
                self.forget(&w.stream);
            }
            body => {
                resp.body = body;
                self.answer(id, w, &Rendered::new(resp));
            }
        }
    }

    /// Renders each key's answer once, if it exists, and writes it to all its waiters.
    fn answer_ready(&mut self) {
        for (key, first) in self.parked.keys() {
            let Some(pending) = self.parked.get(first).and_then(|w| w.pending.as_ref()) else {
                continue;
            };
            let Ok(resp) = pending.poll() else {
                continue;
            };
            let rendered = Rendered::new(resp);
            let waiters = self.parked.take_key(&key);
            self.answer_all(waiters, &rendered);
        }
    }

    /// Waiters whose hold ended: answered if their media came after all, given the
    /// timeout answer otherwise; answers stuck in a client that stopped reading are dropped.
    fn on_deadlines(&mut self, now: Instant) {
        for id in self.parked.due(now) {
            let Some(pending) = self.parked.get(id).and_then(|w| w.pending.as_ref()) else {
                continue;
            };
            let resp = match pending.poll() {
                Ok(resp) => resp,
                Err(later) if later > now => {
                    self.parked.set_deadline(id, later);
                    continue;
                }
                Err(_) => pending.expire(now),
            };
            if let Some(w) = self.parked.take(id) {
                self.answer(id, w, &Rendered::new(resp));
            }
        }
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP;
        let stuck: Vec<u64> = self
            .writing
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in stuck {
            if let Some(w) = self.writing.remove(&id) {
                log::debug!("responder: {} stopped reading its answer", w.waiter.peer);
                self.forget(&w.waiter.stream);
            }
        }
        let idle: Vec<u64> = self
            .resting
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            if let Some(r) = self.resting.remove(&id) {
                // Closed when silent, 408 when its request stalled.
                self.advance(id, r);
            }
        }
    }

    fn answer(&mut self, id: u64, w: Waiter, rendered: &Arc<Rendered>) {
        let (mut w, mut out) = prepare(w, rendered);
        let written = out.write(&mut w.stream);
        self.settle(id, w, out, written);
    }

    /// Writes one answer to many waiters; half of a large round goes to the second writer
    /// thread, so that both cores write.
    fn answer_all(&mut self, waiters: Vec<(u64, Waiter)>, rendered: &Arc<Rendered>) {
        if waiters.len() < SPLIT_ROUND {
            for (id, w) in waiters {
                self.answer(id, w, rendered);
            }
            return;
        }
        let mut mine: Vec<Job> = waiters
            .into_iter()
            .map(|(id, w)| {
                let (w, out) = prepare(w, rendered);
                (id, w, out)
            })
            .collect();
        let theirs = mine.split_off(mine.len() / 2);
        let handed = match self.helper.jobs.send(theirs) {
            Ok(()) => true,
            Err(back) => {
                mine.extend(back.0);
                false
            }
        };
        let mut done: Vec<Done> = mine
            .into_iter()
            .map(|(id, mut w, mut out)| {
                let written = out.write(&mut w.stream);
                (id, w, out, written)
            })
            .collect();
        if handed {
            // The helper only writes: it cannot fail to give its half back unless it died.
            if let Ok(theirs) = self.helper.done.recv() {
                done.extend(theirs);
            }
        }
        for (id, w, out, written) in done {
            self.settle(id, w, out, written);
        }
    }

    /// After a write: finished, waiting for `EPOLLOUT`, or failed.
    fn settle(&mut self, id: u64, w: Waiter, out: Outgoing, written: io::Result<bool>) {
        match written {
            Ok(true) => self.finish(id, w),
            Ok(false) => {
                let fd = w.stream.as_raw_fd();
                if self
                    .watch(fd, libc::EPOLLOUT | libc::EPOLLRDHUP, id)
                    .is_err()
                {
                    self.forget(&w.stream);
                    return;
                }
                let deadline = Instant::now() + WRITE_TIMEOUT;
                self.writing.insert(
                    id,
                    Writing {
                        waiter: w,
                        out,
                        deadline,
                    },
                );
            }
            Err(_) => self.forget(&w.stream),
        }
    }

    /// The answer is out: a kept-alive connection goes back to normal serving (after the
    /// round, [`Shell::give_back`]).
    fn finish(&mut self, id: u64, w: Waiter) {
        if !w.keep_alive || self.stopping.load(Ordering::SeqCst) {
            self.forget(&w.stream);
            return;
        }
        self.answered.push((id, w));
    }

    /// Each answered connection rests here until its next request arrives (at once, when
    /// the client pipelined it).
    fn give_back(&mut self) {
        for (id, w) in std::mem::take(&mut self.answered) {
            // The waiter's request is done with: its count in the store ends here.
            let Waiter {
                stream,
                peer,
                buf,
                place,
                ..
            } = w;
            let fd = stream.as_raw_fd();
            if self
                .watch(fd, libc::EPOLLIN | libc::EPOLLRDHUP, id)
                .is_err()
            {
                self.forget(&stream);
                continue;
            }
            let now = Instant::now();
            let r = Resting {
                stream,
                peer,
                place,
                next: NextRequest::new(buf, now),
                deadline: now,
            };
            self.advance(id, r);
        }
    }

    /// Watches `fd` for `events` under `id`, whether or not it was watched before.
    fn watch(&self, fd: RawFd, events: libc::c_int, id: u64) -> io::Result<()> {
        let epfd = self.epoll.as_raw_fd();
        ctl(epfd, libc::EPOLL_CTL_MOD, fd, events, id)
            .or_else(|_| ctl(epfd, libc::EPOLL_CTL_ADD, fd, events, id))
    }

    /// A rested connection whose request a connection thread must serve, with every byte read.
    fn hand_back_resting(&mut self, r: Resting) {
        let Resting {
            stream,
            peer,
            place,
            next,
            ..
        } = r;
        self.hand_back(stream, peer, next.into_buf(), place);
    }

    fn hand_back(&mut self, stream: TcpStream, peer: SocketAddr, buf: Vec<u8>, place: Ticket) {
        self.unwatch(&stream);
        if stream.set_nonblocking(false).is_err() {
            return;
        }
        // Given back first: the connection's next request may park again at once.
        drop(place);
        (self.resume)(Resumed { stream, peer, buf });
    }

    fn unwatch(&self, stream: &TcpStream) {
        let _ = ctl(
            self.epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            stream.as_raw_fd(),
            0,
            0,
        );
    }

    /// Drops a connection (the waiter that owned it is dropped by the caller).
    fn forget(&self, stream: &TcpStream) {
        self.unwatch(stream);
        let _ = stream.shutdown(Shutdown::Both);
    }

    /// The server stops: every parked request is told so, and closed.
    fn stop(&mut self) {
        for (_, w) in std::mem::take(&mut self.answered) {
            self.forget(&w.stream);
        }
        for (_, r) in self.resting.drain() {
            let _ = r.stream.shutdown(Shutdown::Both);
        }
        let busy = Response::detail(503, "picamd is stopping").with_header("Retry-After", "5");
        let mut head = Vec::new();
        wire::write_head(&busy, false, &mut head);
        let whole = [&head[..], &busy.body.to_vec()[..]].concat();
        for (_, mut w) in self.parked.drain() {
            let _ = w.stream.set_nonblocking(true);
            let _ = w.stream.write(if w.head_only { &head } else { &whole });
            self.forget(&w.stream);
        }
        for (_, w) in self.writing.drain() {
            let _ = w.waiter.stream.shutdown(Shutdown::Both);
        }
        while let Ok(w) = self.rx.try_recv() {
            let _ = w.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Reads what a resting connection sent, without blocking, within its read-ahead.
fn read_ahead(r: &mut Resting) {
    let mut chunk = [0u8; 4096];
    while r.next.wants_bytes() {
        match (&r.stream).read(&mut chunk) {
            Ok(0) => r.next.closed(),
            Ok(n) => {
                r.next.received(&chunk[..n], Instant::now());
                if n < chunk.len() {
                    // All there was (level-triggered epoll says so if more comes).
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => r.next.closed(),
        }
    }
}

fn ctl(epfd: RawFd, op: libc::c_int, fd: RawFd, events: libc::c_int, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: token,
    };
    // SAFETY: both descriptors are live; `ev` is read during the call only.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
