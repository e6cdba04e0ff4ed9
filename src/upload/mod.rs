//! Uploads that are never lost. A capture is durable in the capture store before
//! `POST /captures` answers; the upload queue is an index over that store (no second copy of
//! the JPEG), drained oldest first by one worker thread into the sink (S3 or the RELab
//! backend), with retries, limits (a full queue refuses new captures), and restart where it
//! stopped.
//!
//! - [`index`]: the queue's policy, sans IO (order, retries, giving up, limits, sink outages);
//! - [`dead_letters`]: which dead letters go beyond their limit, sans IO;
//! - the retry schedule and the settings are `config`'s ([`crate::config::retry`],
//!   [`crate::config::upload`]);
//! - [`worker`]: one attempt against the store and the sink, and the thread's loop;
//! - [`sink`]: what a sink implements; [`s3`]: the S3 sink; [`http`]: the shared client.

pub mod backend;
pub mod dead_letters;
pub mod http;
pub mod index;
pub mod s3;
pub mod sink;
pub mod stats;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde_json::{Map, Value};

use crate::auth::CredentialsCell;
use crate::config::backend::BackendSettings;
use crate::config::retry::RetrySchedule;
use crate::config::s3::S3SettingsError;
use crate::config::upload::{CaptureUploadSettings, ImageSink};
use crate::stills::captures::{
    CaptureRecord, CaptureStatus, CaptureStore, CaptureStoreError, UploadState,
};
use crate::sync::LockExt;
use dead_letters::DeadLetter;
use index::{Limits, Pending, QueueFull, QueueIndex};
pub use sink::{Delivered, Sink};
use stats::{UploadStats, UploadStatus};

/// Subfolder of the capture store for captures given up after the last retry.
pub const DEAD_FOLDER: &str = "dead";
/// Subfolder of the capture store for queue entries that cannot be read.
pub const CORRUPT_FOLDER: &str = "corrupt";
/// Records of uploaded captures kept (their JPEGs are deleted once uploaded).
pub const UPLOADED_RECORDS_KEPT: usize = 1000;

/// The sink the settings choose (contract §3.2: an explicit `IMAGE_SINK`, else S3 when
/// `S3_ENDPOINT_URL` is set, else the backend when `PAIRING_BACKEND_URL` is), or `None` when
/// captures stay local.
/// Fails only when the S3 settings give no usable URL (start-up validation refuses those).
pub fn sink_from_settings(
    upload: &CaptureUploadSettings,
    backend: &BackendSettings,
    relay: &CredentialsCell,
) -> Result<Option<Arc<dyn Sink>>, S3SettingsError> {
    match upload.resolved_sink(backend) {
        ImageSink::S3 => Ok(Some(Arc::new(s3::S3Sink::new(upload.s3.clone())?))),
        ImageSink::Backend => Ok(Some(Arc::new(backend::BackendSink::new(
            backend,
            relay.clone(),
        )))),
        ImageSink::Local | ImageSink::Auto => Ok(None),
    }
}

