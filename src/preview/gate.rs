//! Whether the preview encoder runs. It stops on `POST /preview/stop` or after
//! `PREVIEW_HIBERNATE_AFTER_S` without anyone watching, and starts again on
//! `POST /preview/start` or as soon as someone asks for the stream. The camera itself keeps
//! running either way, so stills, `/frame` and MJPEG never wait for a warm-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct PreviewGate {
    running: AtomicBool,
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

    /// Called periodically: stops the encoder once nobody has asked for the stream for
    /// the hibernation period. Returns whether it stopped it.
    pub fn hibernate_if_idle(&self, now: Instant) -> bool {
        let Some(after) = self.hibernate_after else {
            return false;
        };
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
    fn zero_means_never_and_stop_is_explicit() {
        let gate = PreviewGate::new(Some(Duration::ZERO));
        assert!(!gate.hibernate_if_idle(Instant::now() + Duration::from_secs(1_000_000)));
        gate.stop();
        assert!(!gate.is_running());
        gate.start(Instant::now());
        assert!(gate.is_running());
    }
}
