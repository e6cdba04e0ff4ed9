//! The RELab device API against the spawned binary: shapes, status codes and headers of every
//! route a curl script or the RELab app uses, the extras (health, frame, MJPEG, captures,
//! timelapse), the credentials file and `picamd show-key`, and bad input of every kind.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::Picamd;
use serde_json::{json, Value};

fn mean_luma(jpeg: &[u8]) -> f64 {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let pixels = decoder.decode().expect("a decodable JPEG");
    let info = decoder.info().expect("JPEG info");
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
    // Skip the top rows (the latency barcode is not affected by the controls).
    let skip = usize::from(info.width) * 32 * 3;
    let body = &pixels[skip..];
    body.iter().map(|&b| f64::from(b)).sum::<f64>() / body.len() as f64
}

#[test]
fn camera_controls_and_focus_change_the_picture() {
    let p = Picamd::start(&["--resolution", "320x240"]);
    let status = p.authed("GET", "/camera", "");
    assert_eq!(status.status, 200);
    assert_eq!(
        status.json(),
        json!({"current_mode": "video", "stream": null})
    );

    let view = p.authed("GET", "/camera/controls", "").json();
    assert_eq!(view["supported"], true);
    assert_eq!(
        view["controls"]["AfMode"]["options"],
        json!(["manual", "auto", "continuous"])
    );
    let before = mean_luma(&p.authed("GET", "/frame", "").body);

    let patched = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"Brightness":0.4,"ExposureTime":10000}}"#,
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    assert_eq!(patched.json()["values"]["Brightness"], 0.4);
    // The next frames are rendered with the new settings.
    std::thread::sleep(Duration::from_millis(300));
    let after = mean_luma(&p.authed("GET", "/frame", "").body);
    assert!(after > before + 30.0, "brighter: {before:.1} → {after:.1}");

    let unknown = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"Zoom":2,"Alpha":1}}"#,
    );
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.json()["detail"],
        "Unknown camera controls: Alpha, Zoom"
    );
    let empty = p.authed("PATCH", "/camera/controls", r#"{"controls":{}}"#);
    assert_eq!(empty.status, 422);
    let range = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"Contrast":99}}"#,
    );
    assert_eq!(range.status, 422);
    let af = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"AfMode":"sideways"}}"#,
    );
    assert_eq!(af.json()["detail"], "Unsupported AfMode value: sideways");

    let focus = p.authed(
        "PUT",
        "/camera/focus",
        r#"{"mode":"manual","lens_position":1.5}"#,
    );
    assert_eq!(focus.status, 200);
    assert_eq!(focus.json()["values"]["LensPosition"], 1.5);
    assert_eq!(focus.json()["values"]["AfMode"], "manual");
    let bad = p.authed(
        "PUT",
        "/camera/focus",
        r#"{"mode":"sideways","lens_position":-1}"#,
    );
    assert_eq!(bad.status, 422);
    let errors = bad.json()["detail"]
        .as_array()
        .expect("a detail list")
        .clone();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["loc"], json!(["body", "mode"]));
}

