//! An in-process stand-in for the RELab backend's device seam, written from
//! `contract/backend.md` (§1 pairing, §2 relay, §4 uploads, §7 the `/v1` variant) and the 0.5.2
//! model rules (plugin.md §13). It is deliberately strict: whatever the real backend (or a
//! 0.5.2-model backend) would reject, it rejects, and every protocol slip the real backend
//! would silently mis-handle is recorded as a violation. It shares no code with picamd.
//!
//! HTTP and WebSocket are served on one loopback listener, one thread per connection.
//!
//! ```ignore
//! #[path = "backend_peer/mod.rs"] // benches: "../tests/backend_peer/mod.rs"
//! mod backend_peer;
//! let peer = BackendPeer::start(PeerConfig::default());
//! // start the Pi with PAIRING_BACKEND_URL = peer.base_url(), then:
//! let code = peer.wait_for_code(Duration::from_secs(10)).unwrap();
//! let camera_id = peer.claim(&code).unwrap();
//! assert!(peer.wait_connected(&camera_id, Duration::from_secs(10)));
//! let reply = peer.request(&camera_id, "GET", "/camera", None, Duration::from_secs(30));
//! assert!(peer.stats(&camera_id).violations.is_empty());
//! ```
#![allow(dead_code)]

mod clock;
mod encoding;
mod envelope;
mod http;
mod jwk;
mod jwt_verify;
mod multipart;
mod pairing;
mod relay;
mod response;
mod router;
mod server;
mod session;
mod state;
mod uploads;
mod validation;
mod wire;
mod ws_upgrade;

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use state::{Camera, Shared};

pub use encoding::uuid4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStyle {
    /// Main: `GET …/pairing/poll?code=…&fingerprint=…`.
    GetQuery,
    /// The current backend: `POST …/pairing/poll` with `{"code","fingerprint"}`.
    PostJson,
}

#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// `""` (main) or `"/v1"` ([WB]). With `"/v1"` the device routes also gain `/device`:
    /// `/v1/plugins/rpi-cam/device/cameras/{id}/…` instead of `/plugins/rpi-cam/cameras/{id}/…`.
    pub api_prefix: String,
    pub poll_style: PollStyle,
    /// How long a registered, unclaimed code lives (Redis TTL, 600 s).
    pub code_ttl: Duration,
    /// How long a claimed record waits for the Pi's paired poll (300 s).
    pub claimed_ttl: Duration,
    /// The backend's `{"type":"ping"}` period (30 s).
    pub ping_interval: Duration,
    /// Close 1001 when no `{"type":"pong"}` arrived for this long (90 s).
    pub pong_timeout: Duration,
    /// The peer's clock = system clock + this many seconds.
    pub clock_offset_s: i64,
}

impl Default for PeerConfig {
    fn default() -> PeerConfig {
        PeerConfig {
            api_prefix: String::new(),
            poll_style: PollStyle::GetQuery,
            code_ttl: Duration::from_secs(600),
            claimed_ttl: Duration::from_secs(300),
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(90),
            clock_offset_s: 0,
        }
    }
}

/// What the Pi answered to a relayed request.
#[derive(Clone, Debug)]
pub struct RelayReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub data: Value,
    /// The binary message that followed a `has_binary: true` header.
    pub binary: Option<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayError {
    NotConnected,
    Timeout,
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::NotConnected => write!(f, "camera is not connected via WebSocket"),
            RelayError::Timeout => write!(f, "camera did not respond in time"),
        }
    }
}

impl std::error::Error for RelayError {}

#[derive(Clone, Debug, Default)]
pub struct PeerStats {
    pub handshakes_accepted: u32,
    pub handshakes_rejected: u32,
    pub connections_open: u32,
    /// Must never exceed 1 for a correct Pi.
    pub max_concurrent_connections: u32,
    pub pings_sent: u32,
    pub pongs_received: u32,
    pub pings_received: u32,
    pub violations: Vec<String>,
}

/// One accepted `image-upload`.
#[derive(Clone, Debug)]
pub struct Upload {
    pub image_id: String,
    pub camera_id: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub capture_metadata: Value,
    pub upload_metadata: Value,
}

/// The running peer. Dropping it closes the listener and every connection and joins the
/// threads.
pub struct BackendPeer {
    shared: Arc<Shared>,
    accept_thread: Option<std::thread::JoinHandle<()>>,
}

impl BackendPeer {
    /// Starts on a free loopback port.
    pub fn start(config: PeerConfig) -> BackendPeer {
        BackendPeer::start_on(0, config).expect("binding a free loopback port")
    }

