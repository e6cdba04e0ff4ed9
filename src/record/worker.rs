//! The recorder thread: access units from the fan-out through the segmenter into files,
//! retention before each new file and every few seconds, and a clean end on stop or on an
//! error (a full disk stops the recording with the reason in its state; the file written so
//! far stays whole and playable).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};

use super::file::Mp4File;
use super::library;
use super::names::{auto_name, numbered};
use super::retention::{self, Now, Over, Policy};
use super::segmenter::{Output, Segmenter, SegmenterConfig};
use super::status::RecordStatus;
use crate::clock::unix_us;
use crate::media::AccessUnit;
use crate::preview::PreviewHold;
use crate::system::disk::disk_space;

/// How often retention and the free-space floor are checked while a file is written.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// How the files of one recording are named.
pub enum Naming {
    /// `<prefix>_<UTC>.mp4` at each file's start; the first name was chosen at start.
    Auto { prefix: String, first: String },
    /// The client's name, then `<stem>-1.mp4`, `<stem>-2.mp4`, ... after rotations.
    Given(String),
}

pub struct Job {
    pub dir: PathBuf,
    pub naming: Naming,
    pub segmenter: SegmenterConfig,
    pub policy: Policy,
    /// The access units kept since the last IDR (when fresh), then the live ones.
    pub backlog: Vec<Arc<AccessUnit>>,
    pub units: Receiver<Arc<AccessUnit>>,
    pub stop: Receiver<()>,
    pub status: Arc<RecordStatus>,
    /// Keeps the preview encoder awake while recording.
    pub hold: PreviewHold,
}

/// Why a recording stopped by itself.
#[derive(Debug)]
enum Failure {
    DiskFull(io::Error),
    Write(PathBuf, io::Error),
    Create(PathBuf, io::Error),
    Over(Over),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::DiskFull(e) => write!(f, "Disk full: recording stopped ({e})"),
            Failure::Write(p, e) => write!(f, "Cannot write {}: {e}", p.display()),
            Failure::Create(p, e) => write!(f, "Cannot create {}: {e}", p.display()),
            Failure::Over(Over::Quota) => f.write_str(
                "Recording quota reached: the file being written alone exceeds RECORD_MAX_MB",
            ),
            Failure::Over(Over::FreeSpace) => f.write_str(
                "Disk almost full: free space is below RECORD_MIN_FREE_MB with no older recording left to delete",
            ),
        }
    }
}

struct Writer {
    dir: PathBuf,
    naming: Naming,
    policy: Policy,
    status: Arc<RecordStatus>,
    file: Option<Mp4File>,
    /// The open file's duration over its whole fragments.
    file_ticks: u64,
    /// Files opened so far.
    opened: u32,
    last_check: Instant,
}

pub fn run(job: Job) {
    let Job {
        dir,
        naming,
        segmenter,
        policy,
        backlog,
        units,
        stop,
        status,
        hold: _hold,
    } = job;
    let mut seg = Segmenter::new(segmenter);
    let mut w = Writer {
        dir,
        naming,
        policy,
        status,
        file: None,
        file_ticks: 0,
        opened: 0,
        last_check: Instant::now(),
    };
    let mut out = Vec::new();
    for au in &backlog {
        seg.push(au, &mut out);
    }
    drop(backlog);
    let mut result = w.apply(&mut out);
    while result.is_ok() {
        select! {
            recv(stop) -> _ => break,
            recv(units) -> au => match au {
                Ok(au) => seg.push(&au, &mut out),
                Err(_) => break,
            },
            default(CHECK_EVERY) => {}
        }
        result = w.apply(&mut out);
        if result.is_ok() && w.last_check.elapsed() >= CHECK_EVERY {
            result = w.retention();
        }
    }
    match result {
        Ok(()) => {
            seg.finish(&mut out);
            if let Err(e) = w.apply(&mut out) {
                w.fail(e);
            } else {
                w.status.stopped();
                log::info!("recording stopped");
            }
        }
        Err(e) => w.fail(e),
    }
}

