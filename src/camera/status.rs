//! Whether the camera source is delivering, for `/health`, the banner and the API: which
//! source was chosen and why, when it last delivered, and why it is down when it is.

use crate::sync::LockExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What the source delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivers {
    /// Raw pictures, encoded by picamd; stills are taken from them.
    RawFrames,
    /// H.264 access units that go to the muxer as they are; no raw pictures.
    H264,
}

#[derive(Debug, Clone)]
struct Chosen {
    name: String,
    reason: String,
    encoder: String,
    delivers: Delivers,
}

pub struct SourceStatus {
    chosen: Mutex<Chosen>,
    /// µs since the Unix epoch of the newest frame or access unit; 0 before the first.
    last_output_us: AtomicU64,
    is_down: AtomicBool,
    down_reason: Mutex<String>,
}

impl Default for SourceStatus {
    fn default() -> Self {
        SourceStatus {
            chosen: Mutex::new(Chosen {
                name: "testsrc".into(),
                reason: "not started yet".into(),
                encoder: "OpenH264".into(),
                delivers: Delivers::RawFrames,
            }),
            last_output_us: AtomicU64::new(0),
            is_down: AtomicBool::new(false),
            down_reason: Mutex::new(String::new()),
        }
    }
}

impl SourceStatus {
    /// Records the choice made at start-up: `name` as `/health` shows it, `reason` for the
    /// banner ("libcamera camera 0: imx708"), the encoder that turns its frames into H.264.
    pub fn set_choice(&self, name: &str, reason: &str, encoder: &str, delivers: Delivers) {
        *self.chosen.lock_unpoisoned() = Chosen {
            name: name.into(),
            reason: reason.into(),
            encoder: encoder.into(),
            delivers,
        };
    }

    pub fn name(&self) -> String {
        self.chosen().name
    }

    pub fn reason(&self) -> String {
        self.chosen().reason
    }

    pub fn encoder(&self) -> String {
        self.chosen().encoder
    }

    pub fn delivers(&self) -> Delivers {
        self.chosen().delivers
    }

    fn chosen(&self) -> Chosen {
        self.chosen.lock_unpoisoned().clone()
    }

    /// A frame or access unit arrived: the source is up.
    pub fn mark_output(&self, unix_us: u64) {
        self.last_output_us.store(unix_us, Ordering::Relaxed);
        if self.is_down.swap(false, Ordering::Relaxed) {
            log::info!("camera source {} is delivering again", self.name());
        }
    }

    /// µs since the Unix epoch of the newest output, if any.
    pub fn last_output_us(&self) -> Option<u64> {
        Some(self.last_output_us.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// The source failed (its process died, its device went away) and is being restarted.
    pub fn set_down(&self, reason: &str) {
        *self.down_reason.lock_unpoisoned() = reason.to_string();
        self.is_down.store(true, Ordering::Relaxed);
    }

    /// Why the source is down, while it is.
    pub fn down_reason(&self) -> Option<String> {
        self.is_down
            .load(Ordering::Relaxed)
            .then(|| self.down_reason.lock_unpoisoned().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_until_the_next_output() {
        let s = SourceStatus::default();
        assert_eq!(s.last_output_us(), None);
        s.mark_output(5);
        assert_eq!(s.last_output_us(), Some(5));
        s.set_down("rpicam-vid exited");
        assert_eq!(s.down_reason().as_deref(), Some("rpicam-vid exited"));
        s.mark_output(6);
        assert_eq!(s.down_reason(), None);
    }
}