#[test]
fn captures_are_stored_durably_listed_and_served() {
    let p = Picamd::start(&["--resolution", "640x360"]);
    let resp = p.authed(
        "POST",
        "/captures",
        r#"{"product_id":99,"description":"rear view"}"#,
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let body = resp.json();
    let id = body["image_id"].as_str().unwrap().to_string();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(body["status"], "queued");
    assert_eq!(body["image_url"], Value::Null);
    assert_eq!(body["expires_at"], Value::Null);
    let meta = &body["metadata"];
    assert_eq!(
        meta.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["camera_properties", "capture_metadata", "image_properties"]
    );
    assert!(meta["camera_properties"]["Model"].is_string());
    assert_eq!(meta["image_properties"]["width"], 640);
    assert_eq!(meta["capture_metadata"]["frame_duration"], 33333);
    assert_eq!(meta["capture_metadata"]["color_temperature"], 5000);
    let time = meta["image_properties"]["capture_time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 20, "{time}");

    // Durable before the answer: both files are on disk.
    let dir = p.data_dir.join("images/captures");
    let jpeg = std::fs::read(dir.join(format!("{id}.jpg"))).expect("the JPEG is stored");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).unwrap()).unwrap();
    assert_eq!(record["upload_metadata"]["description"], "rear view");

    let served = p.authed("GET", &format!("/captures/{id}"), "");
    assert_eq!(served.status, 200);
    assert_eq!(served.header("Content-Type"), Some("image/jpeg"));
    assert_eq!(served.body, jpeg);
    let exif = served.body.windows(4).any(|w| w == b"Exif");
    assert!(exif, "EXIF present");

    let list = p.authed("GET", "/captures?limit=5", "").json();
    assert_eq!(list["captures"][0]["image_id"], id.as_str());
    assert_eq!(list["captures"][0]["bytes"], jpeg.len());

    // Bad input: clean errors, nothing stored.
    for (body, status) in [("[1,2]", 422), ("{oops", 422), ("\"text\"", 422)] {
        let r = p.authed("POST", "/captures", body);
        assert_eq!(r.status, status, "{body}");
    }
    assert_eq!(p.authed("POST", "/captures", "null").status, 201);
    for bad in ["..", "ABCDEF0123456789ABCDEF0123456789", "xyz", "%2e%2e"] {
        assert_eq!(
            p.authed("GET", &format!("/captures/{bad}"), "").status,
            422,
            "{bad}"
        );
    }
    assert_eq!(
        p.authed("GET", "/captures/../../etc/passwd", "").status,
        404
    );
    let missing = p.authed("GET", "/captures/0123456789abcdef0123456789abcdef", "");
    assert_eq!(missing.status, 404);
    assert_eq!(p.authed("GET", "/captures?limit=0", "").status, 422);
    assert_eq!(p.authed("GET", "/captures?limit=abc", "").status, 422);
    let count = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(count, 4, "two captures, two files each");

    // The thumbnail follows the captures.
    let thumb = p.get("/preview-thumbnail.jpg");
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("Cache-Control"), Some("no-store"));
}

#[test]
fn health_metrics_telemetry_and_local_access() {
    let p = Picamd::start(&[]);
    // Rates are measured once a second.
    std::thread::sleep(Duration::from_millis(2200));
    let health = p.get("/health");
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(
        (h["status"].as_str(), h["camera"].as_str()),
        (Some("ok"), Some("testsrc"))
    );
    assert!(h["fps"].as_f64().unwrap() > 20.0, "{h}");

    let metrics = p.authed("GET", "/metrics", "");
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = metrics.text();
    for name in [
        "rpi_cam_cpu_percent",
        "rpi_cam_mem_percent",
        "rpi_cam_disk_percent",
        "rpi_cam_preview_sessions",
        "rpi_cam_preview_fps",
        "picamd_frames_captured_total",
        "picamd_parts_published_total",
        "picamd_mjpeg_viewers",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} in\n{text}"
        );
    }
    let ones = text
        .lines()
        .filter(|l| l.starts_with("rpi_cam_thermal_state{") && l.ends_with(" 1"))
        .count();
    assert_eq!(ones, 1);
    assert!(text.ends_with('\n'));

    let t = p.authed("GET", "/system/telemetry", "").json();
    for field in [
        "cpu_percent",
        "mem_percent",
        "disk_percent",
        "thermal_state",
        "timestamp",
    ] {
        assert!(!t[field].is_null(), "{field}: {t}");
    }
    assert_eq!(t["current_preview_size"], json!([1280, 720]));
    // The encoder's measured rate: real (above zero, never above the camera's 30 fps), not a
    // speed test: on a loaded machine the encoder drops frames and this falls well below 30.
    let preview_fps = t["preview_fps"].as_f64().unwrap();
    assert!(preview_fps > 0.0 && preview_fps < 31.0, "{t}");
    assert_eq!(p.get("/system/telemetry").status, 401);

    let access = p.authed("GET", "/system/local-access", "").json();
    assert_eq!(access["local_api_key"], p.local_key().as_str());
    assert!(access["candidate_urls"].is_array());

    let key = p.get("/local-key");
    assert_eq!(key.status, 200);
    assert_eq!(key.text().trim(), p.local_key());
    assert_eq!(
        p.get("/pairing/state").text(),
        r#"{"status":"idle","relay_enabled":false}"#
    );
}

