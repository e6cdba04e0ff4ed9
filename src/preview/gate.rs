//! Whether the preview encoder runs. It stops on `POST /preview/stop` or after
//! `PREVIEW_HIBERNATE_AFTER_S` without anyone watching, and starts again on
//! `POST /preview/start` or as soon as someone asks for the stream. The camera itself keeps
//! running either way, so stills, `/frame` and MJPEG never wait for a warm-up.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct PreviewGate {
    running: AtomicBool,
    /// Consumers that need the encoder for as long as they run (a live stream, a recording):
    /// while any is held, the preview does not hibernate.
    holds: Arc<AtomicUsize>,
    epoch: Instant,
    /// Milliseconds after `epoch` of the last viewer request (or start).
    last_activity_ms: AtomicU64,
    /// `None`: never hibernate.
    hibernate_after: Option<Duration>,
}

impl PreviewGate {
    pub fn new(hibernate_after: Option<Duration>) -> PreviewGate {
        PreviewGate {
            running: AtomicBool::new(true),
            holds: Arc::default(),
            epoch: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            hibernate_after: hibernate_after.filter(|d| !d.is_zero()),
        }
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// A viewer asked for the stream: note it, and wake the encoder if it slept.
    pub fn touch(&self, now: Instant) {
        self.last_activity_ms
            .store(self.millis(now), Ordering::Relaxed);
        if !self.running.swap(true, Ordering::Relaxed) {
            log::info!("preview encoder started (viewer request)");
        }
    }

    pub fn start(&self, now: Instant) {
        self.last_activity_ms
            .store(self.millis(now), Ordering::Relaxed);
        if !self.running.swap(true, Ordering::Relaxed) {
            log::info!("preview encoder started");
        }
    }

    pub fn stop(&self) {
        if self.running.swap(false, Ordering::Relaxed) {
            log::info!("preview encoder stopped");
        }
    }

    /// Keeps the encoder awake until the returned hold is dropped, waking it if it slept.
    /// For consumers that are not viewer requests: a stream to an ingest server, a
    /// recording. `POST /preview/stop` still stops it; the holder decides what that means.
    pub fn hold(&self, now: Instant, why: &str) -> PreviewHold {
        self.holds.fetch_add(1, Ordering::Relaxed);
        self.last_activity_ms
            .store(self.millis(now), Ordering::Relaxed);
        if !self.running.swap(true, Ordering::Relaxed) {
            log::info!("preview encoder started ({why})");
        }
        PreviewHold {
            holds: Arc::clone(&self.holds),
        }
    }

    /// How many holds keep the encoder awake.
    pub fn holds(&self) -> usize {
        self.holds.load(Ordering::Relaxed)
    }

    /// Called periodically: stops the encoder once nobody has asked for the stream for
    /// the hibernation period and nothing holds it. Returns whether it stopped it.
    pub fn hibernate_if_idle(&self, now: Instant) -> bool {
        let Some(after) = self.hibernate_after else {
            return false;
        };
        if self.holds() > 0 {
            self.last_activity_ms
                .store(self.millis(now), Ordering::Relaxed);
            return false;
        }
        let idle_ms = self
            .millis(now)
            .saturating_sub(self.last_activity_ms.load(Ordering::Relaxed));
        if self.is_running() && idle_ms >= after.as_millis() as u64 {
            self.running.store(false, Ordering::Relaxed);
            log::info!(
                "preview encoder hibernating: no viewer for {} s",
                idle_ms / 1000
            );
            return true;
        }
        false
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }
}

/// Keeps the preview encoder from hibernating while it lives (see `PreviewGate::hold`).
pub struct PreviewHold {
    holds: Arc<AtomicUsize>,
}

impl Drop for PreviewHold {
    fn drop(&mut self) {
        self.holds.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hibernates_after_idle_and_wakes_on_touch() {
        let gate = PreviewGate::new(Some(Duration::from_secs(300)));
        let t0 = Instant::now();
        assert!(gate.is_running());
        assert!(!gate.hibernate_if_idle(t0 + Duration::from_secs(299)));
        gate.touch(t0 + Duration::from_secs(200));
        assert!(!gate.hibernate_if_idle(t0 + Duration::from_secs(450)));
        assert!(gate.hibernate_if_idle(t0 + Duration::from_secs(501)));
        assert!(!gate.is_running());
        gate.touch(t0 + Duration::from_secs(600));
        assert!(gate.is_running());
    }

    #[test]
    fn a_hold_keeps_it_awake_and_its_drop_lets_it_sleep() {
        let gate = PreviewGate::new(Some(Duration::from_secs(300)));
        let t0 = Instant::now();
        gate.stop();
        let hold = gate.hold(t0, "test");
        assert!(gate.is_running());
        assert!(!gate.hibernate_if_idle(t0 + Duration::from_secs(1000)));
        drop(hold);
        assert_eq!(gate.holds(), 0);
        // Idle counts from the last check that found it held.
        assert!(!gate.hibernate_if_idle(t0 + Duration::from_secs(1200)));
        assert!(gate.hibernate_if_idle(t0 + Duration::from_secs(1301)));
    }

    #[test]
    fn zero_means_never_and_stop_is_explicit() {
        let gate = PreviewGate::new(Some(Duration::ZERO));
        assert!(!gate.hibernate_if_idle(Instant::now() + Duration::from_secs(1_000_000)));
        gate.stop();
        assert!(!gate.is_running());
        gate.start(Instant::now());
        assert!(gate.is_running());
    }
}
