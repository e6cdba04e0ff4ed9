//! The timelapse worker, run against a fake camera and encoder in a temporary directory.

use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::capture::free_name;
use super::names::{file_name, CURRENT};
use super::*;
use crate::encode::jpeg::JpegError;
use crate::stills::atomic::write_atomic;
use crate::testutil::{sequence_encoder, tiny_frame, TempDir};

/// A 100 fps camera.
fn running_camera() -> impl Fn() -> Option<Frame> + Send + Sync + 'static {
    let start = Instant::now();
    move || Some(tiny_frame(start.elapsed().as_millis() as u64 / 10 + 1))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn now_s() -> u64 {
    clock::unix_us() / 1_000_000
}

fn settings(interval_s: u64, keep: u32, max_age_s: u64) -> TimelapseSettings {
    TimelapseSettings {
        interval_s,
        keep,
        max_age_s,
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_short_run_writes_pictures_current_and_applies_retention() {
    let dir = TempDir::new("timelapse-run");
    let now = now_s();
    let (stale, recent) = (file_name(now - 3600), file_name(now - 30));
    for name in [&stale, &recent, &"notes.txt".to_string()] {
        fs::write(dir.0.join(name), b"old").unwrap();
    }
    let state = dir.0.join("state").join("timelapse.json");
    let lapse = Timelapse::start(
        dir.0.clone(),
        settings(1, 2, 60),
        running_camera(),
        sequence_encoder(),
        state.clone(),
    );
    let new_pictures = || {
        dir.names()
            .into_iter()
            .filter(|n| parse_name(n).is_some() && *n != stale && *n != recent)
            .collect::<Vec<_>>()
    };
    // The status follows the files: wait until it has caught up with the second one.
    wait_for("two pictures", Duration::from_millis(2500), || {
        let taken = new_pictures();
        taken.len() == 2 && lapse.status().last_capture.as_ref() == taken.last()
    });
    let status = lapse.status();
    let taken = new_pictures();
    assert!(status.enabled);
    assert_eq!(status.last_error, None);
    assert_eq!(status.last_capture.as_ref(), taken.last());
    assert_eq!(status.images, 2);
    assert!(
        status.next_capture_in_s.is_some_and(|s| s <= 1),
        "{status:?}"
    );
    let mut expected = taken.clone();
    expected.extend(["current.jpg".to_string(), "notes.txt".to_string()]);
    expected.sort();
    assert_eq!(
        dir.names(),
        expected,
        "old pictures gone, no temporaries left"
    );
    let newest = fs::read(dir.0.join(taken.last().unwrap())).unwrap();
    assert!(String::from_utf8(newest.clone())
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert_eq!(fs::read(dir.0.join(CURRENT)).unwrap(), newest);
    assert!(!state.exists(), "only updates are saved");
}

#[test]
fn turning_on_takes_effect_at_once_and_survives_a_restart() {
    let dir = TempDir::new("timelapse-update");
    let state = dir.0.join("timelapse.json");
    let start = || {
        Timelapse::start(
            dir.0.join("pictures"),
            TimelapseSettings::default(),
            running_camera(),
            sequence_encoder(),
            state.clone(),
        )
    };
    let lapse = start();
    let off = lapse.status();
    assert!(!off.enabled && off.next_capture_in_s.is_none() && off.images == 0);
    assert!(lapse.update(settings(86_401, 5, 600)).is_err());
    assert!(!state.exists(), "nothing saved from a refused update");
    let hourly = settings(3600, 5, 600);
    let status = lapse.update(hourly).unwrap();
    assert_eq!(status.settings, hourly);
    wait_for("the first picture", Duration::from_secs(1), || {
        lapse.status().images == 1
    });
    let taken = lapse.status().last_capture.unwrap();
    assert!(lapse
        .status()
        .next_capture_in_s
        .is_some_and(|s| (3598..=3600).contains(&s)));
    drop(lapse);

    let lapse = start();
    assert_eq!(lapse.settings(), hourly, "the saved settings win");
    let status = lapse.status();
    assert_eq!(status.last_capture, Some(taken));
    assert_eq!(status.images, 1);
    assert!(
        status.next_capture_in_s.is_some_and(|s| s >= 3598),
        "a restart does not take an extra picture: {status:?}"
    );
}

#[test]
fn errors_are_reported_and_capturing_goes_on() {
    let dir = TempDir::new("timelapse-errors");
    let sequence = Arc::new(AtomicU64::new(0));
    let reader = Arc::clone(&sequence);
    let camera = move || match reader.load(Ordering::SeqCst) {
        0 => None,
        n => Some(tiny_frame(n)),
    };
    let encoder: EncodeFn = Arc::new(|f: &Frame| match f.sequence {
        1 => Err(JpegError::EmptyFrame),
        n => Ok(n.to_string().into_bytes()),
    });
    let lapse = Timelapse::start(
        dir.0.clone(),
        settings(1, 10, 600),
        camera,
        encoder,
        dir.0.join("state.json"),
    );
    let error = || lapse.status().last_error.unwrap_or_default();
    wait_for("no frame", Duration::from_secs(1), || {
        error().contains("no frame")
    });
    sequence.store(1, Ordering::SeqCst);
    wait_for("the encoder error", Duration::from_millis(1500), || {
        error().contains(&JpegError::EmptyFrame.to_string())
    });
    sequence.store(2, Ordering::SeqCst);
    wait_for("a picture", Duration::from_millis(1500), || {
        lapse.status().images == 1
    });
    assert_eq!(lapse.status().last_error, None);
}

#[test]
fn disk_errors_are_reported() {
    let dir = TempDir::new("timelapse-disk");
    let not_a_dir = dir.0.join("file");
    fs::write(&not_a_dir, b"x").unwrap();
    let lapse = Timelapse::start(
        not_a_dir,
        settings(1, 10, 600),
        running_camera(),
        sequence_encoder(),
        dir.0.join("state.json"),
    );
    wait_for("the error", Duration::from_secs(1), || {
        lapse.status().last_error.is_some()
    });
    let status = lapse.status();
    assert!(
        status
            .last_error
            .as_ref()
            .unwrap()
            .contains("cannot create"),
        "{status:?}"
    );
    assert_eq!(status.images, 0);
    assert!(lapse.update(settings(0, 10, 600)).is_ok());
}

#[test]
fn a_bad_state_file_falls_back_and_stale_temporaries_go() {
    let dir = TempDir::new("timelapse-state");
    let state = dir.0.join("state.json");
    fs::write(&state, b"{not json").unwrap();
    for name in [".current.jpg.tmp", ".20251121-114552.jpg.tmp", ".mine.tmp"] {
        fs::write(dir.0.join(name), b"x").unwrap();
    }
    let lapse = Timelapse::start(
        dir.0.clone(),
        settings(0, 7, 600),
        running_camera(),
        sequence_encoder(),
        state.clone(),
    );
    assert_eq!(lapse.settings(), settings(0, 7, 600));
    let error = lapse.status().last_error.unwrap();
    assert!(error.contains("cannot parse"), "{error}");
    assert_eq!(dir.names(), strings(&[".mine.tmp", "state.json"]));
    drop(lapse);

    fs::write(&state, br#"{"interval_s":0,"keep":0,"max_age_s":600}"#).unwrap();
    let lapse = Timelapse::start(
        dir.0.clone(),
        settings(0, 7, 600),
        running_camera(),
        sequence_encoder(),
        state,
    );
    assert_eq!(
        lapse.settings().keep,
        7,
        "an invalid saved value is not used"
    );
    let lapse = Timelapse::start(
        dir.0.clone(),
        settings(5, 0, 600),
        running_camera(),
        sequence_encoder(),
        dir.0.join("absent.json"),
    );
    assert_eq!(lapse.settings(), TimelapseSettings::default());
    assert!(lapse.status().last_error.unwrap().contains("invalid"));
}

#[test]
fn clashing_names_get_a_suffix() {
    let dir = TempDir::new("timelapse-clash");
    let t = 1_763_725_552;
    assert_eq!(free_name(&dir.0, t).unwrap(), "20251121-114552.jpg");
    fs::write(dir.0.join("20251121-114552.jpg"), b"x").unwrap();
    fs::write(dir.0.join("20251121-114552-1.jpg"), b"x").unwrap();
    assert_eq!(free_name(&dir.0, t).unwrap(), "20251121-114552-2.jpg");
    write_atomic(&dir.0.join("a.jpg"), b"one").unwrap();
    write_atomic(&dir.0.join("a.jpg"), b"two").unwrap();
    assert_eq!(fs::read(dir.0.join("a.jpg")).unwrap(), b"two");
    assert!(write_atomic(&dir.0.join("missing").join("a.jpg"), b"x").is_err());
}
