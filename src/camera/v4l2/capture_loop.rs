//! The V4L2 capture source thread: opens the device, delivers frames, and when the device
//! fails or goes away (unplugged, module removed) reports why and reopens it with backoff.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::capture::{Capture, CaptureConfig};
use crate::media::Frame;
use crate::media::TIMESCALE;
use crate::v4l2::device::Device;

const FRAME_TIMEOUT: Duration = Duration::from_secs(2);

/// Reopen delays: 250 ms, doubling up to 2 s, back to the start after a success.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(2);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The delay before the next attempt.
    pub fn fail(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// The capture loop, on the calling thread, until `stop` is set. `status` gets `Some(error)` when capture fails and `None`
/// once frames flow again; `opened` gets the device after every (re)opening and `deliver`
/// every frame with the device it came from (both to set controls). None may block. Timestamps and
/// sequence numbers run on across reopenings.
pub fn run(
    cfg: &CaptureConfig,
    stop: &AtomicBool,
    status: impl Fn(Option<String>),
    mut opened: impl FnMut(&Device),
    mut deliver: impl FnMut(Frame, &Device),
) {
    let epoch = Instant::now();
    let mut sequence = 0u64;
    let mut backoff = Backoff::new();
    let mut last_error = String::new();
    while !stop.load(Ordering::Relaxed) {
        let error = match Capture::open(cfg) {
            Ok(mut capture) => {
                opened(capture.device());
                let mut healthy = false;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match capture.next_frame(FRAME_TIMEOUT) {
                        Ok(mut frame) => {
                            if !healthy {
                                healthy = true;
                                backoff.reset();
                                last_error.clear();
                                status(None);
                            }
                            frame.pts =
                                (epoch.elapsed().as_secs_f64() * f64::from(TIMESCALE)) as u64;
                            frame.sequence = sequence;
                            sequence += 1;
                            deliver(frame, capture.device());
                        }
                        Err(e) => break e.to_string(),
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        if error != last_error {
            log::error!("camera: {error}; reopening it");
            last_error = error.clone();
        }
        status(Some(error));
        sleep_unless_stopped(backoff.fail(), stop);
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn backoff_doubles_to_two_seconds_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..6).map(|_| b.fail().as_millis() as u64).collect();
        assert_eq!(delays, vec![250, 500, 1000, 2000, 2000, 2000]);
        b.reset();
        assert_eq!(b.fail(), Duration::from_millis(250));
    }

    #[test]
    fn a_missing_device_is_reported_and_retried_until_stopped() {
        let stop = Arc::new(AtomicBool::new(false));
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reports);
        let cfg = CaptureConfig {
            device: "/dev/video-missing-for-test".into(),
            width: 640,
            height: 480,
            fps: 30.0,
            format: None,
            buffers: 4,
        };
        let running = Arc::clone(&stop);
        let t = thread::spawn(move || {
            run(
                &cfg,
                &running,
                move |s| seen.lock().unwrap().push(s),
                |_| panic!("a missing device does not open"),
                |_, _| panic!("no frames from a missing device"),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while reports.lock().unwrap().len() < 2 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap();
        let reports = reports.lock().unwrap();
        assert!(reports.len() >= 2, "retried: {reports:?}");
        assert_eq!(
            reports[0].as_deref(),
            Some("/dev/video-missing-for-test: open failed: No such file or directory")
        );
    }
}
