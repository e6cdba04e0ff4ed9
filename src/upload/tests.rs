//! The queue over a real capture store, with a scripted sink: recovery after a restart,
//! delivery, both kinds of failure, giving up, the limits (refusing, never dropping), dead
//! letters pruned beyond theirs, corrupt entries, and the worker thread answering a waiting
//! request.

use std::collections::VecDeque;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::index::{Limits, Next, QueueFull};
use super::sink::{Delivered, Sink, SinkError, Upload};
use super::{worker, UploadSettings, Uploads, CORRUPT_FOLDER, DEAD_FOLDER};
use crate::config::retry::RetrySchedule;
use crate::stills::captures::{CaptureRecord, CaptureStatus, CaptureStore, UploadState};
use crate::stills::metadata::{ImageMetadata, ImageProperties};
use crate::testutil::TempDir;

/// Answers puts from a script (success when it runs out) and notes what it was given.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Result<(), SinkError>>>,
    puts: Mutex<Vec<(String, String, Vec<u8>)>>,
}

impl Scripted {
    fn with(script: Vec<Result<(), SinkError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            puts: Mutex::default(),
        })
    }

    fn puts(&self) -> Vec<(String, String, Vec<u8>)> {
        self.puts.lock().unwrap().clone()
    }
}

impl Sink for Scripted {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn destination(&self, image_id: &str, upload_metadata: &Map<String, Value>) -> String {
        super::s3::key::object_key(image_id, upload_metadata)
    }

    fn put(&self, upload: &Upload<'_>) -> Result<Delivered, SinkError> {
        self.puts.lock().unwrap().push((
            upload.image_id.to_owned(),
            upload.destination.to_owned(),
            upload.jpeg.to_vec(),
        ));
        self.script.lock().unwrap().pop_front().unwrap_or(Ok(()))?;
        Ok(Delivered {
            image_id: upload.image_id.to_owned(),
            image_url: Some(format!("http://s3.test/b/{}", upload.destination)),
        })
    }

    fn describe(&self) -> String {
        "a scripted sink".into()
    }
}

fn id(n: u8) -> String {
    format!("{n:02x}").repeat(16)
}

fn settings(max_bytes: u64) -> UploadSettings {
    UploadSettings {
        schedule: RetrySchedule::new(vec![30, 300]),
        limits: Limits {
            max_entries: 500,
            max_bytes,
        },
        dead_max_entries: 500,
        wait: Duration::from_secs(5),
    }
}

/// Saves capture `n` as `POST /captures` would, queued for upload or local only.
fn save(store: &CaptureStore, n: u8, queued: bool) -> CaptureRecord {
    let mut upload_metadata = Map::new();
    upload_metadata.insert("product_id".into(), json!(7));
    let image_id = id(n);
    let record = CaptureRecord {
        seq: None,
        upload: queued.then(|| UploadState {
            sink: "s3".into(),
            destination: format!("rpi-cam/7/{image_id}.jpg"),
            attempts: 0,
            next_attempt_unix_us: 0,
            last_error: None,
        }),
        image_id: image_id.clone(),
        created_unix_us: u64::from(n),
        status: CaptureStatus::Queued,
        metadata: ImageMetadata {
            camera_properties: Default::default(),
            capture_metadata: Default::default(),
            image_properties: ImageProperties {
                width: 2,
                height: 2,
                capture_time_unix_us: 0,
            },
        },
        upload_metadata,
        image_url: None,
        bytes: 100,
    };
    store.save(&image_id, &[n; 100], &record).unwrap();
    record
}

/// A store and a queue over it, without the worker thread (attempts are made by hand).
fn queue(dir: &TempDir, sink: Arc<Scripted>, max_bytes: u64) -> (Arc<CaptureStore>, Uploads) {
    let store = Arc::new(CaptureStore::open(dir.0.clone()).unwrap());
    let (wake, _) = crossbeam_channel::bounded(1);
    let settings = settings(max_bytes);
    let uploads = Uploads {
        dead_max_entries: 2,
        store: Arc::clone(&store),
        sink: Some(sink),
        index: Mutex::new(super::QueueIndex::new(
            settings.schedule,
            Limits {
                max_entries: 3,
                ..settings.limits
            },
        )),
        wake,
        waiters: Mutex::default(),
        uploaded: Mutex::default(),
        wait: Duration::ZERO,
        stats: Default::default(),
    };
    uploads.recover();
    (store, uploads)
}

