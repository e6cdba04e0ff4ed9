//! What the camera pipeline and the preview read.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSettings {
    /// `CAMERA_DEVICE_NUM`: which camera `--source auto` prefers.
    pub device_num: u32,
    /// `PREVIEW_HIBERNATE_AFTER_S`; 0 disables hibernation.
    pub preview_hibernate_after_s: u64,
    /// `CAMERA_ENABLED` (the Pi Camera Streaming Pipeline's): false runs the API with no
    /// camera at all; unlike the synthetic fallback, no picture is made up.
    pub enabled: bool,
}
