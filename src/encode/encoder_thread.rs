//! The H.264 encoder thread, one loop for every [`H264Encode`]: frames in, access units out
//! to the muxer's `Fanout`, key frames on the segment grid, the bitrate [`BitrateControl`] asks
//! for, counts in [`EncoderStats`].

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::{BitrateControl, EncodeError, EncoderStats, H264Encode, IdrGrid};
use crate::fanout::Fanout;
use crate::media::{AccessUnit, Frame};

/// The encoder waits for a frame at most this long at a time, then beats its heartbeat (the
/// camera may be gone, or the preview paused).
const FRAME_POLL: Duration = Duration::from_secs(1);
/// The longest the encoder thread may go without a heartbeat: a wait and a slow frame.
pub const ENCODER_MAX_SILENCE: Duration = Duration::from_secs(5);

/// An encoder with its key frames forced onto the segment grid.
pub struct OnGrid<E> {
    encoder: E,
    grid: IdrGrid,
}

impl<E: H264Encode> OnGrid<E> {
    /// `idr_interval`: the segment duration, in 90 kHz ticks.
    pub fn new(encoder: E, idr_interval: u64) -> OnGrid<E> {
        OnGrid {
            encoder,
            grid: IdrGrid::new(idr_interval),
        }
    }

    /// Encodes `frame`, forcing an IDR when the grid says so; see [`H264Encode::encode`].
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<AccessUnit>, EncodeError> {
        let force_idr = self.grid.due(frame.pts);
        match self.encoder.encode(frame, force_idr) {
            Ok(units) => {
                if units.is_empty() && !self.encoder.pipelined() {
                    self.grid.lost(frame.pts);
                }
                for au in &units {
                    self.grid.came_out(au.pts, au.keyframe);
                }
                Ok(units)
            }
            Err(e) => {
                self.grid.lost(frame.pts);
                Err(e)
            }
        }
    }

    pub fn finish(&mut self) -> Result<Vec<AccessUnit>, EncodeError> {
        self.encoder.finish()
    }

    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        self.encoder.set_bitrate(bps)
    }

    pub fn pipelined(&self) -> bool {
        self.encoder.pipelined()
    }
}

/// The encoder's bitrate: what it was opened with, and where changes are asked for.
pub struct Bitrate {
    pub opened_at: u32,
    pub control: Arc<BitrateControl>,
}

impl Bitrate {
    /// Gives `encoder` the rate asked for when it changed since `current` (the last rate it
    /// was given, even when that failed: a refused rate is not retried at every frame).
    fn follow<E: H264Encode>(&self, current: &mut u32, encoder: &mut OnGrid<E>) {
        let want = self.control.requested();
        if want == *current {
            return;
        }
        let from = *current;
        *current = want;
        match encoder.set_bitrate(want) {
            Ok(()) => {
                self.control.set_applied(want);
                log::info!("preview bitrate {} → {} kbit/s", from / 1000, want / 1000);
            }
            Err(e) => log::warn!(
                "cannot change the preview bitrate to {} kbit/s: {e}",
                want / 1000
            ),
        }
    }
}

/// Runs `encoder` on a thread called `name` until `frames` disconnects, then drains it.
/// The encoder is already open: only starting the thread can fail here.
pub fn spawn_encoder<E: H264Encode + 'static>(
    name: &str,
    mut encoder: OnGrid<E>,
    frames: Receiver<Frame>,
    out: Arc<Fanout<Arc<AccessUnit>>>,
    stats: Arc<EncoderStats>,
    bitrate: Bitrate,
) -> io::Result<JoinHandle<()>> {
    let send = move |units: Vec<AccessUnit>, stats: &EncoderStats| {
        for au in units {
            stats.frames_encoded.fetch_add(1, Ordering::Relaxed);
            stats
                .bytes_out
                .fetch_add(au.data.len() as u64, Ordering::Relaxed);
            out.send(&Arc::new(au));
        }
    };
    thread::Builder::new().name(name.into()).spawn(move || {
        let mut current = bitrate.opened_at;
        bitrate.control.set_applied(current);
        loop {
            stats.heartbeat.beat(Instant::now());
            let frame = match frames.recv_timeout(FRAME_POLL) {
                Ok(frame) => frame,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            bitrate.follow(&mut current, &mut encoder);
            match encoder.encode(&frame) {
                Ok(units) if units.is_empty() && !encoder.pipelined() => {
                    stats.frames_skipped.fetch_add(1, Ordering::Relaxed);
                }
                Ok(units) => send(units, &stats),
                Err(e) => {
                    if stats
                        .errors
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(100)
                    {
                        log::warn!("encoding frame {} failed: {e}", frame.sequence);
                    }
                }
            }
        }
        match encoder.finish() {
            Ok(units) => send(units, &stats),
            Err(e) => log::warn!("{e} (draining the encoder)"),
        }
        log::info!("encoder stopped: the source went away");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::V4l2Error;

    /// An encoder that only records the rates it was given, refusing `refuse`.
    struct Fake {
        rates: Vec<u32>,
        refuse: u32,
    }

    impl H264Encode for Fake {
        fn encode(&mut self, _: &Frame, _: bool) -> Result<Vec<AccessUnit>, EncodeError> {
            Ok(Vec::new())
        }

        fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
            self.rates.push(bps);
            if bps == self.refuse {
                return Err(V4l2Error::unsupported("/dev/fake", "no").into());
            }
            Ok(())
        }
    }

    #[test]
    fn follows_the_rate_asked_for_once_per_change() {
        let control = Arc::new(BitrateControl::new(1_000_000));
        let bitrate = Bitrate {
            opened_at: 1_000_000,
            control: Arc::clone(&control),
        };
        let fake = Fake {
            rates: Vec::new(),
            refuse: 123,
        };
        let mut encoder = OnGrid::new(fake, 90_000);
        let mut current = bitrate.opened_at;
        bitrate.follow(&mut current, &mut encoder);
        assert!(encoder.encoder.rates.is_empty(), "nothing changed");
        control.throttle();
        bitrate.follow(&mut current, &mut encoder);
        bitrate.follow(&mut current, &mut encoder);
        assert_eq!(encoder.encoder.rates, [400_000], "once per change");
        assert_eq!(control.applied(), 400_000);
        control.restore();
        bitrate.follow(&mut current, &mut encoder);
        assert_eq!(encoder.encoder.rates, [400_000, 1_000_000]);
        assert_eq!(control.applied(), 1_000_000);

        // A refused rate leaves the applied one, and is not retried at every frame.
        encoder.encoder.refuse = 400_000;
        control.throttle();
        bitrate.follow(&mut current, &mut encoder);
        bitrate.follow(&mut current, &mut encoder);
        assert_eq!(encoder.encoder.rates, [400_000, 1_000_000, 400_000]);
        assert_eq!(control.applied(), 1_000_000);
    }
}
