//! The web console's camera panels (controls, capture, gallery, health) in headless Chromium
//! (`tests/browser/console_camera.mjs`), and the action limit a browser session gets on the
//! slider routes (`RATE_LIMIT_CONTROLS_SESSION`) next to the plugin's limit for API keys.

mod common;
mod s3_server;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use common::Picamd;
use s3_server::S3Server;

/// Runs `console_camera.mjs` against `cam` with `args`; its JSON line, after checking that it
/// passed.
fn console_script(cam: &Picamd, artifacts: &Path, args: &[&str]) -> serde_json::Value {
    let artifacts = artifacts.to_string_lossy();
    common::browser::run_against(
        "console_camera.mjs",
        cam,
        "",
        args,
        &[("PICAMD_ARTIFACTS", &artifacts)],
    )
}

#[test]
fn camera_panels_work_signed_in_on_desktop_and_phone() {
    let cam = Picamd::start(&[]);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    let result = console_script(&cam, &artifacts, &[]);
    let b = &result["brightness"];
    assert!(
        b["after"].as_f64().unwrap() > b["before"].as_f64().unwrap() + 25.0,
        "{b}"
    );
    assert_eq!(result["capture_status"], 201);
    assert_eq!(
        result["gallery_state"], "local",
        "no sink: kept on the camera"
    );
    assert_eq!(result["errors"], serde_json::json!([]));
    for shot in ["console-desktop.png", "console-phone.png"] {
        let len = std::fs::metadata(artifacts.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}

/// Signs in like the page does (a form post with the key); the session cookie.
fn session_cookie(cam: &Picamd) -> String {
    // The same site as the Host header `common::request` sends.
    let origin = "http://127.0.0.1";
    let body = format!("api_key={}&redirect_url=/", cam.local_key());
    let resp = cam.request(
        "POST",
        "/auth/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", origin),
        ],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    let cookie = resp.header("Set-Cookie").expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// PATCHes `/camera/controls` (and PUTs `/camera/focus`) `n` times with the session cookie;
/// the statuses.
fn as_session(cam: &Picamd, cookie: &str, path: &str, n: usize) -> Vec<u16> {
    // The same site as the Host header `common::request` sends.
    let origin = "http://127.0.0.1";
    let (method, body) = match path {
        "/camera/focus" => ("PUT", r#"{"mode":"continuous"}"#),
        _ => ("PATCH", r#"{"controls":{"Brightness":0.1}}"#),
    };
    (0..n)
        .map(|_| {
            cam.request(
                method,
                path,
                &[
                    ("Cookie", cookie),
                    ("Origin", origin),
                    ("Content-Type", "application/json"),
                ],
                body.as_bytes(),
            )
            .status
        })
        .collect()
}

#[test]
fn a_browser_session_may_move_sliders_beyond_the_plugins_limit_a_key_may_not() {
    let cam = Picamd::start(&[]);
    let cookie = session_cookie(&cam);
    // 40 changes from the console within the window: all taken (the default is 300).
    let statuses = as_session(&cam, &cookie, "/camera/controls", 40);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(as_session(&cam, &cookie, "/camera/focus", 25)
        .iter()
        .all(|s| *s == 200));
    // An API key keeps the plugin's 20 per 300 s, counted apart from the session.
    let body = r#"{"controls":{"Brightness":0.0}}"#;
    for i in 0..20 {
        let r = cam.authed("PATCH", "/camera/controls", body);
        assert_eq!(r.status, 200, "request {i}");
    }
    let refused = cam.authed("PATCH", "/camera/controls", body);
    assert_eq!(refused.status, 429);
    let wait: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    // Captures are not sliders: a session keeps the plugin's limit there.
    // The same site as the Host header `common::request` sends.
    let origin = "http://127.0.0.1";
    let captures: Vec<u16> = (0..21)
        .map(|_| {
            cam.request(
                "POST",
                "/captures",
                &[("Cookie", &cookie), ("Origin", origin)],
                b"",
            )
            .status
        })
        .collect();
    assert_eq!(&captures[..20], &[201; 20][..]);
    assert_eq!(captures[20], 429);
}

#[test]
fn rate_limit_controls_session_sets_the_sessions_limit() {
    let cam = Picamd::start_with(&[], &[("RATE_LIMIT_CONTROLS_SESSION", "3")], |_| {});
    let cookie = session_cookie(&cam);
    assert_eq!(
        as_session(&cam, &cookie, "/camera/controls", 4),
        [200, 200, 200, 429]
    );
    assert_eq!(
        as_session(&cam, &cookie, "/camera/focus", 4),
        [200, 200, 200, 429]
    );
}

/// With the session's limit at 2, the console's third change is refused: the wait shows next
/// to the control and the console does not retry until it is over.
#[test]
fn the_console_shows_the_rate_limit_next_to_the_control() {
    let cam = Picamd::start_with(&[], &[("RATE_LIMIT_CONTROLS_SESSION", "2")], |_| {});
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-artifacts");
    let result = console_script(&cam, &artifacts, &["--rate-limited"]);
    assert_eq!(result["statuses"], serde_json::json!([200, 200, 429]));
}

/// Uploads go to an S3 server (s3s-fs) that is down: the capture is `queued`, and the capture
/// card and the gallery show "Upload failed, will retry" with the queue's error. Once the
/// server is up, both turn into "Uploaded" with the image's link, without a reload.
#[test]
fn a_failing_upload_shows_its_reason_then_its_link() {
    let mut s3 = S3Server::stopped();
    let s3_env = s3.env("console");
    let mut env: Vec<(&str, &str)> = s3_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("UPLOAD_RETRY_SCHEDULE_S", "1,1,1,1"));
    let cam = Picamd::start_with(&[], &env, |_| {});
    let mut child = Command::new("node")
        .current_dir(common::browser::dir())
        .args(["console_camera.mjs", &cam.url(""), "--sink-down"])
        .env("PICAMD_KEY", cam.local_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        let shown = line == "FAILED_SHOWN";
        seen.push(line);
        if shown {
            s3.resume();
            break;
        }
    }
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("node ends");
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let stdout = seen.join("\n");
    println!("{stdout}");
    assert!(
        status.success(),
        "console checks failed:\n{stdout}\n{stderr}"
    );
    let result: serde_json::Value = serde_json::from_str(seen.last().unwrap()).unwrap();
    assert_eq!(result["capture_answer_status"], "queued");
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("S3 upload failed") && reason.contains(&s3.endpoint()),
        "{reason}"
    );
    let url = result["image_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/console/rpi-cam/42/", s3.endpoint())),
        "{url}"
    );
    assert_eq!(s3.objects("console").len(), 1, "the one capture, uploaded");
}