/// Makes the attempt the queue says is due now.
fn attempt_next(q: &Uploads, sink: &Scripted) -> String {
    let next = q.index().next(crate::clock::mono_us());
    match next {
        Next::Upload(id) => {
            worker::attempt(q, sink, &id);
            id
        }
        other => panic!("nothing due: {other:?}"),
    }
}

#[test]
fn restart_finds_the_queue_and_sets_aside_what_it_cannot_read() {
    let dir = TempDir::new("uploads-recover");
    let store = CaptureStore::open(dir.0.clone()).unwrap();
    save(&store, 3, true);
    save(&store, 1, true);
    save(&store, 2, false);
    let gone = save(&store, 4, true);
    fs::remove_file(dir.0.join(format!("{}.jpg", gone.image_id))).unwrap();
    fs::write(dir.0.join(format!("{}.json", id(5))), b"{ not json").unwrap();
    fs::write(dir.0.join(format!("{}.jpg", id(5))), b"jpeg").unwrap();
    let mut uploaded = save(&store, 6, true);
    uploaded.status = CaptureStatus::Uploaded;
    store.update_record(&uploaded).unwrap();

    let sink = Scripted::with(vec![]);
    let (store, q) = queue(&dir, sink.clone(), 1 << 20);
    assert_eq!(q.index().len(), 2, "1 and 3 are queued; 2 is local only");
    assert_eq!(q.index().bytes(), 200);
    assert_eq!(q.status().corrupt, 2);
    let corrupt = dir.0.join(CORRUPT_FOLDER);
    let mut aside: Vec<String> = fs::read_dir(&corrupt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    aside.sort();
    assert_eq!(
        aside,
        [
            format!("{}.json", id(4)),
            format!("{}.jpg", id(5)),
            format!("{}.json", id(5))
        ]
    );
    assert!(
        !store.has_image(&id(6)),
        "an uploaded capture keeps no JPEG"
    );
    assert_eq!(
        store.read_record(&id(6)).unwrap().status,
        CaptureStatus::Uploaded
    );

    assert_eq!(attempt_next(&q, &sink), id(1), "oldest first");
    assert_eq!(attempt_next(&q, &sink), id(3));
    let puts = sink.puts();
    assert_eq!(puts[0].1, format!("rpi-cam/7/{}.jpg", id(1)));
    assert_eq!(puts[0].2, vec![1u8; 100]);
    for n in [1, 3] {
        let r = store.read_record(&id(n)).unwrap();
        assert_eq!(r.status, CaptureStatus::Uploaded);
        assert_eq!(
            r.image_url.as_deref(),
            Some(format!("http://s3.test/b/rpi-cam/7/{}.jpg", id(n)).as_str())
        );
        assert!(!store.has_image(&id(n)));
    }
    assert!(store.has_image(&id(2)), "local captures stay");
    assert_eq!(q.status().uploaded, 2);
    assert_eq!(q.index().next(crate::clock::mono_us()), Next::Idle);
}

#[test]
fn a_down_sink_charges_nothing_and_a_refusal_is_noted_then_given_up() {
    let dir = TempDir::new("uploads-fail");
    let sink = Scripted::with(vec![
        Err(SinkError::sink("S3 upload failed: connection refused")),
        Err(SinkError::capture(
            "S3 upload failed: answered 400 EntityTooLarge",
        )),
        Err(SinkError::capture("still too large")),
        Err(SinkError::capture("and again")),
    ]);
    let (store, q) = queue(&dir, sink.clone(), 1 << 20);
    save(&store, 1, true);
    q.recover();

    attempt_next(&q, &sink);
    let status = q.status();
    assert!(status.sink_down);
    assert_eq!(status.failures, 1);
    assert_eq!(
        status.last_error.as_deref(),
        Some("S3 upload failed: connection refused")
    );
    assert_eq!(
        store.read_record(&id(1)).unwrap().upload.unwrap().attempts,
        0
    );

    // Connectivity is back: the nudge makes the capture due at once.
    q.nudge();
    attempt_next(&q, &sink);
    let state = store.read_record(&id(1)).unwrap().upload.unwrap();
    assert_eq!(state.attempts, 1);
    assert_eq!(
        state.last_error.as_deref(),
        Some("S3 upload failed: answered 400 EntityTooLarge")
    );
    assert!(state.next_attempt_unix_us > crate::clock::unix_us() + 29_000_000);
    assert_eq!(
        q.status().retries,
        1,
        "the nudged attempt repeated a failed one"
    );

    // Restarting keeps the attempt count and the planned time.
    let (store, q) = queue(&dir, sink.clone(), 1 << 20);
    assert_eq!(q.index().get(&id(1)).unwrap().attempts, 1);
    assert!(matches!(
        q.index().next(crate::clock::mono_us()),
        Next::WaitUntil(_)
    ));
    for _ in 0..2 {
        let due = q.index().get(&id(1)).unwrap().next_attempt_us;
        let id1 = id(1);
        assert_eq!(q.index().next(due), Next::Upload(id1.clone()));
        worker::attempt(&q, sink.as_ref(), &id1);
    }
    assert!(!q.index().contains(&id(1)));
    assert_eq!(q.status().dead, 1);
    let dead = dir.0.join(DEAD_FOLDER);
    assert!(dead.join(format!("{}.jpg", id(1))).is_file());
    let record: CaptureRecord =
        serde_json::from_slice(&fs::read(dead.join(format!("{}.json", id(1)))).unwrap()).unwrap();
    let state = record.upload.unwrap();
    assert_eq!(
        (state.attempts, state.last_error.as_deref()),
        (3, Some("and again"))
    );
    assert!(store.record_ids().is_empty());
    assert_eq!(store.count_in(DEAD_FOLDER), 1);
}

#[test]
fn a_full_queue_refuses_new_captures_and_keeps_every_queued_one() {
    let dir = TempDir::new("uploads-full");
    let sink = Scripted::with(vec![]);
    let (store, q) = queue(&dir, sink.clone(), 250);
    for n in 1..=2 {
        let r = save(&store, n, true);
        let room = q.reserve(r.bytes).unwrap();
        q.enqueue(&r, Some(room));
    }
    assert_eq!(
        q.reserve(100).err(),
        Some(QueueFull::Bytes { would_hold: 300 })
    );
    {
        let _unused = q.reserve(50).unwrap();
        assert!(q.reserve(1).is_err(), "three entries at most, one promised");
    }
    let room = q
        .reserve(1)
        .expect("an unused reservation gives its room back");
    drop(room);
    assert_eq!(q.status().refused, 2);
    assert_eq!(q.index().len(), 2);
    for n in 1..=2 {
        assert!(store.has_image(&id(n)) && store.read_record(&id(n)).is_ok());
    }
    // Once the queue drains, captures fit again.
    attempt_next(&q, &sink);
    assert!(q.reserve(100).is_ok());
}

#[test]
fn dead_letters_beyond_their_limit_are_deleted_oldest_first() {
    let dir = TempDir::new("uploads-dead-prune");
    let store = CaptureStore::open(dir.0.clone()).unwrap();
    for n in [1, 2] {
        save(&store, n, true);
        store.move_aside(&id(n), DEAD_FOLDER).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    save(&store, 3, true);
    store.move_aside(&id(3), CORRUPT_FOLDER).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    save(&store, 4, true);
    // Three dead letters at start-up, two kept: the oldest goes.
    let sink = Scripted::with(vec![
        Err(SinkError::capture("refused")),
        Err(SinkError::capture("refused")),
        Err(SinkError::capture("refused")),
    ]);
    let (store, q) = queue(&dir, sink.clone(), 1 << 20);
    q.prune_dead_letters();
    let aside = |folder| {
        let mut ids: Vec<String> = store.ids_in(folder).into_iter().map(|(i, _)| i).collect();
        ids.sort();
        ids
    };
    assert_eq!(aside(DEAD_FOLDER), [id(2)]);
    assert_eq!(aside(CORRUPT_FOLDER), [id(3)]);
    assert_eq!(q.status().pruned, 1);
    // Capture 4 is given up after its three tries: it is the newest dead letter, 2 goes.
    for _ in 0..3 {
        q.index().nudge(u64::MAX);
        let next = q.index().next(u64::MAX);
        let Next::Upload(next) = next else {
            panic!("{next:?}")
        };
        worker::attempt(&q, &*sink, &next);
    }
    assert_eq!(aside(DEAD_FOLDER), [id(4)]);
    assert_eq!(aside(CORRUPT_FOLDER), [id(3)]);
    assert_eq!((q.status().pruned, q.status().dead_entries), (2, 1));
    assert!(!dir
        .0
        .join(DEAD_FOLDER)
        .join(format!("{}.jpg", id(2)))
        .exists());
}

#[test]
fn an_entry_spoilt_while_queued_is_set_aside_and_the_rest_go_on() {
    let dir = TempDir::new("uploads-spoilt");
    let sink = Scripted::with(vec![]);
    let (store, q) = queue(&dir, sink.clone(), 1 << 20);
    for n in 1..=3 {
        let r = save(&store, n, true);
        q.enqueue(&r, None);
    }
    fs::write(dir.0.join(format!("{}.json", id(1))), b"\0\0garbage").unwrap();
    fs::remove_file(dir.0.join(format!("{}.jpg", id(2)))).unwrap();
    attempt_next(&q, &sink);
    attempt_next(&q, &sink);
    attempt_next(&q, &sink);
    assert_eq!(sink.puts().len(), 1);
    assert_eq!(sink.puts()[0].0, id(3));
    assert_eq!(q.status().corrupt, 2);
    assert_eq!(store.count_in(CORRUPT_FOLDER), 2);
    assert!(q.index().is_empty());
}

#[test]
fn the_worker_answers_a_waiting_request() {
    let dir = TempDir::new("uploads-worker");
    let store = Arc::new(CaptureStore::open(dir.0.clone()).unwrap());
    let sink = Scripted::with(vec![]);
    let uploads =
        Uploads::start(Arc::clone(&store), Some(sink.clone()), settings(1 << 20)).unwrap();
    let mut upload_metadata = Map::new();
    upload_metadata.insert("product_id".into(), json!("a/b"));
    let state = uploads.new_state(&id(9), &upload_metadata, 0).unwrap();
    assert_eq!(state.destination, format!("rpi-cam/a-b/{}.jpg", id(9)));
    let mut record = save(&store, 9, true);
    record.upload = Some(state);
    store.update_record(&record).unwrap();
    let rx = uploads.enqueue(&record, None).unwrap();
    let delivered = uploads
        .await_delivery(&id(9), rx)
        .expect("delivered in time");
    assert_eq!(delivered.image_id, id(9));
    assert_eq!(
        delivered.image_url.as_deref(),
        Some(format!("http://s3.test/b/rpi-cam/a-b/{}.jpg", id(9)).as_str())
    );
    assert_eq!(uploads.status().uploaded, 1);
    assert!(uploads.status().last_success_us.is_some());
    // Dropping the queue ends the worker (which holds it only while it looks at it).
    let weak = Arc::downgrade(&uploads);
    drop(uploads);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while weak.strong_count() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker kept the queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn without_a_sink_captures_stay_local() {
    let dir = TempDir::new("uploads-local");
    let store = Arc::new(CaptureStore::open(dir.0.clone()).unwrap());
    let uploads = Uploads::start(Arc::clone(&store), None, settings(1 << 20)).unwrap();
    assert!(uploads.new_state(&id(1), &Map::new(), 0).is_none());
    let record = save(&store, 1, false);
    assert!(uploads.enqueue(&record, None).is_none());
    assert_eq!(uploads.status().sink, None);
    assert!(store.has_image(&id(1)));
}

/// The queue goes in the order captures were taken (their sequence numbers), not by their
/// wall-clock time: after the clock went back, the older capture still goes first. Records
/// from versions without sequence numbers go before all numbered ones.
#[test]
fn the_queue_goes_by_sequence_number_not_by_the_clock() {
    let dir = TempDir::new("uploads-order");
    let store = CaptureStore::open(dir.0.clone()).unwrap();
    let numbered = |n: u8, seq: u64, created_unix_us: u64| {
        let record = CaptureRecord {
            seq: Some(seq),
            created_unix_us,
            ..save(&store, n, true)
        };
        store.update_record(&record).unwrap();
    };
    // Taken in the order 3, 1, 2; the clock went back an hour before 1 was taken.
    numbered(3, 7, 7_200_000_000);
    numbered(1, 8, 3_600_000_000);
    numbered(2, 9, 3_700_000_000);
    save(&store, 4, true); // no sequence number: from an older version
    let sink = Scripted::with(vec![]);
    let (_, q) = queue(&dir, sink.clone(), 1 << 20);
    let order: Vec<String> = (0..4).map(|_| attempt_next(&q, &sink)).collect();
    assert_eq!(order, [id(4), id(3), id(1), id(2)]);
}
