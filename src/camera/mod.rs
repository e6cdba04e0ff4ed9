//! Camera sources. Each runs on its own thread and hands raw frames to the encoder (test,
//! rpicam, V4L2) or H.264 access units to the muxer (pipe); `select` picks one.

pub mod adjust;
pub mod barcode;
pub mod child;
pub mod continuity;
pub mod controls;
pub mod font;
pub mod latest_frame;
pub mod pipe;
pub mod power;
pub mod rpicam;
pub mod select;
pub mod source;
pub mod state;
pub mod status;
pub mod testsrc;
pub mod v4l2;

pub use latest_frame::LatestFrame;
pub use power::{CameraSwitch, Power};
pub use state::CameraState;