impl UploadSettings {
    pub fn from_relab(upload: &CaptureUploadSettings) -> UploadSettings {
        UploadSettings {
            schedule: upload.retry_schedule.clone(),
            limits: Limits {
                max_entries: upload.max_pending_entries,
                max_bytes: upload.max_pending_bytes(),
            },
            dead_max_entries: upload.dead_max_entries,
            wait: Duration::from_millis(upload.wait_ms),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSettings {
    pub schedule: RetrySchedule,
    /// How much may wait for upload; a capture beyond it is refused.
    pub limits: Limits,
    /// Dead letters kept (`dead/` and `corrupt/` together).
    pub dead_max_entries: u64,
    /// How long `POST /captures` waits for its capture's upload before answering `queued`.
    pub wait: Duration,
}

/// Room in the queue promised to one capture while it is saved: [`Uploads::enqueue`] takes
/// it; dropped unused (the save failed), it is given back.
pub struct Reservation<'a> {
    uploads: &'a Uploads,
    bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.uploads.index().release(self.bytes);
    }
}

pub struct Uploads {
    store: Arc<CaptureStore>,
    sink: Option<Arc<dyn Sink>>,
    index: Mutex<QueueIndex>,
    wake: Sender<()>,
    /// `POST /captures` requests waiting for their capture's delivery.
    waiters: Mutex<HashMap<String, Sender<Delivered>>>,
    /// Uploaded records still kept, oldest first, by (creation time, id).
    uploaded: Mutex<BTreeSet<(u128, String)>>,
    dead_max_entries: u64,
    wait: Duration,
    pub stats: UploadStats,
}

impl Uploads {
    /// Reads the queue back from the store (moving unreadable entries aside) and, when there
    /// is a sink, starts the worker thread.
    pub fn start(
        store: Arc<CaptureStore>,
        sink: Option<Arc<dyn Sink>>,
        settings: UploadSettings,
    ) -> io::Result<Arc<Uploads>> {
        let (wake, wake_rx) = crossbeam_channel::bounded(1);
        let answer_wait = sink.as_ref().map_or(Duration::ZERO, |s| s.answer_wait());
        let uploads = Arc::new(Uploads {
            dead_max_entries: settings.dead_max_entries,
            store,
            sink,
            index: Mutex::new(QueueIndex::new(settings.schedule, settings.limits)),
            wake,
            waiters: Mutex::new(HashMap::new()),
            uploaded: Mutex::new(BTreeSet::new()),
            wait: settings.wait.max(answer_wait),
            stats: UploadStats::default(),
        });
        uploads.recover();
        uploads.prune_dead_letters();
        let (queued, bytes, limits, schedule) = {
            let index = uploads.index();
            let s = index.schedule().to_string();
            (index.len(), index.bytes(), index.limits(), s)
        };
        match &uploads.sink {
            Some(sink) => {
                log::info!(
                    "uploads go to {}; {queued} of {} captures queued ({} of {} MB), retries after {schedule}",
                    sink.describe(),
                    limits.max_entries,
                    bytes.div_ceil(1 << 20),
                    limits.max_bytes >> 20,
                );
                worker::spawn(Arc::downgrade(&uploads), Arc::clone(sink), wake_rx)?;
            }
            None if queued > 0 => log::warn!(
                "{queued} captures wait for upload, but no image sink is configured: they stay queued"
            ),
            None => {}
        }
        Ok(uploads)
    }

    fn index(&self) -> MutexGuard<'_, QueueIndex> {
        self.index.lock_unpoisoned()
    }

    fn recover(&self) {
        let mut uploaded = Vec::new();
        for id in self.store.record_ids() {
            let record = match self.store.read_record(&id) {
                Ok(r) => r,
                Err(CaptureStoreError::Corrupt(why)) => {
                    self.set_aside_corrupt(&id, &why);
                    continue;
                }
                Err(e) => {
                    log::warn!("capture {id} skipped: {e}");
                    continue;
                }
            };
            match (&record.status, &record.upload) {
                (CaptureStatus::Uploaded, _) => {
                    if self.store.has_image(&id) {
                        // The upload was noted, the JPEG's removal was not.
                        if let Err(e) = self.store.remove_image(&id) {
                            log::warn!("cannot remove the uploaded JPEG of {id}: {e}");
                        }
                    }
                    uploaded.push((record.order(), id));
                }
                (CaptureStatus::Queued, Some(state)) => {
                    if !self.store.has_image(&id) {
                        self.set_aside_corrupt(&id, "its JPEG is missing");
                        continue;
                    }
                    let next_attempt_us = self.due_from_record(state);
                    self.index().insert(
                        &id,
                        record.order(),
                        Pending {
                            bytes: record.bytes,
                            attempts: state.attempts,
                            next_attempt_us,
                        },
                    );
                }
                // Kept locally only.
                (CaptureStatus::Queued, None) => {}
            }
        }
        self.uploaded.lock_unpoisoned().extend(uploaded);
        self.prune_uploaded();
    }

