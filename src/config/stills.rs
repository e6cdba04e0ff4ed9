//! What the stills side reads: where images live, the capture limits, the timelapse and the
//! MJPEG limit.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct StillsSettings {
    /// `IMAGE_PATH`: captures, the thumbnail and the timelapse live under it.
    pub image_path: PathBuf,
    /// Seconds between timelapse stills; 0 turns the timelapse off.
    pub timelapse_interval_s: u64,
    /// Timelapse stills kept at most.
    pub timelapse_keep: u32,
    /// Timelapse stills older than this are deleted.
    pub timelapse_max_age_s: u64,
    pub mjpeg_max_fps: f64,
    /// `MAX_CAPTURE_PIXELS`: a capture with more pixels is refused.
    pub max_capture_pixels: u64,
    /// `MAX_CAPTURE_FILE_BYTES`: a capture whose JPEG is larger is refused.
    pub max_capture_file_bytes: u64,
}

/// Upstream's `MAX_CAPTURE_PIXELS`.
pub const DEFAULT_MAX_CAPTURE_PIXELS: u64 = 20_000_000;
/// Upstream's `MAX_CAPTURE_FILE_BYTES` (10 MiB).
pub const DEFAULT_MAX_CAPTURE_FILE_BYTES: u64 = 10 << 20;
