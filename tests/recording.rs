//! Recording to MP4 against the real daemon (synthetic camera, OpenH264) and real ffprobe and
//! ffmpeg: the seed pipeline's `/record/start|stop` with their exact JSON, files that decode
//! with no error from decode time 0 for the recorded span, rotation, retention by count and
//! quota, a file that survives `kill -9`, downloads with Range, path confinement, and a full
//! disk (a small tmpfs in a private mount namespace) that stops the recording with a reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Picamd;
use serde_json::{json, Value};

/// `(codec, start_time, duration)` from ffprobe.
fn probe(path: &Path) -> (String, f64, f64) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg("format=start_time,duration:stream=codec_name")
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe {}: {out:?}", path.display());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let num = |x: &Value| {
        x.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(-1.0)
    };
    (
        v["streams"][0]["codec_name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        num(&v["format"]["start_time"]),
        num(&v["format"]["duration"]),
    )
}

/// What `ffmpeg -v error` prints while decoding the whole file (nothing when it is clean).
fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        text.push_str(&format!("(exit {})", out.status));
    }
    text
}

fn assert_plays(path: &Path) -> f64 {
    let (codec, start, duration) = probe(path);
    assert_eq!(codec, "h264", "{}", path.display());
    assert!(start.abs() < 0.001, "{} starts at {start}", path.display());
    assert!(duration > 0.0, "{} lasts {duration}", path.display());
    let errors = decode_errors(path);
    assert!(errors.is_empty(), "{}: {errors}", path.display());
    duration
}

/// The recordings in `dir`, oldest first (names carry the UTC start).
fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "mp4"));
    files.sort();
    files
}

fn state(cam: &Picamd) -> Value {
    let resp = cam.authed("GET", "/recorder", "");
    assert_eq!(resp.status, 200);
    resp.json()
}

