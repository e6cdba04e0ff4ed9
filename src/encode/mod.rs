//! Encoders: raw frames in, H.264 access units or JPEG stills out.

pub mod jpeg;
pub mod openh264;
pub mod sei;
pub mod v4l2_m2m;