    /// The monotonic due time of a record's persisted (wall-clock) next attempt.
    fn due_from_record(&self, state: &UploadState) -> u64 {
        let longest_s = self.index().schedule().longest_s();
        index::due_from_persisted(
            state.next_attempt_unix_us,
            crate::clock::unix_us(),
            crate::clock::mono_us(),
            longest_s,
        )
    }

    /// Moves an unreadable entry to `corrupt/`, with a log line and a count.
    fn set_aside_corrupt(&self, image_id: &str, why: &str) {
        self.index().abandon(image_id);
        UploadStats::add(&self.stats.corrupt);
        match self.store.move_aside(image_id, CORRUPT_FOLDER) {
            Ok(folder) => log::warn!(
                "capture {image_id} cannot be uploaded ({why}); moved to {}",
                folder.display()
            ),
            Err(e) => {
                log::error!("capture {image_id} cannot be uploaded ({why}) nor moved aside: {e}")
            }
        }
        self.prune_dead_letters();
    }

    /// Deletes the oldest dead letters beyond `UPLOAD_QUEUE_DEAD_MAX_ENTRIES`, each with a
    /// warning and a count: the one place a capture is deleted without being uploaded.
    fn prune_dead_letters(&self) {
        let letters: Vec<DeadLetter> = [DEAD_FOLDER, CORRUPT_FOLDER]
            .into_iter()
            .flat_map(|folder| {
                self.store
                    .ids_in(folder)
                    .into_iter()
                    .map(move |(image_id, modified_unix_us)| DeadLetter {
                        folder,
                        image_id,
                        modified_unix_us,
                    })
            })
            .collect();
        for letter in dead_letters::to_prune(letters, self.dead_max_entries) {
            let DeadLetter {
                folder, image_id, ..
            } = &letter;
            match self.store.remove_in(folder, image_id) {
                Ok(()) => {
                    UploadStats::add(&self.stats.pruned);
                    log::warn!(
                        "dead letter {image_id} deleted from {folder}/, never uploaded: more than UPLOAD_QUEUE_DEAD_MAX_ENTRIES={} kept",
                        self.dead_max_entries
                    );
                }
                Err(e) => log::error!("cannot delete dead letter {image_id} from {folder}/: {e}"),
            }
        }
    }

    /// A capture was moved to `dead/`.
    pub(crate) fn dead_lettered(&self) {
        UploadStats::add(&self.stats.dead);
        self.prune_dead_letters();
    }

    /// Drops the oldest records beyond [`UPLOADED_RECORDS_KEPT`].
    fn prune_uploaded(&self) {
        let mut uploaded = self.uploaded.lock_unpoisoned();
        while uploaded.len() > UPLOADED_RECORDS_KEPT {
            let Some((_, id)) = uploaded.pop_first() else {
                break;
            };
            if let Err(e) = self.store.remove(&id) {
                log::warn!("cannot remove the record of uploaded capture {id}: {e}");
            }
        }
    }

