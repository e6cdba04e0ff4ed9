//! The seed-004 camera hub, both roles, with real peers on loopback: one picamd (the
//! synthetic camera) pushes to another (`HUB_ENABLED`); a Python client written from the
//! contract (`tests/hub/hub_client.py`, `struct.pack('<I')` as the hub's own client) pushes,
//! views, moves and is refused with the exact close codes and reasons; headless Chromium
//! reads `stream-image` with a real EventSource and our `/hub` page shows the pictures; and a
//! flood of 10 cameras × 100 pictures/s leaves the hub's memory bounded while viewers still
//! get pictures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{wait_until, HttpResponse, Picamd};

const SECRET: &str = "NOTsoSECRETsecretUsedFORtESTS1234908";

/// Cameras 1 (picamd), 2 (the Python client, token given), 3..=12 (the flood).
fn cameras_file(dir: &Path) -> PathBuf {
    let mut cams = vec![
        serde_json::json!({"id": 1, "name": "picamd", "description": "a picamd pushing"}),
        serde_json::json!({"id": 2, "name": "python", "description": null, "token": "tok2"}),
    ];
    for id in 3..=12 {
        cams.push(
            serde_json::json!({"id": id, "name": format!("flood {id}"), "description": "flood"}),
        );
    }
    let path = dir.join("cameras.json");
    std::fs::write(&path, serde_json::to_vec(&cams).unwrap()).unwrap();
    path
}

fn start_hub(extra: &[&str]) -> Picamd {
    let file = std::env::temp_dir().join(format!("picamd-hub-cams-{}", std::process::id()));
    std::fs::create_dir_all(&file).unwrap();
    let file = cameras_file(&file);
    Picamd::start_with(
        extra,
        &[
            ("HUB_ENABLED", "1"),
            ("HUB_CAMERAS_FILE", file.to_str().unwrap()),
            ("CAMERA_TOKEN_SECRET", SECRET),
            ("RUST_LOG", "info"),
        ],
        |_| {},
    )
}

fn start_pusher(hub: &Picamd, token: Option<&str>) -> Picamd {
    let url = format!("ws://127.0.0.1:{}/video-input-stream", hub.port);
    let mut env = vec![
        ("HUB_PUSH_URL", url.as_str()),
        ("HUB_PUSH_CAMERA_ID", "1"),
        ("HUB_PUSH_MAX_FPS", "10"),
        ("RUST_LOG", "info"),
    ];
    match token {
        Some(t) => env.push(("HUB_PUSH_TOKEN", t)),
        None => env.push(("CAMERA_TOKEN_SECRET", SECRET)),
    }
    Picamd::start_with(&["--resolution", "320x240"], &env, |_| {})
}