    /// Starts on a given loopback port (to play a backend that comes up late).
    pub fn start_on(port: u16, config: PeerConfig) -> io::Result<BackendPeer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(config, port));
        let accept_thread = server::spawn(listener, Arc::clone(&shared));
        Ok(BackendPeer {
            shared,
            accept_thread: Some(accept_thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.port)
    }

    /// The `ws_url` a paired poll hands out (without `camera_id`).
    pub fn ws_url(&self) -> String {
        self.shared.ws_url()
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.shared.clock.set_offset(secs);
    }

    /// The newest registered code that is neither claimed nor expired, waiting up to `timeout`.
    pub fn wait_for_code(&self, timeout: Duration) -> Option<String> {
        self.shared.wait_for_code(timeout)
    }

    /// Every code ever accepted with 201, oldest first.
    pub fn registered_codes(&self) -> Vec<String> {
        self.shared.pairing.lock().unwrap().history.clone()
    }

    /// The user's claim (backend §1.4): creates the camera and marks the record paired.
    /// `Err(404)` for an unknown or expired code, `Err(409)` when it was already claimed.
    pub fn claim(&self, code: &str) -> Result<String, u16> {
        pairing::claim(&self.shared, code)
    }

    /// Manual pairing (`POST /plugins/rpi-cam/cameras`): a camera with this key, no pairing code.
    pub fn create_camera(&self, jwk: Value, key_id: &str) -> String {
        let camera_id = uuid4();
        self.shared
            .add_camera(&camera_id, Camera::new(&jwk, key_id));
        camera_id
    }

    /// `relay_credential_status = revoked`: new handshakes and device calls fail; an open
    /// socket is left alone (the backend only checks at connect time).
    pub fn revoke(&self, camera_id: &str) {
        if let Some(camera) = self.shared.cameras.lock().unwrap().get_mut(camera_id) {
            camera.revoked = true;
        }
        self.shared.event(format!("camera {camera_id} revoked"));
    }

    /// The user deletes the camera. Like the backend, the row goes first and then, if the
    /// camera is connected, `DELETE /pairing` is relayed (30 s timeout). So a Pi that calls
    /// `DELETE …/self` while handling it gets 401, exactly as against the real backend. The
    /// socket is not closed. Returns the Pi's reply when there was one.
    pub fn delete_camera(&self, camera_id: &str) -> Option<RelayReply> {
        self.shared.cameras.lock().unwrap().remove(camera_id);
        self.shared
            .event(format!("camera {camera_id} deleted by its user"));
        if !self.is_connected(camera_id) {
            return None;
        }
        match self.request(
            camera_id,
            "DELETE",
            "/pairing",
            None,
            Duration::from_secs(30),
        ) {
            Ok(reply) => Some(reply),
            Err(e) => {
                self.shared
                    .event(format!("DELETE /pairing to {camera_id} failed: {e}"));
                None
            }
        }
    }

    pub fn wait_connected(&self, camera_id: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut connections = self.shared.connections.lock().unwrap();
        loop {
            if connections.get(camera_id).is_some_and(|c| c.is_open()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            connections = self
                .shared
                .connections_changed
                .wait_timeout(connections, deadline - now)
                .unwrap()
                .0;
        }
    }

    pub fn is_connected(&self, camera_id: &str) -> bool {
        self.shared.connection(camera_id).is_some()
    }

    /// Relays one command (the 7-key `RelayCommandEnvelope`, fresh uuid4 id, `params` and
    /// `headers` empty) and waits for the response with the same id. Safe to call from many
    /// threads at once.
    pub fn request(
        &self,
        camera_id: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<RelayReply, RelayError> {
        let connection = self
            .shared
            .connection(camera_id)
            .ok_or(RelayError::NotConnected)?;
        connection.request(method, path, body, timeout)
    }

    /// A raw text frame, for malformed-envelope tests.
    pub fn send_text(&self, camera_id: &str, text: &str) {
        if let Some(connection) = self.shared.connection(camera_id) {
            connection.send_text(text);
        }
    }

    /// Ends the TCP connection without a close frame (a network drop as the Pi sees it).
    pub fn drop_connection(&self, camera_id: &str) {
        if let Some(connection) = self.shared.connection(camera_id) {
            self.shared
                .event(format!("dropping the connection of {camera_id} uncleanly"));
            connection.shutdown();
        }
    }

    pub fn stats(&self, camera_id: &str) -> PeerStats {
        self.shared
            .stats
            .lock()
            .unwrap()
            .get(camera_id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn events(&self) -> Vec<String> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Camera ids that deleted themselves with `DELETE …/self`.
    pub fn self_unpaired(&self) -> Vec<String> {
        self.shared.self_unpaired.lock().unwrap().clone()
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.uploads.lock().unwrap().clone()
    }

    /// The last preview thumbnail the camera uploaded.
    pub fn preview_thumbnail(&self, camera_id: &str) -> Option<Vec<u8>> {
        self.shared
            .thumbnails
            .lock()
            .unwrap()
            .get(camera_id)
            .cloned()
    }

    /// While down, every upload route answers 503.
    pub fn set_uploads_down(&self, down: bool) {
        self.shared.uploads_down.store(down, Ordering::SeqCst);
    }
}

impl Drop for BackendPeer {
    fn drop(&mut self) {
        server::stop(&self.shared, self.accept_thread.take());
    }
}
