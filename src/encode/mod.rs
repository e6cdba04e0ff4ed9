//! Encoders: raw frames in, H.264 access units out.

pub mod openh264;
pub mod sei;
