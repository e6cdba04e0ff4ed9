//! Pictures from the newest raw frame: stills and their on-disk store, the metadata they
//! carry, the preview thumbnail, the shared `/frame` JPEG, the MJPEG live view and the
//! timelapse, with the atomic file writes they share; `service` owns them for the daemon.

pub mod atomic;
pub mod captures;
pub mod latest_jpeg;
pub mod metadata;
pub mod mjpeg;
pub mod service;
pub mod thumbnail;
pub mod timelapse;

pub use service::{Stills, STILL_QUALITY, STREAM_QUALITY};
