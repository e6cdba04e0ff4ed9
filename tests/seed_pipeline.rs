//! The Pi Camera Streaming Pipeline's clients against picamd (contract seeds-002-004 §B):
//! its status/start/stop routes and `/health`'s `ok`, `/frame` and a `record_stream.py`-style
//! MJPEG client with no key from the local network, `CAMERA_ENABLED=0`, and a stop and start
//! of the camera under a waiting MJPEG viewer and the LL-HLS preview.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{have, wait_until, Picamd};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// Runs the strict MJPEG client; its JSON line.
fn record_stream(cam: &Picamd, out: &Path, frames: usize) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_pipeline/record_stream.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(cam.url("/stream.mjpg?_=1733300000000"))
        .args(["--output", &out.display().to_string()])
        .args(["--limit-frames", &frames.to_string()])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "record_stream.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("one JSON line")
}

#[test]
fn the_pipelines_clients_work_unchanged_from_the_local_network() {
    let cam = Picamd::start_with(
        &["--resolution", "320x240", "--fps", "15"],
        &[
            ("LOCAL_CONTROL_WITHOUT_KEY", "1"),
            // The pipeline's page is served from another origin (its own port).
            ("LOCAL_ALLOWED_ORIGINS", "http://127.0.0.1:3000"),
        ],
        |_| {},
    );
    let health = cam.get("/health").json();
    assert_eq!(
        (health["ok"].as_bool(), health["status"].as_str()),
        (Some(true), Some("ok"))
    );
    let status = cam.get("/camera/status");
    assert_eq!(status.status, 200);
    assert_eq!(
        status.json(),
        serde_json::json!({"running": true, "backend": "testsrc", "recording": false, "recording_path": null})
    );
    let frame = cam.request("GET", "/frame?_=1733300000000", &[], b"");
    assert_eq!(frame.status, 200, "no key needed from the local network");
    assert_eq!(frame.header("Content-Type"), Some("image/jpeg"));
    assert_eq!(&frame.body[..2], [0xff, 0xd8]);

    // record_stream.py: strict parsing, no key; the JPEGs decode without an error.
    let dir = std::env::temp_dir().join(format!("picamd-seed002-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mjpeg = dir.join("stream.mjpeg");
    let got = record_stream(&cam, &mjpeg, 12);
    assert_eq!(got["status"], 200);
    assert_eq!(
        got["content_type"],
        "multipart/x-mixed-replace; boundary=frame"
    );
    assert_eq!(got["x_accel_buffering"], "no");
    assert_eq!(got["frames"], 12);
    if have("ffmpeg") {
        let decode = Command::new("ffmpeg")
            .args(["-v", "error", "-f", "mjpeg", "-i"])
            .arg(&mjpeg)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(decode.status.success());
        assert_eq!(String::from_utf8_lossy(&decode.stderr), "", "decode errors");
    }

    // The page's preflight (it sends Content-Type: application/json from another origin).
    let preflight = cam.request(
        "OPTIONS",
        "/camera/stop",
        &[
            ("Origin", "http://127.0.0.1:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 200, "{}", preflight.text());
    assert_eq!(
        preflight.header("Access-Control-Allow-Origin"),
        Some("http://127.0.0.1:3000")
    );

    // A recording through the pipeline's route, with no key; /camera/stop will end it.
    let record = cam.request("POST", "/record/start", &[JSON], b"{}");
    assert_eq!(record.status, 200, "{}", record.text());
    let recording_path = record.json()["path"].as_str().unwrap().to_string();
    let status = cam.get("/camera/status").json();
    assert_eq!(status["recording"], true);
    assert_eq!(status["recording_path"], recording_path.as_str());

    // Stop after the first run has lasted a while (see the cache check after the start).
    std::thread::sleep(Duration::from_secs(2));
    // Stop: the camera is released, nothing stale is served, the daemon stays healthy.
    let parts_before = cam.metric("picamd_parts_published_total");
    let before_stop = cam.get("/frame");
    let last_before_stop = before_stop.header("X-Capture-Time").unwrap().to_string();
    let stop = cam.request("POST", "/camera/stop", &[JSON], b"");
    assert_eq!(
        (stop.status, stop.json()),
        (200, serde_json::json!({"ok": true}))
    );
    let status = cam.get("/camera/status").json();
    assert_eq!(
        (
            &status["running"],
            &status["recording"],
            &status["recording_path"]
        ),
        (
            &serde_json::json!(false),
            &serde_json::json!(false),
            &serde_json::Value::Null
        )
    );
    if have("ffprobe") {
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
            ])
            .arg(&recording_path)
            .output()
            .unwrap();
        let seconds: f64 = String::from_utf8_lossy(&probe.stdout)
            .trim()
            .parse()
            .unwrap_or(0.0);
        assert!(
            seconds >= 1.0,
            "the recording was finished by the stop: {seconds} s"
        );
    }
    let frame = cam.get("/frame");
    assert_eq!(frame.status, 503);
    assert!(frame.text().contains("stopped"), "{}", frame.text());
    let health = cam.get("/health");
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(
        (health["ok"].as_bool(), health["status"].as_str()),
        (Some(false), Some("stopped"))
    );
    let again = cam.request("POST", "/camera/stop", &[JSON], b"");
    assert_eq!(again.json(), serde_json::json!({"ok": true}), "idempotent");

    // An MJPEG viewer that arrives while it is stopped waits for the first picture.
    let mut viewer = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
    viewer
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        viewer,
        "GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut viewer = BufReader::new(viewer);
    let mut status_line = String::new();
    viewer.read_line(&mut status_line).unwrap();
    assert!(status_line.starts_with("HTTP/1.1 200"), "{status_line}");

    let start = cam.request("POST", "/camera/start", &[JSON], b"");
    assert_eq!(
        (start.status, start.json()),
        (200, serde_json::json!({"ok": true}))
    );
    assert_eq!(cam.get("/camera/status").json()["running"], true);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n--frame\r\nContent-Type: image/jpeg\r\n") {
        viewer
            .read_exact(&mut byte)
            .expect("the waiting viewer gets a picture");
        head.push(byte[0]);
        assert!(head.len() < 4096, "{}", String::from_utf8_lossy(&head));
    }
    wait_until("/frame after start", Duration::from_secs(10), || {
        cam.get("/frame").status == 200
    });
    // Pictures of the new run, not the JPEG cached before the stop: frame numbers continue
    // across runs, so the cache sees each new frame as newer (restarting them at 0 would
    // serve the old picture for as long as the first run lasted).
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let frame = cam.get("/frame");
        seen.insert(frame.header("X-Capture-Time").unwrap().to_string());
        if seen.len() >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    seen.remove(&last_before_stop);
    assert!(seen.len() >= 3, "/frame is stuck: {seen:?}");
    wait_until("/health ok after start", Duration::from_secs(10), || {
        cam.get("/health").json()["ok"] == true
    });
    // The preview picks up again on the same timeline.
    wait_until("parts after start", Duration::from_secs(15), || {
        cam.metric("picamd_parts_published_total") > parts_before + 3.0
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn camera_control_needs_the_key_unless_the_setting_opens_it() {
    let cam = Picamd::start(&["--resolution", "160x120"]);
    let stop = cam.request("POST", "/camera/stop", &[JSON], b"");
    assert_eq!(stop.status, 401, "{}", stop.text());
    assert_eq!(cam.get("/camera/status").json()["running"], true);
    assert_eq!(cam.get("/frame").status, 200, "watching is open to the LAN");
    let stop = cam.authed("POST", "/camera/stop", "");
    assert_eq!(stop.status, 200);
    assert_eq!(cam.get("/camera/status").json()["running"], false);
    assert_eq!(cam.authed("POST", "/camera/start", "").status, 200);
}

#[test]
fn camera_enabled_0_runs_the_api_with_no_camera() {
    let cam = Picamd::start_api_only(
        &["--resolution", "160x120"],
        &[("CAMERA_ENABLED", "0"), ("LOCAL_CONTROL_WITHOUT_KEY", "1")],
    );
    let health = cam.get("/health");
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(
        (health["ok"].as_bool(), health["status"].as_str()),
        (Some(false), Some("disabled"))
    );
    assert_eq!(
        cam.get("/camera/status").json(),
        serde_json::json!({"running": false, "backend": "disabled", "recording": false, "recording_path": null})
    );
    let frame = cam.get("/frame");
    assert_eq!(frame.status, 503);
    assert!(
        frame.text().contains("CAMERA_ENABLED=0"),
        "{}",
        frame.text()
    );
    assert_eq!(
        cam.get("/stream.mjpg").status,
        503,
        "no camera will ever come"
    );
    let start = cam.request("POST", "/camera/start", &[JSON], b"");
    assert_eq!(start.status, 409);
    assert_eq!(
        start.json(),
        serde_json::json!({"detail": "The camera is disabled (CAMERA_ENABLED=0)"})
    );
    assert_eq!(
        cam.request("POST", "/camera/stop", &[JSON], b"").status,
        200
    );
    let detail = cam.get("/health").json()["detail"].clone();
    assert_eq!(detail, "The camera is disabled (CAMERA_ENABLED=0)");
}

/// The pipeline's page (written from the contract) in headless Chromium, served from its
/// own origin as the pipeline serves it: it reads the status, shows the MJPEG stream, and
/// stops and starts the camera, with no key, no cookie and no console error.
#[test]
fn the_pipelines_page_drives_picamd_from_another_origin() {
    let page_port = common::free_port();
    let origin = format!("http://127.0.0.1:{page_port}");
    let cam = Picamd::start_with(
        &["--resolution", "320x240", "--fps", "15"],
        &[
            ("LOCAL_CONTROL_WITHOUT_KEY", "1"),
            ("LOCAL_ALLOWED_ORIGINS", &origin),
        ],
        |_| {},
    );
    let result = common::browser::run(
        "seed_pipeline_page.mjs",
        &[&cam.url(""), &page_port.to_string()],
        &[],
        || cam.log(),
    );
    let steps = result["steps"].as_array().unwrap();
    assert_eq!(steps[0]["backend"], "testsrc");
    assert_eq!(steps[0]["width"], 320);
    assert_eq!(steps[1]["error"], "", "stop went through");
    assert_eq!(steps[2]["error"], "", "start went through");
    assert_eq!(result["console_errors"], serde_json::json!([]));
    assert_eq!(cam.get("/camera/status").json()["running"], true);
}
