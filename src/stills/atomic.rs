//! Durable, all-or-nothing file writes: readers see the old file or the new one, never a
//! torn one, and after return the new one survives a power cut.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Suffix of in-flight temp files, so leftovers from a crash can be recognised and removed.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Write `bytes` to `path`: a temp file in the same directory, fsync, rename over `path`,
/// fsync the directory. On failure the temp file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path)?;
    let result = write_synced(&temp, bytes).and_then(|()| fs::rename(&temp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(parent_dir(path))
}

/// Make renames and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether `name` is one of our temp files (`.<target>.<pid>.<n>.tmp`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

fn write_synced(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A hidden name next to `path`, unique within this process and across processes.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = format!(
        ".{}.{}.{n}{TEMP_SUFFIX}",
        name.to_string_lossy(),
        std::process::id()
    );
    Ok(parent_dir(path).join(temp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn writes_and_replaces_without_leaving_temps() {
        let dir = TempDir::new("atomic");
        let path = dir.0.join("current.jpg");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_atomic(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");
        write_atomic(&path, b"").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        assert_eq!(dir.names(), ["current.jpg"]);
    }

    #[test]
    fn failure_leaves_target_and_no_temp() {
        let dir = TempDir::new("atomic-fail");
        // Renaming a file over a non-empty directory fails after the temp was written.
        let path = dir.0.join("busy");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomic(&path, b"data").is_err());
        assert_eq!(dir.names(), ["busy"]);
        assert!(path.join("inside").exists());
    }

    #[test]
    fn missing_directory_and_bad_paths_are_errors() {
        let dir = TempDir::new("atomic-missing");
        let err = write_atomic(&dir.0.join("no/such/dir/file"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(write_atomic(Path::new("/"), b"x").is_err());
        assert!(dir.names().is_empty());
    }

    #[test]
    fn temp_names_are_recognised() {
        let temp = temp_path(Path::new("/x/abc.json")).unwrap();
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert!(is_temp_name(name), "{name}");
        assert_eq!(temp.parent(), Some(Path::new("/x")));
        assert_ne!(temp_path(Path::new("/x/abc.json")).unwrap(), temp);
        assert!(!is_temp_name("abc.json"));
        assert!(!is_temp_name(".hidden"));
        assert_eq!(
            temp_path(Path::new("rel")).unwrap().parent(),
            Some(Path::new("."))
        );
    }
}
