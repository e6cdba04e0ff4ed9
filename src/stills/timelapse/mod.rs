//! Timelapse: a JPEG of the newest frame every N seconds, into a directory of timestamped
//! files (`YYYYMMDD-HHMMSS.jpg`, UTC) plus `current.jpg`, with retention by count and age.
//!
//! Every file is written through `stills::atomic`, so a reader (a web page polling
//! `current.jpg`, rsync) never sees a partial picture. Settings changed through the API are
//! persisted and win over the environment at the next start.
//!
//! This file holds the worker thread and its public handle; `names` (file names),
//! `retention` (the pure policy), `schedule` (when the next picture is due, on the
//! monotonic clock), `settings` (limits and the state file), `capture` (one
//! picture on disk) and `pictures` (the newest ones, for the web console) hold the rest.

mod capture;
mod names;
mod pictures;
mod retention;
mod schedule;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::mjpeg::EncodeFn;
use crate::clock;
use crate::media::Frame;
use crate::sync::{CondvarExt, LockExt};
use capture::{capture, picture_names, remove_stale_temporaries};
use schedule::{first_due, next_due, retry_due, seconds_until};
use settings::{load_settings, save_settings};

pub use names::parse_name;
pub use pictures::Picture;
pub use settings::{TimelapseError, TimelapseSettings};

/// After a failed capture, try again this soon (or at the interval, if shorter).
const RETRY_S: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelapseStatus {
    pub settings: TimelapseSettings,
    pub enabled: bool,
    /// Timelapse pictures in the directory (not counting current.jpg).
    pub images: usize,
    /// File name of the newest picture.
    pub last_capture: Option<String>,
    pub last_error: Option<String>,
    pub next_capture_in_s: Option<u64>,
}

struct State {
    settings: TimelapseSettings,
    /// Bumped by every update, so a capture already under way does not reschedule with
    /// settings that were replaced meanwhile.
    epoch: u64,
    /// On the monotonic clock; `None` until the worker has planned it.
    next_due: Option<Instant>,
    /// Wall clock, from the newest picture's name: only used to plan the first picture.
    last_capture_ms: Option<u64>,
    last_capture: Option<String>,
    last_error: Option<String>,
    images: usize,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    dir: PathBuf,
    state_file: PathBuf,
}