    /// The sink's name, or `None` when captures stay local.
    pub fn sink_name(&self) -> Option<&'static str> {
        self.sink.as_ref().map(|s| s.name())
    }

    /// The queue state a new capture starts with, or `None` when captures stay local. The
    /// destination is fixed here, before the capture is saved.
    pub fn new_state(
        &self,
        image_id: &str,
        upload_metadata: &Map<String, Value>,
        now_us: u64,
    ) -> Option<UploadState> {
        let sink = self.sink.as_ref()?;
        Some(UploadState {
            sink: sink.name().to_owned(),
            destination: sink.destination(image_id, upload_metadata),
            attempts: 0,
            next_attempt_unix_us: now_us,
            last_error: None,
        })
    }

    /// Room in the queue for a capture of `bytes`, taken before it is saved; a full queue
    /// refuses it (counted and logged) and keeps every capture it holds.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>, QueueFull> {
        let (reserved, limits) = {
            let mut index = self.index();
            (index.reserve(bytes), index.limits())
        };
        match reserved {
            Ok(()) => Ok(Reservation {
                uploads: self,
                bytes,
            }),
            Err(full) => {
                UploadStats::add(&self.stats.refused);
                log::warn!(
                    "capture refused: {full} (UPLOAD_QUEUE_MAX_PENDING_ENTRIES={}, UPLOAD_QUEUE_MAX_PENDING_BYTES={})",
                    limits.max_entries,
                    limits.max_bytes
                );
                Err(full)
            }
        }
    }

    /// Queues a saved capture (one with an upload state; others are ignored) into the room
    /// `reservation` holds for it, and wakes the worker. The receiver gets the delivery, for
    /// [`Uploads::await_delivery`].
    pub fn enqueue(
        &self,
        record: &CaptureRecord,
        reservation: Option<Reservation<'_>>,
    ) -> Option<Receiver<Delivered>> {
        let state = record.upload.as_ref()?;
        self.sink.as_ref()?;
        let next_attempt_us = self.due_from_record(state);
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.waiters
            .lock_unpoisoned()
            .insert(record.image_id.clone(), tx);
        let mut index = self.index();
        if let Some(reservation) = reservation {
            index.release(reservation.bytes);
            std::mem::forget(reservation);
        }
        index.insert(
            &record.image_id,
            record.order(),
            Pending {
                bytes: record.bytes,
                attempts: state.attempts,
                next_attempt_us,
            },
        );
        let _ = self.wake.try_send(());
        Some(rx)
    }

    /// Waits up to the configured time for a queued capture's delivery. Returns at once while
    /// the sink is known to be down.
    pub fn await_delivery(&self, image_id: &str, rx: Receiver<Delivered>) -> Option<Delivered> {
        let delivered = if self.wait.is_zero() || self.index().sink_down() {
            rx.try_recv().ok()
        } else {
            rx.recv_timeout(self.wait).ok()
        };
        self.waiters.lock_unpoisoned().remove(image_id);
        delivered
    }

    /// Connectivity may be back (the relay connected, the device was paired): a sink that is
    /// backing off is tried again at once.
    pub fn nudge(&self) {
        self.index().nudge(crate::clock::mono_us());
        let _ = self.wake.try_send(());
    }

    pub fn status(&self) -> UploadStatus {
        let (queue_depth, queue_bytes, limits, sink_down, sink_retry_at_us) = {
            let index = self.index();
            (
                index.len(),
                index.bytes(),
                index.limits(),
                index.sink_down(),
                index.sink_retry_at_us(),
            )
        };
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let last_error = self.stats.last_error();
        let last_success = load(&self.stats.last_success_us);
        UploadStatus {
            sink: self.sink_name(),
            queue_depth,
            queue_bytes,
            queue_max_entries: limits.max_entries,
            queue_max_bytes: limits.max_bytes,
            uploaded: load(&self.stats.uploaded),
            failures: load(&self.stats.failures),
            retries: load(&self.stats.retries),
            dead: load(&self.stats.dead),
            dead_entries: self.store.count_in(DEAD_FOLDER) as u64,
            refused: load(&self.stats.refused),
            pruned: load(&self.stats.pruned),
            corrupt: load(&self.stats.corrupt),
            sink_down,
            sink_retry_at_us: sink_retry_at_us.map(|due| {
                index::persisted_from_due(due, crate::clock::mono_us(), crate::clock::unix_us())
            }),
            last_error_us: last_error.as_ref().map(|(_, at)| *at),
            last_error: last_error.map(|(m, _)| m),
            last_success_us: (last_success > 0).then_some(last_success),
        }
    }
}
