//! Pictures from the newest raw frame: the MJPEG live view and the timelapse.

pub mod mjpeg;
pub mod timelapse;
