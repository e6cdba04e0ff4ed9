//! The upload queue's cost and speed.
//!
//!     cargo bench --bench uploads [-- --captures 100 --warmup 5 --drain 300]
//!
//! 1. Queue cost on `POST /captures` at 1920x1080: the release daemon with captures kept
//!    locally, then with the S3 sink and its server away (every capture is queued, none is
//!    attempted while the sink backs off, `UPLOAD_WAIT_MS=0`), sequential requests on one
//!    keep-alive connection. The difference of the p50s is what the queue adds. Also timed
//!    in this process: the durable save of a queued capture (JPEG + record, each fsynced with
//!    its directory) plus queueing it, which is everything the queue needs before the 201.
//!    Target: ≤ 5 ms added at p50, fsync included.
//! 2. Drain rate: `--drain` 1080p captures saved in a capture store, then the queue started
//!    against a local s3s-fs (SigV4 checked) and timed until empty; once with the synthetic
//!    test pattern (small JPEGs) and once with sensor-like noise (camera-sized JPEGs).
//!    Target: ≥ 50 captures/s.
//!
//! Exits non-zero only when something breaks, not on a missed target.

mod common;
#[path = "../tests/s3_server/mod.rs"]
mod s3_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Daemon, HttpConn, Summary};
use picamd::internal::camera::Painter;
use picamd::internal::config::{AddressingStyle, RetrySchedule, S3Settings};
use picamd::internal::encode::jpeg::{self, Exif, JpegOptions};
use picamd::internal::media::Frame;
use picamd::internal::stills::{
    CaptureRecord, CaptureStatus, CaptureStore, ImageMetadata, ImageProperties, UploadState,
};
use picamd::internal::upload::{object_key, Limits, S3Sink, Sink, UploadSettings, Uploads};
use s3_server::S3Server;
use serde_json::{json, Map, Value};