fn wait_state(cam: &Picamd, want: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let s = state(cam);
        if s["state"] == want {
            return s;
        }
        assert!(Instant::now() < deadline, "state never became {want}: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn seed_routes_record_a_clean_file_that_downloads_with_range_and_deletes() {
    let cam = Picamd::start_with(&["--resolution", "640x360"], &[], |_| {});
    let dir = cam.data_dir.join("recordings");

    // The seed's texts and statuses, exactly.
    let resp = cam.authed("POST", "/record/stop", "");
    assert_eq!(resp.status, 409);
    assert_eq!(resp.text(), r#"{"detail":"Recording not active."}"#);
    for outside in ["../x.mp4", "/tmp/x.mp4", "sub/x.mp4", "x.avi"] {
        let body = json!({ "path": outside }).to_string();
        let resp = cam.authed("POST", "/record/start", &body);
        assert_eq!(resp.status, 400, "{outside}");
        assert!(resp.json()["detail"]
            .as_str()
            .unwrap()
            .contains("RECORD_OUTPUT_DIR"));
    }
    assert!(recordings(&dir).is_empty());
    assert_eq!(cam.request("POST", "/record/start", &[], b"").status, 401);

    let started = Instant::now();
    let resp = cam.authed("POST", "/record/start", r#"{"fps":30,"codec":"mp4v"}"#);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    let path = body["path"].as_str().unwrap().to_string();
    assert_eq!(body, json!({"ok": true, "path": path, "recording": true}));
    let name = Path::new(&path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        Path::new(&path).parent().unwrap(),
        dir.canonicalize().unwrap()
    );
    // capture_<UTC %Y%m%dT%H%M%S>.mp4
    let stamp = name
        .strip_prefix("capture_")
        .unwrap()
        .strip_suffix(".mp4")
        .unwrap();
    assert!(stamp.len() == 15 && stamp.as_bytes()[8] == b'T', "{name}");
    let again = cam.authed("POST", "/record/start", "");
    assert_eq!(again.status, 400);
    assert_eq!(
        again.text(),
        r#"{"detail":"Recording already in progress."}"#
    );
    let s = state(&cam);
    assert_eq!(
        (s["recording"].clone(), s["path"].clone()),
        (json!(true), json!(path))
    );
    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_recording_active 1"), "{metrics}");

    std::thread::sleep(Duration::from_millis(4000));
    let resp = cam.authed("POST", "/record/stop", "");
    let span = started.elapsed().as_secs_f64();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.text(),
        json!({"ok": true, "path": path, "recording": false}).to_string()
    );

    // One file, H.264 from 0, no decode error, as long as the recording (plus at most the
    // GOP that was kept when it started: 1 s).
    assert_eq!(recordings(&dir).len(), 1);
    let duration = assert_plays(Path::new(&path));
    assert!(
        duration >= span * 0.9 - 0.3 && duration <= span * 1.1 + 1.0,
        "duration {duration} for {span} s of recording"
    );

    // Listing, download whole and in ranges, traversal, delete.
    let list = cam.authed("GET", "/recordings", "").json();
    assert_eq!(list["files"][0]["name"], json!(name));
    assert_eq!(list["files"][0]["recording"], json!(false));
    let bytes = std::fs::read(&path).unwrap();
    let url = format!("/recordings/{name}");
    let key = cam.local_key();
    let whole = cam.request("GET", &url, &[("X-API-Key", &key)], b"");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("Accept-Ranges"), Some("bytes"));
    let part = cam.request(
        "GET",
        &url,
        &[("X-API-Key", &key), ("Range", "bytes=100-199")],
        b"",
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[100..200]);
    let content_range = format!("bytes 100-199/{}", bytes.len());
    assert_eq!(part.header("Content-Range"), Some(content_range.as_str()));
    let tail = cam.request(
        "GET",
        &url,
        &[("X-API-Key", &key), ("Range", "bytes=-10")],
        b"",
    );
    assert_eq!(
        (tail.status, &tail.body[..]),
        (206, &bytes[bytes.len() - 10..])
    );
    let past = format!("bytes={}-", bytes.len());
    let resp = cam.request("GET", &url, &[("X-API-Key", &key), ("Range", &past)], b"");
    assert_eq!(resp.status, 416);
    let unsatisfied = format!("bytes */{}", bytes.len());
    assert_eq!(resp.header("Content-Range"), Some(unsatisfied.as_str()));
    assert_eq!(cam.request("GET", &url, &[], b"").status, 401);
    for escape in [
        "/recordings/..%2Fpicamd.log",
        "/recordings/%2E%2E%2Frelay_credentials.json",
        "/recordings/picamd.log",
        "/recordings/nothing.mp4",
    ] {
        let resp = cam.request("GET", escape, &[("X-API-Key", &key)], b"");
        assert!(
            matches!(resp.status, 400 | 404),
            "{escape}: {}",
            resp.status
        );
    }
    let resp = cam.request("DELETE", &url, &[("X-API-Key", &key)], b"");
    assert_eq!(resp.status, 204);
    assert_eq!(
        cam.request("GET", &url, &[("X-API-Key", &key)], b"").status,
        404
    );
    assert!(recordings(&dir).is_empty());
}

#[test]
fn rotation_retention_and_a_kill_9_leave_playable_files() {
    let mut cam = Picamd::start_with(
        &["--resolution", "640x360"],
        &[("RECORD_SEGMENT_S", "1"), ("RECORD_KEEP", "2")],
        |_| {},
    );
    let dir = cam.data_dir.join("recordings");
    let resp = cam.authed("POST", "/recorder/start", r#"{"name":"clip.mp4"}"#);
    assert_eq!(resp.status, 201, "{}", resp.text());
    std::thread::sleep(Duration::from_millis(5500));
    let resp = cam.authed("POST", "/recorder/stop", "");
    assert_eq!(resp.status, 200);
    let opened = resp.json()["files"].as_u64().unwrap();
    let files = recordings(&dir);
    // A file per second (an IDR each second): 4 or more opened (5 or 6 unless the machine is
    // very busy); retention kept the newest two finished ones before each new file, so at most
    // three are left.
    assert!(opened >= 4, "{opened} files opened");
    assert!((2..=3).contains(&files.len()), "{files:?}");
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("clip-")),
        "the first file (clip.mp4) was the oldest and is gone: {names:?}"
    );
    for f in &files[..files.len() - 1] {
        let d = assert_plays(f);
        // About 1 s; an IDR that came late (a loaded encoder) makes one longer.
        assert!((0.9..=2.2).contains(&d), "{}: {d} s", f.display());
    }
    assert_plays(files.last().unwrap());

    // kill -9 while a file is being written (no rotation now): what was synced plays.
    cam.set_env("RECORD_SEGMENT_S", "0");
    cam.restart();
    let resp = cam.authed("POST", "/recorder/start", "");
    assert_eq!(resp.status, 201);
    std::thread::sleep(Duration::from_millis(2500));
    let current = PathBuf::from(state(&cam)["path"].as_str().unwrap());
    // The next start has a quota of 0.1 MiB and no count limit.
    cam.set_env("RECORD_KEEP", "0");
    cam.set_env("RECORD_MAX_MB", "0.1");
    cam.set_env("RECORD_SEGMENT_S", "1");
    cam.restart();
    assert!(current.is_file(), "{}", current.display());
    let d = assert_plays(&current);
    assert!(d > 0.0);

    // Quota: before each new file the oldest go until all fit in 0.1 MiB.
    let resp = cam.authed("POST", "/recorder/start", "");
    assert_eq!(resp.status, 201);
    std::thread::sleep(Duration::from_millis(5000));
    assert_eq!(cam.authed("POST", "/recorder/stop", "").status, 200);
    let files = recordings(&dir);
    let sizes: Vec<u64> = files.iter().map(|f| f.metadata().unwrap().len()).collect();
    let before_last: u64 = sizes[..sizes.len() - 1].iter().sum();
    assert!(
        before_last <= 104_857,
        "finished files over the quota: {sizes:?}"
    );
    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_recording_active 0"), "{metrics}");
    assert!(
        metrics.contains("picamd_recording_files_total"),
        "{metrics}"
    );
}

