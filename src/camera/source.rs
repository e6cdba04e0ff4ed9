//! The interface every camera source implements (test, rpicam, pipe, V4L2): it runs on
//! its own thread until told to stop, restarts its own device or process when that fails,
//! and hands out raw frames or H.264 access units.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::status::{Delivers, SourceStatus};
use crate::media::Frame;
use crate::media::{AccessUnit, TIMESCALE};

/// What a source hands out.
pub enum Output {
    Frame(Frame),
    Unit(AccessUnit),
}

/// What a running source gets from the pipeline.
pub struct SourceContext {
    pub stop: Arc<AtomicBool>,
    /// Mark it down (with the reason) while its device or process is gone; the pipeline
    /// marks it up on every output.
    pub status: Arc<SourceStatus>,
    /// Takes every output; never blocks.
    pub deliver: Box<dyn FnMut(Output) + Send>,
}

pub trait Source: Send + 'static {
    /// Short name for logs and `/health` ("rpicam", "pipe", ...).
    fn name(&self) -> &'static str;
    fn delivers(&self) -> Delivers;
    /// Runs until `ctx.stop` is set.
    fn run(self: Box<Self>, ctx: SourceContext);
}

pub fn spawn(source: Box<dyn Source>, ctx: SourceContext) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("source-{}", source.name()))
        .spawn(move || source.run(ctx))
}

/// Timestamps for a live source that says nothing about time itself: frame `n` sits at
/// `n` frame durations, and after a gap (a restart) the count jumps to the present, as a
/// sensor's would.
#[derive(Debug)]
pub struct FrameClock {
    fps: f64,
    start: Instant,
    period: Duration,
    ticks: u64,
    next: u64,
}

/// How far behind the wall clock the count may fall before it jumps.
const MAX_LAG: Duration = Duration::from_millis(500);

impl FrameClock {
    pub fn new(fps: f64, start: Instant) -> FrameClock {
        FrameClock {
            fps,
            start,
            period: Duration::from_secs_f64(1.0 / fps),
            ticks: (f64::from(TIMESCALE) / fps).round() as u64,
            next: 0,
        }
    }

    /// The nominal frame rate.
    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// (sequence, pts in 90 kHz) of a frame that arrived at `now`.
    pub fn stamp(&mut self, now: Instant) -> (u64, u64) {
        let elapsed = now.saturating_duration_since(self.start);
        let due = self.start + self.period.mul_f64(self.next as f64);
        if now.saturating_duration_since(due) > MAX_LAG {
            self.next = (elapsed.as_secs_f64() / self.period.as_secs_f64()) as u64;
        }
        let n = self.next;
        self.next += 1;
        (n, n * self.ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_clock_counts_frames_and_jumps_over_gaps() {
        let t0 = Instant::now();
        let mut clock = FrameClock::new(30.0, t0);
        let ms = Duration::from_millis;
        assert_eq!(clock.stamp(t0), (0, 0));
        // Jitter within the allowance keeps the exact grid.
        assert_eq!(clock.stamp(t0 + ms(60)), (1, 3000));
        assert_eq!(clock.stamp(t0 + ms(300)), (2, 6000));
        // A two-second outage: the count resumes at the present.
        assert_eq!(clock.stamp(t0 + ms(2000)), (60, 180_000));
        assert_eq!(clock.stamp(t0 + ms(2034)), (61, 183_000));
    }
}
