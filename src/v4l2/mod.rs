//! Our own thin layer over the V4L2 ioctls (no bindgen, no v4l crate: bcm2835-codec needs
//! the multi-planar queues that crate cannot drive). This is the driver layer only: it knows
//! devices, queues, formats and the M2M codec protocol, and imports nothing above `media`
//! (for `Frame`) and `clock`. The capture source built on it is `camera::v4l2`, the H.264
//! encoder thread `encode::v4l2_m2m`, the subcommands `v4l2_cli`.

pub mod codec_controls;
pub mod convert;
pub mod device;
pub mod error;
pub mod fourcc;
pub mod ioctl;
pub mod m2m;
pub mod negotiate;
pub mod queue;
pub mod sys;

#[cfg(test)]
#[path = "layout_tests.rs"]
mod layout_tests;

pub use error::V4l2Error;