pub struct Timelapse {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Timelapse {
    /// Starts the capture thread. Settings saved in `state_file` by an earlier `update` win
    /// over `settings` (from the environment).
    pub fn start(
        dir: PathBuf,
        settings: TimelapseSettings,
        latest: impl Fn() -> Option<Frame> + Send + Sync + 'static,
        encode: EncodeFn,
        state_file: PathBuf,
    ) -> Arc<Timelapse> {
        let mut last_error = None;
        let settings = match load_settings(&state_file) {
            Ok(Some(saved)) => saved,
            Ok(None) => settings,
            Err(e) => {
                log::warn!("timelapse: {e}; using the configured settings");
                last_error = Some(e.to_string());
                settings
            }
        };
        let settings = match settings.validate() {
            Ok(()) => settings,
            Err(e) => {
                let e = format!("invalid timelapse settings ({e}); the timelapse is off");
                log::error!("{e}");
                last_error = Some(e);
                TimelapseSettings::default()
            }
        };
        remove_stale_temporaries(&dir);
        let pictures = picture_names(&dir).unwrap_or_default();
        let newest = pictures
            .iter()
            .filter_map(|n| parse_name(n).map(|t| (t, n)))
            .max();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                settings,
                epoch: 0,
                next_due: None,
                last_capture_ms: newest.map(|((taken, _), _)| taken * 1000),
                last_capture: newest.map(|(_, n)| n.clone()),
                last_error,
                images: pictures.len(),
                stop: false,
            }),
            wake: Condvar::new(),
            dir,
            state_file,
        });
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("timelapse".into())
            .spawn(move || capture_loop(&worker, &latest, &encode));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                let e = format!("cannot start the timelapse thread: {e}");
                log::error!("{e}");
                shared.state.lock_unpoisoned().last_error = Some(e);
                None
            }
        };
        Arc::new(Timelapse { shared, thread })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The `limit` newest pictures on disk, newest first.
    pub fn newest_pictures(&self, limit: usize) -> std::io::Result<Vec<Picture>> {
        pictures::newest(&self.shared.dir, limit)
    }

    /// Where the picture called `name` is, if that is a timelapse picture's name.
    pub fn picture_path(&self, name: &str) -> Option<PathBuf> {
        pictures::path_of(&self.shared.dir, name)
    }

    pub fn settings(&self) -> TimelapseSettings {
        self.shared.state.lock_unpoisoned().settings
    }

    /// Validates, saves and applies new settings; a new interval counts from the last
    /// picture, so a shorter one can mean a picture right away.
    pub fn update(&self, new: TimelapseSettings) -> Result<TimelapseStatus, TimelapseError> {
        new.validate()?;
        let mut st = self.shared.state.lock_unpoisoned();
        // Saved under the lock so two updates cannot be saved in one order and applied in
        // the other.
        save_settings(&self.shared.state_file, &new)?;
        st.settings = new;
        st.epoch += 1;
        st.next_due = None;
        drop(st);
        self.shared.wake.notify_one();
        Ok(self.status())
    }

    pub fn status(&self) -> TimelapseStatus {
        let st = self.shared.state.lock_unpoisoned();
        let enabled = st.settings.interval_s > 0;
        let next_capture_in_s = enabled.then(|| {
            let now = Instant::now();
            let due = st.next_due.unwrap_or_else(|| planned_first(&st, now));
            seconds_until(due, now)
        });
        TimelapseStatus {
            settings: st.settings,
            enabled,
            images: st.images,
            last_capture: st.last_capture.clone(),
            last_error: st.last_error.clone(),
            next_capture_in_s,
        }
    }
}

impl Drop for Timelapse {
    fn drop(&mut self) {
        self.shared.state.lock_unpoisoned().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn planned_first(st: &State, now: Instant) -> Instant {
    let now_wall_ms = clock::unix_us() / 1000;
    first_due(st.last_capture_ms, st.settings.interval_s, now_wall_ms, now)
}

fn capture_loop(shared: &Shared, latest: &dyn Fn() -> Option<Frame>, encode: &EncodeFn) {
    let mut last_frame: Option<(u64, u64)> = None;
    loop {
        let (settings, epoch, due) = {
            let mut st = shared.state.lock_unpoisoned();
            loop {
                if st.stop {
                    return;
                }
                if st.settings.interval_s == 0 {
                    st = shared.wake.wait_unpoisoned(st);
                    continue;
                }
                let now = Instant::now();
                let due = match st.next_due {
                    Some(due) => due,
                    None => {
                        let due = planned_first(&st, now);
                        st.next_due = Some(due);
                        due
                    }
                };
                if due <= now {
                    break (st.settings, st.epoch, due);
                }
                st = shared.wake.wait_timeout_unpoisoned(st, due - now).0;
            }
        };
        let result = capture(&shared.dir, settings, latest, encode, &mut last_frame);
        let now = Instant::now();
        let mut st = shared.state.lock_unpoisoned();
        let next = match result {
            Ok(captured) => {
                st.last_capture = Some(captured.name);
                st.last_capture_ms = Some(captured.taken_ms);
                st.images = captured.images;
                st.last_error = None;
                next_due(due, settings.interval_s, now)
            }
            Err(e) => {
                if st.last_error.as_ref() != Some(&e) {
                    log::warn!("timelapse: {e}");
                }
                st.last_error = Some(e);
                retry_due(settings.interval_s, RETRY_S, now)
            }
        };
        if st.epoch == epoch {
            st.next_due = Some(next);
        }
    }
}

#[cfg(test)]
mod tests;