#[test]
fn credentials_file_from_the_python_plugin_is_used_as_is_and_show_key_agrees() {
    let python_file = "{\n  \"relay_camera_id\": \"cam-1\",\n  \"local_api_key\": \"local_from_python_plugin_key\"\n}";
    let p = Picamd::start_with(&[], &[], |dir| {
        std::fs::write(dir.join("relay_credentials.json"), python_file).unwrap();
    });
    assert_eq!(p.get("/local-key").text(), "local_from_python_plugin_key");
    let ok = p.request(
        "GET",
        "/camera",
        &[("X-API-Key", "local_from_python_plugin_key")],
        b"",
    );
    assert_eq!(ok.status, 200);
    // Unknown keys survive; nothing was rewritten.
    let text = std::fs::read_to_string(p.data_dir.join("relay_credentials.json")).unwrap();
    assert!(text.contains("cam-1"));

    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_picamd"))
        .arg("show-key")
        .env_clear()
        .env("HOME", &p.data_dir)
        .env(
            "RELAB_CREDENTIALS_FILE",
            p.data_dir.join("relay_credentials.json"),
        )
        .current_dir(&p.data_dir)
        .output()
        .expect("show-key runs");
    assert!(shown.status.success());
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout).trim(),
        "local_from_python_plugin_key"
    );
}

