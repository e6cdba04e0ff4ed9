//! Recording the preview's H.264 to MP4 files, with no re-encode: a consumer of the
//! access-unit fan-out writes fragmented MP4 with our `media::fmp4` writer.
//!
//! - [`segmenter`]: access units in, file operations out (sans-IO): files start at an IDR at
//!   decode time 0, fragments of at most 1 s, rotation at the first IDR after
//!   `RECORD_SEGMENT_S`;
//! - [`names`]: file names and the confinement of client-given paths (sans-IO);
//! - [`retention`]: which finished files to delete by count, age, quota and free space
//!   (sans-IO);
//! - [`file`]: one file on disk (fsync per fragment, durations patched at the end);
//! - [`library`]: listing, opening and deleting recordings in the output folder;
//! - [`repair`]: at start-up, the newest file cut back to its last whole fragment;
//! - [`worker`]: the recorder thread; [`service`]: the [`Recorder`] the API drives;
//!   [`status`]: what the API and `/metrics` see.

pub mod file;
pub mod library;
pub mod names;
pub mod repair;
pub mod retention;
pub mod segmenter;
pub mod service;
pub mod status;
mod worker;

pub use service::{RecordError, Recorder};
pub use status::{Snapshot, State};
