//! Everything the peer remembers: pairing records, cameras, open relay connections, per-camera
//! statistics, the event log and accepted uploads.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::clock::PeerClock;
use super::jwk;
use super::jwt_verify::ReplayStore;
use super::pairing::PairingBook;
use super::relay::RelayConnection;
use super::{PeerConfig, PeerStats, Upload};

/// A camera row: the key the Pi registered and whether its credential is still active.
pub struct Camera {
    pub jwk: Value,
    pub key_id: String,
    /// None when the stored JWK is not a usable P-256 key (authentication then fails with 500).
    pub point: Option<Vec<u8>>,
    pub revoked: bool,
}

impl Camera {
    pub fn new(jwk: &Value, key_id: &str) -> Camera {
        let stored = jwk::stored_form(jwk);
        Camera {
            point: jwk::public_point(&stored),
            jwk: stored,
            key_id: key_id.to_string(),
            revoked: false,
        }
    }
}

pub struct Shared {
    pub config: PeerConfig,
    pub clock: PeerClock,
    pub port: u16,
    started: Instant,
    pub pairing: Mutex<PairingBook>,
    pub pairing_changed: Condvar,
    pub cameras: Mutex<HashMap<String, Camera>>,
    pub replay: Mutex<ReplayStore>,
    pub connections: Mutex<HashMap<String, Arc<RelayConnection>>>,
    pub connections_changed: Condvar,
    pub stats: Mutex<HashMap<String, PeerStats>>,
    pub events: Mutex<Vec<String>>,
    pub self_unpaired: Mutex<Vec<String>>,
    pub uploads: Mutex<Vec<Upload>>,
    /// The last preview thumbnail of each camera.
    pub thumbnails: Mutex<HashMap<String, Vec<u8>>>,
    pub uploads_down: AtomicBool,
    pub stopping: AtomicBool,
    /// Every accepted socket, so that stopping can shut them all down.
    pub sockets: Mutex<HashMap<u64, TcpStream>>,
    pub threads: Mutex<Vec<JoinHandle<()>>>,
    next_serial: AtomicU64,
}

impl Shared {
    pub fn new(config: PeerConfig, port: u16) -> Shared {
        Shared {
            clock: PeerClock::new(config.clock_offset_s),
            config,
            port,
            started: Instant::now(),
            pairing: Mutex::new(PairingBook::default()),
            pairing_changed: Condvar::new(),
            cameras: Mutex::new(HashMap::new()),
            replay: Mutex::new(ReplayStore::default()),
            connections: Mutex::new(HashMap::new()),
            connections_changed: Condvar::new(),
            stats: Mutex::new(HashMap::new()),
            events: Mutex::new(Vec::new()),
            self_unpaired: Mutex::new(Vec::new()),
            uploads: Mutex::new(Vec::new()),
            thumbnails: Mutex::new(HashMap::new()),
            uploads_down: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            sockets: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            next_serial: AtomicU64::new(1),
        }
    }

    pub fn next_serial(&self) -> u64 {
        self.next_serial.fetch_add(1, Ordering::SeqCst)
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn event(&self, text: String) {
        let elapsed = self.started.elapsed().as_secs_f64();
        log::debug!("backend peer: {text}");
        self.events
            .lock()
            .unwrap()
            .push(format!("[{elapsed:8.3} s] {text}"));
    }

    pub fn with_stats<R>(&self, camera_id: &str, f: impl FnOnce(&mut PeerStats) -> R) -> R {
        f(self
            .stats
            .lock()
            .unwrap()
            .entry(camera_id.to_string())
            .or_default())
    }

    /// A protocol slip by the Pi: counted on the camera and logged as an event.
    pub fn violation(&self, camera_id: &str, text: String) {
        self.event(format!("VIOLATION by {camera_id}: {text}"));
        self.with_stats(camera_id, |s| s.violations.push(text));
    }

    pub fn add_camera(&self, camera_id: &str, camera: Camera) {
        self.cameras
            .lock()
            .unwrap()
            .insert(camera_id.to_string(), camera);
        self.event(format!("camera {camera_id} created"));
    }

    /// The open relay connection of a camera, if any.
    pub fn connection(&self, camera_id: &str) -> Option<Arc<RelayConnection>> {
        self.connections
            .lock()
            .unwrap()
            .get(camera_id)
            .filter(|c| c.is_open())
            .cloned()
    }

    pub fn ws_path(&self) -> String {
        format!("{}/plugins/rpi-cam/ws/connect", self.config.api_prefix)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, self.ws_path())
    }

    pub fn pairing_path(&self, action: &str) -> String {
        format!(
            "{}/plugins/rpi-cam/pairing/{action}",
            self.config.api_prefix
        )
    }

    /// `/plugins/rpi-cam/cameras/` on main, `/v1/plugins/rpi-cam/device/cameras/` on [WB].
    pub fn device_cameras_prefix(&self) -> String {
        if self.config.api_prefix.is_empty() {
            "/plugins/rpi-cam/cameras/".to_string()
        } else {
            format!("{}/plugins/rpi-cam/device/cameras/", self.config.api_prefix)
        }
    }

    pub fn wait_for_code(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut book = self.pairing.lock().unwrap();
        loop {
            if let Some(code) = book.newest_waiting_code() {
                return Some(code);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // Wake at least every 100 ms: codes also change state by expiring.
            let wait = (deadline - now).min(Duration::from_millis(100));
            book = self.pairing_changed.wait_timeout(book, wait).unwrap().0;
        }
    }
}
