//! Software H.264 through OpenH264 (the Pi 5 and x86 path).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;
use openh264_sys2::{SBitrateInfo, ENCODER_OPTION_BITRATE, SPATIAL_LAYER_ALL};

use super::{
    sei, spawn_encoder, Bitrate, BitrateControl, EncodeError, EncoderStats, H264Encode, OnGrid,
};
use crate::fanout::Fanout;
use crate::media::{AccessUnit, Frame};

#[derive(Debug, Clone, Copy)]
pub struct H264Config {
    pub bitrate: u32,
    pub fps: f64,
    /// An IDR starts every segment: its period in 90 kHz ticks.
    pub idr_interval: u64,
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

/// Encodes one frame after another; an access unit comes out for each frame it does not skip.
pub struct H264Encoder {
    encoder: Encoder,
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
            encoder,
            parameter_sets: None,
            bitstream: Vec::new(),
        })
    }
}

impl H264Encode for H264Encoder {
    fn encode(&mut self, frame: &Frame, force_idr: bool) -> Result<Vec<AccessUnit>, EncodeError> {
        if force_idr {
            self.encoder.force_intra_frame();
        }
        let bs = self.encoder.encode(&FrameView(frame))?;
        let keyframe = matches!(bs.frame_type(), FrameType::IDR);
        if matches!(bs.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(Vec::new());
        }
        self.bitstream.clear();
        bs.write_vec(&mut self.bitstream);
        if self.bitstream.is_empty() {
            return Ok(Vec::new());
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
        Ok(vec![AccessUnit {
            data,
            keyframe,
            dts: frame.pts,
            pts: frame.pts,
            capture_unix_us: frame.capture_unix_us,
        }])
    }

    /// `SetOption(ENCODER_OPTION_BITRATE)`, as WebRTC changes its OpenH264 rate: the rate
    /// control takes the new target from the next frame, in the same sequence.
    fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError> {
        let mut info = SBitrateInfo {
            iLayer: SPATIAL_LAYER_ALL,
            iBitrate: i32::try_from(bps).map_err(openh264::Error::from)?,
        };
        // SAFETY: the encoder is initialised (it was made with a config), and the option
        // reads one SBitrateInfo that lives across the call. Only the target bitrate changes.
        let rc = unsafe {
            self.encoder
                .raw_api()
                .set_option(ENCODER_OPTION_BITRATE, (&raw mut info).cast())
        };
        if rc != 0 {
            return Err(EncodeError::OpenH264(openh264::Error::msg_string(format!(
                "SetOption(ENCODER_OPTION_BITRATE, {bps}) answered {rc}"
            ))));
        }
        Ok(())
    }
}

/// Why the OpenH264 encoder thread did not start.
#[derive(Debug)]
pub enum StartError {
    /// The library refused the configuration.
    Open(openh264::Error),
    /// The thread could not be spawned.
    Thread(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Open(e) => write!(f, "cannot start the OpenH264 encoder: {e}"),
            StartError::Thread(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Open(e) => Some(e),
            StartError::Thread(e) => Some(e),
        }
    }
}

/// Opens the encoder, then runs it on its own thread until `frames` disconnects.
pub fn spawn(
    cfg: H264Config,
    frames: Receiver<Frame>,
    out: Arc<Fanout<Arc<AccessUnit>>>,
    stats: Arc<EncoderStats>,
    bitrate: Arc<BitrateControl>,
) -> Result<JoinHandle<()>, StartError> {
    let encoder = H264Encoder::new(cfg).map_err(StartError::Open)?;
    log::info!(
        "OpenH264 encoder: {} kbit/s, IDR every {} ms",
        cfg.bitrate / 1000,
        cfg.idr_interval / 90
    );
    let encoder = OnGrid::new(encoder, cfg.idr_interval);
    let bitrate = Bitrate {
        opened_at: cfg.bitrate,
        control: bitrate,
    };
    spawn_encoder("h264-encoder", encoder, frames, out, stats, bitrate).map_err(StartError::Thread)
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
        let mut encoder = OnGrid::new(H264Encoder::new(cfg).unwrap(), cfg.idr_interval);
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
                .pop()
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

    /// The test picture with faint noise on it: more detail than the rates below carry, not
    /// so much that a frame overflows the encoder's buffer.
    fn noisy_frame(painter: &Painter, n: u64) -> Frame {
        let mut data = painter.paint(n, 1_000_000 + n);
        let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for byte in &mut data {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = byte.saturating_add(state as u8 & 31);
        }
        let (width, height) = (320, 192);
        Frame {
            width,
            height,
            data: Arc::from(data),
            pts: n * 3000,
            capture_unix_us: 1_000_000 + n,
            sequence: n,
        }
    }

    #[test]
    fn bitrate_changes_in_the_same_stream() {
        let cfg = H264Config {
            bitrate: 2_000_000,
            fps: 30.0,
            idr_interval: 30 * 3000,
        };
        let mut encoder = OnGrid::new(H264Encoder::new(cfg).unwrap(), cfg.idr_interval);
        let painter = Painter::new(320, 192);
        let mut bytes = [0usize; 3];
        let mut keyframes = Vec::new();
        for n in 0..180u64 {
            match n {
                60 => encoder.set_bitrate(400_000).unwrap(),
                120 => encoder.set_bitrate(2_000_000).unwrap(),
                _ => {}
            }
            let au = encoder
                .encode(&noisy_frame(&painter, n))
                .unwrap_or_else(|e| panic!("frame {n}: {e}"))
                .pop()
                .expect("no frame is skipped");
            if au.keyframe {
                keyframes.push(n);
            }
            // The second second of each phase, once the rate control has followed.
            if n % 60 >= 30 {
                bytes[n as usize / 60] += au.data.len();
            }
        }
        assert_eq!(keyframes, [0, 30, 60, 90, 120, 150], "no IDR off the grid");
        let [before, throttled, after] = bytes;
        assert!(
            throttled * 2 < before && throttled * 2 < after,
            "bytes per second: {before} at 2 Mbit/s, {throttled} at 400 kbit/s, {after} after"
        );
    }
}
