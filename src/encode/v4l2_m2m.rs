//! Hardware H.264 through a V4L2 M2M encoder (bcm2835-codec on the Pi 0-4), as access units
//! for the muxer: key frames on the segment grid, capture-time SEI, SPS/PPS on every IDR.
//! Runs on the shared encoder thread (`encode::encoder_thread`), as OpenH264 does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::{
    sei, spawn_encoder, Bitrate, BitrateControl, EncodeError, EncoderStats, H264Encode, OnGrid,
};
use crate::fanout::Fanout;
use crate::media::{h264, AccessUnit, Frame};
use crate::v4l2::codec_controls::{EncoderSettings, H264Profile};
use crate::v4l2::error::V4l2Error;
use crate::v4l2::fourcc::H264;
use crate::v4l2::m2m::{M2mEncoder, Packet};

const ENCODE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct M2mH264Config {
    /// The encoder node; None finds one (bcm2835-codec-encode first).
    pub device: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub bitrate: u32,
    /// An IDR starts every segment: its period in 90 kHz ticks.
    pub idr_interval: u64,
}

/// Capture times of the frames inside the encoder, by pts (the tag the driver copies).
#[derive(Debug, Default)]
pub struct InFlight {
    frames: VecDeque<(u64, u64)>,
}

impl InFlight {
    pub fn push(&mut self, pts: u64, capture_unix_us: u64) {
        self.frames.push_back((pts, capture_unix_us));
    }

    /// The capture time of `pts`, forgetting it and any older frame (dropped by the encoder).
    pub fn take(&mut self, pts: u64) -> Option<u64> {
        while let Some(&(p, unix)) = self.frames.front() {
            if p > pts {
                return None;
            }
            self.frames.pop_front();
            if p == pts {
                return Some(unix);
            }
        }
        None
    }
}

pub struct M2mH264 {
    encoder: M2mEncoder,
    in_flight: InFlight,
    parameter_sets: Option<Vec<u8>>,
}

impl M2mH264 {
    pub fn open(cfg: &M2mH264Config) -> Result<M2mH264, V4l2Error> {
        let frames_per_idr = (cfg.idr_interval as f64 * cfg.fps / 90_000.0)
            .round()
            .max(1.0);
        let settings = EncoderSettings {
            width: cfg.width,
            height: cfg.height,
            fps: cfg.fps,
            bitrate: cfg.bitrate,
            idr_period: frames_per_idr as u32,
            profile: H264Profile::Main,
        };
        Ok(M2mH264 {
            encoder: M2mEncoder::open(cfg.device.as_deref(), H264, &settings)?,
            in_flight: InFlight::default(),
            parameter_sets: None,
        })
    }

    pub fn path(&self) -> &str {
        self.encoder.path()
    }

    fn access_units(&mut self, packets: Vec<Packet>) -> Vec<AccessUnit> {
        packets
            .into_iter()
            .filter_map(|p| {
                let capture_unix_us = self.in_flight.take(p.tag)?;
                let keyframe = p.keyframe
                    || h264::nal_units(&p.data).any(|n| h264::nal_type(n) == Some(h264::NAL_IDR));
                if keyframe {
                    if let Some(ps) = sei::parameter_sets_annexb(&p.data) {
                        self.parameter_sets = Some(ps);
                    }
                }
                Some(AccessUnit {
                    data: sei::with_timestamp(
                        &p.data,
                        capture_unix_us,
                        self.parameter_sets.as_deref(),
                    ),
                    keyframe,
                    dts: p.tag,
                    pts: p.tag,
                    capture_unix_us,
                })
            })
            .collect()
    }
}

impl H264Encode for M2mH264 {
    /// Queues `frame`; returns the access units that came out (earlier frames' as a rule).
    fn encode(&mut self, frame: &Frame, force_idr: bool) -> Result<Vec<AccessUnit>, EncodeError> {
        self.in_flight.push(frame.pts, frame.capture_unix_us);
        let packets = self
            .encoder
            .encode(frame, frame.pts, force_idr, ENCODE_TIMEOUT)?;
        Ok(self.access_units(packets))
    }

    /// Drains the encoder: the access units of every frame still inside.
    fn finish(&mut self) -> Result<Vec<AccessUnit>, EncodeError> {
        let packets = self.encoder.finish(ENCODE_TIMEOUT)?;
        Ok(self.access_units(packets))
    }

    fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        Ok(self.encoder.set_bitrate(bps)?)
    }

    fn pipelined(&self) -> bool {
        true
    }
}

/// Runs the hardware encoder on its own thread until `frames` disconnects. The encoder is
/// opened first, so a missing device is an error here rather than on the thread.
pub fn spawn(
    cfg: M2mH264Config,
    frames: Receiver<Frame>,
    out: Arc<Fanout<Arc<AccessUnit>>>,
    stats: Arc<EncoderStats>,
    bitrate: Arc<BitrateControl>,
) -> Result<JoinHandle<()>, V4l2Error> {
    let encoder = M2mH264::open(&cfg)?;
    let path = encoder.path().to_string();
    log::info!(
        "V4L2 M2M H.264 encoder on {}: {} kbit/s, IDR every {} ms",
        encoder.path(),
        cfg.bitrate / 1000,
        cfg.idr_interval / 90
    );
    let encoder = OnGrid::new(encoder, cfg.idr_interval);
    let bitrate = Bitrate {
        opened_at: cfg.bitrate,
        control: bitrate,
    };
    spawn_encoder("m2m-h264", encoder, frames, out, stats, bitrate)
        .map_err(|e| V4l2Error::ioctl(&path, "starting the encoder thread", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_times_follow_their_frames_and_skip_dropped_ones() {
        let mut f = InFlight::default();
        for pts in [0, 3000, 6000, 9000] {
            f.push(pts, 1_000 + pts);
        }
        assert_eq!(f.take(0), Some(1_000));
        // 3000 never came out of the encoder.
        assert_eq!(f.take(6000), Some(7_000));
        assert_eq!(f.take(3000), None);
        assert_eq!(f.take(9000), Some(10_000));
        assert_eq!(f.take(12000), None);
    }
}
