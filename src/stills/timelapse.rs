//! Timelapse: a JPEG of the newest frame every N seconds, into a directory of timestamped
//! files (`YYYYMMDD-HHMMSS.jpg`, UTC) plus `current.jpg`, with retention by count and age.
//!
//! Every file is written to a temporary name in the same directory and renamed into place, so
//! a reader (a web page polling `current.jpg`, rsync) never sees a partial picture. Settings
//! changed through the API are persisted and win over the environment at the next start.

use std::fs::{self, File};
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::mjpeg::EncodeFn;
use crate::clock;
use crate::media::Frame;

/// Always the newest picture; never deleted by retention.
pub const CURRENT: &str = "current.jpg";
/// After a failed capture, try again this soon (or at the interval, if shorter).
const RETRY_S: u64 = 10;
/// `-1` … `-999` are tried when a name is taken (the clock went back).
const MAX_SUFFIX: u64 = 999;
/// The last second of year 9999: names have four-digit years.
const LAST_NAMEABLE_S: u64 = 253_402_300_799;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelapseSettings {
    /// Seconds between pictures; 0 turns the timelapse off.
    pub interval_s: u64,
    /// At most this many pictures are kept.
    pub keep: u32,
    /// Pictures older than this are deleted.
    pub max_age_s: u64,
}

impl Default for TimelapseSettings {
    /// Off; when turned on, a week of pictures at most.
    fn default() -> Self {
        TimelapseSettings {
            interval_s: 0,
            keep: 10_000,
            max_age_s: 7 * 86_400,
        }
    }
}

