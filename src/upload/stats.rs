//! Counters of the upload worker, for `/metrics` and `/system/telemetry`.

use crate::sync::LockExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct UploadStats {
    pub uploaded: AtomicU64,
    /// Failed attempts, whoever was to blame.
    pub failures: AtomicU64,
    /// Attempts that repeat a failed one (of the same capture, or of a sink that was down).
    pub retries: AtomicU64,
    /// Captures given up (moved to `dead/`) in this run.
    pub dead: AtomicU64,
    /// Captures refused (507) because the queue was full, in this run.
    pub refused: AtomicU64,
    /// Dead letters deleted beyond `UPLOAD_QUEUE_DEAD_MAX_ENTRIES`, in this run.
    pub pruned: AtomicU64,
    /// Queue entries moved to `corrupt/` in this run.
    pub corrupt: AtomicU64,
    pub last_success_us: AtomicU64,
    last_error: Mutex<Option<(String, u64)>>,
}

impl UploadStats {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_last_error(&self, message: &str, at_us: u64) {
        *self.last_error.lock_unpoisoned() = Some((message.to_owned(), at_us));
    }

    /// The last failure's message and time.
    pub fn last_error(&self) -> Option<(String, u64)> {
        self.last_error.lock_unpoisoned().clone()
    }
}

/// One reading of the queue and its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadStatus {
    /// `None` when captures stay local.
    pub sink: Option<&'static str>,
    pub queue_depth: usize,
    pub queue_bytes: u64,
    pub queue_max_entries: u64,
    pub queue_max_bytes: u64,
    pub uploaded: u64,
    pub failures: u64,
    pub retries: u64,
    pub dead: u64,
    /// Captures in `dead/` now, from this run and earlier ones.
    pub dead_entries: u64,
    pub refused: u64,
    pub pruned: u64,
    pub corrupt: u64,
    /// The last attempt failed because of the sink.
    pub sink_down: bool,
    /// When a down sink is tried next.
    pub sink_retry_at_us: Option<u64>,
    pub last_error: Option<String>,
    pub last_error_us: Option<u64>,
    pub last_success_us: Option<u64>,
}
