//! Uploads to a real S3 server (s3s-fs, which verifies SigV4): captures arrive under the
//! right key with the right bytes, in path and virtual-host style; nothing is lost or
//! duplicated when the server goes away, when picamd is killed mid-burst, when the queue is
//! full (the next capture is refused) or the disk fills up; corrupt entries are set aside;
//! wrong credentials are named in the log and the telemetry, retried, and drained once fixed.

mod common;
mod s3_server;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{wait_until, Picamd};
use s3_server::S3Server;
use serde_json::Value;

const LOG: (&str, &str) = ("RUST_LOG", "warn,picamd::upload=info");

fn start(s3: &[(String, String)], extra_env: &[(&str, &str)], flags: &[&str]) -> Picamd {
    start_prepared(s3, extra_env, flags, |_| {})
}

fn start_prepared(
    s3: &[(String, String)],
    extra_env: &[(&str, &str)],
    flags: &[&str],
    prepare: impl FnOnce(&std::path::Path),
) -> Picamd {
    let mut env: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(LOG);
    // Bursts of 100 captures from one client: beyond the default action limit (20 per 300 s).
    env.push(("RATE_LIMIT_CAPTURES", "0"));
    env.extend_from_slice(extra_env);
    Picamd::start_with(flags, &env, prepare)
}

fn capture(p: &Picamd, body: &str) -> (u16, Value) {
    let key = p.local_key();
    let r = p.request("POST", "/captures", &[("X-API-Key", &key)], body.as_bytes());
    let json = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, json)
}

/// A capture that must be answered 201 with `status`; its id.
fn capture_expecting(p: &Picamd, body: &str, status: &str) -> String {
    let (code, json) = capture(p, body);
    assert_eq!(code, 201, "{json}");
    assert_eq!(json["status"], status, "{json}");
    json["image_id"].as_str().unwrap().to_string()
}

fn telemetry_uploads(p: &Picamd) -> Value {
    let key = p.local_key();
    let r = p.request("GET", "/system/telemetry", &[("X-API-Key", &key)], b"");
    assert_eq!(r.status, 200);
    r.json()["uploads"].clone()
}

/// The capture id of an object key `rpi-cam/<folder>/<id>.jpg`.
fn id_of(key: &str) -> String {
    key.rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".jpg")
        .to_string()
}

fn ids(objects: &[(String, Vec<u8>)]) -> BTreeSet<String> {
    objects.iter().map(|(k, _)| id_of(k)).collect()
}

fn assert_jpeg(bytes: &[u8], width: u16, height: u16) {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().expect("a JPEG");
    let info = decoder.info().unwrap();
    assert_eq!((info.width, info.height), (width, height));
}

