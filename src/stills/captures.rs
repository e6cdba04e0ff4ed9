//! The on-disk capture store: `<id>.jpg` plus a `<id>.json` record per capture, each written
//! durably, the record last so it never points at a missing image. The upload queue is an
//! index over this store: a queued record carries its [`UploadState`], an uploaded one keeps
//! its record (with the image's URL) but not its JPEG, and entries taken out of the queue go
//! into subfolders (`dead/`, `corrupt/`), record first.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::atomic::{is_temp_name, sync_dir, write_atomic};
use super::metadata::ImageMetadata;

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
}

impl CaptureStore {
    /// Opens (creating if needed) the store in `dir`, finishing what a crash interrupted:
    /// temp files are removed; a JPEG without its record either follows its record into the
    /// subfolder it was being moved to, or, when there is none, is the first half of a save
    /// that never completed (and was never answered), and is removed.
    pub fn open(dir: PathBuf) -> io::Result<CaptureStore> {
        fs::create_dir_all(&dir)?;
        let store = CaptureStore { dir };
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
        Ok(store)
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

    /// Up to `limit` records, newest first. Unreadable records, and records whose JPEG is
    /// gone without having been uploaded, are logged and skipped.
    pub fn list_recent(&self, limit: usize) -> Vec<CaptureRecord> {
        let mut records: Vec<CaptureRecord> = self
            .record_ids()
            .into_iter()
            .filter_map(|id| match self.read_record(&id) {
                Ok(r) if r.status == CaptureStatus::Uploaded || self.has_image(&id) => Some(r),
                Ok(_) => {
                    log::warn!("skipping capture {id}: its JPEG is missing");
                    None
                }
                Err(e) => {
                    log::warn!("skipping capture {id}: {e}");
                    None
                }
            })
            .collect();
        records.sort_by(|a, b| {
            (b.created_unix_us, &b.image_id).cmp(&(a.created_unix_us, &a.image_id))
        });
        records.truncate(limit);
        records
    }

    /// Number of records (not parsed).
    pub fn count(&self) -> usize {
        self.record_ids().len()
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
mod tests {
    use super::*;
    use crate::stills::metadata::{CameraProperties, CaptureMetadata, ImageProperties};
    use crate::testutil::TempDir;

    fn id(n: u8) -> String {
        format!("{n:02x}").repeat(16)
    }

    fn record(image_id: &str, created_unix_us: u64) -> CaptureRecord {
        let mut upload_metadata = Map::new();
        upload_metadata.insert("product_id".into(), Value::from(42));
        CaptureRecord {
            image_id: image_id.into(),
            created_unix_us,
            status: CaptureStatus::Queued,
            metadata: ImageMetadata {
                camera_properties: CameraProperties {
                    camera_model: Some("testsrc".into()),
                    ..CameraProperties::default()
                },
                capture_metadata: CaptureMetadata::default(),
                image_properties: ImageProperties {
                    width: 1920,
                    height: 1080,
                    capture_time_unix_us: created_unix_us / 1_000_000 * 1_000_000,
                },
            },
            upload_metadata,
            image_url: None,
            bytes: 4,
            upload: None,
        }
    }

    #[test]
    fn saves_and_gets_back() {
        let dir = TempDir::new("captures");
        let store = CaptureStore::open(dir.0.join("captures")).unwrap();
        let rec = record(&id(1), 1_776_852_000_000_000);
        store.save(&id(1), b"\xff\xd8\xff\xd9", &rec).unwrap();
        let (got, path) = store.get(&id(1)).unwrap();
        assert_eq!(got, rec);
        assert_eq!(fs::read(path).unwrap(), b"\xff\xd8\xff\xd9");
        assert_eq!(store.count(), 1);
        let names: Vec<String> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let on_disk: Value =
            serde_json::from_slice(&fs::read(store.json_path(&id(1))).unwrap()).unwrap();
        assert_eq!(on_disk["status"], "queued");
        assert_eq!(on_disk["upload_metadata"]["product_id"], 42);
    }

    #[test]
    fn saving_again_replaces() {
        let dir = TempDir::new("captures-replace");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        store.save(&id(1), b"old", &record(&id(1), 5)).unwrap();
        let mut uploaded = record(&id(1), 5);
        uploaded.status = CaptureStatus::Uploaded;
        uploaded.image_url = Some("http://127.0.0.1/x.jpg".into());
        store.save(&id(1), b"new", &uploaded).unwrap();
        let (got, path) = store.get(&id(1)).unwrap();
        assert_eq!(got, uploaded);
        assert_eq!(fs::read(path).unwrap(), b"new");
        assert_eq!(dir.names().len(), 2);
    }

    #[test]
    fn ids_are_checked() {
        let dir = TempDir::new("captures-ids");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        for bad in [
            "",
            "../../etc/passwd",
            &"A".repeat(32),
            &"0".repeat(31),
            &"0".repeat(33),
            &format!("{}/", "0".repeat(31)),
            &format!("{}g", "0".repeat(31)),
            "0000000000000000000000000000000\u{e9}",
        ] {
            assert!(
                matches!(store.get(bad), Err(CaptureStoreError::InvalidId)),
                "{bad}"
            );
            let rec = record(bad, 1);
            assert!(matches!(
                store.save(bad, b"x", &rec),
                Err(CaptureStoreError::InvalidId)
            ));
        }
        let other = record(&id(2), 1);
        assert!(matches!(
            store.save(&id(1), b"x", &other),
            Err(CaptureStoreError::IdMismatch)
        ));
        assert!(dir.names().is_empty());
        assert!(matches!(
            store.get(&id(3)),
            Err(CaptureStoreError::NotFound)
        ));
    }

    #[test]
    fn lists_newest_first_and_skips_bad_records() {
        let dir = TempDir::new("captures-list");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        for (n, created) in [(1, 300), (2, 100), (3, 200), (4, 400)] {
            store
                .save(&id(n), b"jpeg", &record(&id(n), created))
                .unwrap();
        }
        fs::write(dir.0.join(format!("{}.json", id(5))), b"{not json").unwrap();
        // A record filed under the wrong name is not trusted.
        let moved = serde_json::to_vec(&record(&id(1), 900)).unwrap();
        fs::write(dir.0.join(format!("{}.json", id(6))), moved).unwrap();
        fs::write(dir.0.join("notes.json"), b"{}").unwrap();
        fs::write(dir.0.join(format!("{}.txt", id(7))), b"{}").unwrap();

        let created: Vec<u64> = store
            .list_recent(10)
            .iter()
            .map(|r| r.created_unix_us)
            .collect();
        assert_eq!(created, [400, 300, 200, 100]);
        let top: Vec<String> = store
            .list_recent(2)
            .into_iter()
            .map(|r| r.image_id)
            .collect();
        assert_eq!(top, [id(4), id(1)]);
        assert!(store.list_recent(0).is_empty());
        assert_eq!(store.count(), 6);
        assert!(matches!(
            store.get(&id(5)),
            Err(CaptureStoreError::Corrupt(_))
        ));
    }

    #[test]
    fn a_record_without_its_image_is_not_found() {
        let dir = TempDir::new("captures-orphan");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        store.save(&id(1), b"jpeg", &record(&id(1), 1)).unwrap();
        store.save(&id(2), b"jpeg", &record(&id(2), 2)).unwrap();
        fs::remove_file(store.jpg_path(&id(1))).unwrap();
        assert!(matches!(
            store.get(&id(1)),
            Err(CaptureStoreError::NotFound)
        ));
        let listed: Vec<String> = store
            .list_recent(5)
            .into_iter()
            .map(|r| r.image_id)
            .collect();
        assert_eq!(listed, [id(2)]);
    }

    #[test]
    fn failed_save_leaves_nothing() {
        let dir = TempDir::new("captures-fail");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        // A directory where the record should go makes the second write fail.
        fs::create_dir(store.json_path(&id(1))).unwrap();
        fs::write(store.json_path(&id(1)).join("x"), b"x").unwrap();
        let err = store.save(&id(1), b"jpeg", &record(&id(1), 1)).unwrap_err();
        assert!(matches!(err, CaptureStoreError::Io(_)), "{err:?}");
        assert_eq!(dir.names(), [format!("{}.json", id(1))]);

        let gone = CaptureStore::open(dir.0.join("vanishing")).unwrap();
        fs::remove_dir(gone.dir()).unwrap();
        let err = gone.save(&id(2), b"jpeg", &record(&id(2), 1)).unwrap_err();
        assert!(matches!(err, CaptureStoreError::Io(_)), "{err:?}");
        assert!(gone.list_recent(5).is_empty());
        assert_eq!(gone.count(), 0);
    }

    #[test]
    fn open_removes_stale_temps_only() {
        let dir = TempDir::new("captures-stale");
        fs::write(dir.0.join(format!(".{}.jpg.123.0.tmp", id(1))), b"half").unwrap();
        fs::write(dir.0.join("keep.txt"), b"x").unwrap();
        CaptureStore::open(dir.0.clone()).unwrap();
        assert_eq!(dir.names(), ["keep.txt"]);
    }

    #[test]
    fn uploaded_records_are_listed_without_their_image() {
        let dir = TempDir::new("captures-uploaded");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        store.save(&id(1), b"jpeg", &record(&id(1), 1)).unwrap();
        let mut uploaded = record(&id(1), 1);
        uploaded.status = CaptureStatus::Uploaded;
        uploaded.image_url = Some("http://s3.test/k.jpg".into());
        store.update_record(&uploaded).unwrap();
        store.remove_image(&id(1)).unwrap();
        store.remove_image(&id(1)).unwrap();
        assert!(!store.has_image(&id(1)));
        assert_eq!(store.list_recent(5), [uploaded.clone()]);
        assert!(matches!(
            store.get(&id(1)),
            Err(CaptureStoreError::NotFound)
        ));
        assert_eq!(store.read_record(&id(1)).unwrap(), uploaded);
        assert!(matches!(
            store.read_image(&id(1)),
            Err(CaptureStoreError::NotFound)
        ));
    }

    #[test]
    fn entries_move_aside_and_are_removed() {
        let dir = TempDir::new("captures-aside");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        for n in 1..=3 {
            store.save(&id(n), b"jpeg", &record(&id(n), 1)).unwrap();
        }
        let dead = store.move_aside(&id(1), "dead").unwrap();
        assert_eq!(dead, dir.0.join("dead"));
        assert!(dead.join(format!("{}.jpg", id(1))).is_file());
        assert!(dead.join(format!("{}.json", id(1))).is_file());
        assert_eq!(store.count_in("dead"), 1);
        assert_eq!(store.count_in("nowhere"), 0);
        store.remove(&id(2)).unwrap();
        store.remove(&id(2)).unwrap();
        // Only the record is left of the third: moving it aside still works.
        fs::remove_file(store.jpg_path(&id(3))).unwrap();
        store.move_aside(&id(3), "corrupt").unwrap();
        assert_eq!(dir.names(), ["corrupt", "dead"]);
        assert!(matches!(
            store.move_aside("../x", "dead"),
            Err(CaptureStoreError::InvalidId)
        ));
    }

    #[test]
    fn open_settles_images_a_crash_left_without_their_record() {
        let dir = TempDir::new("captures-orphans");
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        store.save(&id(1), b"one", &record(&id(1), 1)).unwrap();
        store.save(&id(2), b"two", &record(&id(2), 2)).unwrap();
        // A move aside cut between the record and the JPEG...
        fs::create_dir(dir.0.join("dead")).unwrap();
        fs::rename(
            store.json_path(&id(1)),
            dir.0.join("dead").join(format!("{}.json", id(1))),
        )
        .unwrap();
        // ...and a save cut between the JPEG and the record.
        fs::write(store.jpg_path(&id(3)), b"half").unwrap();
        let store = CaptureStore::open(dir.0.clone()).unwrap();
        assert_eq!(
            fs::read(dir.0.join("dead").join(format!("{}.jpg", id(1)))).unwrap(),
            b"one"
        );
        assert!(!store.has_image(&id(3)));
        assert!(store.has_image(&id(2)));
        assert_eq!(store.record_ids(), [id(2)]);
    }

    #[test]
    fn disk_full_is_told_apart() {
        for code in [libc::ENOSPC, libc::EDQUOT] {
            let e = io::Error::from_raw_os_error(code);
            assert!(matches!(
                CaptureStoreError::from_write(e),
                CaptureStoreError::DiskFull
            ));
        }
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert!(matches!(
            CaptureStoreError::from(e),
            CaptureStoreError::Io(_)
        ));
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert!(matches!(
            CaptureStoreError::from(e),
            CaptureStoreError::NotFound
        ));
    }

    #[test]
    fn status_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&CaptureStatus::Uploaded).unwrap(),
            r#""uploaded""#
        );
        assert_eq!(
            serde_json::from_str::<CaptureStatus>(r#""queued""#).unwrap(),
            CaptureStatus::Queued
        );
        assert!(serde_json::from_str::<CaptureStatus>(r#""Queued""#).is_err());
    }
}