impl TimelapseSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.interval_s > 86_400 {
            return Err("interval_s must be 0 (off) or 1 to 86400 seconds".into());
        }
        if !(1..=100_000).contains(&self.keep) {
            return Err("keep must be 1 to 100000 pictures".into());
        }
        if !(60..=31_536_000).contains(&self.max_age_s) {
            return Err("max_age_s must be 60 to 31536000 seconds (a year)".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelapseStatus {
    pub settings: TimelapseSettings,
    pub enabled: bool,
    /// Timelapse pictures in the directory (not counting current.jpg).
    pub images: usize,
    /// File name of the newest picture.
    pub last_capture: Option<String>,
    pub last_error: Option<String>,
    pub next_capture_in_s: Option<u64>,
}

/// The file name of a picture taken at `unix_s` (UTC): `YYYYMMDD-HHMMSS.jpg`.
pub fn file_name(unix_s: u64) -> String {
    // "YYYY-MM-DDTHH:MM:SS.mmmZ"
    let t = clock::rfc3339_ms(unix_s.min(LAST_NAMEABLE_S) * 1_000_000);
    let digits = |range: std::ops::Range<usize>| t.get(range).unwrap_or("00");
    format!(
        "{}{}{}-{}{}{}.jpg",
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19)
    )
}

/// When a picture with this name was taken, and its clash suffix (0 for none); `None` for
/// any file the timelapse did not name (current.jpg, temporary and foreign files).
pub fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".jpg")?;
    let (stamp, suffix) = match stem.get(15..) {
        Some("") => (stem, 0),
        Some(rest) => {
            let n = rest.strip_prefix('-')?;
            if n.is_empty() || n.len() > 3 || n.starts_with('0') {
                return None;
            }
            (&stem[..15], number(n)?)
        }
        None => return None,
    };
    let (date, time) = stamp.split_once('-')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let unix_s = unix_from_civil(
        number(&date[..4])?,
        number(&date[4..6])?,
        number(&date[6..])?,
        number(&time[..2])?,
        number(&time[2..4])?,
        number(&time[4..])?,
    )?;
    Some((unix_s, suffix))
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Seconds since the epoch of a UTC date and time, `None` if there is no such moment.
fn unix_from_civil(y: u64, m: u64, d: u64, hh: u64, mm: u64, ss: u64) -> Option<u64> {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid_day = (1..=12).contains(&m) && d >= 1 && d <= month_days[m as usize - 1];
    if y < 1970 || !valid_day || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // Days from civil (H. Hinnant), with March as the first month of the year.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y % 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Which of `names` (a directory listing) to delete: pictures older than `max_age_s`, then
/// the oldest beyond the newest `keep`. Files the timelapse did not name are never listed.
/// The order is oldest first.
pub fn plan_retention(names: &[String], now_unix_s: u64, keep: u32, max_age_s: u64) -> Vec<String> {
    let mut pictures: Vec<((u64, u64), &String)> = names
        .iter()
        .filter_map(|n| parse_name(n).map(|t| (t, n)))
        .collect();
    pictures.sort();
    let too_old =
        |&((taken, _), _): &((u64, u64), &String)| now_unix_s.saturating_sub(taken) > max_age_s;
    let old = pictures.iter().take_while(|p| too_old(p)).count();
    let over = (pictures.len() - old).saturating_sub(keep as usize);
    pictures
        .iter()
        .take(old + over)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// When to capture next after a capture at `last_ms`: one interval later, but never in the
/// past and never more than one interval away (the wall clock may have jumped either way).
fn next_due_ms(last_ms: u64, interval_s: u64, now_ms: u64) -> u64 {
    let interval_ms = interval_s * 1000;
    last_ms
        .saturating_add(interval_ms)
        .clamp(now_ms, now_ms + interval_ms)
}

struct State {
    settings: TimelapseSettings,
    /// Bumped by every update, so a capture already under way does not reschedule with
    /// settings that were replaced meanwhile.
    epoch: u64,
    next_due_ms: Option<u64>,
    last_capture_ms: Option<u64>,
    last_capture: Option<String>,
    last_error: Option<String>,
    images: usize,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    dir: PathBuf,
    state_file: PathBuf,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Timelapse {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Timelapse {
    /// Starts the capture thread. Settings saved in `state_file` by an earlier `update` win
    /// over `settings` (from the environment).
    pub fn start(
        dir: PathBuf,
        settings: TimelapseSettings,
        latest: impl Fn() -> Option<Frame> + Send + Sync + 'static,
        encode: EncodeFn,
        state_file: PathBuf,
    ) -> Arc<Timelapse> {
        let mut last_error = None;
        let settings = match load_settings(&state_file) {
            Ok(Some(saved)) => saved,
            Ok(None) => settings,
            Err(e) => {
                log::warn!("timelapse: {e}; using the configured settings");
                last_error = Some(e);
                settings
            }
        };
        let settings = match settings.validate() {
            Ok(()) => settings,
            Err(e) => {
                let e = format!("invalid timelapse settings ({e}); the timelapse is off");
                log::error!("{e}");
                last_error = Some(e);
                TimelapseSettings::default()
            }
        };
        remove_stale_temporaries(&dir);
        let pictures = picture_names(&dir).unwrap_or_default();
        let newest = pictures
            .iter()
            .filter_map(|n| parse_name(n).map(|t| (t, n)))
            .max();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                settings,
                epoch: 0,
                next_due_ms: None,
                last_capture_ms: newest.map(|((taken, _), _)| taken * 1000),
                last_capture: newest.map(|(_, n)| n.clone()),
                last_error,
                images: pictures.len(),
                stop: false,
            }),
            wake: Condvar::new(),
            dir,
            state_file,
        });
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("timelapse".into())
            .spawn(move || capture_loop(&worker, &latest, &encode));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                let e = format!("cannot start the timelapse thread: {e}");
                log::error!("{e}");
                shared.lock().last_error = Some(e);
                None
            }
        };
        Arc::new(Timelapse { shared, thread })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn settings(&self) -> TimelapseSettings {
        self.shared.lock().settings
    }

    /// Validates, saves and applies new settings; a new interval counts from the last
    /// picture, so a shorter one can mean a picture right away.
    pub fn update(&self, new: TimelapseSettings) -> Result<TimelapseStatus, String> {
        new.validate()?;
        let mut st = self.shared.lock();
        // Saved under the lock so two updates cannot be saved in one order and applied in
        // the other.
        save_settings(&self.shared.state_file, &new)?;
        st.settings = new;
        st.epoch += 1;
        st.next_due_ms = None;
        drop(st);
        self.shared.wake.notify_one();
        Ok(self.status())
    }

    pub fn status(&self) -> TimelapseStatus {
        let st = self.shared.lock();
        let enabled = st.settings.interval_s > 0;
        let next_capture_in_s = enabled.then(|| {
            let now_ms = clock::unix_us() / 1000;
            let due = st.next_due_ms.unwrap_or_else(|| first_due_ms(&st, now_ms));
            due.saturating_sub(now_ms).div_ceil(1000)
        });
        TimelapseStatus {
            settings: st.settings,
            enabled,
            images: st.images,
            last_capture: st.last_capture.clone(),
            last_error: st.last_error.clone(),
            next_capture_in_s,
        }
    }
}

