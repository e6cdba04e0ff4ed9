//! The housekeeping thread: measured frame rates, preview hibernation and the preview
//! thumbnail, on a one-second tick; thumbnails that captures ask for are made as they come.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use crate::runtime::MediaState;
use crate::stills::Stills;

const TICK: Duration = Duration::from_secs(1);
/// The cached thumbnail follows the picture every minute while someone watches the preview,
/// and every ten minutes otherwise (the plugin's schedule).
const THUMBNAIL_ACTIVE: Duration = Duration::from_secs(60);
const THUMBNAIL_IDLE: Duration = Duration::from_secs(600);

/// When the thumbnail is due: at once when there is none, then on the schedule above.
pub fn thumbnail_due(last: Option<Instant>, watched: bool, now: Instant) -> bool {
    let period = if watched {
        THUMBNAIL_ACTIVE
    } else {
        THUMBNAIL_IDLE
    };
    last.is_none_or(|t| now.saturating_duration_since(t) >= period)
}

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

/// Runs the one-second tick; a thumbnail asked for in between is made at once.
pub fn spawn(media: Arc<MediaState>, stills: Arc<Stills>) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let mut captured = RateMeter::default();
            let mut encoded = RateMeter::default();
            let mut thumbnail_at: Option<Instant> = None;
            let mut next_tick = Instant::now() + TICK;
            loop {
                let wait = next_tick.saturating_duration_since(Instant::now());
                match stills.thumbnail_requests().recv_timeout(wait) {
                    Ok(frame) => {
                        stills.refresh_thumbnail(&frame);
                        thumbnail_at = Some(Instant::now());
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                let now = Instant::now();
                next_tick = now + TICK;
                let stats = &media.stats;
                let fps = captured.rate(now, stats.frames_captured.load(Ordering::Relaxed));
                stats
                    .capture_fps_milli
                    .store((fps * 1000.0) as u64, Ordering::Relaxed);
                let fps = encoded.rate(now, stats.encoder.frames_encoded.load(Ordering::Relaxed));
                stats
                    .encode_fps_milli
                    .store((fps * 1000.0) as u64, Ordering::Relaxed);
                media.preview.hibernate_if_idle(now);
                if thumbnail_due(thumbnail_at, media.preview.is_running(), now) {
                    if let Some(frame) = media.latest_frame() {
                        stills.refresh_thumbnail(&frame);
                        thumbnail_at = Some(now);
                    }
                }
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
        assert_eq!(
            m.rate(t0 + Duration::from_secs(2), 170),
            0.0,
            "no time passed"
        );
        assert_eq!(
            m.rate(t0 + Duration::from_secs(3), 10),
            0.0,
            "counter reset"
        );
    }

    #[test]
    fn thumbnail_schedule() {
        let t0 = Instant::now();
        assert!(thumbnail_due(None, false, t0));
        assert!(!thumbnail_due(Some(t0), true, t0 + Duration::from_secs(59)));
        assert!(thumbnail_due(Some(t0), true, t0 + Duration::from_secs(60)));
        assert!(!thumbnail_due(
            Some(t0),
            false,
            t0 + Duration::from_secs(599)
        ));
        assert!(thumbnail_due(
            Some(t0),
            false,
            t0 + Duration::from_secs(600)
        ));
    }
}
