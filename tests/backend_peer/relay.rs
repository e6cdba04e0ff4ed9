//! A relay WebSocket as the rest of the peer sees it (backend §2.4, §2.8): registration (the
//! newest connection wins, overlap is counted), requests waiting for their response id, and
//! the end of the socket. The frame handling is in `session.rs`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde_json::Value;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::WebSocket;

use super::encoding::uuid4;
use super::envelope;
use super::session::Session;
use super::state::Shared;
use super::wire::{ReaderIo, Wire};
use super::{RelayError, RelayReply};

/// uvicorn's default incoming message limit.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// How often the reader wakes up without traffic (heartbeat and stop checks).
const TICK: Duration = Duration::from_millis(20);
/// How long a new handshake waits for a dying predecessor to be noticed before counting.
const REPLACEMENT_SETTLE: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Pending {
    waiting: HashMap<String, Sender<RelayReply>>,
    timed_out: HashSet<String>,
}

pub enum Delivery {
    Delivered,
    Late,
    Unknown,
}

pub struct RelayConnection {
    pub serial: u64,
    pub camera_id: String,
    pub wire: Arc<Wire>,
    pending: Mutex<Pending>,
    open: AtomicBool,
}

impl RelayConnection {
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<RelayReply, RelayError> {
        let id = uuid4();
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.pending.lock().unwrap().waiting.insert(id.clone(), tx);
        let frame = envelope::request(&id, method, path, body);
        if self.wire.send_text(&frame).is_err() {
            self.pending.lock().unwrap().waiting.remove(&id);
            return Err(RelayError::NotConnected);
        }
        rx.recv_timeout(timeout).map_err(|_| {
            let mut pending = self.pending.lock().unwrap();
            pending.waiting.remove(&id);
            pending.timed_out.insert(id);
            RelayError::Timeout
        })
    }

    pub fn deliver(&self, id: &str, reply: RelayReply) -> Delivery {
        let mut pending = self.pending.lock().unwrap();
        match pending.waiting.remove(id) {
            Some(tx) => {
                let _ = tx.send(reply);
                Delivery::Delivered
            }
            None if pending.timed_out.contains(id) => Delivery::Late,
            None => Delivery::Unknown,
        }
    }

    pub fn send_text(&self, text: &str) {
        let _ = self.wire.send_text(text);
    }

    pub fn shutdown(&self) {
        self.wire.shutdown();
    }

    /// Marks the socket as gone (once) and updates the open-connection count.
    pub fn end(&self, shared: &Shared) {
        if self.open.swap(false, Ordering::SeqCst) {
            shared.with_stats(&self.camera_id, |s| s.connections_open -= 1);
            let _guard = shared.connections.lock().unwrap();
            shared.connections_changed.notify_all();
        }
    }
}

/// Runs an accepted relay connection on the current thread until it ends.
/// `switching_protocols` is written just before the connection is registered.
pub fn serve(
    shared: Arc<Shared>,
    mut tcp: TcpStream,
    switching_protocols: &str,
    leftover: Vec<u8>,
    camera_id: String,
) {
    let wire = match tcp.try_clone().and_then(Wire::new) {
        Ok(wire) => Arc::new(wire),
        Err(e) => {
            shared.event(format!("relay socket for {camera_id} unusable: {e}"));
            return;
        }
    };
    let connection = Arc::new(RelayConnection {
        serial: shared.next_serial(),
        camera_id: camera_id.clone(),
        wire: Arc::clone(&wire),
        pending: Mutex::new(Pending::default()),
        open: AtomicBool::new(true),
    });
    // The 101 is written under the registry lock, just before the connection becomes
    // routable: another thread's request can never reach the Pi ahead of the handshake answer,
    // and a Pi that has seen the 101 finds itself registered.
    let answered = register(&shared, &connection, || {
        tcp.write_all(switching_protocols.as_bytes()).is_ok()
    });
    if !answered {
        connection.end(&shared);
    }
    let _ = tcp.set_read_timeout(Some(TICK));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = WebSocket::from_partially_read(
        ReaderIo::new(tcp, wire),
        leftover,
        Role::Server,
        Some(config),
    );
    let outcome = Session::new(&shared, &connection).run(&mut ws);
    connection.end(&shared);
    connection.shutdown();
    let mut connections = shared.connections.lock().unwrap();
    if connections
        .get(&camera_id)
        .is_some_and(|c| c.serial == connection.serial)
    {
        connections.remove(&camera_id);
    }
    drop(connections);
    shared.connections_changed.notify_all();
    shared.event(format!("relay connection of {camera_id} ended: {outcome}"));
}

/// Adds a connection to the registry the way the backend does (the newest wins and the old
/// one is closed with 1001), but counts it first so that overlap shows in the statistics.
fn register(
    shared: &Shared,
    connection: &Arc<RelayConnection>,
    answer: impl FnOnce() -> bool,
) -> bool {
    let camera_id = &connection.camera_id;
    let deadline = Instant::now() + REPLACEMENT_SETTLE;
    let mut connections = shared.connections.lock().unwrap();
    // A predecessor whose TCP connection is already gone just has not been noticed yet.
    while connections.get(camera_id).is_some_and(|c| c.is_open()) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        connections = shared
            .connections_changed
            .wait_timeout(connections, deadline - now)
            .unwrap()
            .0;
    }
    let answered = answer();
    shared.with_stats(camera_id, |s| {
        s.connections_open += 1;
        s.max_concurrent_connections = s.max_concurrent_connections.max(s.connections_open);
    });
    if let Some(old) = connections.insert(camera_id.clone(), Arc::clone(connection)) {
        if old.is_open() {
            old.wire.send_close(1001, "replaced by a new connection");
            shared.event(format!(
                "camera {camera_id} opened a second relay connection while one was open; \
                 the old one was closed with 1001 (the real backend would now hit its \
                 reconnect race, §2.8)"
            ));
        }
    }
    drop(connections);
    shared.connections_changed.notify_all();
    answered
}
