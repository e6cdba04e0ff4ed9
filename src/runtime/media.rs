//! The live camera and preview state the pipeline writes and the API reads: the HLS store,
//! the counters, which source runs, the camera's controls, the preview gate and bitrate, and
//! the newest frame.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::camera::power::SwitchError;
use crate::camera::status::{Delivers, SourceStatus};
use crate::camera::{CameraState, CameraSwitch, LatestFrame, Power};
use crate::encode::{BitrateControl, EncoderStats};
use crate::fanout::Fanout;
use crate::heartbeat::Heartbeats;
use crate::media::llhls::HlsStore;
use crate::media::{AccessUnit, Frame};
use crate::preview::{LiveCounters, MuxerCounters, MuxerSink, PreviewGate};

#[derive(Debug, Default)]
pub struct PipelineStats {
    pub frames_captured: AtomicU64,
    /// Frames the encoder could not take in time.
    pub frames_dropped: Arc<AtomicU64>,
    /// Access units the muxer could not take in time.
    pub units_dropped: Arc<AtomicU64>,
    pub encoder: Arc<EncoderStats>,
    pub muxer: Arc<MuxerCounters>,
    /// Viewers of the per-frame live view and what they lost.
    pub live: Arc<LiveCounters>,
    pub captures: AtomicU64,
    /// Measured rates in thousandths of a frame per second (see `housekeeping`).
    pub capture_fps_milli: AtomicU64,
    pub encode_fps_milli: AtomicU64,
}

impl PipelineStats {
    /// Frames per second the camera delivered over the last measurement period.
    pub fn capture_fps(&self) -> f64 {
        self.capture_fps_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Frames per second the preview encoder produced over the last measurement period.
    pub fn encode_fps(&self) -> f64 {
        self.encode_fps_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

pub struct MediaState {
    pub hls: Arc<HlsStore>,
    pub stats: PipelineStats,
    /// Which source runs, why, and whether it is delivering.
    pub source: Arc<SourceStatus>,
    pub camera: Arc<CameraState>,
    pub preview: PreviewGate,
    /// The preview encoder's bitrate, which the thermal governor lowers and restores.
    pub bitrate: Arc<BitrateControl>,
    pub latest: LatestFrame,
    /// The preview encoder's access units (or the pipe's), from an IDR on after each pause:
    /// the LL-HLS muxer subscribes, and so may any other consumer of the H.264 stream.
    pub units: Arc<Fanout<Arc<AccessUnit>>>,
    /// The heartbeats of the threads the systemd watchdog checks.
    pub heartbeats: Arc<Heartbeats>,
    /// Whether the camera runs (`CAMERA_ENABLED`, `POST /camera/stop|start`).
    pub power: CameraSwitch,
    pub started: Instant,
}

impl MediaState {
    /// The newest raw frame from the camera (for stills and thumbnails).
    pub fn latest_frame(&self) -> Option<Frame> {
        self.latest.get()
    }

    /// Starts the camera's source again after a stop; `Ok(false)` when it was running.
    pub fn start_camera(&self) -> Result<bool, SwitchError> {
        let started = self.power.start()?;
        if started {
            log::info!("camera started on request");
        }
        Ok(started)
    }

    /// Stops the camera's source (the device or rpicam process is released) and forgets the
    /// newest frame, so no capture, timelapse picture or `/frame` is taken from a stale one.
    pub fn stop_camera(&self) -> bool {
        let stopped = self.power.stop();
        self.latest.clear();
        if stopped {
            log::info!("camera stopped on request");
        }
        stopped
    }

    /// Why there is no raw frame to answer with (for a 503).
    pub fn no_frame_detail(&self) -> &'static str {
        match self.power.power() {
            Power::Disabled => return "The camera is disabled (CAMERA_ENABLED=0)",
            Power::Off => return "The camera is stopped (POST /camera/start starts it)",
            Power::On | Power::Starting => {}
        }
        match self.source.delivers() {
            Delivers::H264 => "Stills need a raw source: the pipe source delivers H.264 only",
            Delivers::RawFrames => "Camera not ready: no frame yet",
        }
    }

    /// Where the preview muxer publishes, keeping `window_segments` complete segments.
    pub fn muxer_sink(&self, window_segments: usize) -> MuxerSink {
        MuxerSink {
            hls: Arc::clone(&self.hls),
            counters: Arc::clone(&self.stats.muxer),
            window_segments,
        }
    }
}
