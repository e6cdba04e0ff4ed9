//! One open relay connection, served by one thread that alone reads and writes the socket.
//!
//! The socket is non-blocking: each turn reads everything available, writes the answers the
//! workers queued, sends our ping when due, flushes, then waits in `poll` for the socket or
//! the wake-up pipe (a worker finishing, or `stop`). An answer therefore leaves as soon as it
//! exists, and a header and its binary body are written back to back by this one thread.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use log::{debug, warn};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error as WsError, Message};

use super::allowlist;
use super::dial::{Connected, Socket};
use super::dispatch::{Dispatcher, Job};
use super::envelope::{self, Command, Incoming};
use super::outbox::{Outbox, Outgoing, Waker};
use super::status::Counters;
use super::translate;
use super::wait;

/// Our own `{"type":"ping"}`: keeps the backend's online marker fresh (§2.7).
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// No message at all for this long (the backend answers our pings) means the link is dead.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// How long `stop` waits for commands in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);
/// How long a close handshake may take before the socket is dropped anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// A write that cannot progress for this long means the link is dead.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(30);
const SHUTTING_DOWN_DETAIL: &str = "Relay is shutting down.";

/// What the connection needs from the relay around it.
pub struct Context<'a> {
    pub dispatcher: &'a Dispatcher,
    pub counters: &'a Counters,
    pub stop: &'a AtomicBool,
    pub waker: &'a Arc<Waker>,
    /// The header relayed commands authenticate with: (name, relay key), read per command.
    pub auth: &'a (dyn Fn() -> Option<(String, String)> + Sync),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// `stop` was asked for; answers in flight were sent and the socket closed cleanly.
    Stopped,
    /// The connection ended on its own; why, for the log.
    Lost(String),
}

/// Serves the connection until it ends or `stop` is set; the socket is closed on return.
pub fn serve(conn: Connected, cx: &Context) -> Ended {
    let (outbox, answers) = Outbox::channel(Arc::clone(cx.waker));
    let mut connection = Connection {
        fd: conn.socket.as_raw_fd(),
        ws: conn.ws,
        socket: conn.socket,
        outbox,
        draining: false,
        peer_close: None,
    };
    let ended = connection.run(cx, &answers);
    if let Err(e) = connection.socket.shutdown(Shutdown::Both) {
        debug!("Relay socket shutdown: {e}");
    }
    ended
}

/// One open connection: the WebSocket, its socket and what is queued to go out.
struct Connection {
    ws: Socket,
    socket: TcpStream,
    fd: RawFd,
    outbox: Outbox,
    /// `stop` was asked for: new commands are turned away.
    draining: bool,
    /// The backend sent a close frame (its description).
    peer_close: Option<String>,
}

impl Connection {
    fn run(&mut self, cx: &Context, answers: &Receiver<Outgoing>) -> Ended {
        let mut next_ping = Instant::now();
        let mut last_heard = Instant::now();
        let mut drain_deadline = None;
        loop {
            match self.read_available(cx) {
                Ok(0) => {}
                Ok(_) => last_heard = Instant::now(),
                Err(reason) => return Ended::Lost(reason),
            }
            if let Some(reason) = self.peer_close.clone() {
                self.finish_close();
                return Ended::Lost(reason);
            }
            let now = Instant::now();
            let mut sending = Ok(());
            for item in answers.try_iter() {
                sending = sending.and_then(|()| self.queue(item));
            }
            if now >= next_ping {
                sending = sending.and_then(|()| self.queue(Outgoing::Text(envelope::PING.into())));
                next_ping = now + PING_EVERY;
            }
            if let Err(reason) = sending.and_then(|()| self.flush()) {
                return Ended::Lost(reason);
            }
            if cx.stop.load(Ordering::SeqCst) && drain_deadline.is_none() {
                self.draining = true;
                drain_deadline = Some(now + DRAIN_LIMIT);
            }
            if let Some(deadline) = drain_deadline {
                let done = cx.dispatcher.in_flight() == 0 && answers.is_empty();
                if done || now >= deadline {
                    self.close_cleanly();
                    return Ended::Stopped;
                }
            }
            if now.duration_since(last_heard) >= SILENCE_LIMIT {
                return Ended::Lost(format!(
                    "no message from the backend for {} s",
                    SILENCE_LIMIT.as_secs()
                ));
            }
            let timeout = match drain_deadline {
                // A worker counts itself done just after waking us: look again shortly.
                Some(_) => Duration::from_millis(20),
                None => next_ping
                    .min(last_heard + SILENCE_LIMIT)
                    .saturating_duration_since(now),
            };
            match wait::readable(Some(self.fd), cx.waker.fd(), timeout) {
                Ok(ready) if ready.waker => cx.waker.drain(),
                Ok(_) => {}
                Err(e) => return Ended::Lost(format!("waiting on the socket failed: {e}")),
            }
        }
    }

