//! The recordings folder: listing the finished files, opening one to download, deleting one.
//! Only names that [`is_recording_name`] accepts are ever touched, so nothing outside the
//! folder (or not a recording) can be listed, read or deleted.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::names::is_recording_name;
use super::retention::Finished;

/// The recordings in `dir` (regular files with a recording's name), newest first.
pub fn list(dir: &Path) -> io::Result<Vec<Finished>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_recording_name(&name) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let modified_unix_s = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        files.push(Finished {
            name,
            bytes: meta.len(),
            modified_unix_s,
        });
    }
    files.sort_by(|a, b| (b.modified_unix_s, &b.name).cmp(&(a.modified_unix_s, &a.name)));
    Ok(files)
}

/// Opens the recording `name` for reading, with its length; `NotFound` for a name that is not
/// a recording's.
pub fn open(dir: &Path, name: &str) -> io::Result<(File, u64)> {
    if !is_recording_name(name) {
        return Err(io::ErrorKind::NotFound.into());
    }
    let file = File::open(dir.join(name))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    Ok((file, meta.len()))
}

/// Deletes the recording `name`; `NotFound` for a name that is not a recording's.
pub fn delete(dir: &Path, name: &str) -> io::Result<()> {
    if !is_recording_name(name) {
        return Err(io::ErrorKind::NotFound.into());
    }
    let path = dir.join(name);
    if !std::fs::symlink_metadata(&path)?.is_file() {
        return Err(io::ErrorKind::NotFound.into());
    }
    std::fs::remove_file(path)
}
