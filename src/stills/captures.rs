//! The on-disk capture store: `<id>.jpg` plus a `<id>.json` record per capture, each written
//! durably, the record last so it never points at a missing image. The upload queue is an
//! index over this store: a queued record carries its [`UploadState`], an uploaded one keeps
//! its record (with the image's URL) but not its JPEG, and entries taken out of the queue go
//! into subfolders (`dead/`, `corrupt/`), record first.
//!
//! `GET /captures` is answered from an in-memory index of the records, in the order of a
//! sequence number kept in each record (see [`ListIndex`]), so the list neither reads every
//! record per call nor follows the wall clock when it steps back.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::atomic::{is_temp_name, sync_dir, write_atomic};
use super::list_index::ListIndex;
use super::metadata::ImageMetadata;
use crate::sync::LockExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureStatus {
    Queued,
    Uploaded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureRecord {
    /// 32 lowercase hex characters.
    pub image_id: String,
    /// The store's sequence number, rising with every capture, across restarts: the list's
    /// order. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub created_unix_us: u64,
    pub status: CaptureStatus,
    pub metadata: ImageMetadata,
    /// The request body of `POST /captures`, passed through to the sink.
    pub upload_metadata: Map<String, Value>,
    pub image_url: Option<String>,
    /// Size of the JPEG.
    pub bytes: u64,
    /// Present while the capture waits for a sink (and kept once uploaded); absent for
    /// captures kept locally only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadState>,
}

impl CaptureRecord {
    /// Where the capture stands among the others, oldest lowest: by sequence number, and
    /// records without one (from older versions) by time, below every numbered one. The
    /// order of `GET /captures` and of the upload queue, whatever the wall clock did.
    pub fn order(&self) -> u128 {
        match self.seq {
            Some(seq) => (1u128 << 64) | u128::from(seq),
            None => u128::from(self.created_unix_us),
        }
    }
}

/// A capture's place in the upload queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// The sink it was queued for (`s3`, `backend`).
    pub sink: String,
    /// Where the sink puts it (the S3 key), fixed before the first attempt.
    pub destination: String,
    /// Failed attempts charged to this capture.
    pub attempts: u32,
    pub next_attempt_unix_us: u64,
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub enum CaptureStoreError {
    /// Not 32 lowercase hex characters.
    InvalidId,
    /// The record's `image_id` differs from the id it is saved under.
    IdMismatch,
    NotFound,
    /// No space or quota left (the API answers 507).
    DiskFull,
    /// The process or system is out of file descriptors (EMFILE, ENFILE): passing, so the
    /// API answers 503 with `Retry-After`.
    OutOfDescriptors,
    /// A record that does not parse.
    Corrupt(String),
    Io(io::Error),
}

impl fmt::Display for CaptureStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureStoreError::InvalidId => {
                write!(f, "image id must be 32 lowercase hex characters")
            }
            CaptureStoreError::IdMismatch => write!(f, "record image_id differs from the image id"),
            CaptureStoreError::NotFound => write!(f, "capture not found"),
            CaptureStoreError::DiskFull => write!(f, "not enough storage space for the capture"),
            CaptureStoreError::OutOfDescriptors => write!(f, "out of file descriptors"),
            CaptureStoreError::Corrupt(why) => write!(f, "capture record unreadable: {why}"),
            CaptureStoreError::Io(e) => write!(f, "capture store I/O error: {e}"),
        }
    }
}

impl std::error::Error for CaptureStoreError {}

impl From<io::Error> for CaptureStoreError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => CaptureStoreError::DiskFull,
            Some(libc::EMFILE) | Some(libc::ENFILE) => CaptureStoreError::OutOfDescriptors,
            _ if e.kind() == io::ErrorKind::NotFound => CaptureStoreError::NotFound,
            _ => CaptureStoreError::Io(e),
        }
    }
}

/// Whether `id` is 32 lowercase hex characters, the only names the store reads or writes.
pub fn is_valid_image_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub struct CaptureStore {
    dir: PathBuf,
    index: Mutex<ListIndex>,
    next_seq: AtomicU64,
}

impl CaptureStore {
    /// Opens (creating if needed) the store in `dir`, finishing what a crash interrupted:
    /// temp files are removed; a JPEG without its record either follows its record into the
    /// subfolder it was being moved to, or, when there is none, is the first half of a save
    /// that never completed (and was never answered), and is removed.
    pub fn open(dir: PathBuf) -> io::Result<CaptureStore> {
        fs::create_dir_all(&dir)?;
        let mut store = CaptureStore {
            dir,
            index: Mutex::new(ListIndex::default()),
            next_seq: AtomicU64::new(1),
        };
        let mut images = Vec::new();
        for entry in fs::read_dir(&store.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_temp_name(name) {
                if let Err(e) = fs::remove_file(entry.path()) {
                    log::warn!("cannot remove stale {}: {e}", entry.path().display());
                }
            } else if let Some(id) = name.strip_suffix(".jpg").filter(|id| is_valid_image_id(id)) {
                images.push(id.to_owned());
            }
        }
        for id in images {
            if !store.json_path(&id).exists() {
                store.settle_orphan_image(&id)?;
            }
        }
        store.load_index()?;
        Ok(store)
    }

