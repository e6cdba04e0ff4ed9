//! What the API, `/metrics` and the web page see of the recorder: the state, the file being
//! written, the last error, and totals since start-up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::LockExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// Not recording.
    #[default]
    Idle,
    /// Recording (the first file appears with the first IDR).
    Recording,
    /// Stopped by an error (a full disk, the quota, a write that failed).
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Recording => "recording",
            State::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub state: State,
    /// The file being written, or the last one written once stopped.
    pub path: Option<PathBuf>,
    pub started_unix_us: Option<u64>,
    /// Bytes in the file being written.
    pub file_bytes: u64,
    /// Files written by this recording (rotation adds one each).
    pub files: u64,
    /// Why recording stopped, when it failed.
    pub error: Option<String>,
}

impl Snapshot {
    pub fn recording(&self) -> bool {
        self.state == State::Recording
    }
}

#[derive(Debug, Default)]
pub struct RecordStatus {
    now: Mutex<Snapshot>,
    /// Bytes written to recordings since start-up.
    pub bytes_total: AtomicU64,
    /// Recordings finished since start-up.
    pub files_total: AtomicU64,
    /// Recordings stopped by an error since start-up.
    pub errors_total: AtomicU64,
    /// Access units the recorder could not take in time.
    pub dropped: Arc<AtomicU64>,
}

impl RecordStatus {
    pub fn snapshot(&self) -> Snapshot {
        self.now.lock_unpoisoned().clone()
    }

    pub(super) fn started(&self, path: PathBuf, unix_us: u64) {
        *self.now.lock_unpoisoned() = Snapshot {
            state: State::Recording,
            path: Some(path),
            started_unix_us: Some(unix_us),
            ..Snapshot::default()
        };
    }

    pub(super) fn file_opened(&self, path: PathBuf) {
        let mut now = self.now.lock_unpoisoned();
        now.path = Some(path);
        now.file_bytes = 0;
        now.files += 1;
    }

    pub(super) fn wrote(&self, bytes: u64) {
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
        self.now.lock_unpoisoned().file_bytes += bytes;
    }

    pub(super) fn file_closed(&self) {
        self.files_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stopped(&self) {
        self.now.lock_unpoisoned().state = State::Idle;
    }

    pub(super) fn failed(&self, error: String) {
        self.errors_total.fetch_add(1, Ordering::Relaxed);
        let mut now = self.now.lock_unpoisoned();
        now.state = State::Failed;
        now.error = Some(error);
    }
}
