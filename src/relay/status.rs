//! The relay's counters, shared by its threads and read by `Relay::status` (and later
//! `/metrics`).

use crate::sync::LockExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A snapshot of the relay's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayStatus {
    /// A WebSocket to the backend is open.
    pub connected: bool,
    /// Successful handshakes so far.
    pub connects: u64,
    /// Dials that failed (network, TLS or an HTTP status at the handshake).
    pub dial_failures: u64,
    /// Handshakes the backend refused with HTTP 403.
    pub refusals: u64,
    /// Open connections that ended other than by `stop`.
    pub disconnects: u64,
    /// Commands handed to the router.
    pub commands: u64,
    /// Answered 403: not on the allow-list.
    pub forbidden: u64,
    /// Answered 400 (or dropped when they had no usable id).
    pub malformed: u64,
    /// Answered 429: too many pending.
    pub overloaded: u64,
    /// Commands queued or running now.
    pub in_flight: u64,
    /// Why the last dial failed or the last connection ended.
    pub last_error: Option<String>,
    /// The wait before the next dial, while waiting.
    pub retry_in: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub connected: AtomicBool,
    pub connects: AtomicU64,
    pub dial_failures: AtomicU64,
    pub refusals: AtomicU64,
    pub disconnects: AtomicU64,
    pub commands: AtomicU64,
    pub forbidden: AtomicU64,
    pub malformed: AtomicU64,
    pub overloaded: AtomicU64,
    pub in_flight: AtomicU64,
    last_error: Mutex<Option<String>>,
    retry_in: Mutex<Option<Duration>>,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_last_error(&self, error: String) {
        *self.last_error.lock_unpoisoned() = Some(error);
    }

    pub fn set_retry_in(&self, wait: Option<Duration>) {
        *self.retry_in.lock_unpoisoned() = wait;
    }

    pub fn snapshot(&self) -> RelayStatus {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RelayStatus {
            connected: self.connected.load(Ordering::Relaxed),
            connects: get(&self.connects),
            dial_failures: get(&self.dial_failures),
            refusals: get(&self.refusals),
            disconnects: get(&self.disconnects),
            commands: get(&self.commands),
            forbidden: get(&self.forbidden),
            malformed: get(&self.malformed),
            overloaded: get(&self.overloaded),
            in_flight: get(&self.in_flight),
            last_error: self.last_error.lock_unpoisoned().clone(),
            retry_in: *self.retry_in.lock_unpoisoned(),
        }
    }
}