    /// Reads every record once, for the list's index and the next sequence number. A record
    /// that cannot be read now is still indexed (by id alone), so the list reports it rather
    /// than leave it out.
    fn load_index(&mut self) -> io::Result<()> {
        let mut index = ListIndex::default();
        let mut max_seq = 0;
        for entry in fs::read_dir(&self.dir)? {
            let path = PathBuf::from(entry?.file_name());
            let Some(id) = path.file_stem().and_then(OsStr::to_str) else {
                continue;
            };
            if path.extension() != Some(OsStr::new("json")) || !is_valid_image_id(id) {
                continue;
            }
            match self.read_record(id) {
                Ok(record) => {
                    max_seq = max_seq.max(record.seq.unwrap_or(0));
                    index.insert(id, record.order());
                }
                Err(CaptureStoreError::NotFound) => {}
                Err(e) => {
                    log::warn!("capture {id}: {e}");
                    index.insert(id, 0);
                }
            }
        }
        *self.index.get_mut().unwrap_or_else(|p| p.into_inner()) = index;
        *self.next_seq.get_mut() = max_seq + 1;
        Ok(())
    }

    /// A new sequence number, above every record's in the store.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn settle_orphan_image(&self, image_id: &str) -> io::Result<()> {
        let jpg = self.jpg_path(image_id);
        for entry in fs::read_dir(&self.dir)?.filter_map(Result::ok) {
            let folder = entry.path();
            if folder.is_dir() && folder.join(format!("{image_id}.json")).exists() {
                fs::rename(&jpg, folder.join(format!("{image_id}.jpg")))?;
                sync_dir(&folder)?;
                return sync_dir(&self.dir);
            }
        }
        log::info!(
            "removing {}: its capture was never completed",
            jpg.display()
        );
        fs::remove_file(&jpg)?;
        sync_dir(&self.dir)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores the JPEG and then its record, both durable when this returns. On failure
    /// neither file is left behind.
    pub fn save(
        &self,
        image_id: &str,
        jpeg: &[u8],
        record: &CaptureRecord,
    ) -> Result<(), CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        if record.image_id != image_id {
            return Err(CaptureStoreError::IdMismatch);
        }
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| CaptureStoreError::Corrupt(e.to_string()))?;
        let jpg_path = self.jpg_path(image_id);
        write_atomic(&jpg_path, jpeg).map_err(CaptureStoreError::from_write)?;
        if let Err(e) = write_atomic(&self.json_path(image_id), &json) {
            let _ = fs::remove_file(&jpg_path);
            return Err(CaptureStoreError::from_write(e));
        }
        self.index
            .lock_unpoisoned()
            .insert(image_id, record.order());
        Ok(())
    }

    /// The record and the JPEG's path. A record whose JPEG is gone counts as missing.
    pub fn get(&self, image_id: &str) -> Result<(CaptureRecord, PathBuf), CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        let record = self.read_record(image_id)?;
        let jpg_path = self.jpg_path(image_id);
        if !jpg_path.is_file() {
            return Err(CaptureStoreError::NotFound);
        }
        Ok((record, jpg_path))
    }

    /// Up to `limit` records, newest first (by sequence number; records without one, older
    /// than any with one, by time), read from disk for only as many entries of the index as
    /// it takes. Corrupt records, and records whose JPEG is gone without having been
    /// uploaded, are logged and skipped; a record that cannot be read (EMFILE, EIO, a
    /// permission) is an error, never a shorter list.
    pub fn list_recent(&self, limit: usize) -> Result<Vec<CaptureRecord>, CaptureStoreError> {
        let ids = self.index.lock_unpoisoned().newest_first();
        let mut records = Vec::new();
        for id in ids {
            if records.len() >= limit {
                break;
            }
            match self.read_record(&id) {
                Ok(r) if r.status == CaptureStatus::Uploaded || self.has_image(&id) => {
                    records.push(r)
                }
                Ok(_) => log::warn!("skipping capture {id}: its JPEG is missing"),
                Err(CaptureStoreError::NotFound) => {}
                Err(CaptureStoreError::Corrupt(why)) => {
                    log::warn!("skipping capture {id}: {why}")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }

    /// Number of records in the index.
    pub fn count(&self) -> usize {
        self.index.lock_unpoisoned().len()
    }

    /// Replaces a capture's record (durably), leaving its JPEG as it is.
    pub fn update_record(&self, record: &CaptureRecord) -> Result<(), CaptureStoreError> {
        if !is_valid_image_id(&record.image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| CaptureStoreError::Corrupt(e.to_string()))?;
        write_atomic(&self.json_path(&record.image_id), &json)
            .map_err(CaptureStoreError::from_write)
    }

    /// The JPEG's bytes.
    pub fn read_image(&self, image_id: &str) -> Result<Vec<u8>, CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        Ok(fs::read(self.jpg_path(image_id))?)
    }

    pub fn has_image(&self, image_id: &str) -> bool {
        is_valid_image_id(image_id) && self.jpg_path(image_id).is_file()
    }

    /// Removes the JPEG only (durably); a missing one is not an error.
    pub fn remove_image(&self, image_id: &str) -> Result<(), CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        remove_if_present(&self.jpg_path(image_id))?;
        Ok(sync_dir(&self.dir)?)
    }

    /// Removes the record, then the JPEG (durably); missing files are not an error.
    pub fn remove(&self, image_id: &str) -> Result<(), CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        remove_if_present(&self.json_path(image_id))?;
        self.index.lock_unpoisoned().remove(image_id);
        remove_if_present(&self.jpg_path(image_id))?;
        Ok(sync_dir(&self.dir)?)
    }

    /// Moves the record, then the JPEG, into the subfolder `folder` (made if needed), where
    /// the store no longer sees them; missing files are not an error. Returns the folder.
    pub fn move_aside(&self, image_id: &str, folder: &str) -> Result<PathBuf, CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        let target = self.dir.join(folder);
        fs::create_dir_all(&target)?;
        self.index.lock_unpoisoned().remove(image_id);
        for path in [self.json_path(image_id), self.jpg_path(image_id)] {
            let name = path.file_name().expect("store paths name a file");
            match fs::rename(&path, target.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        sync_dir(&target)?;
        sync_dir(&self.dir)?;
        Ok(target)
    }

    /// Number of records in the subfolder `folder`.
    pub fn count_in(&self, folder: &str) -> usize {
        let Ok(entries) = fs::read_dir(self.dir.join(folder)) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".json")))
            .count()
    }

    /// The ids in the subfolder `folder` (from a record, a JPEG or both) with the time the
    /// newer of the two was last written, in µs since the epoch.
    pub fn ids_in(&self, folder: &str) -> Vec<(String, u64)> {
        let Ok(entries) = fs::read_dir(self.dir.join(folder)) else {
            return Vec::new();
        };
        let mut found: std::collections::BTreeMap<String, u64> = Default::default();
        for entry in entries.filter_map(Result::ok) {
            let path = PathBuf::from(entry.file_name());
            let (Some(id), Some(ext)) =
                (path.file_stem().and_then(OsStr::to_str), path.extension())
            else {
                continue;
            };
            if !is_valid_image_id(id) || !(ext == "json" || ext == "jpg") {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_micros() as u64);
            let at = found.entry(id.to_owned()).or_default();
            *at = (*at).max(modified);
        }
        found.into_iter().collect()
    }

    /// Deletes capture `image_id` from the subfolder `folder` (record, then JPEG, durably);
    /// missing files are not an error.
    pub fn remove_in(&self, folder: &str, image_id: &str) -> Result<(), CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        let dir = self.dir.join(folder);
        remove_if_present(&dir.join(format!("{image_id}.json")))?;
        remove_if_present(&dir.join(format!("{image_id}.jpg")))?;
        Ok(sync_dir(&dir)?)
    }

    /// The record alone, whether or not its JPEG is still here.
    pub fn read_record(&self, image_id: &str) -> Result<CaptureRecord, CaptureStoreError> {
        if !is_valid_image_id(image_id) {
            return Err(CaptureStoreError::InvalidId);
        }
        let bytes = fs::read(self.json_path(image_id))?;
        let record: CaptureRecord = serde_json::from_slice(&bytes)
            .map_err(|e| CaptureStoreError::Corrupt(e.to_string()))?;
        if record.image_id != image_id {
            return Err(CaptureStoreError::Corrupt(format!(
                "{image_id}.json holds image_id {:?}",
                record.image_id
            )));
        }
        Ok(record)
    }

    /// Ids of the `<id>.json` files with a valid id; an unreadable directory reads as empty.
    pub fn record_ids(&self) -> Vec<String> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) => {
                log::warn!("cannot list {}: {e}", self.dir.display());
                return Vec::new();
            }
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = PathBuf::from(entry.file_name());
                let id = path.file_stem()?.to_str()?;
                let is_record = path.extension() == Some(OsStr::new("json"));
                (is_record && is_valid_image_id(id)).then(|| id.to_owned())
            })
            .collect()
    }

    fn jpg_path(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{image_id}.jpg"))
    }

    fn json_path(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{image_id}.json"))
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl CaptureStoreError {
    /// While writing, a missing path means the store's directory vanished: an I/O error,
    /// not a missing capture.
    fn from_write(e: io::Error) -> CaptureStoreError {
        match CaptureStoreError::from(e) {
            CaptureStoreError::NotFound => CaptureStoreError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                "capture directory is missing",
            )),
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "captures_tests.rs"]
mod tests;
