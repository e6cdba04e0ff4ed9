//! One timelapse picture on disk: encode the newest frame, write it and current.jpg, apply
//! retention; and the directory listings the worker starts from.

use std::fs;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use super::names::{file_name, is_own_temporary, parse_name, CURRENT, MAX_SUFFIX};
use super::retention::plan_retention;
use super::settings::TimelapseSettings;
use crate::clock;
use crate::media::Frame;
use crate::stills::atomic::write_atomic;
use crate::stills::mjpeg::EncodeFn;

/// A picture taken and stored.
pub(super) struct Captured {
    pub name: String,
    pub taken_ms: u64,
    pub images: usize,
}

/// Takes one picture: writes it and current.jpg, then applies retention. `last_frame` is the
/// identity of the frame the previous picture was made from, so a stalled camera is noticed.
pub(super) fn capture(
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
    let jpeg = match panic::catch_unwind(AssertUnwindSafe(|| encode(&frame))) {
        Ok(encoded) => encoded.map_err(|e| format!("cannot encode the picture: {e}"))?,
        Err(_) => return Err("cannot encode the picture: the JPEG encoder panicked".into()),
    };
    *last_frame = Some(identity);
    let in_dir = |what: &str, e: io::Error| format!("cannot {what} in {}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(|e| in_dir("create the directory", e))?;
    let taken_ms = clock::unix_us() / 1000;
    let name = free_name(dir, taken_ms / 1000)?;
    write_atomic(&dir.join(&name), &jpeg).map_err(|e| in_dir(&format!("write {name}"), e))?;
    write_atomic(&dir.join(CURRENT), &jpeg).map_err(|e| in_dir("replace current.jpg", e))?;
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
pub(super) fn free_name(dir: &Path, unix_s: u64) -> Result<String, String> {
    let base = file_name(unix_s);
    let stem = base.trim_end_matches(".jpg");
    std::iter::once(base.clone())
        .chain((1..=MAX_SUFFIX).map(|n| format!("{stem}-{n}.jpg")))
        .find(|name| !dir.join(name).exists())
        .ok_or_else(|| format!("every name for {base} is taken in {}", dir.display()))
}

/// Timelapse pictures in `dir` (an absent directory has none).
pub(super) fn picture_names(dir: &Path) -> io::Result<Vec<String>> {
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

/// Temporary files a crash left behind (only those the timelapse names).
pub(super) fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_own_temporary(name) {
            let _ = fs::remove_file(entry.path());
        }
    }
}
