//! What the upload queue and its sink read: which sink, the S3 settings, the retry schedule
//! and the queue's limits.

use super::backend::BackendSettings;
use super::retry::RetrySchedule;
use super::s3::S3Settings;

/// Upstream's `UPLOAD_QUEUE_MAX_PENDING_ENTRIES`.
pub const DEFAULT_QUEUE_MAX_PENDING_ENTRIES: u64 = 500;
/// Upstream's `UPLOAD_QUEUE_MAX_PENDING_BYTES` (2 GiB).
pub const DEFAULT_QUEUE_MAX_PENDING_BYTES: u64 = 2 << 30;
/// Upstream's `UPLOAD_QUEUE_DEAD_MAX_ENTRIES`.
pub const DEFAULT_QUEUE_DEAD_MAX_ENTRIES: u64 = 500;

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
    /// `UPLOAD_QUEUE_MAX_PENDING_ENTRIES`: captures waiting for upload at most; a capture
    /// beyond it is refused (507), never one already queued dropped.
    pub max_pending_entries: u64,
    /// `UPLOAD_QUEUE_MAX_PENDING_BYTES`: JPEG bytes waiting for upload at most, likewise.
    pub max_pending_bytes: u64,
    /// `UPLOAD_QUEUE_MAX_MB` (picamd's, deprecated): when set, a further cap in MiB.
    pub queue_max_mb: Option<u64>,
    /// `UPLOAD_QUEUE_DEAD_MAX_ENTRIES`: dead letters (`dead/` and `corrupt/`) kept; the oldest
    /// beyond it are deleted.
    pub dead_max_entries: u64,
    /// `UPLOAD_WAIT_MS`: how long `POST /captures` waits for the upload before answering
    /// `queued`; 0 never waits.
    pub wait_ms: u64,
}

impl CaptureUploadSettings {
    /// The queue's byte limit: `UPLOAD_QUEUE_MAX_PENDING_BYTES`, or the deprecated
    /// `UPLOAD_QUEUE_MAX_MB` when that is lower.
    pub fn max_pending_bytes(&self) -> u64 {
        self.queue_max_mb.map_or(self.max_pending_bytes, |mb| {
            self.max_pending_bytes.min(mb.saturating_mul(1 << 20))
        })
    }

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
