//! Our own thin layer over the V4L2 ioctls (no bindgen, no v4l crate: bcm2835-codec needs
//! the multi-planar queues that crate cannot drive), and the capture source and M2M
//! encoder built on it.

pub mod capture;
pub mod cli;
pub mod codec_controls;
pub mod convert;
pub mod device;
pub mod error;
pub mod fourcc;
pub mod h264_encoder;
pub mod ioctl;
pub mod m2m;
pub mod negotiate;
pub mod queue;
pub mod source;
pub mod sys;

pub use device::{Capabilities, Device, PixFormat};
pub use error::V4l2Error;
pub use fourcc::FourCc;
