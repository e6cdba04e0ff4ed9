//! The upload worker: one thread that asks the queue what is next, makes one attempt against
//! the store and the sink, and tells the queue, the store, the counters and the log how it
//! went.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::index::{persisted_from_due, Failed, Next};
use super::sink::{Sink, Upload};
use super::stats::UploadStats;
use super::{Uploads, DEAD_FOLDER};
use crate::stills::captures::{CaptureStatus, CaptureStoreError};
use crate::sync::LockExt;

/// Longest sleep between looks at the queue.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub fn spawn(
    uploads: Weak<Uploads>,
    sink: Arc<dyn Sink>,
    wake: Receiver<()>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("upload".into())
        .spawn(move || run(uploads, sink, wake))
        .map(|_| ())
}

/// Runs until the [`Uploads`] it serves is dropped.
fn run(uploads: Weak<Uploads>, sink: Arc<dyn Sink>, wake: Receiver<()>) {
    loop {
        let Some(queue) = uploads.upgrade() else {
            return;
        };
        let now = crate::clock::mono_us();
        let next = queue.index().next(now);
        let sleep = match next {
            Next::Upload(id) => {
                attempt(&queue, sink.as_ref(), &id);
                continue;
            }
            Next::WaitUntil(at_us) => Duration::from_micros(at_us.saturating_sub(now)),
            Next::Idle => MAX_SLEEP,
        };
        drop(queue);
        if let Err(crossbeam_channel::RecvTimeoutError::Disconnected) =
            wake.recv_timeout(sleep.min(MAX_SLEEP))
        {
            return;
        }
    }
}

/// One attempt at the capture `id`, which the queue has marked in flight.
pub(super) fn attempt(q: &Uploads, sink: &dyn Sink, id: &str) {
    let mut record = match q.store.read_record(id) {
        Ok(r) => r,
        Err(CaptureStoreError::NotFound) => {
            q.index().abandon(id);
            return;
        }
        Err(CaptureStoreError::Corrupt(why)) => return q.set_aside_corrupt(id, &why),
        Err(e) => return failed_locally(q, id, &format!("cannot read its record: {e}")),
    };
    if record.status == CaptureStatus::Uploaded {
        q.index().abandon(id);
        return;
    }
    let Some(state) = record.upload.clone() else {
        return q.set_aside_corrupt(id, "its record has no upload state");
    };
    let jpeg = match q.store.read_image(id) {
        Ok(j) => j,
        Err(CaptureStoreError::NotFound) => return q.set_aside_corrupt(id, "its JPEG is missing"),
        Err(e) => return failed_locally(q, id, &format!("cannot read its JPEG: {e}")),
    };
    // A capture queued for another sink (the settings changed) goes where this one puts it.
    let destination = if state.sink == sink.name() {
        state.destination.clone()
    } else {
        sink.destination(id, &record.upload_metadata)
    };
    let is_retry = state.attempts > 0 || q.index().sink_down();
    if is_retry {
        UploadStats::add(&q.stats.retries);
    }
    let result = sink.put(&Upload {
        image_id: id,
        destination: &destination,
        jpeg: &jpeg,
        metadata: &record.metadata,
        upload_metadata: &record.upload_metadata,
    });
    let now = crate::clock::mono_us();
    let now_unix_us = crate::clock::unix_us();
    match result {
        Ok(delivered) => {
            record.status = CaptureStatus::Uploaded;
            record.image_url = delivered.image_url.clone();
            record.upload = Some(super::UploadState {
                sink: sink.name().to_owned(),
                destination: destination.clone(),
                last_error: None,
                ..state
            });
            note_uploaded(q, &record);
            let recovered = q.index().succeeded(id);
            UploadStats::add(&q.stats.uploaded);
            q.stats
                .last_success_us
                .store(now_unix_us, std::sync::atomic::Ordering::Relaxed);
            if recovered {
                log::info!(
                    "uploads to {} work again; {} captures queued",
                    sink.name(),
                    q.index().len()
                );
            }
            log::debug!("capture {id} uploaded to {destination}");
            if let Some(tx) = q.waiters.lock_unpoisoned().remove(id) {
                let _ = tx.try_send(delivered);
            }
            q.uploaded
                .lock_unpoisoned()
                .insert((record.order(), id.to_owned()));
            q.prune_uploaded();
        }
        Err(e) => {
            UploadStats::add(&q.stats.failures);
            q.stats.set_last_error(&e.message, now_unix_us);
            // A request waiting for this capture hears at once that it stays queued.
            q.waiters.lock_unpoisoned().remove(id);
            let outcome = q.index().failed(id, now, e.blame);
            match outcome {
                Failed::SinkBackoff {
                    retry_at_us,
                    consecutive,
                } => log::warn!(
                    "{e} (sink failure {consecutive} in a row, {} captures queued, next try in {} s)",
                    q.index().len(),
                    seconds_until(retry_at_us, now)
                ),
                Failed::Retry {
                    retry_at_us,
                    attempts,
                } => {
                    log::warn!(
                        "{e} (capture {id}: attempt {attempts} of {}, next in {} s)",
                        q.index().schedule().max_attempts(),
                        seconds_until(retry_at_us, now)
                    );
                    record.upload = Some(super::UploadState {
                        attempts,
                        next_attempt_unix_us: persisted_from_due(retry_at_us, now, now_unix_us),
                        last_error: Some(e.message.clone()),
                        ..state
                    });
                    if let Err(e) = q.store.update_record(&record) {
                        log::warn!("cannot note the failed attempt of capture {id}: {e}");
                    }
                }
                Failed::GaveUp { attempts } => {
                    record.upload = Some(super::UploadState {
                        attempts,
                        last_error: Some(e.message.clone()),
                        ..state
                    });
                    give_up(q, &record, attempts, &e.message);
                }
            }
        }
    }
}

