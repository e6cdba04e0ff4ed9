//! What the stills side reads: where images live, the timelapse and the MJPEG limit.

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
}