fn python(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hub/hub_client.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hub_client.py {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

fn list(hub: &Picamd) -> Vec<serde_json::Value> {
    let resp = hub.get("/camera/list");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    resp.json().as_array().unwrap().clone()
}

fn camera(hub: &Picamd, id: u64) -> serde_json::Value {
    list(hub).into_iter().find(|c| c["id"] == id).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not standard base64: {c}"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xff, 0xd8]) && bytes.ends_with(&[0xff, 0xd9])
}

fn ffprobe_size(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn upload(hub: &Picamd, fields: &[(&str, &[u8])]) -> HttpResponse {
    let (ct, body) = common::multipart::form(fields);
    hub.request(
        "POST",
        "/camera/update-image",
        &[("Content-Type", ct.as_str())],
        &body,
    )
}

#[test]
fn picamd_pushes_to_picamd_and_clients_speak_the_contract() {
    let hub = start_hub(&["--resolution", "320x240"]);
    let pusher = start_pusher(&hub, None);
    let ws = |path: &str| format!("ws://127.0.0.1:{}{path}", hub.port);

    // picamd → picamd: the hub lists the camera with a JPEG preview and lastActive in UTC.
    wait_until(
        "a picture from the pushing picamd",
        Duration::from_secs(15),
        || {
            camera(&hub, 1)["preview"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
        },
    );
    let cam = camera(&hub, 1);
    let keys: Vec<&String> = cam.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "name", "description", "lastActive", "preview"]);
    let preview = base64_decode(cam["preview"].as_str().unwrap());
    assert!(is_jpeg(&preview), "preview is a whole JPEG");
    let decoded = jpeg_decoder::Decoder::new(&preview[..])
        .decode()
        .expect("preview decodes");
    assert_eq!(decoded.len(), 320 * 240 * 3);
    let last_active = cam["lastActive"].as_str().unwrap();
    assert!(
        last_active.ends_with('Z') && last_active.starts_with("20"),
        "{last_active}"
    );
    let image = hub.get("/camera/get-image?cameraId=1");
    assert_eq!(image.header("Content-Type"), Some("image/jpeg"));
    let file = hub.data_dir.join("pushed.jpg");
    std::fs::write(&file, &image.body).unwrap();
    assert_eq!(ffprobe_size(&file), "320,240");
    assert_eq!(pusher.metric("picamd_hub_push_connected"), 1.0);
    assert!(pusher.metric("picamd_hub_push_images_total") >= 1.0);
    let telemetry = pusher.authed("GET", "/system/telemetry", "").json();
    assert_eq!(
        telemetry["hub"]["push"]["state"], "connected",
        "{telemetry}"
    );
    assert_eq!(telemetry["hub"]["push"]["camera_id"], 1);

    // A viewer gets the pushed pictures as raw JPEG messages; its move reaches the camera
    // (big-endian floats in, little-endian out), and so does POST /camera/update.
    let viewed = python(&["view", &ws("/video-output-stream"), "1", "3", "--move"]);
    assert_eq!(
        (viewed["pictures"].as_u64(), viewed["jpeg"].as_bool()),
        (Some(3), Some(true)),
        "{viewed}"
    );
    pusher
        .wait_for_log("move pitch 0.25 yaw -0.5", Duration::from_secs(5))
        .expect("the move reached the pushing picamd");
    let update = hub.request("POST", "/camera/update?cameraId=1", &[], b"");
    assert_eq!(update.json(), serde_json::json!({"result": true}));
    pusher
        .wait_for_log("asked for an update", Duration::from_secs(5))
        .expect("the update reached the pushing picamd");
    assert_eq!(
        hub.request("POST", "/camera/update?cameraId=2", &[], b"")
            .json(),
        serde_json::json!({"result": false}),
        "camera 2 is not connected"
    );

    // The Python camera client: its pictures are stored as sent.
    let picture = hub.data_dir.join("python.jpg");
    std::fs::write(&picture, &image.body).unwrap();
    let pushed = python(&[
        "push",
        &ws("/video-input-stream"),
        "2",
        "tok2",
        picture.to_str().unwrap(),
        "3",
    ]);
    assert_eq!(pushed["close_code"], serde_json::Value::Null, "{pushed}");
    assert_eq!(hub.get("/camera/get-image?cameraId=2").body, image.body);

    // Unknown id and wrong token: 1008 with the hub's reasons, and nothing sent after a bad
    // token is stored.
    let mut other = image.body.clone();
    other.extend(b"not stored");
    let other_file = hub.data_dir.join("other.jpg");
    std::fs::write(&other_file, &other).unwrap();
    let bad = python(&[
        "push",
        &ws("/video-input-stream"),
        "2",
        "wrong",
        other_file.to_str().unwrap(),
        "3",
    ]);
    assert_eq!(
        (bad["close_code"].as_u64(), bad["close_reason"].as_str()),
        (Some(1008), Some("Invalid token")),
        "{bad}"
    );
    assert_eq!(
        hub.get("/camera/get-image?cameraId=2").body,
        image.body,
        "no picture after a bad token"
    );
    let unknown = python(&[
        "push",
        &ws("/video-input-stream"),
        "99",
        "x",
        other_file.to_str().unwrap(),
        "1",
    ]);
    assert_eq!(
        (
            unknown["close_code"].as_u64(),
            unknown["close_reason"].as_str()
        ),
        (Some(1008), Some("No camera with id 99 exists")),
        "{unknown}"
    );
    let viewer = python(&["view", &ws("/video-output-stream"), "42", "1"]);
    assert_eq!(
        (
            viewer["close_code"].as_u64(),
            viewer["close_reason"].as_str()
        ),
        (Some(1008), Some("No camera with id 42 exists"))
    );
    let viewer = python(&["view", &ws("/video-output-stream"), "0", "1"]);
    assert_eq!(
        (
            viewer["close_code"].as_u64(),
            viewer["close_reason"].as_str()
        ),
        (Some(1007), Some("Invalid client info"))
    );

    // picamd pushing with a wrong token is refused: a configuration error it reports (and it
    // does not take over the real camera's control channel).
    let refused = start_pusher(&hub, Some("wrong"));
    refused
        .wait_for_log(
            "the hub refused camera 1: \"Invalid token\"",
            Duration::from_secs(15),
        )
        .expect("the refusal is logged with the hub's reason");
    let telemetry = refused.authed("GET", "/system/telemetry", "").json();
    assert_eq!(telemetry["hub"]["push"]["state"], "refused");
    assert_eq!(telemetry["hub"]["push"]["last_error"], "Invalid token");
    assert_eq!(refused.metric("picamd_hub_push_refused"), 1.0);
    let update = hub.request("POST", "/camera/update?cameraId=1", &[], b"");
    assert_eq!(
        update.json(),
        serde_json::json!({"result": true}),
        "the real camera keeps its control channel"
    );

    // The HTTP side: shapes, statuses and the hub's messages.
    assert_eq!(
        hub.get("/camera/hello").json(),
        serde_json::json!({"message": "Hello World!"})
    );
    let missing = hub.get("/camera/get-image?cameraId=99");
    assert_eq!(
        (missing.status, missing.json()),
        (404, serde_json::json!({"message": "No camera with id 99"}))
    );
    let no_delay = hub.get("/camera/stream-image?cameraId=1");
    assert_eq!((no_delay.status, no_delay.body.len()), (200, 0));
    assert_ne!(no_delay.header("Content-Type"), Some("text/event-stream"));
    let png = b"\xff\xd8 uploaded \xff\xd9";
    let wrong = upload(
        &hub,
        &[("cameraId", b"2"), ("token", b"nope"), ("image", png)],
    );
    assert_eq!(
        (wrong.status, wrong.json()),
        (401, serde_json::json!({"message": "Invalid token"}))
    );
    let bad_id = upload(
        &hub,
        &[("cameraId", b"0"), ("token", b"tok2"), ("image", png)],
    );
    assert_eq!(
        (bad_id.status, bad_id.json()),
        (
            400,
            serde_json::json!({"message": "Invalid id in FormData"})
        )
    );
    let ok = upload(
        &hub,
        &[("cameraId", b"2"), ("token", b"tok2"), ("image", png)],
    );
    assert_eq!((ok.status, ok.text().as_str()), (200, "200"));
    assert_eq!(hub.get("/camera/get-image?cameraId=2").body, png);
    assert!(hub.metric("picamd_hub_images_received_total") >= 5.0);
    assert!(hub.metric("picamd_hub_refused_total") >= 2.0);

    // Headless Chromium: our /hub page shows camera 1 live, and a real EventSource reads the
    // reference framing.
    let result = common::browser::run("hub.mjs", &[&hub.url("/"), "1"], &[], || hub.log());
    assert_eq!(result["events"][0]["type"], "image-update", "{result}");
    assert_eq!(
        result["events"][0]["prefix"], "data:image/jpg;base64,",
        "{result}"
    );
    assert_eq!(result["page_image_is_blob"], true, "{result}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// 10 cameras × 100 pictures/s for 4 s (1,000 a second) with a viewer on each: the hub keeps
/// only the latest picture per camera, so its resident memory stays bounded, and every viewer
/// still gets pictures.
#[test]
fn a_flood_of_pictures_stays_bounded() {
    let hub = start_hub(&["--resolution", "640x480"]);
    let frame = hub.authed("GET", "/frame", "");
    assert_eq!(frame.status, 200);
    let jpeg = hub.data_dir.join("flood.jpg");
    std::fs::write(&jpeg, &frame.body).unwrap();
    let before = rss_kib(hub.pid());
    let base = format!("ws://127.0.0.1:{}", hub.port);
    let result = python(&[
        "flood",
        &base,
        "3",
        "10",
        "100",
        "4",
        jpeg.to_str().unwrap(),
        SECRET,
    ]);
    let after = rss_kib(hub.pid());
    let received = hub.metric("picamd_hub_images_received_total");
    println!(
        "flood: {result}; {received} pictures received of {} bytes each; VmRSS {before} → {after} KiB",
        frame.body.len()
    );
    let sent = result["sent"].as_f64().unwrap();
    // The Python senders pace themselves; on a busy 2-core machine they may fall behind.
    assert!(sent >= 2000.0, "the flood ran: {result}");
    assert_eq!(received, sent, "every picture sent was taken");
    assert!(
        result["viewed_min"].as_u64().unwrap() >= 10,
        "viewers still get pictures: {result}"
    );
    // Latest-only: a few pictures per camera in flight at most, not the thousands sent.
    assert!(
        after < before + 64 * 1024,
        "VmRSS grew from {before} to {after} KiB"
    );
    wait_until("every hub connection ended", Duration::from_secs(5), || {
        hub.metric("picamd_hub_connections") == 0.0
    });
}
