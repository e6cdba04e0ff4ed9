//! Heartbeats of the threads that must never hang: each beats on every turn of its loop
//! (loops that wait do so with a timeout), and the watchdog reads how long ago each one
//! last beat. A thread that stopped beating is hung, or gone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sync::LockExt;

#[derive(Debug)]
pub struct Heartbeat {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last beat.
    last_ms: AtomicU64,
}

impl Heartbeat {
    pub fn new(now: Instant) -> Heartbeat {
        Heartbeat {
            epoch: now,
            last_ms: AtomicU64::new(0),
        }
    }

    pub fn beat(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long ago the last beat was.
    pub fn age(&self, now: Instant) -> Duration {
        let last = self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

/// A heartbeat that last beat when it was made.
impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat::new(Instant::now())
    }
}

/// The heartbeats a watchdog checks, each with the longest silence that is still healthy.
#[derive(Default)]
pub struct Heartbeats {
    beats: Mutex<Vec<(&'static str, Arc<Heartbeat>, Duration)>>,
}

impl Heartbeats {
    /// A new heartbeat for thread `name`, which beats at least every `max_silence`.
    pub fn register(&self, name: &'static str, max_silence: Duration) -> Arc<Heartbeat> {
        let beat = Arc::new(Heartbeat::new(Instant::now()));
        self.watch(name, Arc::clone(&beat), max_silence);
        beat
    }

    /// Watches a heartbeat made elsewhere.
    pub fn watch(&self, name: &'static str, beat: Arc<Heartbeat>, max_silence: Duration) {
        self.beats.lock_unpoisoned().push((name, beat, max_silence));
    }

    /// The threads silent for longer than they may be, with how long; empty when all are well.
    pub fn silent(&self, now: Instant) -> Vec<(&'static str, Duration)> {
        self.beats
            .lock_unpoisoned()
            .iter()
            .map(|(name, beat, max)| (*name, beat.age(now), *max))
            .filter(|(_, age, max)| age > max)
            .map(|(name, age, _)| (name, age))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_silent_once_it_has_not_beaten_for_longer_than_it_may() {
        let beats = Heartbeats::default();
        let accept = beats.register("http-accept", Duration::from_secs(2));
        let muxer = beats.register("llhls-muxer", Duration::from_secs(5));
        let t0 = Instant::now();
        accept.beat(t0);
        muxer.beat(t0);
        assert!(beats.silent(t0 + Duration::from_millis(1_999)).is_empty());
        accept.beat(t0 + Duration::from_secs(4));
        let silent = beats.silent(t0 + Duration::from_millis(4_900));
        assert!(silent.is_empty(), "{silent:?}");
        let silent = beats.silent(t0 + Duration::from_millis(5_500));
        assert_eq!(silent.len(), 1);
        assert_eq!(silent[0].0, "llhls-muxer");
        // Beats are kept in whole milliseconds after the heartbeat was made.
        let age = silent[0].1;
        assert!(age >= Duration::from_millis(5_500) && age < Duration::from_millis(5_501));
    }
}
