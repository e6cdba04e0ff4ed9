//! What the upload queue and its sink read: which sink, the S3 settings, the retry schedule
//! and the queue's limits.

use super::backend::BackendSettings;
use super::retry::RetrySchedule;
use super::s3::S3Settings;

/// Default `UPLOAD_QUEUE_MAX_MB`.
pub const DEFAULT_QUEUE_MAX_MB: u64 = 1024;

/// Where captured images go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSink {
    /// Chosen from what is configured; see [`CaptureUploadSettings::resolved_sink`].
    Auto,
    /// The RELab backend at `PAIRING_BACKEND_URL`.
    Backend,
    S3,
    /// Kept under `IMAGE_PATH` only (a picamd addition).
    Local,
}

impl ImageSink {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageSink::Auto => "auto",
            ImageSink::Backend => "backend",
            ImageSink::S3 => "s3",
            ImageSink::Local => "local",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureUploadSettings {
    /// `IMAGE_SINK` as written.
    pub image_sink: ImageSink,
    pub s3: S3Settings,
    /// `UPLOAD_RETRY_SCHEDULE_S`: waits after each failed upload of a capture.
    pub retry_schedule: RetrySchedule,
    /// `UPLOAD_QUEUE_MAX_MB`: the upload queue's quota; the oldest captures are dropped
    /// beyond it.
    pub queue_max_mb: u64,
    /// `UPLOAD_WAIT_MS`: how long `POST /captures` waits for the upload before answering
    /// `queued`; 0 never waits.
    pub wait_ms: u64,
}

impl CaptureUploadSettings {
    /// The sink captures go to: an explicit `IMAGE_SINK`, or for `auto` S3 when
    /// `S3_ENDPOINT_URL` is set, else the backend when `PAIRING_BACKEND_URL` is, else local.
    pub fn resolved_sink(&self, backend: &BackendSettings) -> ImageSink {
        match self.image_sink {
            ImageSink::Auto if !self.s3.endpoint_url.is_empty() => ImageSink::S3,
            ImageSink::Auto if !backend.url.is_empty() => ImageSink::Backend,
            ImageSink::Auto => ImageSink::Local,
            explicit => explicit,
        }
    }
}
