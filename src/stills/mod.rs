//! Pictures from the newest raw frame: the MJPEG live view and the timelapse.

pub mod latest_jpeg;
pub mod mjpeg;
pub mod still;
pub mod timelapse;
