//! The web console's activity panels (www/console/{recordings,timelapse,youtube,hub}.js) in
//! Debian's Chromium, against a real picamd that is also a hub, with a real RTMP ingest
//! (Debian's nginx with the RTMP module, an `on_publish` check that refuses keys starting
//! `bad`) on loopback: `tests/browser/console_activity.mjs` signs in through the page's form,
//! records, plays and deletes a recording, runs a timelapse, goes live and is refused, and
//! sees a hub camera's picture. Screenshots go to `console-artifacts/` under
//! `CARGO_TARGET_TMPDIR`.

mod common;
mod rtmp_peer;

use std::path::{Path, PathBuf};

use common::Picamd;
use rtmp_peer::{have_nginx_rtmp, Nginx, PublishCheck};

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-artifacts/activity");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the script against `cam` with `args`; its JSON line, after it exited 0.
fn console(cam: &Picamd, args: &[&str]) -> serde_json::Value {
    let artifacts = artifacts();
    let artifacts = artifacts.to_string_lossy();
    common::browser::run_against(
        "console_activity.mjs",
        cam,
        "",
        args,
        &[("PICAMD_ARTIFACTS", &artifacts)],
    )
}

#[test]
fn activity_panels_record_timelapse_stream_and_show_the_hub() {
    // The hub's one other camera, which posts a picture with its token.
    let hub_dir = std::env::temp_dir().join(format!("picamd-console-hub-{}", std::process::id()));
    std::fs::create_dir_all(&hub_dir).unwrap();
    let cameras = hub_dir.join("cameras.json");
    std::fs::write(
        &cameras,
        r#"[{"id": 2, "name": "bench camera", "description": "the other bench", "token": "tok2"}]"#,
    )
    .unwrap();

    let rtmp = have_nginx_rtmp().then(|| {
        let check = PublishCheck::start();
        let nginx = Nginx::start(Some(&check.url), None);
        (check, nginx)
    });
    if rtmp.is_none() {
        eprintln!("YouTube part skipped: nginx with libnginx-mod-rtmp/-stream is needed (scripts/install-test-deps.sh)");
    }
    let ingest = rtmp
        .as_ref()
        .map(|(_, nginx)| format!("rtmp://127.0.0.1:{}/live2", nginx.port));
    let mut env = vec![
        ("HUB_ENABLED", "1"),
        ("HUB_CAMERAS_FILE", cameras.to_str().unwrap()),
        ("RUST_LOG", "info"),
    ];
    if let Some(url) = ingest.as_deref() {
        env.push(("YOUTUBE_INGEST_URL", url));
    }
    let cam = Picamd::start_with(&["--resolution", "640x360", "--fps", "30"], &env, |_| {});

    // The other camera's picture: a frame of our own, posted as tests/hub.rs does.
    let frame = cam.authed("GET", "/frame", "");
    assert_eq!(frame.status, 200);
    let (ct, body) = common::multipart::form(&[
        ("cameraId", b"2"),
        ("token", b"tok2"),
        ("image", &frame.body),
    ]);
    let posted = cam.request(
        "POST",
        "/camera/update-image",
        &[("Content-Type", ct.as_str())],
        &body,
    );
    assert_eq!(posted.status, 200, "{}", posted.text());

    let mut args = vec!["--hub-camera", "2"];
    if rtmp.is_some() {
        args.push("--youtube");
    }
    let result = console(&cam, &args);
    let checks = &result["checks"];
    assert_eq!(checks["video_plays"]["ok"], true, "{checks}");
    assert!(
        checks["video_plays"]["detail"]["duration"]
            .as_f64()
            .unwrap()
            >= 1.0
    );
    assert!(
        checks["timelapse_pictures"]["detail"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    assert_eq!(checks["hub_picture"]["ok"], true, "{checks}");
    if let Some((check, _nginx)) = &rtmp {
        assert_eq!(checks["youtube_live"]["ok"], true, "{checks}");
        let refused = check.refused.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(refused, 1, "the bad key reached the ingest server once");
    }
    // The recording deleted from the page is gone from the disk (the one left is the
    // script's own, started with the key to provoke the 409).
    let deleted = checks["recording_listed"]["detail"].as_str().unwrap();
    let files = cam.authed("GET", "/recordings", "").json();
    assert!(
        !files["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == deleted),
        "{files}"
    );
    assert_eq!(
        cam.authed("GET", &format!("/recordings/{deleted}"), "")
            .status,
        404
    );
    let _ = std::fs::remove_dir_all(&hub_dir);
}

#[test]
fn not_a_hub_and_not_signed_in() {
    let cam = Picamd::start(&[]);
    let result = console(&cam, &["--no-hub"]);
    assert_eq!(result["checks"]["hub_card_hidden"], true, "{result}");
    // The card learnt it from /hub/state (200), not from a hub route's 404: the script
    // fails on any console error but the few it names.
    assert_eq!(cam.get("/hub/state").json()["enabled"], false);
}
