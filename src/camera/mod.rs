//! Camera sources. Each runs on its own thread and hands raw frames to the encoder.

pub mod barcode;
pub mod font;
pub mod frame;
pub mod testsrc;

pub use frame::Frame;
