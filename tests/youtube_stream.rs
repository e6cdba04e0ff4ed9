//! YouTube live against real RTMP servers on loopback: Debian's nginx with the RTMP module
//! (recording everything it gets), behind an ssl `stream` front for RTMPS, an `on_publish`
//! check and a proxy that can stall. ffprobe and ffmpeg judge what arrived.

#[path = "backend_peer/mod.rs"]
mod backend_peer;
mod common;
mod paired;
mod rtmp_peer;

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backend_peer::{BackendPeer, PeerConfig};
use common::{have, Picamd};
use paired::{pair, relay, start_daemon};
use rtmp_peer::{have_nginx_rtmp, test_ca, Nginx, Proxy, PublishCheck};
use serde_json::{json, Value};

const FPS: f64 = 30.0;

fn ready() -> bool {
    if !have_nginx_rtmp() || !have("ffprobe") || !have("openssl") {
        eprintln!("skipped: nginx with libnginx-mod-rtmp/-stream, ffprobe and openssl are needed (scripts/install-test-deps.sh)");
        return false;
    }
    true
}

fn start_picamd(ingest: &str, extra_env: &[(&str, &str)]) -> Picamd {
    let mut env = vec![("YOUTUBE_INGEST_URL", ingest), ("RUST_LOG", "info")];
    env.extend_from_slice(extra_env);
    Picamd::start_with(&["--resolution", "640x360", "--fps", "30"], &env, |_| {})
}

fn post(cam: &Picamd, key: &str) -> common::HttpResponse {
    let body = json!({"stream_key": key, "broadcast_key": "bcast-1"}).to_string();
    cam.authed("POST", "/streams/youtube", &body)
}

fn youtube(cam: &Picamd) -> Value {
    cam.get("/health").json()["youtube"].clone()
}

