//! The capture store's tests: saving, reading, listing, replacing and recovering on disk.

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
        seq: None,
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
        .unwrap()
        .iter()
        .map(|r| r.created_unix_us)
        .collect();
    assert_eq!(created, [400, 300, 200, 100]);
    let top: Vec<String> = store
        .list_recent(2)
        .unwrap()
        .into_iter()
        .map(|r| r.image_id)
        .collect();
    assert_eq!(top, [id(4), id(1)]);
    assert!(store.list_recent(0).unwrap().is_empty());
    assert_eq!(store.count(), 4, "the index knows what the store saved");
    let reopened = CaptureStore::open(dir.0.clone()).unwrap();
    assert_eq!(reopened.count(), 6, "and, after a restart, what is on disk");
    assert_eq!(reopened.list_recent(10).unwrap().len(), 4);
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
        .unwrap()
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
    assert!(gone.list_recent(5).unwrap().is_empty());
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
    assert_eq!(store.list_recent(5).unwrap(), [uploaded.clone()]);
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

#[test]
fn sequence_numbers_order_the_list_and_go_on_after_a_restart() {
    let dir = TempDir::new("captures-seq");
    let store = CaptureStore::open(dir.0.clone()).unwrap();
    // Two records from an older version, without a sequence number.
    for (n, created) in [(1, 5_000), (2, 4_000)] {
        store
            .save(&id(n), b"jpeg", &record(&id(n), created))
            .unwrap();
    }
    let save = |store: &CaptureStore, n: u8, created: u64| {
        let rec = CaptureRecord {
            seq: Some(store.next_seq()),
            ..record(&id(n), created)
        };
        store.save(&id(n), b"jpeg", &rec).unwrap();
    };
    save(&store, 3, 9_000);
    // The wall clock went back: the next capture's time is older than all others.
    save(&store, 4, 1_000);
    let ids = |store: &CaptureStore| -> Vec<String> {
        let listed = store.list_recent(10).unwrap();
        listed.into_iter().map(|r| r.image_id).collect()
    };
    assert_eq!(ids(&store), [id(4), id(3), id(1), id(2)]);

    let store = CaptureStore::open(dir.0.clone()).unwrap();
    assert_eq!(
        ids(&store),
        [id(4), id(3), id(1), id(2)],
        "the order is kept"
    );
    save(&store, 5, 2_000);
    assert_eq!(store.read_record(&id(5)).unwrap().seq, Some(3));
    assert_eq!(ids(&store)[0], id(5), "numbering goes on after a restart");
    store.move_aside(&id(4), "dead").unwrap();
    store.remove(&id(1)).unwrap();
    assert_eq!(ids(&store), [id(5), id(3), id(2)]);
}

#[test]
fn a_record_that_cannot_be_read_fails_the_list() {
    let dir = TempDir::new("captures-unreadable");
    let store = CaptureStore::open(dir.0.clone()).unwrap();
    for n in [1, 2] {
        store
            .save(&id(n), b"jpeg", &record(&id(n), u64::from(n)))
            .unwrap();
    }
    // A record that cannot be read (EISDIR stands in for EIO, EMFILE, EACCES).
    fs::remove_file(store.json_path(&id(2))).unwrap();
    fs::create_dir(store.json_path(&id(2))).unwrap();
    let err = store.list_recent(10).unwrap_err();
    assert!(matches!(err, CaptureStoreError::Io(_)), "{err:?}");
    let reopened = CaptureStore::open(dir.0.clone()).unwrap();
    assert!(
        reopened.list_recent(10).is_err(),
        "also when found at start-up"
    );
}

#[test]
fn running_out_of_descriptors_is_its_own_error() {
    for errno in [libc::EMFILE, libc::ENFILE] {
        let e = CaptureStoreError::from(io::Error::from_raw_os_error(errno));
        assert!(matches!(e, CaptureStoreError::OutOfDescriptors), "{errno}");
    }
    let eio = CaptureStoreError::from(io::Error::from_raw_os_error(libc::EIO));
    assert!(matches!(eio, CaptureStoreError::Io(_)));
}