#[test]
fn captures_arrive_in_the_bucket_with_their_key_and_bytes() {
    let s3 = S3Server::start();
    let p = start(&s3.env("captures"), &[], &["--resolution", "1920x1080"]);
    let endpoint = s3.endpoint();

    let (code, json) = capture(&p, r#"{"product_id": 42, "description": "a chair"}"#);
    assert_eq!(code, 201, "{json}");
    assert_eq!(json["status"], "uploaded", "{json}");
    let first = json["image_id"].as_str().unwrap().to_string();
    let url = format!("{endpoint}/captures/rpi-cam/42/{first}.jpg");
    assert_eq!(json["image_url"], url.as_str());
    assert_eq!(json["metadata"]["image_properties"]["width"], 1920);
    let odd = capture_expecting(&p, r#"{"product_id": "../x y"}"#, "uploaded");
    let unsorted = capture_expecting(&p, "", "uploaded");

    let objects = s3.objects("captures");
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected = vec![
        format!("rpi-cam/42/{first}.jpg"),
        format!("rpi-cam/x-y/{odd}.jpg"),
        format!("rpi-cam/unsorted/{unsorted}.jpg"),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    // The listing knows each capture's size and URL; the bucket holds exactly those bytes.
    let key = p.local_key();
    let list = p
        .request("GET", "/captures?limit=10", &[("X-API-Key", &key)], b"")
        .json();
    let listed = list["captures"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for entry in listed {
        assert_eq!(entry["status"], "uploaded", "{entry}");
        let id = entry["image_id"].as_str().unwrap();
        let (object_key, bytes) = objects.iter().find(|(k, _)| id_of(k) == id).unwrap();
        assert_eq!(
            entry["image_url"],
            format!("{endpoint}/captures/{object_key}").as_str()
        );
        assert_eq!(entry["bytes"], bytes.len());
        assert_jpeg(bytes, 1920, 1080);
    }

    // Read back through the S3 API, signed: the object is a JPEG, as labelled.
    let bucket = rusty_s3::Bucket::new(
        endpoint.parse().unwrap(),
        rusty_s3::UrlStyle::Path,
        "captures",
        "us-east-1",
    )
    .unwrap();
    let creds = rusty_s3::Credentials::new(s3_server::ACCESS_KEY, s3_server::SECRET_KEY);
    let signed = rusty_s3::S3Action::sign(
        &bucket.get_object(Some(&creds), &format!("rpi-cam/42/{first}.jpg")),
        Duration::from_secs(60),
    );
    let mut got = ureq::get(signed.as_str()).call().expect("signed GET");
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    let body = got.body_mut().read_to_vec().unwrap();
    assert_eq!(
        &body,
        &objects.iter().find(|(k, _)| id_of(k) == first).unwrap().1
    );

    // No local copy is kept once uploaded: the capture's route points to the bucket.
    let served = p.request(
        "GET",
        &format!("/captures/{first}"),
        &[("X-API-Key", &key)],
        b"",
    );
    assert_eq!(served.status, 303);
    assert_eq!(served.header("location"), Some(url.as_str()));
    let left: Vec<String> = std::fs::read_dir(p.data_dir.join("images/captures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    assert_eq!(p.metric("picamd_upload_uploaded_total"), 3.0);
    assert_eq!(p.metric("picamd_upload_queue_depth"), 0.0);
    assert_eq!(p.metric("picamd_upload_failures_total"), 0.0);
    let t = telemetry_uploads(&p);
    assert_eq!(t["sink"], "s3");
    assert_eq!(t["uploaded"], 3);
    assert_eq!(t["last_error"], Value::Null);
    assert!(
        p.log().contains("S3 bucket 'captures' created"),
        "{}",
        p.log()
    );
}

#[test]
fn virtual_host_addressing_reaches_the_bucket() {
    let s3 = S3Server::start_virtual_host();
    let p = start(&s3.env("vhost"), &[], &[]);
    let id = capture_expecting(&p, r#"{"product_id": 7}"#, "uploaded");
    let objects = s3.objects("vhost");
    assert_eq!(objects.len(), 1, "{:?}", ids(&objects));
    assert_eq!(objects[0].0, format!("rpi-cam/7/{id}.jpg"));
    assert_jpeg(&objects[0].1, 1280, 720);
}

#[test]
fn a_server_down_for_a_while_then_back_gets_everything() {
    let mut s3 = S3Server::stopped();
    let p = start(&s3.env("later"), &[("UPLOAD_RETRY_SCHEDULE_S", "1,2")], &[]);
    let answered: BTreeSet<String> = (0..5)
        .map(|n| capture_expecting(&p, &format!(r#"{{"product_id": {}}}"#, n + 1), "queued"))
        .collect();
    let t = telemetry_uploads(&p);
    assert_eq!(t["queue_depth"], 5, "{t}");
    assert_eq!(t["sink_down"], true, "{t}");
    let error = t["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("S3 upload failed for key 'rpi-cam/1/"),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");

    // Down for a while: it keeps trying, without using up any capture's attempts.
    std::thread::sleep(Duration::from_secs(4));
    assert!(p.metric("picamd_upload_failures_total") >= 3.0);
    assert_eq!(p.metric("picamd_upload_dead_total"), 0.0);

    s3.resume();
    let objects = s3.wait_for_objects("later", 5, Duration::from_secs(20));
    assert_eq!(ids(&objects), answered);
    p.wait_for_log("uploads to s3 work again", Duration::from_secs(5))
        .unwrap_or_else(|log| panic!("no recovery line:\n{log}"));
    wait_until("an empty queue", Duration::from_secs(5), || {
        telemetry_uploads(&p)["queue_depth"] == 0
    });
    assert_eq!(telemetry_uploads(&p)["sink_down"], false);
}

#[test]
fn kill_9_during_a_burst_loses_and_duplicates_nothing() {
    // The server is away while the burst starts, so that a queue builds up; it comes back
    // and picamd is killed while it drains that queue and still takes captures.
    let mut s3 = S3Server::stopped();
    let mut p = start(
        &s3.env("burst"),
        &[("UPLOAD_WAIT_MS", "0"), ("UPLOAD_RETRY_SCHEDULE_S", "1")],
        &[],
    );
    let (port, key) = (p.port, p.local_key());
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(AtomicBool::new(false));
    let burst = {
        let answered = Arc::clone(&answered);
        let refused = Arc::clone(&refused);
        std::thread::spawn(move || {
            for n in 0..100 {
                let body = format!(r#"{{"product_id": {}}}"#, n % 3 + 1);
                let headers = [("X-API-Key", key.as_str())];
                match common::request(port, "POST", "/captures", &headers, body.as_bytes()) {
                    Ok(r) if r.status == 201 => {
                        let id = r.json()["image_id"].as_str().unwrap().to_string();
                        answered.lock().unwrap().push(id);
                    }
                    // Killed mid-request, or not serving yet: no answer, no promise.
                    _ => {
                        refused.store(true, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        })
    };
    wait_until("40 answered captures", Duration::from_secs(60), || {
        answered.lock().unwrap().len() >= 40
    });
    s3.resume();
    // Kill as soon as the drain has begun (it runs at well over 100 captures/s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while s3.objects("burst").is_empty() {
        assert!(Instant::now() < deadline, "the drain did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    let depth_at_kill = telemetry_uploads(&p)["queue_depth"].as_u64().unwrap();
    p.restart();
    burst.join().unwrap();
    let answered: BTreeSet<String> = answered.lock().unwrap().iter().cloned().collect();
    assert!(
        depth_at_kill > 0,
        "the kill came after the queue had drained"
    );
    assert!(answered.len() >= 50, "{} answered", answered.len());

    s3.wait_for_objects("burst", answered.len(), Duration::from_secs(60));
    wait_until("an empty queue", Duration::from_secs(30), || {
        telemetry_uploads(&p)["queue_depth"] == 0
    });
    let objects = s3.objects("burst");
    let stored = ids(&objects);
    assert_eq!(stored.len(), objects.len(), "one object per capture");
    let missing: Vec<&String> = answered.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "answered but not delivered: {missing:?}"
    );
    // At most the capture in flight at the kill was saved without being answered.
    let unanswered: Vec<&String> = stored.difference(&answered).collect();
    assert!(unanswered.len() <= 1, "{unanswered:?}");
    for (key, bytes) in &objects {
        assert!(
            bytes.starts_with(&[0xff, 0xd8]) && bytes.ends_with(&[0xff, 0xd9]),
            "{key} is not a whole JPEG"
        );
    }
    eprintln!(
        "burst: {} answered, {} delivered, {depth_at_kill} queued at the kill, refused during the restart: {}",
        answered.len(),
        stored.len(),
        refused.load(Ordering::Relaxed)
    );
}

/// With the sink down the queue fills; the capture beyond its limit is refused with 507 and
/// nothing already answered 201 is dropped: every one arrives once the sink is back.
#[test]
fn a_full_queue_refuses_the_next_capture_and_delivers_every_answered_one() {
    let mut s3 = S3Server::stopped();
    let p = start(
        &s3.env("full"),
        &[
            ("UPLOAD_QUEUE_MAX_PENDING_ENTRIES", "3"),
            ("UPLOAD_WAIT_MS", "0"),
            ("UPLOAD_RETRY_SCHEDULE_S", "1"),
        ],
        &["--resolution", "640x360"],
    );
    let answered: BTreeSet<String> = (0..3)
        .map(|_| capture_expecting(&p, r#"{"product_id": 1}"#, "queued"))
        .collect();
    let (code, json) = capture(&p, r#"{"product_id": 1}"#);
    assert_eq!(code, 507, "{json}");
    assert_eq!(json["detail"], "Upload queue is full: 3 pending entries");
    let t = telemetry_uploads(&p);
    assert_eq!(
        (t["refused"].as_u64(), t["queue_depth"].as_u64()),
        (Some(1), Some(3)),
        "{t}"
    );
    assert_eq!(p.metric("picamd_upload_refused_total"), 1.0);
    assert!(
        p.log().contains("capture refused: Upload queue is full"),
        "{}",
        p.log()
    );

    s3.resume();
    let objects = s3.wait_for_objects("full", answered.len(), Duration::from_secs(30));
    assert_eq!(
        ids(&objects),
        answered,
        "every 201 capture arrives, none twice"
    );
    wait_until("the queue to drain", Duration::from_secs(10), || {
        telemetry_uploads(&p)["queue_depth"] == 0
    });
    assert_eq!(capture(&p, r#"{"product_id": 1}"#).0, 201, "room again");
    // The body is bounded as the plugin bounds it.
    let (code, json) = capture(&p, &format!(r#"{{"description": "{}"}}"#, "x".repeat(1025)));
    assert_eq!(code, 422, "{json}");
    assert_eq!(
        json["detail"][0]["msg"],
        "Value error, upload_metadata strings may be at most 1024 characters"
    );
}

/// A small tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "the full-disk test mounts a small tmpfs and needs root (the build machines and CI run as root)"
        );
        let dir = std::env::temp_dir().join(format!("picamd-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "cannot mount a tmpfs on {}",
            dir.display()
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_answers_507_and_keeps_what_is_queued() {
    let disk = Tmpfs::mount("1m");
    let mut s3 = S3Server::stopped();
    let images = disk.0.to_string_lossy().into_owned();
    let p = start(
        &s3.env("full"),
        &[
            ("IMAGE_PATH", &images),
            ("UPLOAD_WAIT_MS", "0"),
            ("UPLOAD_RETRY_SCHEDULE_S", "1"),
        ],
        &[],
    );
    let mut answered = BTreeSet::new();
    let detail = loop {
        assert!(answered.len() < 100, "the disk never filled up");
        let (code, json) = capture(&p, "{}");
        match code {
            201 => {
                answered.insert(json["image_id"].as_str().unwrap().to_string());
            }
            507 => break json["detail"].as_str().unwrap().to_string(),
            other => panic!("unexpected {other}: {json}"),
        }
    };
    assert!(answered.len() >= 3, "{} captures fitted", answered.len());
    assert_eq!(
        detail,
        "Not enough storage space for the capture: free space in the image directory"
    );
    assert_eq!(telemetry_uploads(&p)["queue_depth"], answered.len());

    s3.resume();
    let objects = s3.wait_for_objects("full", answered.len(), Duration::from_secs(30));
    assert_eq!(ids(&objects), answered, "everything queued arrives");
    // Uploaded captures leave the disk, so there is room again.
    wait_until("an empty queue", Duration::from_secs(10), || {
        telemetry_uploads(&p)["queue_depth"] == 0
    });
    capture_expecting(&p, "{}", "queued");
}

#[test]
fn a_corrupt_entry_is_moved_aside_and_the_rest_go_on() {
    let mut s3 = S3Server::stopped();
    let mut p = start(
        &s3.env("corrupt"),
        &[("UPLOAD_WAIT_MS", "0"), ("UPLOAD_RETRY_SCHEDULE_S", "1")],
        &[],
    );
    let ids_answered: Vec<String> = (0..3)
        .map(|_| capture_expecting(&p, "{}", "queued"))
        .collect();
    let captures = p.data_dir.join("images/captures");
    std::fs::write(
        captures.join(format!("{}.json", ids_answered[1])),
        b"{\"image_id\": 12",
    )
    .unwrap();

    s3.resume();
    let objects = s3.wait_for_objects("corrupt", 2, Duration::from_secs(20));
    let expected: BTreeSet<String> = [ids_answered[0].clone(), ids_answered[2].clone()].into();
    assert_eq!(ids(&objects), expected);
    let line = format!("capture {} cannot be uploaded", ids_answered[1]);
    p.wait_for_log(&line, Duration::from_secs(5))
        .unwrap_or_else(|log| panic!("no line about the corrupt entry:\n{log}"));
    assert!(captures
        .join(format!("corrupt/{}.json", ids_answered[1]))
        .is_file());
    assert!(captures
        .join(format!("corrupt/{}.jpg", ids_answered[1]))
        .is_file());
    assert_eq!(telemetry_uploads(&p)["corrupt"], 1);

    // One found at start-up goes the same way.
    let stray = "0123456789abcdef0123456789abcdef";
    std::fs::write(captures.join(format!("{stray}.json")), b"not json").unwrap();
    p.restart();
    p.wait_for_log(
        &format!("capture {stray} cannot be uploaded"),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|log| panic!("no line about the stray entry:\n{log}"));
    assert!(captures.join(format!("corrupt/{stray}.json")).is_file());
    assert_eq!(telemetry_uploads(&p)["corrupt"], 1);
    assert_eq!(p.metric("picamd_upload_corrupt_total"), 1.0);
}

#[test]
fn wrong_credentials_are_named_retried_and_drained_once_fixed() {
    let s3 = S3Server::start();
    let mut env = s3.env("creds");
    env.retain(|(k, _)| k != "S3_SECRET_ACCESS_KEY");
    env.push(("S3_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let mut p = start(&env, &[("UPLOAD_RETRY_SCHEDULE_S", "1")], &[]);
    let answered: BTreeSet<String> = (0..2)
        .map(|_| capture_expecting(&p, "{}", "queued"))
        .collect();

    p.wait_for_log("sink failure 3 in a row", Duration::from_secs(15))
        .unwrap_or_else(|log| panic!("it stopped retrying:\n{log}"));
    let log = p.log();
    let line = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("S3 upload failed for key"))
        .unwrap_or_else(|| panic!("no failure line:\n{log}"));
    assert!(line.contains("403 SignatureDoesNotMatch"), "{line}");
    let t = telemetry_uploads(&p);
    let error = t["last_error"].as_str().unwrap();
    assert!(error.contains("403 SignatureDoesNotMatch"), "{t}");
    assert!(
        line.contains(error),
        "the log and the telemetry say the same: {line} / {error}"
    );
    assert_eq!(t["sink_down"], true);
    assert!(s3.objects("creds").is_empty());

    p.set_env("S3_SECRET_ACCESS_KEY", s3_server::SECRET_KEY);
    p.restart();
    let objects = s3.wait_for_objects("creds", 2, Duration::from_secs(20));
    assert_eq!(ids(&objects), answered);
}