const TARGET_ADDED_P50_MS: f64 = 5.0;
const TARGET_DRAIN_PER_S: f64 = 50.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `POST /captures` latencies of a daemon started with `env`, after a warm-up.
fn post_captures(tag: &str, env: &[(&str, &str)], n: usize, warmup: usize) -> (Summary, Value) {
    let d = Daemon::start(tag, &["--resolution", "1920x1080"], env);
    let key = d.local_key();
    let headers = [
        ("X-API-Key", key.as_str()),
        ("Content-Type", "application/json"),
    ];
    let mut conn = HttpConn::connect(d.addr(), Duration::from_secs(30)).expect("connect");
    let mut times = Vec::with_capacity(n);
    let mut last = Value::Null;
    for i in 0..warmup + n {
        let t = Instant::now();
        let a = conn
            .request("POST", "/captures", &headers, br#"{"product_id": 42}"#)
            .expect("POST /captures");
        let elapsed = ms(t.elapsed());
        assert_eq!(
            a.status,
            201,
            "{}",
            String::from_utf8_lossy(&conn.buf[a.body])
        );
        if i >= warmup {
            times.push(elapsed);
        }
        last = serde_json::from_slice(&conn.buf[a.body.clone()]).unwrap_or_default();
    }
    let status = last["status"].clone();
    (Summary::of_ms(&mut times), status)
}

fn frame(width: u32, height: u32, noise: bool, seed: u64) -> Frame {
    let now = picamd::internal::clock::unix_us();
    let mut data = Painter::new(width, height).paint(seed, now);
    if noise {
        // Sensor-like grain: JPEGs the size a camera's are, rather than a flat pattern's.
        let mut rng = common::Rng::new(seed + 1);
        for px in data.iter_mut() {
            let n = (rng.next_u64() % 48) as i16 - 24;
            *px = (i16::from(*px) + n).clamp(0, 255) as u8;
        }
    }
    Frame {
        width,
        height,
        data: Arc::from(data),
        pts: 0,
        capture_unix_us: now,
        sequence: seed,
    }
}

fn still(frame: &Frame) -> Vec<u8> {
    jpeg::encode_i420(
        frame,
        &JpegOptions {
            quality: picamd::internal::stills::STILL_QUALITY,
            max_width: None,
            max_height: None,
            exif: Some(Exif {
                make: "Raspberry Pi".into(),
                software: "picamd bench".into(),
                datetime_unix_us: picamd::internal::clock::unix_us(),
                exposure_time_us: Some(10_000),
            }),
        },
    )
    .expect("JPEG encode")
}

fn record(
    image_id: &str,
    created: u64,
    jpeg: &[u8],
    queued_for: Option<&dyn Sink>,
) -> CaptureRecord {
    let mut upload_metadata = Map::new();
    upload_metadata.insert("product_id".into(), json!(42));
    CaptureRecord {
        seq: None,
        upload: queued_for.map(|sink| UploadState {
            sink: sink.name().into(),
            destination: object_key(image_id, &upload_metadata),
            attempts: 0,
            next_attempt_unix_us: 0,
            last_error: None,
        }),
        image_id: image_id.into(),
        created_unix_us: created,
        status: CaptureStatus::Queued,
        metadata: ImageMetadata {
            camera_properties: Default::default(),
            capture_metadata: Default::default(),
            image_properties: ImageProperties {
                width: 1920,
                height: 1080,
                capture_time_unix_us: created,
            },
        },
        upload_metadata,
        image_url: None,
        bytes: jpeg.len() as u64,
    }
}

fn s3_sink(s3: &S3Server, bucket: &str) -> S3Sink {
    S3Sink::new(S3Settings {
        endpoint_url: s3.endpoint(),
        bucket: bucket.into(),
        access_key_id: s3_server::ACCESS_KEY.into(),
        secret_access_key: s3_server::SECRET_KEY.into(),
        region: "us-east-1".into(),
        public_url_template: "{endpoint}/{bucket}/{key}".into(),
        addressing: AddressingStyle::Path,
    })
    .expect("S3 sink")
}

fn settings() -> UploadSettings {
    UploadSettings {
        schedule: RetrySchedule::default(),
        limits: Limits {
            max_entries: u64::MAX,
            max_bytes: 8 << 30,
        },
        dead_max_entries: 500,
        wait: Duration::ZERO,
    }
}

fn temp_store(tag: &str) -> (std::path::PathBuf, Arc<CaptureStore>) {
    let dir =
        std::env::temp_dir().join(format!("picamd-bench-uploads-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(CaptureStore::open(dir.join("captures")).expect("capture store"));
    (dir, store)
}

/// The durable save of a queued capture plus queueing it, in this process, on the temp
/// directory's file system; the S3 server is away, so nothing is uploaded meanwhile.
fn save_and_enqueue(jpeg: &[u8], runs: usize) -> Summary {
    let down = S3Server::stopped();
    let sink: Arc<dyn Sink> = Arc::new(s3_sink(&down, "away"));
    let (dir, store) = temp_store("save");
    let uploads =
        Uploads::start(Arc::clone(&store), Some(Arc::clone(&sink)), settings()).expect("queue");
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let id = picamd::internal::random::hex_id();
        let rec = record(&id, i as u64, jpeg, Some(sink.as_ref()));
        let t = Instant::now();
        let room = uploads.reserve(rec.bytes).expect("room");
        store.save(&id, jpeg, &rec).expect("save");
        uploads.enqueue(&rec, Some(room));
        times.push(ms(t.elapsed()));
    }
    drop(uploads);
    let _ = std::fs::remove_dir_all(dir);
    Summary::of_ms(&mut times)
}

/// Saves `n` captures of `jpeg`, starts the queue against s3s-fs and times it until empty.
fn drain(s3: &S3Server, bucket: &str, jpeg: &[u8], n: usize) -> (Duration, usize) {
    let sink: Arc<dyn Sink> = Arc::new(s3_sink(s3, bucket));
    let (dir, store) = temp_store(bucket);
    for i in 0..n {
        let id = picamd::internal::random::hex_id();
        store
            .save(&id, jpeg, &record(&id, i as u64, jpeg, Some(sink.as_ref())))
            .expect("save");
    }
    let t = Instant::now();
    let uploads = Uploads::start(Arc::clone(&store), Some(sink), settings()).expect("queue");
    let deadline = t + Duration::from_secs(600);
    loop {
        let status = uploads.status();
        if status.queue_depth == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drain did not finish: {status:?}"
        );
        assert!(status.last_error.is_none(), "{:?}", status.last_error);
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = t.elapsed();
    drop(uploads);
    let _ = std::fs::remove_dir_all(dir);
    (elapsed, s3.objects(bucket).len())
}

fn main() {
    let n: usize = common::arg("--captures", 100);
    let warmup: usize = common::arg("--warmup", 5);
    let drain_n: usize = common::arg("--drain", 300);
    let (load, cpus) = common::machine_load();
    println!("uploads bench: load {load:.2} on {cpus} CPUs");

    println!("\n1. Queue cost on POST /captures, 1920x1080, {n} sequential requests");
    let (local, local_status) = post_captures("local", &[("IMAGE_SINK", "local")], n, warmup);
    let away = S3Server::stopped();
    let endpoint = away.endpoint();
    let s3_env = [
        ("S3_ENDPOINT_URL", endpoint.as_str()),
        ("S3_BUCKET", "away"),
        ("S3_ACCESS_KEY_ID", s3_server::ACCESS_KEY),
        ("S3_SECRET_ACCESS_KEY", s3_server::SECRET_KEY),
        ("UPLOAD_WAIT_MS", "0"),
    ];
    let (queued, queued_status) = post_captures("queued", &s3_env, n, warmup);
    assert_eq!(local_status, "queued");
    assert_eq!(queued_status, "queued");
    let painter_jpeg = still(&frame(1920, 1080, false, 1));
    let noisy_jpeg = still(&frame(1920, 1080, true, 2));
    let in_process = save_and_enqueue(&painter_jpeg, 50);
    println!("{}", Summary::header());
    println!("{}", local.row("POST /captures, captures kept locally"));
    println!("{}", queued.row("POST /captures, queued for S3"));
    println!("{}", in_process.row("save (4 fsyncs) + queue, in process"));
    let added = queued.p50 - local.p50;
    let pass_cost = added <= TARGET_ADDED_P50_MS && in_process.p50 <= TARGET_ADDED_P50_MS;
    println!(
        "queue adds {added:.2} ms at p50 (in process: {:.2} ms for the whole durable save and queueing); target ≤ {TARGET_ADDED_P50_MS} ms: {}",
        in_process.p50,
        if pass_cost { "met" } else { "NOT met" }
    );

    println!("\n2. Drain rate to s3s-fs on loopback, {drain_n} captures at 1920x1080");
    let s3 = S3Server::start();
    let mut drains = Vec::new();
    for (name, bucket, jpeg) in [
        ("test pattern", "pattern", &painter_jpeg),
        ("sensor-like noise", "noise", &noisy_jpeg),
    ] {
        let (elapsed, stored) = drain(&s3, bucket, jpeg, drain_n);
        assert_eq!(stored, drain_n, "every capture reached the bucket");
        let rate = drain_n as f64 / elapsed.as_secs_f64();
        let mb_s = rate * jpeg.len() as f64 / 1e6;
        println!(
            "{name:<18} JPEG {:>7} bytes: {drain_n} in {:.2} s = {rate:.0} captures/s ({mb_s:.1} MB/s); target ≥ {TARGET_DRAIN_PER_S}: {}",
            jpeg.len(),
            elapsed.as_secs_f64(),
            if rate >= TARGET_DRAIN_PER_S { "met" } else { "NOT met" }
        );
        drains.push(json!({
            "image": name,
            "jpeg_bytes": jpeg.len(),
            "captures": drain_n,
            "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "per_s": rate.round(),
        }));
    }
    println!(
        "{}",
        json!({
            "bench": "uploads",
            "machine_load": load,
            "post_captures_local": local.json(),
            "post_captures_queued": queued.json(),
            "save_and_enqueue_in_process": in_process.json(),
            "queue_added_p50_ms": (added * 1000.0).round() / 1000.0,
            "drain": drains,
        })
    );
}
