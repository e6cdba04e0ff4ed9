//! The wall clock stepped under the running daemon with libfaketime (Debian's `faketime`
//! package; scripts/install-test-deps.sh installs it): back an hour, as NTP or fake-hwclock
//! do on a Pi without an RTC, then forward a day. The timelapse keeps taking pictures one
//! interval apart and `GET /captures` keeps the order the captures were taken in. Only the
//! wall clock is faked (`FAKETIME_DONT_FAKE_MONOTONIC`), as in a real step.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Picamd;

/// libfaketime's multi-threaded build, wherever the distribution put it.
fn libfaketime() -> Option<PathBuf> {
    let lib = std::fs::read_dir("/usr/lib").ok()?;
    lib.filter_map(Result::ok)
        .map(|e| e.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.is_file())
}

fn real_unix_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sets the daemon's clock offset and waits until the daemon sees it (libfaketime reads the
/// file at most once a second).
fn step(p: &Picamd, offset_file: &Path, offset_s: i64) {
    std::fs::write(offset_file, format!("{offset_s:+}\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = p.get("/time").json()["unix_us"].as_i64().unwrap() / 1_000_000;
        if (seen - real_unix_s() - offset_s).abs() <= 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon's clock never moved by {offset_s} s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn timelapse_pictures(p: &Picamd) -> usize {
    let dir = p.data_dir.join("images/timelapse");
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".jpg") && name != "current.jpg" && !name.starts_with('.')
            })
            .count()
    })
}

/// Waits until the timelapse has taken `more` pictures than `before`.
fn wait_for_pictures(p: &Picamd, before: usize, more: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while timelapse_pictures(p) < before + more {
        assert!(
            Instant::now() < deadline,
            "{what}: the timelapse stopped at {} pictures (was {before})",
            timelapse_pictures(p)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn capture(p: &Picamd) -> String {
    let r = p.authed("POST", "/captures", "{}");
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["image_id"].as_str().unwrap().to_string()
}

fn listed(p: &Picamd) -> Vec<String> {
    let list = p.authed("GET", "/captures", "").json();
    let captures = list["captures"].as_array().unwrap();
    captures
        .iter()
        .map(|c| c["image_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn clock_steps_neither_stop_the_timelapse_nor_reorder_captures() {
    let Some(lib) = libfaketime() else {
        eprintln!("SKIPPED: libfaketime not installed (apt install faketime; scripts/install-test-deps.sh does)");
        return;
    };
    let offset_dir = tempdir();
    let offset_file = offset_dir.join("faketime.rc");
    // An S3 endpoint that refuses connections: the sink backs off 1 s at a time, forever.
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", refused.local_addr().unwrap().port());
    drop(refused);
    std::fs::write(&offset_file, "+0\n").unwrap();
    let mut p = Picamd::start_with(
        &["--resolution", "320x240", "--fps", "10"],
        &[
            ("LD_PRELOAD", lib.to_str().unwrap()),
            ("FAKETIME_TIMESTAMP_FILE", offset_file.to_str().unwrap()),
            ("FAKETIME_CACHE_DURATION", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("S3_ENDPOINT_URL", &endpoint),
            ("S3_BUCKET", "b"),
            ("S3_ACCESS_KEY_ID", "k"),
            ("S3_SECRET_ACCESS_KEY", "s"),
            ("UPLOAD_RETRY_SCHEDULE_S", "1"),
            ("UPLOAD_WAIT_MS", "0"),
        ],
        |_| {},
    );
    let set = p.authed(
        "PUT",
        "/timelapse",
        r#"{"interval_s":1,"keep":1000,"max_age_s":31536000}"#,
    );
    assert_eq!(set.status, 200, "{}", set.text());
    let first = capture(&p);
    wait_for_pictures(&p, 0, 2, "before the steps");

    // Back an hour: before the fix the timelapse slept for that hour.
    step(&p, &offset_file, -3600);
    let second = capture(&p);
    wait_for_pictures(
        &p,
        timelapse_pictures(&p),
        2,
        "after the clock went back an hour",
    );
    assert_eq!(
        listed(&p),
        [second.clone(), first.clone()],
        "newest first, by sequence"
    );
    // The upload retries go on too: before the fix they waited for the hour to come back.
    let failures = upload_failures(&p);
    let deadline = Instant::now() + Duration::from_secs(15);
    while upload_failures(&p) < failures + 2 {
        assert!(
            Instant::now() < deadline,
            "upload retries stopped at {failures} failures"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Forward a day: pictures go on one interval apart, no burst to catch up.
    step(&p, &offset_file, 86_400);
    let before = timelapse_pictures(&p);
    let started = Instant::now();
    wait_for_pictures(&p, before, 2, "after the clock went forward a day");
    let taken = timelapse_pictures(&p) - before;
    let allowed = started.elapsed().as_secs() as usize + 2;
    assert!(
        taken <= allowed,
        "{taken} pictures in {:?}: a burst",
        started.elapsed()
    );
    let third = capture(&p);
    assert_eq!(listed(&p), [third.clone(), second.clone(), first.clone()]);

    // The order survives a restart (the daemon comes back with the clock an hour behind).
    std::fs::write(&offset_file, "-3600\n").unwrap();
    p.restart();
    step(&p, &offset_file, -3600);
    let fourth = capture(&p);
    assert_eq!(listed(&p), [fourth, third, second, first]);
    let _ = std::fs::remove_dir_all(offset_dir);
}

fn upload_failures(p: &Picamd) -> u64 {
    let telemetry = p.authed("GET", "/system/telemetry", "").json();
    telemetry["uploads"]["failures"].as_u64().unwrap()
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("picamd-faketime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