/// Notes a delivery on disk and removes the JPEG. Until the record says `uploaded` the
/// capture counts as queued, so a crash before that puts it again, to the same destination,
/// which replaces it.
fn note_uploaded(q: &Uploads, record: &crate::stills::captures::CaptureRecord) {
    let id = &record.image_id;
    if let Err(first) = q.store.update_record(record) {
        // On a full disk the JPEG's space lets the record be written.
        if let Err(e) = q.store.remove_image(id) {
            log::warn!("cannot remove the uploaded JPEG of {id}: {e}");
        }
        if let Err(e) = q.store.update_record(record) {
            log::error!(
                "capture {id} was uploaded but that cannot be noted ({first}; {e}): after a restart it will be set aside as corrupt"
            );
        }
        return;
    }
    if let Err(e) = q.store.remove_image(id) {
        log::warn!("cannot remove the uploaded JPEG of {id}: {e}");
    }
}

/// The capture failed here, not at the sink (an unreadable file): it uses up an attempt.
fn failed_locally(q: &Uploads, id: &str, why: &str) {
    let now = crate::clock::mono_us();
    let message = format!("capture {id}: {why}");
    UploadStats::add(&q.stats.failures);
    q.stats.set_last_error(&message, crate::clock::unix_us());
    match q.index().failed(id, now, super::index::Blame::Capture) {
        Failed::GaveUp { .. } => {
            let moved = q.store.move_aside(id, DEAD_FOLDER);
            q.dead_lettered();
            log::error!("{message}; giving up");
            if let Err(e) = moved {
                log::error!("capture {id} cannot be moved aside either: {e}");
            }
        }
        _ => log::warn!("{message}; will retry"),
    }
}

fn give_up(q: &Uploads, record: &crate::stills::captures::CaptureRecord, attempts: u32, why: &str) {
    let id = &record.image_id;
    if let Err(e) = q.store.update_record(record) {
        log::warn!("cannot note the last error of capture {id}: {e}");
    }
    let moved = q.store.move_aside(id, DEAD_FOLDER);
    // Counted before the line is logged: whoever acts on the line finds the count done.
    q.dead_lettered();
    match moved {
        Ok(folder) => log::warn!(
            "capture {id} given up after {attempts} attempts ({why}); moved to {}",
            folder.display()
        ),
        Err(e) => log::error!(
            "capture {id} given up after {attempts} attempts ({why}) but not moved aside: {e}"
        ),
    }
}

fn seconds_until(at_us: u64, now_us: u64) -> u64 {
    at_us.saturating_sub(now_us).div_ceil(1_000_000)
}
