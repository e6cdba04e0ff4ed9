//! Camera sources. Each runs on its own thread and hands raw frames to the encoder.

pub mod adjust;
pub mod barcode;
pub mod controls;
pub mod font;
pub mod frame;
pub mod state;
pub mod testsrc;

pub use frame::Frame;
pub use state::CameraState;
