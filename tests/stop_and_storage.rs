//! Robustness of the stores and of the process against the spawned binary: a blank capture
//! body, a capture store that cannot be read, a full disk under `PUT /timelapse`, a clean stop
//! on SIGTERM (refusing new requests on kept-alive connections), and the start-up banner when
//! listening on loopback only.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Picamd;

#[test]
fn a_blank_capture_body_is_invalid_json() {
    let p = Picamd::start(&["--resolution", "320x240"]);
    for blank in [" ", "\r\n", " \t\n "] {
        let r = p.authed("POST", "/captures", blank);
        assert_eq!(r.status, 422, "{blank:?}: {}", r.text());
        let detail = &r.json()["detail"][0];
        assert_eq!(detail["type"], "json_invalid", "{}", r.text());
        assert_eq!(detail["loc"][0], "body");
        assert_eq!(detail["msg"], "JSON decode error");
    }
    assert_eq!(
        p.authed("POST", "/captures", "").status,
        201,
        "no body at all"
    );
    let listed = p.authed("GET", "/captures", "").json();
    assert_eq!(listed["captures"].as_array().unwrap().len(), 1);
}

#[test]
fn a_capture_store_that_cannot_be_read_is_a_server_error_not_an_empty_list() {
    let p = Picamd::start(&["--resolution", "320x240"]);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = p.authed("POST", "/captures", "{}");
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["image_id"].as_str().unwrap().to_string());
    }
    let listed = p.authed("GET", "/captures", "").json();
    assert_eq!(listed["captures"].as_array().unwrap().len(), 2);
    // The newest record can no longer be read (a directory in its place gives EISDIR, as
    // EIO, EMFILE or EACCES would give their own error).
    let record = p.data_dir.join(format!("images/captures/{}.json", ids[1]));
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    let r = p.authed("GET", "/captures", "");
    assert_eq!(r.status, 500, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("capture store"), "{detail}");
    let r = p.authed("GET", &format!("/captures/{}", ids[1]), "");
    assert_eq!(r.status, 500, "{}", r.text());
}

/// A tmpfs of `size` mounted on `dir`, unmounted on drop; `None` when mounting is not
/// permitted here.
struct TinyFs(PathBuf);

impl TinyFs {
    fn mount(dir: &Path, size: &str) -> Option<TinyFs> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?;
        status.success().then(|| TinyFs(dir.to_path_buf()))
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system holding `dir` with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    path
}

#[test]
fn settings_and_captures_on_a_full_disk_are_507() {
    let mut tiny = None;
    let p = Picamd::start_with(&["--resolution", "320x240"], &[], |dir| {
        tiny = TinyFs::mount(dir, "4m");
    });
    let Some(_tiny) = tiny else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let filler = fill(&p.data_dir);
    let r = p.authed(
        "PUT",
        "/timelapse",
        r#"{"interval_s":60,"keep":5,"max_age_s":3600}"#,
    );
    assert_eq!(r.status, 507, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(
        detail.starts_with("Not enough storage space to save the timelapse settings"),
        "{detail}"
    );
    assert_eq!(p.authed("POST", "/captures", "{}").status, 507);
    assert_eq!(p.authed("GET", "/timelapse", "").json()["enabled"], false);
    std::fs::remove_file(filler).unwrap();
    let r = p.authed(
        "PUT",
        "/timelapse",
        r#"{"interval_s":60,"keep":5,"max_age_s":3600}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn sigterm_lets_a_capture_under_way_finish_and_exits_0() {
    // An S3 endpoint that accepts connections and never answers: the capture's upload
    // hangs, so `POST /captures` sits in its UPLOAD_WAIT_MS when the signal comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let mut p = Picamd::start_with(
        &["--resolution", "320x240"],
        &[
            ("RUST_LOG", "info"),
            ("S3_ENDPOINT_URL", &endpoint),
            ("S3_BUCKET", "b"),
            ("S3_ACCESS_KEY_ID", "k"),
            ("S3_SECRET_ACCESS_KEY", "s"),
            ("UPLOAD_WAIT_MS", "3000"),
        ],
        |_| {},
    );
    let (port, key) = (p.port, p.local_key());
    let key_again = key.clone();
    let capture = std::thread::spawn(move || {
        let headers = [("X-API-Key", key.as_str())];
        common::request(port, "POST", "/captures", &headers, b"{}")
    });
    // The capture is stored (its record is on disk) and now waits for its upload.
    let captures = p.data_dir.join("images/captures");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_dir(&captures)
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.path().extension() == Some("json".as_ref()))
        })
        .unwrap_or(false)
    {
        assert!(Instant::now() < deadline, "no capture stored");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A connection kept alive from before the stop may not start a new capture.
    let mut kept = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(kept.try_clone().unwrap());
    kept.write_all(b"GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    assert_eq!(
        common::read_response(&mut reader, false).unwrap().status,
        200
    );
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(p.pid() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(300));
    let another = format!(
        "POST /captures HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        key_again
    );
    kept.write_all(another.as_bytes()).unwrap();
    let refused = common::read_response(&mut reader, false).unwrap();
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.json()["detail"], "picamd is stopping");
    assert_eq!(refused.header("connection"), Some("close"));
    let status = p.signal_and_wait(0, Duration::from_secs(15));
    let status = status.expect("picamd exits within 15 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let answer = capture
        .join()
        .unwrap()
        .expect("the capture under way is answered");
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert_eq!(answer.json()["status"], "queued");
    let log = p.log();
    assert_eq!(log.matches("picamd stopping (SIGTERM)").count(), 1, "{log}");
    drop(silent);
}

#[test]
fn on_loopback_the_banner_gives_the_loopback_url_not_lan_urls() {
    let p = Picamd::start_with(
        &["--resolution", "320x240"],
        &[("RUST_LOG", "info")],
        |_| {},
    );
    let own = format!("http://127.0.0.1:{}", p.port);
    p.wait_for_log("live preview:", Duration::from_secs(10))
        .unwrap_or_else(|log| panic!("no banner: {log}"));
    let log = p.log();
    assert!(log.contains(&format!("  Setup    : {own}/setup")), "{log}");
    assert!(
        log.contains(&format!(
            "live preview: {own}/preview/hls/cam-preview/index.m3u8"
        )),
        "{log}"
    );
    for line in log.lines().filter(|l| l.contains("http://")) {
        assert!(
            line.contains("http://127.0.0.1:"),
            "only the loopback URL is advertised: {line}"
        );
    }
}

/// `MAX_CAPTURE_PIXELS` and `MAX_CAPTURE_FILE_BYTES` refuse a capture before it is stored,
/// with the plugin's 500 and message (a setting, not the request, is at fault).
#[test]
fn captures_over_the_configured_limits_are_refused_and_not_stored() {
    for (limit, value, expected) in [
        (
            "MAX_CAPTURE_PIXELS",
            "1000",
            "Capture has 76800 pixels, which exceeds the 1000 pixel limit.",
        ),
        ("MAX_CAPTURE_FILE_BYTES", "100", "byte limit."),
    ] {
        let cam = Picamd::start_with(&["--resolution", "320x240"], &[(limit, value)], |_| {});
        let resp = cam.authed("POST", "/captures", "{}");
        assert_eq!(resp.status, 500, "{limit}: {}", resp.text());
        let detail = resp.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(detail.ends_with(expected), "{limit}: {detail}");
        let list = cam.authed("GET", "/captures", "");
        let stored = list.json()["captures"].as_array().map(Vec::len);
        assert_eq!(stored, Some(0), "{limit}: nothing stored");
    }
}