impl Writer {
    fn apply(&mut self, out: &mut Vec<Output>) -> Result<(), Failure> {
        for o in out.drain(..) {
            match o {
                Output::Open { init, .. } => self.open(&init)?,
                Output::Fragment {
                    bytes, file_ticks, ..
                } => {
                    let Some(file) = self.file.as_mut() else {
                        continue;
                    };
                    if let Err(e) = file.append(&bytes) {
                        return Err(write_failure(file.path(), e));
                    }
                    self.file_ticks = file_ticks;
                    self.status.wrote(bytes.len() as u64);
                }
                Output::Close { duration } => self.close(duration),
            }
        }
        Ok(())
    }

    fn open(&mut self, init: &[u8]) -> Result<(), Failure> {
        self.retention()?;
        let first = match &self.naming {
            Naming::Auto { first, .. } if self.opened == 0 => first.clone(),
            Naming::Auto { prefix, .. } => auto_name(prefix, unix_us()),
            Naming::Given(name) => numbered(name, self.opened),
        };
        let mut n = 0;
        loop {
            let name = numbered(&first, n);
            let path = self.dir.join(&name);
            match Mp4File::create(&path, init) {
                Ok(file) => {
                    log::info!("recording to {}", path.display());
                    self.status.file_opened(path);
                    self.status.wrote(init.len() as u64);
                    self.file = Some(file);
                    self.file_ticks = 0;
                    self.opened += 1;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(e) if is_disk_full(&e) => return Err(Failure::DiskFull(e)),
                Err(e) => return Err(Failure::Create(path, e)),
            }
        }
    }

    fn close(&mut self, duration: u64) {
        if let Some(file) = self.file.take() {
            let path = file.path().to_path_buf();
            match file.finish(duration) {
                Ok(len) => log::info!(
                    "recording {} finished: {:.1} s, {len} bytes",
                    path.display(),
                    duration as f64 / 90_000.0
                ),
                Err(e) => log::warn!("cannot finish {}: {e}", path.display()),
            }
            self.status.file_closed();
        }
    }

    /// Deletes what retention selects; an error when the limits cannot be met.
    fn retention(&mut self) -> Result<(), Failure> {
        self.last_check = Instant::now();
        let current = self.file.as_ref().map(|f| f.path().to_path_buf());
        let files = match library::list(&self.dir) {
            Ok(files) => files,
            Err(e) => {
                log::warn!("cannot list {}: {e}", self.dir.display());
                return Ok(());
            }
        };
        let finished: Vec<_> = files
            .into_iter()
            .filter(|f| current.as_deref() != Some(&self.dir.join(&f.name)))
            .collect();
        let now = Now {
            unix_s: unix_us() / 1_000_000,
            current_bytes: self.file.as_ref().map_or(0, Mp4File::bytes),
            free_bytes: disk_space(&self.dir).ok().map(|s| s.available),
        };
        let selection = retention::select(finished, self.policy, now);
        for name in &selection.delete {
            match library::delete(&self.dir, name) {
                Ok(()) => log::info!("recording {name} deleted (retention)"),
                Err(e) => log::warn!("cannot delete recording {name}: {e}"),
            }
        }
        match selection.over {
            Some(over) => Err(Failure::Over(over)),
            None => Ok(()),
        }
    }

    /// Ends the open file at its last whole fragment and records why.
    fn fail(&mut self, why: Failure) {
        let ticks = self.file_ticks;
        self.close(ticks);
        let text = why.to_string();
        log::error!("{text}");
        self.status.failed(text);
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || e.kind() == io::ErrorKind::StorageFull
}

fn write_failure(path: &Path, e: io::Error) -> Failure {
    if is_disk_full(&e) {
        Failure::DiskFull(e)
    } else {
        Failure::Write(path.to_path_buf(), e)
    }
}
