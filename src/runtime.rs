//! The one value every thread shares: configuration, live state and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::auth::{KeySet, LoginLimiter, SessionStore, SESSION_TTL};
use crate::camera::controls::CameraControls;
use crate::camera::status::{Delivers, SourceStatus};
use crate::camera::CameraState;
use crate::config::Config;
use crate::encode::jpeg::{self, JpegOptions};
use crate::encode::EncoderStats;
use crate::http::cors::CorsPolicy;
use crate::http::static_files::StaticFiles;
use crate::media::llhls::HlsStore;
use crate::media::Frame;
use crate::pairing::bootstrap::KeyBootstrap;
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::link_state::LinkState;
use crate::preview::PreviewGate;
use crate::stills::captures::CaptureStore;
use crate::stills::latest_jpeg::LatestJpeg;
use crate::stills::mjpeg::MjpegHub;
use crate::stills::thumbnail;
use crate::stills::timelapse::{Timelapse, TimelapseSettings};
use crate::system::SystemProbe;
use crate::upload::backend::thumbnail::ThumbnailUploader;
use crate::upload::{self, UploadSettings, Uploads};

/// Browser sessions kept at most (the oldest is dropped beyond this).
const MAX_SESSIONS: usize = 1000;
/// JPEG quality of stills and `/frame` (the plugin's).
pub const STILL_QUALITY: u8 = 90;
/// JPEG quality of MJPEG and timelapse frames: smaller files, same look at viewing size.
pub const STREAM_QUALITY: u8 = 75;

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

pub struct Runtime {
    pub config: Config,
    pub hls: HlsStore,
    pub stats: PipelineStats,
    pub static_files: StaticFiles,
    pub started: Instant,
    pub camera: CameraState,
    /// Which source runs, why, and whether it is delivering.
    pub source: Arc<SourceStatus>,
    pub preview: PreviewGate,
    pub system: SystemProbe,
    pub cors: CorsPolicy,
    /// Every key that authenticates (`X-API-Key`).
    pub keys: RwLock<KeySet>,
    pub sessions: Mutex<SessionStore>,
    pub login_limiter: Mutex<LoginLimiter>,
    /// The direct-access key (`GET /local-key`, `show-key`).
    pub local_api_key: String,
    /// Shared with the backend upload sink, which signs with whatever is in effect.
    pub relay: Arc<RwLock<Option<RelayCredentials>>>,
    /// The key relayed commands carry (`LOCAL_…`), in memory only; set while relay
    /// credentials apply.
    pub local_relay_api_key: RwLock<Option<String>>,
    /// Pairing and the relay: state, running relay, commands for the link thread.
    pub link: LinkState,
    pub captures: Arc<CaptureStore>,
    /// The upload queue over `captures`, and its worker.
    pub uploads: Arc<Uploads>,
    pub mjpeg: Arc<MjpegHub>,
    pub timelapse: Arc<Timelapse>,
    /// `GET /frame`'s shared JPEG of the newest frame.
    pub latest_jpeg: Arc<LatestJpeg>,
    /// A frame the housekeeping thread should turn into the preview thumbnail (set by
    /// captures, so they do not wait for it).
    pub thumbnail_request: Mutex<Option<Frame>>,
    /// Sends refreshed thumbnails to the backend while paired (when a backend is set).
    pub thumbnail_upload: Option<ThumbnailUploader>,
    latest_frame: Arc<Mutex<Option<Frame>>>,
}