    /// Reads and handles every message already available; returns how many there were.
    fn read_available(&mut self, cx: &Context) -> Result<usize, String> {
        let mut count = 0;
        loop {
            match self.ws.read() {
                Ok(msg) => {
                    count += 1;
                    self.on_message(msg, cx)?;
                    if self.peer_close.is_some() {
                        return Ok(count);
                    }
                }
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(count),
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                    return Err("the backend closed the connection".into())
                }
                Err(e) => return Err(describe(&e)),
            }
        }
    }

    fn on_message(&mut self, msg: Message, cx: &Context) -> Result<(), String> {
        match msg {
            Message::Text(text) => match envelope::parse(text.as_str()) {
                Incoming::Ping => self.queue(Outgoing::Text(envelope::PONG.into())),
                Incoming::Pong => Ok(()),
                Incoming::Request(cmd) => self.on_command(cmd, cx),
                Incoming::Malformed { id, reason } => {
                    Counters::bump(&cx.counters.malformed);
                    warn!("Malformed relay command rejected: {reason}");
                    match id {
                        Some(id) => self.answer(&id, 400, envelope::MALFORMED_DETAIL),
                        None => Ok(()),
                    }
                }
                Incoming::Ignored(what) => {
                    warn!("Received {what} from the backend; ignoring.");
                    Ok(())
                }
            },
            Message::Binary(_) => {
                warn!("Unexpected binary frame from the backend; ignoring.");
                Ok(())
            }
            Message::Close(frame) => {
                self.peer_close = Some(match frame {
                    Some(f) => format!("closed by the backend: {} {}", u16::from(f.code), f.reason),
                    None => "closed by the backend".into(),
                });
                Ok(())
            }
            // Control pings are answered by tungstenite on the next read or flush.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    fn on_command(&mut self, cmd: Command, cx: &Context) -> Result<(), String> {
        debug!("Relay command {}: {} {:?}", cmd.id, cmd.method, cmd.path);
        if self.draining {
            return self.answer(&cmd.id, 503, SHUTTING_DOWN_DETAIL);
        }
        let Some(path) = allowlist::allowed_path(&cmd.method, &cmd.path) else {
            Counters::bump(&cx.counters.forbidden);
            warn!(
                "Relay command refused (not on the allow-list): {} {:?}",
                cmd.method, cmd.path
            );
            return self.answer(&cmd.id, 403, envelope::FORBIDDEN_DETAIL);
        };
        let auth = (cx.auth)();
        let request = translate::request(
            &cmd,
            path,
            auth.as_ref()
                .map(|(name, key)| (name.as_str(), key.as_str())),
        );
        let job = Job {
            id: cmd.id.clone(),
            request,
            outbox: self.outbox.clone(),
        };
        match cx.dispatcher.submit(job) {
            Ok(()) => {
                Counters::bump(&cx.counters.commands);
                Ok(())
            }
            Err(_) => {
                Counters::bump(&cx.counters.overloaded);
                warn!("Relay command {} refused: too many pending", cmd.id);
                self.answer(&cmd.id, 429, envelope::OVERLOADED_DETAIL)
            }
        }
    }

    fn answer(&mut self, id: &str, status: u16, detail: &str) -> Result<(), String> {
        self.queue(Outgoing::Text(envelope::error_response(id, status, detail)))
    }

    /// Puts an item in the socket's write buffer (flushed at the end of the turn).
    fn queue(&mut self, item: Outgoing) -> Result<(), String> {
        match item {
            Outgoing::Text(text) => self.write(Message::text(text)),
            Outgoing::WithBinary { header, body } => {
                self.write(Message::text(header))?;
                self.write(Message::binary(body))
            }
        }
    }

    fn write(&mut self, msg: Message) -> Result<(), String> {
        match self.ws.write(msg) {
            // The frame is buffered; `flush` finishes writing it.
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other.map_err(|e| describe(&e)),
        }
    }

    /// Writes everything buffered, waiting for the socket as long as it keeps draining.
    fn flush(&mut self) -> Result<(), String> {
        loop {
            match self.ws.flush() {
                Ok(()) => return Ok(()),
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    match wait::writable(self.fd, WRITE_STALL_LIMIT) {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(format!(
                                "sending to the backend stalled for {} s",
                                WRITE_STALL_LIMIT.as_secs()
                            ))
                        }
                        Err(e) => return Err(format!("waiting on the socket failed: {e}")),
                    }
                }
                Err(e) => return Err(describe(&e)),
            }
        }
    }

    /// Our close frame, then up to `CLOSE_WAIT` for the backend's reply (§2.8: the backend
    /// must have let go of this socket before we dial again).
    fn close_cleanly(&mut self) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        match self.ws.close(Some(frame)) {
            Ok(()) => {}
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                debug!("Relay close frame not sent: {e}");
                return;
            }
        }
        self.finish_close();
    }

    /// Reads (and ignores) until the close handshake completes or `CLOSE_WAIT` passes;
    /// tungstenite sends our part of it as it reads.
    fn finish_close(&mut self) {
        let deadline = Instant::now() + CLOSE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                debug!("Relay close handshake timed out");
                return;
            }
            match self.ws.read() {
                Ok(_) => continue,
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
            let _ = self.ws.flush();
            if wait::socket_readable(self.fd, left.min(Duration::from_millis(50))).is_err() {
                return;
            }
        }
    }
}

fn describe(e: &WsError) -> String {
    match e {
        WsError::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}
