//! The housekeeping thread: measured frame rates, preview hibernation and the preview
//! thumbnail, on a one-second tick.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::runtime::Runtime;

const TICK: Duration = Duration::from_secs(1);

/// Turns a growing counter into a rate.
#[derive(Debug, Default)]
pub struct RateMeter {
    last: Option<(Instant, u64)>,
}

impl RateMeter {
    /// Events per second since the previous call (0 on the first).
    pub fn rate(&mut self, now: Instant, count: u64) -> f64 {
        let rate = match self.last {
            Some((then, before)) if now > then => {
                count.saturating_sub(before) as f64 / (now - then).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last = Some((now, count));
        rate
    }
}

pub fn spawn(rt: Arc<Runtime>) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let mut captured = RateMeter::default();
            let mut encoded = RateMeter::default();
            loop {
                thread::sleep(TICK);
                let now = Instant::now();
                let stats = &rt.stats;
                let fps = captured.rate(now, stats.frames_captured.load(Ordering::Relaxed));
                stats
                    .capture_fps_milli
                    .store((fps * 1000.0) as u64, Ordering::Relaxed);
                let fps = encoded.rate(now, stats.encoder.frames_encoded.load(Ordering::Relaxed));
                stats
                    .encode_fps_milli
                    .store((fps * 1000.0) as u64, Ordering::Relaxed);
                rt.preview.hibernate_if_idle(now);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_from_counter() {
        let mut m = RateMeter::default();
        let t0 = Instant::now();
        assert_eq!(m.rate(t0, 100), 0.0);
        assert_eq!(m.rate(t0 + Duration::from_secs(2), 160), 30.0);
        assert_eq!(m.rate(t0 + Duration::from_secs(2), 170), 0.0, "no time passed");
        assert_eq!(m.rate(t0 + Duration::from_secs(3), 10), 0.0, "counter reset");
    }
}
