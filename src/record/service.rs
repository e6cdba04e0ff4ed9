//! The recorder the API drives: at most one recording at a time, started by the API or at
//! start-up (`RECORD_ALWAYS`), stopped by the API, SIGTERM or an error. This is also the
//! handle other routes use (`/camera/status`, `/camera/stop`): [`Recorder::is_recording`],
//! [`Recorder::current_path`] and [`Recorder::stop`].

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender};

use super::library;
use super::names::{auto_name, confine, is_recording_name, numbered};
use super::retention::{Finished, Policy};
use super::segmenter::SegmenterConfig;
use super::status::{RecordStatus, Snapshot};
use super::worker::{self, Job, Naming};
use crate::clock::unix_us;
use crate::config::record::RecordSettings;
use crate::fanout::Fanout;
use crate::media::{AccessUnit, TIMESCALE};
use crate::preview::PreviewHold;
use crate::sync::LockExt;

/// Access units the recorder may fall behind by (about 4 s at 30 fps, for a slow SD card's
/// fsync) before it drops to the next IDR.
const QUEUE: usize = 120;
/// The kept GOP is recorded only if its newest frame is this fresh (else the preview paused).
const BACKLOG_FRESH_US: u64 = 500_000;
/// Fragment length: what a crash loses at most.
const FRAGMENT: Duration = Duration::from_secs(1);
/// The longest one sample may last (a pause in the stream shows as this).
const MAX_GAP: Duration = Duration::from_secs(1);
/// The most `stop` waits for the thread to finish the file.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum RecordError {
    /// A recording runs already.
    Active,
    /// None runs.
    NotActive,
    /// A client-given path outside the output folder, or not an `.mp4` name.
    BadPath,
    /// A file of that name exists.
    Exists(String),
    /// No recording of that name.
    NotFound,
    /// The recording is being written (cannot be deleted).
    InUse,
    Io(io::Error),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Active => f.write_str("Recording already in progress."),
            RecordError::NotActive => f.write_str("Recording not active."),
            RecordError::BadPath => f.write_str(super::names::PATH_OUTSIDE),
            RecordError::Exists(name) => write!(f, "A recording named {name} exists already"),
            RecordError::NotFound => f.write_str("Recording not found"),
            RecordError::InUse => {
                f.write_str("The recording is being written: stop recording first")
            }
            RecordError::Io(e) => write!(f, "Recording I/O error: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

struct Running {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

pub struct Recorder {
    settings: RecordSettings,
    units: Arc<Fanout<Arc<AccessUnit>>>,
    /// Nominal frame duration, 90 kHz ticks.
    frame_duration: u32,
    running: Mutex<Option<Running>>,
    pub status: Arc<RecordStatus>,
}

impl Recorder {
    /// The output folder is created here and made absolute, so every path shown is.
    pub fn new(
        mut settings: RecordSettings,
        units: Arc<Fanout<Arc<AccessUnit>>>,
        fps: f64,
    ) -> io::Result<Recorder> {
        std::fs::create_dir_all(&settings.output_dir)?;
        settings.output_dir = settings.output_dir.canonicalize()?;
        if let Err(e) = super::repair::repair_newest(&settings.output_dir) {
            log::warn!("cannot check the newest recording after start-up: {e}");
        }
        Ok(Recorder {
            settings,
            units,
            frame_duration: (f64::from(TIMESCALE) / fps.max(1.0)).round() as u32,
            running: Mutex::new(None),
            status: Arc::default(),
        })
    }

    pub fn settings(&self) -> &RecordSettings {
        &self.settings
    }

    pub fn output_dir(&self) -> &Path {
        &self.settings.output_dir
    }

    /// Starts recording into `path` (a client-given name or path, confined to the output
    /// folder) or into `<prefix>_<UTC>.mp4`; returns the first file's absolute path. The file
    /// appears with the first IDR (at once when the preview runs).
    pub fn start(&self, path: Option<&str>, hold: PreviewHold) -> Result<PathBuf, RecordError> {
        let mut running = self.running.lock_unpoisoned();
        reap(&mut running);
        if running.is_some() {
            return Err(RecordError::Active);
        }
        let dir = self.settings.output_dir.clone();
        let now = unix_us();
        let naming = match path {
            Some(p) => {
                let name = confine(p, &dir).ok_or(RecordError::BadPath)?;
                if dir.join(&name).exists() {
                    return Err(RecordError::Exists(name));
                }
                Naming::Given(name)
            }
            None => {
                let base = auto_name(&self.settings.prefix, now);
                let first = (0..100)
                    .map(|n| numbered(&base, n))
                    .find(|name| !dir.join(name).exists())
                    .ok_or_else(|| RecordError::Exists(base.clone()))?;
                Naming::Auto {
                    prefix: self.settings.prefix.clone(),
                    first,
                }
            }
        };
        let first_path = dir.join(match &naming {
            Naming::Auto { first, .. } => first,
            Naming::Given(name) => name,
        });
        let (backlog, units) = self.units.subscribe_from_last_sync(
            "recorder",
            QUEUE,
            Arc::clone(&self.status.dropped),
        );
        let fresh = backlog
            .last()
            .is_some_and(|au| unix_us().saturating_sub(au.capture_unix_us) < BACKLOG_FRESH_US);
        let (stop_tx, stop_rx) = bounded(1);
        let ticks = |d: Duration| (d.as_secs_f64() * f64::from(TIMESCALE)) as u64;
        let s = &self.settings;
        let job = Job {
            dir,
            naming,
            segmenter: SegmenterConfig {
                frame_duration: self.frame_duration,
                fragment_ticks: ticks(FRAGMENT),
                rotate_ticks: (s.segment_s > 0).then(|| s.segment_s * u64::from(TIMESCALE)),
                max_gap_ticks: ticks(MAX_GAP),
            },
            policy: Policy {
                keep: s.keep,
                max_age_s: s.max_age_s,
                max_bytes: s.max_bytes,
                min_free_bytes: s.min_free_bytes,
            },
            backlog: if fresh { backlog } else { Vec::new() },
            units,
            stop: stop_rx,
            status: Arc::clone(&self.status),
            hold,
        };
        self.status.started(first_path.clone(), now);
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || worker::run(job))
            .map_err(|e| {
                self.status
                    .failed(format!("Cannot start the recorder thread: {e}"));
                RecordError::Io(e)
            })?;
        log::info!("recording started: {}", first_path.display());
        *running = Some(Running {
            stop: stop_tx,
            thread,
        });
        Ok(first_path)
    }

    /// Stops recording and finishes the file (durations written, synced); returns the path of
    /// the last file.
    pub fn stop(&self) -> Result<PathBuf, RecordError> {
        let taken = {
            let mut running = self.running.lock_unpoisoned();
            reap(&mut running);
            running.take()
        };
        let Some(r) = taken else {
            return Err(RecordError::NotActive);
        };
        let _ = r.stop.try_send(());
        let deadline = std::time::Instant::now() + STOP_WAIT;
        while !r.thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if r.thread.is_finished() {
            let _ = r.thread.join();
        } else {
            log::warn!("the recorder thread did not end within {STOP_WAIT:?}");
        }
        Ok(self.status.snapshot().path.unwrap_or_default())
    }

    /// Whether a recording runs (cheap: one lock, no I/O).
    pub fn is_recording(&self) -> bool {
        self.status.snapshot().recording()
    }

    /// The file being written while recording.
    pub fn current_path(&self) -> Option<PathBuf> {
        let snap = self.status.snapshot();
        snap.recording().then_some(snap.path).flatten()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.status.snapshot()
    }

    /// The recordings in the output folder, newest first.
    pub fn list(&self) -> Result<Vec<Finished>, RecordError> {
        library::list(&self.settings.output_dir).map_err(RecordError::Io)
    }

    /// Opens a recording for download.
    pub fn open(&self, name: &str) -> Result<(File, u64), RecordError> {
        library::open(&self.settings.output_dir, name).map_err(not_found)
    }

    /// Deletes a finished recording.
    pub fn delete(&self, name: &str) -> Result<(), RecordError> {
        if !is_recording_name(name) {
            return Err(RecordError::NotFound);
        }
        if self.current_path() == Some(self.settings.output_dir.join(name)) {
            return Err(RecordError::InUse);
        }
        library::delete(&self.settings.output_dir, name).map_err(not_found)
    }
}

fn not_found(e: io::Error) -> RecordError {
    if e.kind() == io::ErrorKind::NotFound {
        RecordError::NotFound
    } else {
        RecordError::Io(e)
    }
}

/// Forgets a recording whose thread ended by itself (an error).
fn reap(running: &mut Option<Running>) {
    if running.as_ref().is_some_and(|r| r.thread.is_finished()) {
        if let Some(r) = running.take() {
            let _ = r.thread.join();
        }
    }
}
