//! Pictures from the newest raw frame: stills and their on-disk store, the metadata they
//! carry, the preview thumbnail, the shared `/frame` JPEG, the MJPEG live view and the
//! timelapse, with the atomic file writes they share; `service` owns them for the daemon.
//!
//! The two workers here, `mjpeg::MjpegHub` and `timelapse::Timelapse`, share one shape: a
//! private `State` behind `Shared { state: Mutex<State>, <Condvar>s, <fixed settings> }` taken
//! with `sync::LockExt::lock_unpoisoned`; `start()` builds it, spawns one named thread that owns
//! an `Arc<Shared>`, and returns the handle as `Arc<Self>` (a thread that cannot be spawned is
//! logged, and the handle still answers); `Drop` sets `stop`, wakes the thread and joins it.
//! The thread sleeps on a condition variable (with a timeout when something is due) and takes
//! the lock only to read or publish state, never while encoding or writing files. With only two
//! such workers the pattern is written out in each rather than abstracted; a third would be
//! the moment for a small shared `Worker<State>` helper.

pub mod atomic;
pub mod capture_limits;
pub mod captures;
pub mod latest_jpeg;
mod list_index;
pub mod metadata;
pub mod mjpeg;
pub mod service;
pub mod thumbnail;
pub mod timelapse;

pub use service::{Stills, STILL_QUALITY};
