//! What the push client shows in `/metrics` and `/system/telemetry`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::sync::LockExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// No `HUB_PUSH_URL`.
    Off,
    Connecting,
    /// Id and token sent; pictures flow.
    Connected,
    /// The hub closed with 1008 (unknown id or wrong token): a configuration error, retried
    /// after a long backoff.
    Refused,
    /// The hub could not be reached or the connection broke; retried with backoff.
    Disconnected,
}

impl PushState {
    pub fn name(self) -> &'static str {
        match self {
            PushState::Off => "off",
            PushState::Connecting => "connecting",
            PushState::Connected => "connected",
            PushState::Refused => "refused",
            PushState::Disconnected => "disconnected",
        }
    }
}

#[derive(Default)]
pub struct PushCounters {
    pub images_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub connects: AtomicU64,
    pub refusals: AtomicU64,
    pub hub_messages: AtomicU64,
}

pub struct PushStatus {
    /// The camera id and URL pushed to (never the token).
    pub target: Option<(u32, String)>,
    state: Mutex<(PushState, Option<String>)>,
    pub counters: PushCounters,
}

impl PushStatus {
    pub fn new(target: Option<(u32, String)>) -> PushStatus {
        PushStatus {
            target,
            state: Mutex::new((PushState::Off, None)),
            counters: PushCounters::default(),
        }
    }

    /// The new state, with the last error or refusal reason when it is one.
    pub fn set(&self, state: PushState, why: Option<String>) {
        let mut st = self.state.lock_unpoisoned();
        st.0 = state;
        if why.is_some() {
            st.1 = why;
        }
    }

    pub fn state(&self) -> PushState {
        self.state.lock_unpoisoned().0
    }

    pub fn telemetry(&self) -> Value {
        let (state, last_error) = self.state.lock_unpoisoned().clone();
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "state": state.name(),
            "camera_id": self.target.as_ref().map(|t| t.0),
            "url": self.target.as_ref().map(|t| t.1.clone()),
            "last_error": last_error,
            "images_sent": load(&c.images_sent),
            "connects": load(&c.connects),
            "refusals": load(&c.refusals),
        })
    }
}
