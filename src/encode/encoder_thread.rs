//! The H.264 encoder thread, one loop for every [`H264Encode`]: frames in, access units out
//! to the muxer's `Fanout`, key frames on the segment grid, counts in [`EncoderStats`].

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::Receiver;

use super::{EncodeError, EncoderStats, H264Encode, IdrGrid};
use crate::fanout::Fanout;
use crate::media::{AccessUnit, Frame};

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

    pub fn pipelined(&self) -> bool {
        self.encoder.pipelined()
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
        for frame in frames {
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
