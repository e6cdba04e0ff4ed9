//! What the API, `/health`, `/metrics` and telemetry read about the stream: its state, counters
//! and why it ended. Never the stream key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::sync::LockExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Dialling, handshaking or waiting for the server to accept `publish`.
    Connecting,
    /// Media flows.
    Live,
    /// The connection broke; redialling after a pause.
    Reconnecting,
    /// The stream is over (see `ended`).
    Ended,
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum Ended {
    /// `DELETE /streams/youtube`.
    Deleted,
    /// picamd is stopping (SIGTERM).
    Shutdown,
    /// `MAX_STREAM_DURATION_S` passed.
    MaxDuration,
    /// The ingest server refused the key or the publish; its words, key removed.
    Refused(String),
    /// The camera's H.264 stream went away.
    NoVideo,
    /// `POST /camera/stop`: with no camera there is nothing to broadcast, and an ingest server
    /// left without video ends the broadcast on its own terms.
    CameraStopped,
}

impl Ended {
    pub fn describe(&self) -> String {
        match self {
            Ended::Deleted => "stopped by DELETE /streams/youtube".into(),
            Ended::Shutdown => "picamd stopped".into(),
            Ended::MaxDuration => "MAX_STREAM_DURATION_S reached".into(),
            Ended::Refused(why) => format!("the ingest server refused the stream: {why}"),
            Ended::NoVideo => "the camera's video stream ended".into(),
            Ended::CameraStopped => "the camera was stopped (POST /camera/stop)".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub state: State,
    /// The ingest server, without the key (`rtmps://host:port/app`).
    pub ingest: String,
    pub started_unix_us: u64,
    pub live_since_unix_us: Option<u64>,
    pub bytes_sent: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub ended: Option<Ended>,
    /// The latest access unit's delay from capture to its FLV tag written to the socket, µs.
    pub capture_to_wire_us: u64,
}

/// Shared between the stream thread (writer) and the API (readers).
#[derive(Debug)]
pub struct StreamStatus {
    inner: Mutex<Snapshot>,
    bytes_sent: AtomicU64,
    /// The latest capture-to-wire delay, µs (capture time of the access unit to the moment
    /// its FLV tag was written to the socket).
    pub last_delay_us: AtomicU64,
}

impl StreamStatus {
    pub fn new(ingest: String, started_unix_us: u64) -> StreamStatus {
        StreamStatus {
            inner: Mutex::new(Snapshot {
                state: State::Connecting,
                ingest,
                started_unix_us,
                live_since_unix_us: None,
                bytes_sent: 0,
                reconnects: 0,
                last_error: None,
                ended: None,
                capture_to_wire_us: 0,
            }),
            bytes_sent: AtomicU64::new(0),
            last_delay_us: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.inner.lock_unpoisoned().clone();
        s.bytes_sent = self.bytes_sent.load(Ordering::Relaxed);
        s.capture_to_wire_us = self.last_delay_us.load(Ordering::Relaxed);
        s
    }

    pub fn add_bytes(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn set_state(&self, state: State) {
        self.inner.lock_unpoisoned().state = state;
    }

    pub fn live(&self, now_unix_us: u64) {
        let mut s = self.inner.lock_unpoisoned();
        s.state = State::Live;
        s.live_since_unix_us = Some(now_unix_us);
    }

    pub fn network_error(&self, error: String) {
        let mut s = self.inner.lock_unpoisoned();
        s.state = State::Reconnecting;
        s.reconnects += 1;
        s.live_since_unix_us = None;
        s.last_error = Some(error);
    }

    pub fn end(&self, why: Ended) {
        let mut s = self.inner.lock_unpoisoned();
        s.state = State::Ended;
        s.live_since_unix_us = None;
        s.ended = Some(why);
    }

    pub fn is_ended(&self) -> bool {
        self.inner.lock_unpoisoned().state == State::Ended
    }
}
