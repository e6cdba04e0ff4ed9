//! Hardware H.264 through a V4L2 M2M encoder (bcm2835-codec on the Pi 0-4), as access units
//! for the muxer: key frames on the segment grid, capture-time SEI, SPS/PPS on every IDR.
//! The same shape as `encode::openh264`, so the pipeline can take either.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::encode::openh264::EncoderStats;
use crate::encode::sei;
use crate::fanout::Fanout;
use crate::media::Frame;
use crate::media::{h264, AccessUnit};
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

/// When to force a key frame: the first frame, then each frame at or past the next grid
/// point (restarted from the present after a stall).
#[derive(Debug)]
pub struct IdrGrid {
    interval: u64,
    next: Option<u64>,
}

impl IdrGrid {
    pub fn new(interval: u64) -> IdrGrid {
        IdrGrid {
            interval: interval.max(1),
            next: None,
        }
    }

    pub fn due(&mut self, pts: u64) -> bool {
        match self.next {
            Some(next) if pts < next => false,
            next => {
                let mut following = next.unwrap_or(pts) + self.interval;
                if following <= pts {
                    following = pts + self.interval;
                }
                self.next = Some(following);
                true
            }
        }
    }
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
    grid: IdrGrid,
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
            grid: IdrGrid::new(cfg.idr_interval),
            in_flight: InFlight::default(),
            parameter_sets: None,
        })
    }

    pub fn path(&self) -> &str {
        self.encoder.path()
    }

    /// Queues `frame`; returns the access units that came out (earlier frames' as a rule).
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<AccessUnit>, V4l2Error> {
        let key = self.grid.due(frame.pts);
        self.in_flight.push(frame.pts, frame.capture_unix_us);
        let packets = self.encoder.encode(frame, frame.pts, key, ENCODE_TIMEOUT)?;
        Ok(self.access_units(packets))
    }

    /// Drains the encoder: the access units of every frame still inside.
    pub fn finish(&mut self) -> Result<Vec<AccessUnit>, V4l2Error> {
        let packets = self.encoder.finish(ENCODE_TIMEOUT)?;
        Ok(self.access_units(packets))
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

/// Runs the hardware encoder on its own thread until `frames` disconnects. The encoder is
/// opened first, so a missing device is an error here rather than on the thread.
pub fn spawn(
    cfg: M2mH264Config,
    frames: Receiver<Frame>,
    out: Arc<Fanout<Arc<AccessUnit>>>,
    stats: Arc<EncoderStats>,
) -> Result<JoinHandle<()>, V4l2Error> {
    let mut encoder = M2mH264::open(&cfg)?;
    let path = encoder.path().to_string();
    log::info!(
        "V4L2 M2M H.264 encoder on {}: {} kbit/s, IDR every {} ms",
        encoder.path(),
        cfg.bitrate / 1000,
        cfg.idr_interval / 90
    );
    let send = move |units: Vec<AccessUnit>, stats: &EncoderStats| {
        for au in units {
            stats.frames_encoded.fetch_add(1, Ordering::Relaxed);
            stats
                .bytes_out
                .fetch_add(au.data.len() as u64, Ordering::Relaxed);
            out.send(&Arc::new(au));
        }
    };
    thread::Builder::new()
        .name("m2m-h264".into())
        .spawn(move || {
            for frame in frames {
                match encoder.encode(&frame) {
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
        .map_err(|e| V4l2Error::ioctl(&path, "starting the encoder thread", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idrs_fall_on_the_grid_and_restart_after_a_stall() {
        let mut g = IdrGrid::new(6000);
        let due: Vec<u64> = (0..10)
            .map(|n| n * 3000)
            .filter(|&pts| g.due(pts))
            .collect();
        assert_eq!(due, vec![0, 6000, 12000, 18000, 24000]);
        // A stall: the next key frame comes at once, and the grid restarts from it.
        assert!(g.due(100_000));
        assert!(!g.due(103_000));
        assert!(g.due(106_000));
    }

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