#[test]
fn a_first_boot_generates_a_private_key_file() {
    let p = Picamd::start(&[]);
    let key = p.local_key();
    assert!(key.starts_with("local_") && key.len() == 6 + 43, "{key}");
    let mode = std::fs::metadata(p.data_dir.join("relay_credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn headers_cors_and_errors() {
    let p = Picamd::start(&[]);
    let page = p.get("/");
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(page.header("Referrer-Policy"), Some("no-referrer"));
    let csp = page.header("Content-Security-Policy").unwrap();
    assert!(csp.contains("worker-src 'self' blob:") && !csp.contains("cdn."));
    let id = p.request("GET", "/health", &[("X-Request-ID", "trace-42")], b"");
    assert_eq!(id.header("X-Request-ID"), Some("trace-42"));
    let generated = p.get("/health");
    assert_eq!(generated.header("X-Request-ID").unwrap().len(), 32);

    let preflight = p.request(
        "OPTIONS",
        "/captures",
        &[
            ("Origin", "http://127.0.0.1:8000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "X-API-Key, X-Request-ID"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
        b"",
    );
    assert_eq!(
        preflight.status, 200,
        "private-network preflights are answered"
    );
    assert_eq!(
        preflight.header("Access-Control-Allow-Private-Network"),
        Some("true")
    );
    let allowed = preflight
        .header("Access-Control-Allow-Headers")
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-api-key") && allowed.contains("x-request-id"));
    // Only the configured origins may read answers, local mode or not (plugin 0.4+).
    let simple = p.request("GET", "/health", &[("Origin", "http://lan.example")], b"");
    assert!(simple.header("Access-Control-Allow-Origin").is_none());
    let listed = p.request(
        "GET",
        "/health",
        &[("Origin", "http://127.0.0.1:8000")],
        b"",
    );
    assert_eq!(
        listed.header("Access-Control-Allow-Origin"),
        Some("http://127.0.0.1:8000")
    );
    let foreign = p.request(
        "OPTIONS",
        "/preview/hls/cam-preview/index.m3u8",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
        b"",
    );
    assert_eq!(foreign.status, 400, "another site cannot fetch the preview");
    assert!(foreign
        .header("Access-Control-Allow-Private-Network")
        .is_none());

    let not_found = p.get("/nope");
    assert_eq!(
        (not_found.status, not_found.json()),
        (404, json!({"detail": "Not Found"}))
    );
    let wrong = p.request("DELETE", "/camera", &[], b"");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.json()["detail"], "Method Not Allowed");
    let slash = p.get("/camera/?x=1");
    assert_eq!(
        (slash.status, slash.header("Location")),
        (307, Some("/camera?x=1"))
    );
    for traversal in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/setup.html",
    ] {
        assert_eq!(p.get(traversal).status, 404, "{traversal}");
    }
    let hls = p.get("/preview/hls/cam-preview/..%2f..%2fetc");
    assert_eq!(hls.status, 422);

    let huge = vec![b'x'; 2 << 20];
    let key = p.local_key();
    let too_big = p.request("POST", "/captures", &[("X-API-Key", &key)], &huge);
    assert_eq!(too_big.status, 413);
}

#[test]
fn mjpeg_streams_to_several_viewers_with_their_own_rates() {
    let p = Picamd::start(&["--resolution", "320x240"]);
    let key = p.local_key();
    let read_parts = |fps: &str, parts: usize| {
        let mut s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /stream.mjpg?fps={fps} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        let started = Instant::now();
        let mut seen = 0;
        let mut line = String::new();
        while seen < parts {
            line.clear();
            r.read_line(&mut line).unwrap();
            if let Some(len) = line.strip_prefix("Content-Length: ") {
                let len = len.to_string();
                loop {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                }
                let mut jpeg = vec![0; len.trim().parse().unwrap()];
                r.read_exact(&mut jpeg).unwrap();
                assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
                seen += 1;
            }
        }
        started.elapsed()
    };
    let fast = std::thread::scope(|s| {
        let slow = s.spawn(|| read_parts("2", 3));
        let fast = read_parts("10", 10);
        let slow = slow.join().unwrap();
        assert!(
            slow >= Duration::from_millis(900),
            "2 fps honoured: {slow:?}"
        );
        fast
    });
    assert!(fast < Duration::from_secs(3), "10 fps viewer: {fast:?}");
    assert_eq!(p.authed("GET", "/stream.mjpg?fps=0", "").status, 422);
    assert_eq!(p.authed("GET", "/stream.mjpg?fps=abc", "").status, 422);
    assert_eq!(
        p.request("GET", "/stream.mjpg", &[("X-API-Key", "wrong")], b"")
            .status,
        403,
        "a key that is sent is checked even where the LAN needs none"
    );
}

#[test]
fn timelapse_captures_on_schedule_and_keeps_its_settings() {
    let p = Picamd::start(&["--resolution", "320x240"]);
    let status = p.authed("GET", "/timelapse", "").json();
    assert_eq!(status["enabled"], false);
    let set = p.authed(
        "PUT",
        "/timelapse",
        r#"{"interval_s":1,"keep":2,"max_age_s":3600}"#,
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["enabled"], true);
    std::thread::sleep(Duration::from_millis(3500));
    let dir = p.data_dir.join("images/timelapse");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"current.jpg".to_string()), "{names:?}");
    let pictures = names.iter().filter(|n| n.as_str() != "current.jpg").count();
    assert_eq!(pictures, 2, "retention keeps 2: {names:?}");
    let bad = p.authed("PUT", "/timelapse", r#"{"interval_s":-1,"keep":0}"#);
    assert_eq!(bad.status, 422);
    assert_eq!(bad.json()["detail"].as_array().unwrap().len(), 3);
    let saved = std::fs::read_to_string(p.data_dir.join("timelapse.json")).unwrap();
    assert!(saved.contains("\"interval_s\": 1") || saved.contains("\"interval_s\":1"));
}

#[test]
fn preview_stop_start_and_wake_on_request() {
    let p = Picamd::start(&[]);
    assert_eq!(p.authed("POST", "/preview/stop", "").status, 204);
    // The session ends once no frames arrive for two seconds.
    std::thread::sleep(Duration::from_millis(2600));
    let health = p.get("/health").json();
    assert_eq!(health["preview"], "stopped");
    // A viewer asking for the playlist wakes the encoder and gets a fresh session.
    let started = Instant::now();
    let playlist = p.get(common::PLAYLIST);
    assert_eq!(playlist.status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(p.get("/health").json()["preview"], "running");
    assert_eq!(p.authed("POST", "/preview/start", "").status, 204);
}
