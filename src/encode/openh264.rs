//! Software H.264 through OpenH264 (the Pi 5 and x86 path).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::Receiver;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::sei;
use crate::fanout::Fanout;
use crate::media::AccessUnit;
use crate::media::Frame;

#[derive(Debug, Clone, Copy)]
pub struct H264Config {
    pub bitrate: u32,
    pub fps: f64,
    /// An IDR starts every segment: its period in 90 kHz ticks.
    pub idr_interval: u64,
}

#[derive(Debug, Default)]
pub struct EncoderStats {
    pub frames_encoded: AtomicU64,
    pub frames_skipped: AtomicU64,
    pub errors: AtomicU64,
    pub bytes_out: AtomicU64,
}

struct FrameView<'a>(&'a Frame);

impl YUVSource for FrameView<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let c = (self.0.width as usize).div_ceil(2);
        (self.0.width as usize, c, c)
    }

    fn y(&self) -> &[u8] {
        self.0.y()
    }

    fn u(&self) -> &[u8] {
        self.0.u()
    }

    fn v(&self) -> &[u8] {
        self.0.v()
    }
}

/// Encodes one frame after another, forcing an IDR on the segment grid.
pub struct H264Encoder {
    cfg: H264Config,
    encoder: Encoder,
    next_idr: Option<u64>,
    parameter_sets: Option<Vec<u8>>,
    bitstream: Vec<u8>,
}

impl H264Encoder {
    pub fn new(cfg: H264Config) -> Result<H264Encoder, openh264::Error> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(cfg.bitrate))
            .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .complexity(Complexity::Low)
            .skip_frames(false)
            .scene_change_detect(false)
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)?;
        Ok(H264Encoder {
            cfg,
            encoder,
            next_idr: None,
            parameter_sets: None,
            bitstream: Vec::new(),
        })
    }

    /// Encodes `frame`; `None` when the encoder produced nothing for it.
    pub fn encode(&mut self, frame: &Frame) -> Result<Option<AccessUnit>, openh264::Error> {
        // Forced on every frame from the grid point on until an IDR comes out: a failed or
        // ignored request must not stretch a segment past its target duration.
        if self.next_idr.is_none_or(|t| frame.pts >= t) {
            self.encoder.force_intra_frame();
        }
        let bs = self.encoder.encode(&FrameView(frame))?;
        let keyframe = matches!(bs.frame_type(), FrameType::IDR);
        if keyframe {
            // Stay on the grid; after a long stall, restart it from this frame.
            let base = self.next_idr.unwrap_or(frame.pts);
            let mut next = base + self.cfg.idr_interval;
            if next <= frame.pts {
                next = frame.pts + self.cfg.idr_interval;
            }
            self.next_idr = Some(next);
        }
        if matches!(bs.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        self.bitstream.clear();
        bs.write_vec(&mut self.bitstream);
        if self.bitstream.is_empty() {
            return Ok(None);
        }
        if keyframe {
            if let Some(ps) = sei::parameter_sets_annexb(&self.bitstream) {
                self.parameter_sets = Some(ps);
            }
        }
        let data = sei::with_timestamp(
            &self.bitstream,
            frame.capture_unix_us,
            self.parameter_sets.as_deref(),
        );
        Ok(Some(AccessUnit {
            data,
            keyframe,
            dts: frame.pts,
            pts: frame.pts,
            capture_unix_us: frame.capture_unix_us,
        }))
    }
}

/// Runs the encoder on its own thread until `frames` disconnects.
pub fn spawn(
    cfg: H264Config,
    frames: Receiver<Frame>,
    out: Arc<Fanout<Arc<AccessUnit>>>,
    stats: Arc<EncoderStats>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("h264-encoder".into())
        .spawn(move || {
            let mut encoder = match H264Encoder::new(cfg) {
                Ok(e) => e,
                Err(e) => {
                    log::error!("cannot start the OpenH264 encoder: {e}");
                    return;
                }
            };
            log::info!(
                "OpenH264 encoder: {} kbit/s, IDR every {} ms",
                cfg.bitrate / 1000,
                cfg.idr_interval / 90
            );
            for frame in frames {
                match encoder.encode(&frame) {
                    Ok(Some(au)) => {
                        stats.frames_encoded.fetch_add(1, Ordering::Relaxed);
                        stats
                            .bytes_out
                            .fetch_add(au.data.len() as u64, Ordering::Relaxed);
                        out.send(&Arc::new(au));
                    }
                    Ok(None) => {
                        stats.frames_skipped.fetch_add(1, Ordering::Relaxed);
                    }
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
            log::info!("encoder stopped: the source went away");
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::testsrc::Painter;
    use crate::media::h264;

    #[test]
    fn idr_on_the_grid_with_parameter_sets_and_timestamps() {
        let cfg = H264Config {
            bitrate: 500_000,
            fps: 30.0,
            idr_interval: 30 * 3000,
        };
        let mut encoder = H264Encoder::new(cfg).unwrap();
        let painter = Painter::new(160, 96);
        let mut keyframes = Vec::new();
        for n in 0..65u64 {
            let frame = Frame {
                width: 160,
                height: 96,
                data: Arc::from(painter.paint(n, 1_000_000 + n)),
                pts: n * 3000,
                capture_unix_us: 1_000_000 + n,
                sequence: n,
            };
            let au = encoder
                .encode(&frame)
                .unwrap()
                .expect("no frame is skipped");
            assert_eq!(au.dts, n * 3000);
            assert_eq!(h264::find_timestamp_sei(&au.data), Some(1_000_000 + n));
            let (sps, pps) = h264::parameter_sets(&au.data);
            assert_eq!(
                au.keyframe,
                sps.is_some() && pps.is_some(),
                "SPS/PPS on every IDR only"
            );
            if au.keyframe {
                keyframes.push(n);
                let info = h264::parse_sps(sps.unwrap()).unwrap();
                assert_eq!((info.width, info.height), (160, 96));
            }
        }
        assert_eq!(keyframes, [0, 30, 60]);
    }
}
