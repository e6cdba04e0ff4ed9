//! The thermal governor acts (contract §9.5): a temperature file the test writes drives the
//! daemon; ≥ 80 °C held lowers the preview bitrate, ≤ 70 °C held restores it, and the live
//! stream goes on throughout (same init segment, consecutive segments, one encoder).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Picamd, PLAYLIST};

const THROTTLE_MS: u64 = 1000;
const RESTORE_MS: u64 = 2000;

/// Waits until the governor's flag reads `throttled`; how long that took.
fn wait_throttled(cam: &Picamd, throttled: bool) -> Duration {
    let start = Instant::now();
    let want = f64::from(u8::from(throttled));
    while cam.metric("picamd_thermal_throttled") != want {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the governor did not switch to throttled={throttled}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// Waits (up to 2 s) for a metric to read `want`: the encoder thread applies a new rate at
/// its next frame, just after the governor asked for it.
fn wait_metric(cam: &Picamd, name: &str, want: f64) {
    let start = Instant::now();
    while cam.metric(name) != want {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{name} is {}, not {want}",
            cam.metric(name)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn set_temp(file: &Path, millidegrees: u32) {
    std::fs::write(file, format!("{millidegrees}\n")).unwrap();
}

/// Full segment URIs of a playlist, oldest first.
fn segments(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && l.ends_with(".m4s"))
        .map(str::to_string)
        .collect()
}

fn msn(uri: &str) -> u64 {
    uri.rsplit('-')
        .next()
        .and_then(|s| s.strip_suffix(".m4s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a segment URI: {uri}"))
}

/// Bytes of the newest three complete segments (three seconds of stream).
fn recent_bytes(cam: &Picamd) -> usize {
    let list = segments(&cam.get(PLAYLIST).text());
    list[list.len() - 3..]
        .iter()
        .map(|uri| {
            let resp = cam.get(&format!("/preview/hls/cam-preview/{uri}"));
            assert_eq!(resp.status, 200, "{uri}");
            resp.body.len()
        })
        .sum()
}

/// What a playlist watcher saw: every init segment and segment number.
#[derive(Default)]
struct Seen {
    maps: BTreeSet<String>,
    msns: BTreeSet<u64>,
    discontinuity: bool,
}

fn watch(port: u16, stop: Arc<AtomicBool>) -> thread::JoinHandle<Seen> {
    thread::spawn(move || {
        let mut seen = Seen::default();
        while !stop.load(Ordering::Relaxed) {
            let resp = common::request(port, "GET", PLAYLIST, &[], b"").unwrap();
            let text = resp.text();
            for line in text.lines() {
                if let Some(uri) = line.strip_prefix("#EXT-X-MAP:URI=") {
                    seen.maps.insert(uri.trim_matches('"').to_string());
                }
                seen.discontinuity |= line.starts_with("#EXT-X-DISCONTINUITY");
            }
            seen.msns.extend(segments(&text).iter().map(|u| msn(u)));
            thread::sleep(Duration::from_millis(300));
        }
        seen
    })
}

#[test]
fn throttles_and_restores_the_preview_bitrate_without_restarting_the_stream() {
    let dir = std::env::temp_dir().join(format!("picamd-thermal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let temp: PathBuf = dir.join("temp");
    set_temp(&temp, 50_000);
    let temp_arg = temp.display().to_string();
    let (throttle, restore) = (THROTTLE_MS.to_string(), RESTORE_MS.to_string());
    // The test picture at 640x360 takes about 250 kbit/s: under 300k it runs at that, and
    // throttled to 120k (2/5) at about 130k.
    let cam = Picamd::start_with(
        &[
            "--source",
            "test",
            "--encoder",
            "openh264",
            "--resolution",
            "640x360",
            "--bitrate",
            "300k",
            "--temp-file",
            &temp_arg,
            "--thermal-poll-ms",
            "100",
            "--thermal-throttle-ms",
            &throttle,
            "--thermal-restore-ms",
            &restore,
        ],
        &[("RUST_LOG", "info")],
        |_| {},
    );
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(cam.port, Arc::clone(&stop));
    let key = cam.local_key();
    let governor = || {
        let resp = cam.request("GET", "/system/telemetry", &[("X-API-Key", &key)], b"");
        assert_eq!(resp.status, 200);
        resp.json()["thermal_governor"].clone()
    };

    // Normal: 50 °C. Wait for three complete segments.
    while segments(&cam.get(PLAYLIST).text()).len() < 4 {
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(cam.metric("picamd_preview_bitrate_bps"), 300_000.0);
    assert_eq!(cam.metric("picamd_thermal_throttled"), 0.0);
    assert_eq!(cam.metric("rpi_cam_cpu_temp_celsius"), 50.0);
    let normal = recent_bytes(&cam);

    // 85 °C, held: throttled to 2/5 after the hold time, not before.
    set_temp(&temp, 85_000);
    let took = wait_throttled(&cam, true);
    assert!(took >= Duration::from_millis(THROTTLE_MS), "{took:?}");
    wait_metric(&cam, "picamd_preview_bitrate_bps", 120_000.0);
    assert_eq!(cam.metric("picamd_thermal_throttles_total"), 1.0);
    let g = governor();
    assert_eq!(g["throttled"], true, "{g}");
    assert_eq!(g["preview_bitrate"], 120_000, "{g}");
    assert_eq!(g["normal_bitrate"], 300_000, "{g}");
    // Three segments made wholly at the lower rate (and one for the rate control to follow).
    thread::sleep(Duration::from_millis(4500));
    let throttled = recent_bytes(&cam);

    // 75 °C is neither: it stays throttled.
    set_temp(&temp, 75_000);
    thread::sleep(Duration::from_millis(RESTORE_MS + 500));
    assert_eq!(cam.metric("picamd_thermal_throttled"), 1.0);

    // 60 °C, held: restored after the hold time.
    set_temp(&temp, 60_000);
    let took = wait_throttled(&cam, false);
    assert!(took >= Duration::from_millis(RESTORE_MS), "{took:?}");
    wait_metric(&cam, "picamd_preview_bitrate_bps", 300_000.0);
    assert_eq!(cam.metric("picamd_thermal_throttles_total"), 1.0);
    assert_eq!(governor()["throttled"], false);
    thread::sleep(Duration::from_millis(4500));
    let restored = recent_bytes(&cam);

    // The rate really changed: about 52 % of the bytes in practice; the test wants under 70 %.
    assert!(
        throttled * 10 < normal * 7 && throttled * 10 < restored * 7,
        "bytes in three segments: {normal} normal, {throttled} throttled, {restored} restored"
    );

    // One stream all along: one init segment, consecutive segment numbers, one encoder.
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    assert_eq!(seen.maps.len(), 1, "init segments: {:?}", seen.maps);
    assert!(!seen.discontinuity);
    let (first, last) = (*seen.msns.first().unwrap(), *seen.msns.last().unwrap());
    assert_eq!(seen.msns.len() as u64, last - first + 1, "{:?}", seen.msns);
    assert!(last - first >= 15, "{first}..{last}");
    let log = cam.log();
    assert_eq!(log.matches("OpenH264 encoder:").count(), 1, "{log}");
    assert!(log.contains("preview bitrate 300 → 120 kbit/s"), "{log}");
    assert!(log.contains("preview bitrate 120 → 300 kbit/s"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
