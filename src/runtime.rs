//! The one value every thread shares: configuration, live state and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::camera::controls::CameraControls;
use crate::camera::{CameraState, Frame};
use crate::config::Config;
use crate::encode::openh264::EncoderStats;
use crate::http::static_files::StaticFiles;
use crate::media::llhls::HlsStore;
use crate::preview::PreviewGate;

#[derive(Debug, Default)]
pub struct PipelineStats {
    pub frames_captured: AtomicU64,
    /// Frames the encoder could not take in time.
    pub frames_dropped: Arc<AtomicU64>,
    /// Access units the muxer could not take in time.
    pub units_dropped: Arc<AtomicU64>,
    pub encoder: Arc<EncoderStats>,
    pub parts_published: AtomicU64,
    pub segments_published: AtomicU64,
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

pub struct Runtime {
    pub config: Config,
    pub hls: HlsStore,
    pub stats: PipelineStats,
    pub static_files: StaticFiles,
    pub started: Instant,
    pub camera: CameraState,
    pub preview: PreviewGate,
    latest_frame: Mutex<Option<Frame>>,
}

impl Runtime {
    pub fn new(config: Config) -> Arc<Runtime> {
        // Long enough for the first segment of a cold start (one GOP plus encoder start-up).
        let startup_wait = Duration::from_millis(u64::from(config.segment_ms) * 3 + 2000);
        Arc::new(Runtime {
            static_files: StaticFiles::new(config.www_dir.clone()),
            hls: HlsStore::new(startup_wait),
            stats: PipelineStats::default(),
            started: Instant::now(),
            camera: CameraState::new("testsrc", config.fps, CameraControls::synthetic()),
            preview: PreviewGate::new(None),
            latest_frame: Mutex::new(None),
            config,
        })
    }

    /// The newest raw frame from the camera (for stills and thumbnails).
    pub fn latest_frame(&self) -> Option<Frame> {
        self.latest_frame
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_latest_frame(&self, frame: Frame) {
        *self.latest_frame.lock().unwrap_or_else(|e| e.into_inner()) = Some(frame);
    }
}