impl Runtime {
    /// Builds the runtime and starts its on-demand workers (MJPEG, timelapse); the camera
    /// pipeline is started separately.
    pub fn new(config: Config, keys: KeyBootstrap) -> std::io::Result<Arc<Runtime>> {
        // Long enough for the first segment of a cold start (one GOP plus encoder start-up).
        let startup_wait = Duration::from_millis(u64::from(config.segment_ms) * 3 + 2000);
        let relab = &config.relab;
        let hibernate = Duration::from_secs(relab.preview_hibernate_after_s);
        let image_path = relab.image_path.clone();
        std::fs::create_dir_all(&image_path)?;
        let latest_frame: Arc<Mutex<Option<Frame>>> = Arc::default();
        let latest = {
            let cell = Arc::clone(&latest_frame);
            move || cell.lock().unwrap_or_else(|e| e.into_inner()).clone()
        };
        let stream_jpeg = Arc::new(|frame: &Frame| {
            jpeg::encode_i420(frame, &JpegOptions::plain(STREAM_QUALITY)).map_err(|e| e.to_string())
        });
        let captures = Arc::new(CaptureStore::open(image_path.join("captures"))?);
        let relay = Arc::new(RwLock::new(keys.relay.clone()));
        let sink = upload::sink_from_settings(relab, &relay).map_err(std::io::Error::other)?;
        let uploads = Uploads::start(
            Arc::clone(&captures),
            sink,
            UploadSettings::from_relab(relab),
        )?;
        let thumbnail_upload = if relab.pairing_backend_url.trim().is_empty() {
            None
        } else {
            Some(ThumbnailUploader::start(
                relab,
                Arc::clone(&relay),
                image_path
                    .join(thumbnail::DIR_NAME)
                    .join(thumbnail::FILE_NAME),
            )?)
        };
        let mjpeg = MjpegHub::start(latest.clone(), stream_jpeg.clone(), relab.mjpeg_max_fps);
        let timelapse = Timelapse::start(
            image_path.join("timelapse"),
            TimelapseSettings {
                interval_s: relab.timelapse_interval_s,
                keep: relab.timelapse_keep,
                max_age_s: relab.timelapse_max_age_s,
            },
            latest,
            stream_jpeg,
            config.data_dir.join("timelapse.json"),
        );
        Ok(Arc::new(Runtime {
            static_files: StaticFiles::new(config.www_dir.clone()),
            hls: HlsStore::new(startup_wait),
            stats: PipelineStats::default(),
            started: Instant::now(),
            source: Arc::default(),
            camera: CameraState::new(
                "picamd synthetic camera",
                config.fps,
                CameraControls::synthetic(),
            ),
            preview: PreviewGate::new(Some(hibernate)),
            system: SystemProbe::new(image_path.clone()),
            cors: CorsPolicy::new(
                relab.local_mode_enabled,
                relab
                    .allowed_cors_origins
                    .iter()
                    .chain(&relab.local_allowed_origins)
                    .cloned()
                    .collect(),
                &relab.auth_key_name,
            ),
            keys: RwLock::new(KeySet::new(keys.authorized_keys)),
            sessions: Mutex::new(SessionStore::new(SESSION_TTL, MAX_SESSIONS)),
            login_limiter: Mutex::new(LoginLimiter::default()),
            local_api_key: keys.local_api_key,
            link: LinkState::new(keys.relay.is_some()),
            relay,
            local_relay_api_key: RwLock::new(keys.local_relay_api_key),
            captures,
            uploads,
            mjpeg,
            timelapse,
            latest_jpeg: LatestJpeg::start(Arc::new(|frame: &Frame| {
                jpeg::encode_i420(frame, &JpegOptions::plain(STILL_QUALITY))
                    .map_err(|e| e.to_string())
            })),
            thumbnail_request: Mutex::new(None),
            thumbnail_upload,
            latest_frame,
            config,
        }))
    }

    /// The newest raw frame from the camera (for stills and thumbnails).
    pub fn latest_frame(&self) -> Option<Frame> {
        self.latest_frame
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why there is no raw frame to answer with (for a 503).
    pub fn no_frame_detail(&self) -> &'static str {
        match self.source.delivers() {
            Delivers::H264 => "Stills need a raw source: the pipe source delivers H.264 only",
            Delivers::RawFrames => "Camera not ready: no frame yet",
        }
    }

    pub fn set_latest_frame(&self, frame: Frame) {
        *self.latest_frame.lock().unwrap_or_else(|e| e.into_inner()) = Some(frame);
    }

    /// Whether relay credentials are in effect (from the environment, the file or pairing).
    pub fn relay_enabled(&self) -> bool {
        self.relay
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}