/// The daemon runs in its own user and mount namespace, with a tmpfs of `size` as its
/// recordings folder.
fn start_on_tmpfs(size: &str, env: &[(&str, &str)]) -> Picamd {
    let script = format!(
        "mkdir -p \"$RECORD_OUTPUT_DIR\" && mount -t tmpfs -o size={size} tmpfs \"$RECORD_OUTPUT_DIR\" && exec \"$0\" \"$@\""
    );
    let port_dir = std::env::temp_dir().join(format!("picamd-rec-tmpfs-{}", std::process::id()));
    let out_dir = port_dir.join("recordings");
    let out = out_dir.to_str().unwrap().to_string();
    let mut all: Vec<(&str, &str)> = vec![("RECORD_OUTPUT_DIR", out.as_str())];
    all.extend_from_slice(env);
    Picamd::start_under(
        &["unshare", "-rm", "sh", "-c", &script],
        &["--resolution", "640x360"],
        &all,
        |_| {},
    )
}

#[test]
fn a_full_disk_stops_the_recording_with_a_reason_and_a_whole_file() {
    // ENOSPC: no quota and no floor, so the write itself fails.
    let cam = start_on_tmpfs(
        "96k",
        &[
            ("RECORD_MAX_MB", "0"),
            ("RECORD_MIN_FREE_MB", "0"),
            ("RECORD_SEGMENT_S", "0"),
        ],
    );
    let resp = cam.authed("POST", "/record/start", "");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let path = PathBuf::from(resp.json()["path"].as_str().unwrap());
    let s = wait_state(&cam, "failed", Duration::from_secs(20));
    assert!(s["error"].as_str().unwrap().starts_with("Disk full"), "{s}");
    assert_eq!(s["recording"], json!(false));
    // The daemon is fine, and the file (in the daemon's namespace) is cut at its last whole
    // fragment: read it through the API.
    let name = path.file_name().unwrap().to_str().unwrap();
    let key = cam.local_key();
    let file = cam.request(
        "GET",
        &format!("/recordings/{name}"),
        &[("X-API-Key", &key)],
        b"",
    );
    assert_eq!(file.status, 200);
    let copy = cam.data_dir.join("copy.mp4");
    std::fs::write(&copy, &file.body).unwrap();
    assert_plays(&copy);
    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(
        metrics.contains("picamd_recording_errors_total 1"),
        "{metrics}"
    );
    assert_eq!(cam.authed("POST", "/record/stop", "").status, 409);
    drop(cam);

    // The free-space floor stops it first, with nothing older left to delete.
    let cam = start_on_tmpfs(
        "256k",
        &[("RECORD_MAX_MB", "0"), ("RECORD_MIN_FREE_MB", "0.2")],
    );
    assert_eq!(cam.authed("POST", "/recorder/start", "").status, 201);
    let s = wait_state(&cam, "failed", Duration::from_secs(20));
    assert!(
        s["error"].as_str().unwrap().starts_with("Disk almost full"),
        "{s}"
    );
    drop(cam);

    // Always on: an error stops it, and once deleting a file made room it starts again by
    // itself with a new file.
    let cam = start_on_tmpfs(
        "96k",
        &[
            ("RECORD_MAX_MB", "0"),
            ("RECORD_MIN_FREE_MB", "0"),
            ("RECORD_ALWAYS", "1"),
            ("RECORD_ALWAYS_RETRY_S", "2"),
        ],
    );
    let s = wait_state(&cam, "failed", Duration::from_secs(20));
    let full = s["name"].as_str().unwrap().to_string();
    let resp = cam.authed("DELETE", &format!("/recordings/{full}"), "");
    assert_eq!(resp.status, 204);
    let s = wait_state(&cam, "recording", Duration::from_secs(10));
    assert_ne!(s["name"], json!(full), "{s}");
    drop(cam);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("picamd-rec-tmpfs-{}", std::process::id())),
    );
}

#[test]
fn always_on_records_from_start_up_and_sigterm_finishes_the_file() {
    use picamd::internal::media::fmp4::{find_box, parse_box_tree};
    let mut cam = Picamd::start_with(
        &["--resolution", "640x360"],
        &[("RECORD_ALWAYS", "1")],
        |_| {},
    );
    let s = state(&cam);
    assert_eq!(s["recording"], json!(true), "{s}");
    let path = PathBuf::from(s["path"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(2000));
    let status = cam.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let duration = assert_plays(&path);
    // The duration was written into mvhd at the end (90 kHz ticks).
    let data = std::fs::read(&path).unwrap();
    let tree = parse_box_tree(&data).unwrap();
    let mvhd = find_box(&tree, "moov/mvhd").unwrap();
    let at = mvhd.payload_offset(&data) + 16;
    let ticks = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
    assert!(
        (f64::from(ticks) / 90_000.0 - duration).abs() < 0.1,
        "mvhd {ticks} ticks, ffprobe {duration} s"
    );
    assert!(duration > 1.5, "{duration}");
}