/// Waits until `/health`'s youtube detail satisfies `ok`.
fn wait_youtube(cam: &Picamd, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let y = youtube(cam);
        if ok(&y) {
            return y;
        }
        assert!(Instant::now() < deadline, "{what}: {y}\n{}", cam.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ffprobe(args: &[&str], target: &str) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(target)
        .output()
        .expect("ffprobe");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("ffprobe {target}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The recorded FLV: H.264 at 640x360 and AAC LC 44.1 kHz stereo, starting together, one
/// frame per 1/30 s, and no decode errors. Returns the video duration.
fn check_recording(path: &std::path::Path) -> f64 {
    let file = path.to_str().unwrap();
    let probe = ffprobe(&["-count_frames", "-show_streams", "-show_format"], file);
    let streams = probe["streams"].as_array().expect("streams");
    let v = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video");
    let a = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .expect("audio");
    assert_eq!(
        (
            v["codec_name"].as_str(),
            v["width"].as_u64(),
            v["height"].as_u64()
        ),
        (Some("h264"), Some(640), Some(360)),
        "{v}"
    );
    assert_eq!(
        (a["codec_name"].as_str(), a["profile"].as_str()),
        (Some("aac"), Some("LC")),
        "{a}"
    );
    assert_eq!(
        (a["sample_rate"].as_str(), a["channels"].as_u64()),
        (Some("44100"), Some(2)),
        "{a}"
    );
    let start = |s: &Value| {
        s["start_time"]
            .as_str()
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    assert!(
        (start(v) - start(a)).abs() <= 0.1,
        "A/V start {} vs {}",
        start(v),
        start(a)
    );
    // The video's span from its packets' timestamps.
    let pkts = ffprobe(
        &["-select_streams", "v", "-show_entries", "packet=pts_time"],
        file,
    );
    let times: Vec<f64> = pkts["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["pts_time"].as_str()?.parse().ok())
        .collect();
    let frames = v["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse::<f64>().ok())
        .expect("frame count");
    let span = times.last().unwrap() - times.first().unwrap() + 1.0 / FPS;
    let expected = FPS * span;
    assert!(
        (frames - expected).abs() <= expected * 0.05,
        "{frames} frames in {span:.2} s"
    );
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i", file, "-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&decode.stderr);
    assert!(
        decode.status.success() && errors.trim().is_empty(),
        "decode errors: {errors}"
    );
    span
}

#[test]
fn rtmp_stream_api_recording_and_command_sequence() {
    if !ready() {
        return;
    }
    let check = PublishCheck::start();
    let nginx = Nginx::start(Some(&check.url), None);
    let proxy = Proxy::start(nginx.port);
    let cam = start_picamd(&format!("rtmp://127.0.0.1:{}/live2", proxy.port), &[]);

    // Nothing active yet; invalid keys are 422 without echoing them.
    assert_eq!(cam.authed("GET", "/streams/youtube", "").status, 404);
    assert_eq!(cam.authed("DELETE", "/streams/youtube", "").status, 404);
    let bad = cam.authed(
        "POST",
        "/streams/youtube",
        r#"{"stream_key":"no spaces!","broadcast_key":"b"}"#,
    );
    assert_eq!(bad.status, 422);
    assert!(!bad.text().contains("no spaces!"), "{}", bad.text());
    assert_eq!(cam.authed("POST", "/streams/youtube", "").status, 422);

    let started = post(&cam, "test-key");
    assert_eq!(started.status, 201, "{}", started.text());
    let view = started.json();
    assert_eq!(view["mode"], "youtube");
    assert_eq!(view["url"], "https://youtube.com/watch?v=bcast-1");
    assert!(view["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(!started.text().contains("test-key"));
    wait_youtube(&cam, "live", Duration::from_secs(10), |y| {
        y["state"] == "live"
    });
    let live_at = Instant::now();
    assert_eq!(
        cam.authed("GET", "/streams/youtube", "").json()["url"],
        view["url"]
    );
    assert_eq!(
        cam.authed("GET", "/camera", "").json()["stream"]["mode"],
        "youtube"
    );
    let again = post(&cam, "other-key");
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["detail"], "Stream active in youtube mode at https://youtube.com/watch?v=bcast-1. Stop streaming first.");
    // The stream needs the preview encoder: stopping the preview is refused meanwhile.
    assert_eq!(cam.authed("POST", "/preview/stop", "").status, 409);

    // A live read-back from nginx while we publish.
    std::thread::sleep(Duration::from_secs(2));
    let live = ffprobe(
        &["-show_streams"],
        &format!("rtmp://127.0.0.1:{}/live2/test-key", nginx.port),
    );
    let kinds: Vec<&str> = live["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["codec_name"].as_str())
        .collect();
    assert!(kinds.contains(&"h264") && kinds.contains(&"aac"), "{live}");
    std::thread::sleep(
        Duration::from_secs(3)
            .saturating_sub(live_at.elapsed().saturating_sub(Duration::from_secs(2))),
    );

    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_youtube_live 1"), "{metrics}");
    let t = Instant::now();
    assert_eq!(cam.authed("DELETE", "/streams/youtube", "").status, 204);
    let streamed = live_at.elapsed().as_secs_f64();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(cam.authed("GET", "/streams/youtube", "").status, 404);
    assert!(cam.authed("GET", "/camera", "").json()["stream"].is_null());
    assert_eq!(cam.authed("POST", "/preview/stop", "").status, 204);
    assert_eq!(youtube(&cam)["ended"]["reason"], "deleted");

    // The key is in no answer, log or metric.
    let telemetry = cam.authed("GET", "/system/telemetry", "").text();
    let health = cam.get("/health").text();
    for (what, text) in [
        ("log", cam.log()),
        ("telemetry", telemetry),
        ("health", health),
        ("metrics", metrics),
    ] {
        assert!(!text.contains("test-key"), "{what} shows the key:\n{text}");
    }

    let recs = nginx.recordings("test-key");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let span = check_recording(&recs[0]);
    assert!(
        span > streamed - 1.5 && span < streamed + 0.5,
        "{span:.2} s recorded of {streamed:.2} s"
    );

    // The command sequence: ours and ffmpeg's, to the same nginx through the same proxy.
    let ours = picamd::internal::stream::command_names(&proxy.after_handshake(0)).unwrap();
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=stereo",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-g",
            "30",
            "-c:a",
            "aac",
            "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{}/live2/ffmpeg-key", proxy.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = picamd::internal::stream::command_names(&proxy.after_handshake(1)).unwrap();
    assert_eq!(ours, theirs, "picamd vs ffmpeg");
    assert_eq!(
        ours,
        [
            "connect",
            "releaseStream",
            "FCPublish",
            "createStream",
            "publish",
            "@setDataFrame onMetaData",
            "FCUnpublish",
            "deleteStream"
        ]
    );
    assert_eq!(check.refused.load(Ordering::SeqCst), 0);
}

#[test]
fn faults_refused_key_nginx_restart_and_stalled_server() {
    if !ready() {
        return;
    }
    let check = PublishCheck::start();
    let mut nginx = Nginx::start(Some(&check.url), None);
    let proxy = Proxy::start(nginx.port);
    let mut cam = start_picamd(&format!("rtmp://127.0.0.1:{}/live2", proxy.port), &[]);

    // A refused key: a clear error, the stream torn down, and no retries.
    let refused = post(&cam, "bad-key-123");
    assert_eq!(refused.status, 502, "{}", refused.text());
    let detail = refused.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("refused"), "{detail}");
    assert!(!detail.contains("bad-key-123"), "{detail}");
    assert_eq!(cam.authed("GET", "/streams/youtube", "").status, 404);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        check.refused.load(Ordering::SeqCst),
        1,
        "retried a refused key"
    );
    assert_eq!(youtube(&cam)["ended"]["reason"], "refused");

    // nginx killed and restarted: picamd comes back by itself.
    assert_eq!(post(&cam, "good-key").status, 201);
    wait_youtube(&cam, "live", Duration::from_secs(10), |y| {
        y["state"] == "live"
    });
    std::thread::sleep(Duration::from_secs(1));
    nginx.restart();
    wait_youtube(&cam, "live again", Duration::from_secs(15), |y| {
        y["state"] == "live" && y["reconnects"].as_u64() >= Some(1)
    });

    // A server that stops reading: the write timeout notices, and picamd redials.
    let before = youtube(&cam)["reconnects"].as_u64().unwrap();
    proxy.stall.store(true, Ordering::SeqCst);
    let y = wait_youtube(&cam, "write timeout", Duration::from_secs(30), |y| {
        y["reconnects"].as_u64() > Some(before)
    });
    assert!(
        y["last_error"]
            .as_str()
            .unwrap()
            .contains("write timed out"),
        "{y}"
    );
    proxy.stall.store(false, Ordering::SeqCst);
    wait_youtube(&cam, "live after the stall", Duration::from_secs(30), |y| {
        y["state"] == "live"
    });
    // SIGTERM says goodbye to the server too, within the stop grace.
    let status = cam.signal_and_wait(libc::SIGTERM, Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", cam.log());
    let last = proxy.connections() - 1;
    let names = picamd::internal::stream::command_names(&proxy.after_handshake(last)).unwrap();
    assert_eq!(
        names[names.len() - 2..],
        ["FCUnpublish", "deleteStream"],
        "{names:?}"
    );
    assert!(cam.log().contains("youtube stream ended: picamd stopped"));
    assert!(!cam.log().contains("good-key"));
}

#[test]
fn rtmps_with_a_private_ca_and_the_duration_limit() {
    if !ready() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("picamd-yt-ca-{}", std::process::id()));
    let (ca, cert, key) = test_ca(&dir);
    let nginx = Nginx::start(None, Some((&cert, &key)));
    let tls_port = nginx.tls_port.unwrap();
    let ca_file = ca.to_str().unwrap().to_string();
    let cam = start_picamd(
        &format!("rtmps://localhost:{tls_port}/live2"),
        &[
            ("RTMP_CA_FILE", ca_file.as_str()),
            ("MAX_STREAM_DURATION_S", "4"),
        ],
    );
    let started = post(&cam, "tls-key");
    assert_eq!(started.status, 201, "{}", started.text());
    wait_youtube(&cam, "live over rtmps", Duration::from_secs(10), |y| {
        y["state"] == "live"
    });
    // MAX_STREAM_DURATION_S ends it by itself.
    let y = wait_youtube(&cam, "ended by the limit", Duration::from_secs(10), |y| {
        y["state"] == "ended"
    });
    assert_eq!(y["ended"]["reason"], "max_duration", "{y}");
    assert_eq!(cam.authed("GET", "/streams/youtube", "").status, 404);
    let recs = nginx.recordings("tls-key");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let span = check_recording(&recs[0]);
    assert!(span > 2.5 && span < 4.5, "{span}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `POST /camera/stop` ends a live stream cleanly instead of leaving it connected with no
/// video: the ingest server sees the stream close, and the API says why.
#[test]
fn a_camera_stop_ends_the_stream() {
    if !ready() {
        return;
    }
    let nginx = Nginx::start(None, None);
    let proxy = Proxy::start(nginx.port);
    let cam = start_picamd(&format!("rtmp://127.0.0.1:{}/live2", proxy.port), &[]);
    assert_eq!(post(&cam, "stop-key").status, 201);
    wait_youtube(&cam, "live", Duration::from_secs(10), |y| {
        y["state"] == "live"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cam.authed("POST", "/camera/stop", "").status, 200);
    assert_eq!(cam.authed("GET", "/streams/youtube", "").status, 404);
    // /health answers for the stopped camera now; telemetry still tells the stream's end.
    let y = cam.authed("GET", "/system/telemetry", "").json()["youtube"].clone();
    assert_eq!(y["state"], "ended", "{y}");
    assert_eq!(y["ended"]["reason"], "camera_stopped", "{y}");
    // The server was told goodbye, not left waiting for video.
    let names = picamd::internal::stream::command_names(&proxy.after_handshake(0)).unwrap();
    assert_eq!(
        names[names.len() - 2..],
        ["FCUnpublish", "deleteStream"],
        "{names:?}"
    );
    let recs = nginx.recordings("stop-key");
    assert_eq!(recs.len(), 1, "{recs:?}");
    let span = check_recording(&recs[0]);
    assert!(span > 1.0, "{span}");
    assert_eq!(cam.authed("POST", "/camera/start", "").status, 200);
}

/// Validates `value` with the backend's own models (relab-rpi-cam-models, in the venv
/// scripts/install-test-deps.sh makes); `false` when that venv is missing.
fn validate_with_models(model: &str, value: &Value) -> bool {
    let venv = std::env::var_os("PICAMD_MODELS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/picamd/relab-models-venv")
        });
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!(
            "relab-rpi-cam-models not installed ({}): run scripts/install-test-deps.sh",
            venv.display()
        );
        return false;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/relab_models/validate.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .arg(model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{value} is not a valid {model}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn through_the_relay_as_the_backend_calls_it() {
    if !ready() {
        return;
    }
    let nginx = Nginx::start(None, None);
    let peer = BackendPeer::start(PeerConfig::default());
    let ingest = format!("rtmp://127.0.0.1:{}/live2", nginx.port);
    let cam = start_daemon(&peer.base_url(), &[("YOUTUBE_INGEST_URL", ingest.as_str())]);
    let camera = pair(&peer, &cam);

    let body = json!({"stream_key": "relayed-key", "broadcast_key": "bcast-relay"});
    let t = Instant::now();
    let started = relay(&peer, &camera, "POST", "/streams/youtube", Some(body));
    let took = t.elapsed();
    assert_eq!(started.status, 201, "{:?}", started.data);
    // The backend gives the Pi 30 s; the stream is live well within that.
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(validate_with_models("stream.StreamView", &started.data));
    assert_eq!(
        started.data["url"],
        "https://youtube.com/watch?v=bcast-relay"
    );
    assert_eq!(youtube(&cam)["state"], "live");

    // The backend's idempotency check and status page, then its stop.
    let status = relay(&peer, &camera, "GET", "/streams/youtube", None);
    assert_eq!(status.status, 200);
    assert!(validate_with_models("stream.StreamView", &status.data));
    let again = relay(
        &peer,
        &camera,
        "POST",
        "/streams/youtube",
        Some(json!({"stream_key": "relayed-key", "broadcast_key": "bcast-relay"})),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        relay(&peer, &camera, "DELETE", "/streams/youtube", None).status,
        204
    );
    assert_eq!(
        relay(&peer, &camera, "GET", "/streams/youtube", None).status,
        404
    );
    assert_eq!(nginx.recordings("relayed-key").len(), 1);
    assert!(!cam.log().contains("relayed-key"));
}