impl Drop for Timelapse {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn first_due_ms(st: &State, now_ms: u64) -> u64 {
    st.last_capture_ms.map_or(now_ms, |last| {
        next_due_ms(last, st.settings.interval_s, now_ms)
    })
}

/// A picture taken and stored.
struct Captured {
    name: String,
    taken_ms: u64,
    images: usize,
}

fn capture_loop(shared: &Shared, latest: &dyn Fn() -> Option<Frame>, encode: &EncodeFn) {
    let mut last_frame: Option<(u64, u64)> = None;
    loop {
        let (settings, epoch, due) = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                if st.settings.interval_s == 0 {
                    st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                let now_ms = clock::unix_us() / 1000;
                let due = match st.next_due_ms {
                    Some(due) => due,
                    None => {
                        let due = first_due_ms(&st, now_ms);
                        st.next_due_ms = Some(due);
                        due
                    }
                };
                if due <= now_ms {
                    break (st.settings, st.epoch, due);
                }
                st = shared
                    .wake
                    .wait_timeout(st, Duration::from_millis(due - now_ms))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        };
        let result = capture(&shared.dir, settings, latest, encode, &mut last_frame);
        let now_ms = clock::unix_us() / 1000;
        let mut st = shared.lock();
        let next = match result {
            Ok(captured) => {
                st.last_capture = Some(captured.name);
                st.last_capture_ms = Some(captured.taken_ms);
                st.images = captured.images;
                st.last_error = None;
                next_due_ms(due, settings.interval_s, now_ms)
            }
            Err(e) => {
                if st.last_error.as_ref() != Some(&e) {
                    log::warn!("timelapse: {e}");
                }
                st.last_error = Some(e);
                now_ms + settings.interval_s.min(RETRY_S) * 1000
            }
        };
        if st.epoch == epoch {
            st.next_due_ms = Some(next);
        }
    }
}

/// Takes one picture: writes it and current.jpg, then applies retention.
fn capture(
    dir: &Path,
    settings: TimelapseSettings,
    latest: &dyn Fn() -> Option<Frame>,
    encode: &EncodeFn,
    last_frame: &mut Option<(u64, u64)>,
) -> Result<Captured, String> {
    let frame = latest().ok_or("no frame from the camera yet")?;
    let identity = (frame.sequence, frame.capture_unix_us);
    if *last_frame == Some(identity) {
        return Err("the camera delivered no new frame since the last picture".into());
    }
    let jpeg = panic::catch_unwind(AssertUnwindSafe(|| encode(&frame)))
        .unwrap_or_else(|_| Err("the JPEG encoder panicked".into()))
        .map_err(|e| format!("cannot encode the picture: {e}"))?;
    *last_frame = Some(identity);
    let in_dir = |what: &str, e: io::Error| format!("cannot {what} in {}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(|e| in_dir("create the directory", e))?;
    let taken_ms = clock::unix_us() / 1000;
    let name = free_name(dir, taken_ms / 1000)?;
    write_atomically(dir, &name, &jpeg).map_err(|e| in_dir(&format!("write {name}"), e))?;
    write_atomically(dir, CURRENT, &jpeg).map_err(|e| in_dir("replace current.jpg", e))?;
    // Makes the renames durable; not every filesystem can sync a directory, so no error.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    let names = picture_names(dir).map_err(|e| in_dir("list pictures", e))?;
    let doomed = plan_retention(&names, taken_ms / 1000, settings.keep, settings.max_age_s);
    let mut images = names.len();
    for old in &doomed {
        match fs::remove_file(dir.join(old)) {
            Ok(()) => images -= 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => images -= 1,
            Err(e) => return Err(in_dir(&format!("delete {old}"), e)),
        }
    }
    Ok(Captured {
        name,
        taken_ms,
        images,
    })
}

/// `YYYYMMDD-HHMMSS.jpg`, or with `-N` added if that is taken.
fn free_name(dir: &Path, unix_s: u64) -> Result<String, String> {
    let base = file_name(unix_s);
    let stem = base.trim_end_matches(".jpg");
    std::iter::once(base.clone())
        .chain((1..=MAX_SUFFIX).map(|n| format!("{stem}-{n}.jpg")))
        .find(|name| !dir.join(name).exists())
        .ok_or_else(|| format!("every name for {base} is taken in {}", dir.display()))
}

/// Timelapse pictures in `dir` (an absent directory has none).
fn picture_names(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Some(name) = entry?.file_name().to_str() {
            if parse_name(name).is_some() {
                names.push(name.to_string());
            }
        }
    }
    Ok(names)
}

fn temporary_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// Writes `bytes` to `dir/name` so that `name` only ever holds a whole file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temporary = dir.join(temporary_name(name));
    let result = File::create(&temporary)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&temporary, dir.join(name)));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Temporary files a crash left behind (only those the timelapse names).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let target = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp"));
        if target.is_some_and(|t| t == CURRENT || parse_name(t).is_some()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn load_settings(state_file: &Path) -> Result<Option<TimelapseSettings>, String> {
    let bytes = match fs::read(state_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", state_file.display())),
    };
    let saved: TimelapseSettings = serde_json::from_slice(&bytes)
        .map_err(|e| format!("cannot parse {}: {e}", state_file.display()))?;
    saved
        .validate()
        .map_err(|e| format!("{} is invalid: {e}", state_file.display()))?;
    Ok(Some(saved))
}

fn save_settings(state_file: &Path, settings: &TimelapseSettings) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot save {}: {e}", state_file.display());
    let name = state_file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail(&"not a file name"))?;
    let dir = match state_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let json = serde_json::to_vec_pretty(settings).map_err(|e| fail(&e))?;
    write_atomically(dir, name, &json).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::Instant;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let path = std::env::temp_dir()
                .join(format!("picamd-timelapse-{tag}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn frame(sequence: u64) -> Frame {
        Frame {
            width: 2,
            height: 2,
            data: Arc::from(vec![0u8; Frame::i420_len(2, 2)]),
            pts: 0,
            capture_unix_us: 0,
            sequence,
        }
    }

    fn fake_encoder() -> EncodeFn {
        Arc::new(|f: &Frame| Ok(f.sequence.to_string().into_bytes()))
    }

    /// A 100 fps camera.
    fn running_camera() -> impl Fn() -> Option<Frame> + Send + Sync + 'static {
        let start = Instant::now();
        move || Some(frame(start.elapsed().as_millis() as u64 / 10 + 1))
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
    fn names_are_utc_timestamps() {
        assert_eq!(file_name(0), "19700101-000000.jpg");
        assert_eq!(file_name(951_782_400), "20000229-000000.jpg");
        assert_eq!(file_name(1_763_725_552), "20251121-114552.jpg");
        assert_eq!(file_name(u64::MAX), "99991231-235959.jpg");
        for t in [0, 59, 86_399, 951_782_400, 1_763_725_552, LAST_NAMEABLE_S] {
            assert_eq!(parse_name(&file_name(t)), Some((t, 0)), "{t}");
        }
        assert_eq!(
            parse_name("20251121-114552-7.jpg"),
            Some((1_763_725_552, 7))
        );
        assert_eq!(
            parse_name("20251121-114552-999.jpg"),
            Some((1_763_725_552, 999))
        );
        for foreign in [
            "current.jpg",
            ".20251121-114552.jpg.tmp",
            "20251121-114552.jpeg",
            "20251121-114552.JPG",
            "2025112-114552.jpg",
            "20251121_114552.jpg",
            "20251321-114552.jpg",
            "20250229-114552.jpg",
            "20251121-244552.jpg",
            "20251121-116052.jpg",
            "19691231-235959.jpg",
            "20251121-114552-.jpg",
            "20251121-114552-0.jpg",
            "20251121-114552-07.jpg",
            "20251121-114552-1000.jpg",
            "20251121-114552-x.jpg",
            "2025112é-114552.jpg",
            "+0251121-114552.jpg",
            "",
        ] {
            assert_eq!(parse_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn retention_keeps_the_newest_by_count() {
        let t = 1_763_725_552;
        let names: Vec<String> = (0..5).rev().map(|i| file_name(t - i * 60)).collect();
        let doomed = plan_retention(&names, t, 3, 86_400);
        assert_eq!(doomed, vec![file_name(t - 240), file_name(t - 180)]);
        assert!(plan_retention(&names, t, 5, 86_400).is_empty());
        assert_eq!(plan_retention(&names, t, 0, 86_400).len(), 5);
    }

    #[test]
    fn retention_drops_pictures_older_than_the_maximum_age() {
        let t = 1_763_725_552;
        let names = vec![
            file_name(t - 3601),
            file_name(t - 3600),
            file_name(t),
            file_name(t + 7200),
        ];
        assert_eq!(
            plan_retention(&names, t, 100, 3600),
            vec![file_name(t - 3601)]
        );
        // A picture from "the future" (the clock went back) is not old.
        assert_eq!(plan_retention(&names, t, 100, 60).len(), 2);
    }

    #[test]
    fn retention_by_age_and_count_together() {
        let t = 1_763_725_552;
        let names = vec![
            file_name(t),
            file_name(t - 10),
            file_name(t - 20),
            file_name(t - 5000),
        ];
        let doomed = plan_retention(&names, t, 2, 3600);
        assert_eq!(doomed, vec![file_name(t - 5000), file_name(t - 20)]);
    }

    #[test]
    fn retention_never_touches_current_or_foreign_files() {
        let t = 1_763_725_552;
        let names = strings(&[
            "current.jpg",
            "notes.txt",
            "19700101-000000.jpeg",
            ".19700101-000000.jpg.tmp",
            "holiday.jpg",
            "19700101-000000.jpg",
        ]);
        assert_eq!(
            plan_retention(&names, t, 1, 60),
            strings(&["19700101-000000.jpg"])
        );
        assert!(plan_retention(&strings(&["current.jpg", "x"]), t, 1, 60).is_empty());
    }

    #[test]
    fn retention_orders_clashing_names_numerically() {
        let names = strings(&[
            "20251121-114552-10.jpg",
            "20251121-114552-2.jpg",
            "20251121-114552.jpg",
            "20251121-114553.jpg",
            "20251121-114552-1.jpg",
        ]);
        let doomed = plan_retention(&names, 1_763_725_553, 2, 3600);
        assert_eq!(
            doomed,
            strings(&[
                "20251121-114552.jpg",
                "20251121-114552-1.jpg",
                "20251121-114552-2.jpg"
            ])
        );
    }

    #[test]
    fn settings_are_validated() {
        for ok in [
            settings(0, 1, 60),
            settings(1, 100_000, 31_536_000),
            settings(86_400, 500, 3600),
            TimelapseSettings::default(),
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok:?}");
        }
        for (bad, field) in [
            (settings(86_401, 10, 3600), "interval_s"),
            (settings(60, 0, 3600), "keep"),
            (settings(60, 100_001, 3600), "keep"),
            (settings(60, 10, 59), "max_age_s"),
            (settings(60, 10, 31_536_001), "max_age_s"),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.starts_with(field), "{bad:?}: {e}");
        }
        let json = r#"{"interval_s":60,"keep":10,"max_age_s":3600}"#;
        let parsed: TimelapseSettings = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, settings(60, 10, 3600));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
        for bad in [
            r#"{"interval_s":60,"keep":10}"#,
            r#"{"interval_s":60,"keep":10,"max_age_s":3600,"extra":1}"#,
            r#"{"interval_s":-1,"keep":10,"max_age_s":3600}"#,
            r#"{"interval_s":60,"keep":5000000000,"max_age_s":3600}"#,
        ] {
            assert!(
                serde_json::from_str::<TimelapseSettings>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_next_picture_is_one_interval_on_within_reason() {
        assert_eq!(next_due_ms(10_000, 5, 12_000), 15_000);
        assert_eq!(next_due_ms(10_000, 5, 40_000), 40_000, "late: now");
        assert_eq!(
            next_due_ms(900_000, 5, 40_000),
            45_000,
            "clock went back: one interval"
        );
    }

    #[test]
    fn a_short_run_writes_pictures_current_and_applies_retention() {
        let dir = TempDir::new("run");
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
            fake_encoder(),
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
        let dir = TempDir::new("update");
        let state = dir.0.join("timelapse.json");
        let start = || {
            Timelapse::start(
                dir.0.join("pictures"),
                TimelapseSettings::default(),
                running_camera(),
                fake_encoder(),
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
        let dir = TempDir::new("errors");
        let sequence = Arc::new(AtomicU64::new(0));
        let reader = Arc::clone(&sequence);
        let camera = move || match reader.load(Ordering::SeqCst) {
            0 => None,
            n => Some(frame(n)),
        };
        let encoder: EncodeFn = Arc::new(|f: &Frame| match f.sequence {
            1 => Err("bad frame".to_string()),
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
            error().contains("bad frame")
        });
        sequence.store(2, Ordering::SeqCst);
        wait_for("a picture", Duration::from_millis(1500), || {
            lapse.status().images == 1
        });
        assert_eq!(lapse.status().last_error, None);
    }

    #[test]
    fn disk_errors_are_reported() {
        let dir = TempDir::new("disk");
        let not_a_dir = dir.0.join("file");
        fs::write(&not_a_dir, b"x").unwrap();
        let lapse = Timelapse::start(
            not_a_dir,
            settings(1, 10, 600),
            running_camera(),
            fake_encoder(),
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
        let dir = TempDir::new("state");
        let state = dir.0.join("state.json");
        fs::write(&state, b"{not json").unwrap();
        for name in [".current.jpg.tmp", ".20251121-114552.jpg.tmp", ".mine.tmp"] {
            fs::write(dir.0.join(name), b"x").unwrap();
        }
        let lapse = Timelapse::start(
            dir.0.clone(),
            settings(0, 7, 600),
            running_camera(),
            fake_encoder(),
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
            fake_encoder(),
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
            fake_encoder(),
            dir.0.join("absent.json"),
        );
        assert_eq!(lapse.settings(), TimelapseSettings::default());
        assert!(lapse.status().last_error.unwrap().contains("invalid"));
    }

    #[test]
    fn clashing_names_get_a_suffix() {
        let dir = TempDir::new("clash");
        let t = 1_763_725_552;
        assert_eq!(free_name(&dir.0, t).unwrap(), "20251121-114552.jpg");
        fs::write(dir.0.join("20251121-114552.jpg"), b"x").unwrap();
        fs::write(dir.0.join("20251121-114552-1.jpg"), b"x").unwrap();
        assert_eq!(free_name(&dir.0, t).unwrap(), "20251121-114552-2.jpg");
        write_atomically(&dir.0, "a.jpg", b"one").unwrap();
        write_atomically(&dir.0, "a.jpg", b"two").unwrap();
        assert_eq!(fs::read(dir.0.join("a.jpg")).unwrap(), b"two");
        assert!(write_atomically(&dir.0.join("missing"), "a.jpg", b"x").is_err());
    }
}
