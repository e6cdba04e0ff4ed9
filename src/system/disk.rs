//! Disk use of the filesystem holding a path (the images volume), through statvfs(3).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::round::py_round;

/// Block counts of one filesystem, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// f_blocks × f_frsize.
    pub total: u64,
    /// (f_blocks − f_bfree) × f_frsize: what is in use, counting root's reserve as free.
    pub used: u64,
    /// f_bavail × f_frsize: what an unprivileged writer can still use.
    pub available: u64,
}

impl DiskSpace {
    /// `round(used / total * 100, 2)`, as the Python plugin computes it; 0.0 for a
    /// filesystem that reports no blocks (procfs, some FUSE mounts).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        py_round(self.used as f64 / self.total as f64 * 100.0, 2)
    }
}

/// Percentage of the filesystem holding `path` that is in use.
pub fn disk_percent(path: &Path) -> io::Result<f64> {
    disk_space(path).map(|s| s.percent())
}

/// Bytes an unprivileged writer can still store on the filesystem holding `path`.
#[cfg(test)]
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    disk_space(path).map(|s| s.available)
}

/// statvfs of `path`, or of its nearest existing ancestor when it does not exist yet (the
/// images directory is created on the first capture).
pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
    let target = nearest_existing(path).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no existing ancestor of {}", path.display()),
        )
    })?;
    let c_path = CString::new(target.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {}", path.display()),
        )
    })?;
    // SAFETY: statvfs is plain old data; an all-zero value is valid and the call fills it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and st a valid, writable statvfs.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The field types differ between 32- and 64-bit targets; widen all of them to u64.
    let (blocks, bfree, bavail, frsize) = (
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
        st.f_frsize as u64,
    );
    Ok(space_from_counts(blocks, bfree, bavail, frsize))
}

/// Byte totals from statvfs block counts; saturating, since a corrupt or racing filesystem
/// can report more free than total blocks.
pub fn space_from_counts(blocks: u64, bfree: u64, bavail: u64, frsize: u64) -> DiskSpace {
    DiskSpace {
        total: blocks.saturating_mul(frsize),
        used: blocks.saturating_sub(bfree).saturating_mul(frsize),
        available: bavail.saturating_mul(frsize),
    }
}

/// `path` itself or its closest ancestor that exists; a relative path falls back to ".".
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .find(|p| p.symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_to_two_decimals() {
        let s = space_from_counts(3, 2, 1, 4096);
        assert_eq!(s.total, 3 * 4096);
        assert_eq!(s.used, 4096);
        assert_eq!(s.available, 4096);
        assert_eq!(s.percent(), 33.33);
        assert_eq!(space_from_counts(1000, 550, 500, 1024).percent(), 45.0);
        assert_eq!(space_from_counts(8, 1, 0, 512).percent(), 87.5);
    }

    #[test]
    fn odd_counts_do_not_panic() {
        assert_eq!(space_from_counts(0, 0, 0, 4096).percent(), 0.0);
        // More free than total blocks.
        assert_eq!(space_from_counts(10, 20, 20, 4096).percent(), 0.0);
        let huge = space_from_counts(u64::MAX, 0, u64::MAX, u64::MAX);
        assert_eq!(huge.total, u64::MAX);
        assert_eq!(huge.percent(), 100.0);
    }

    #[test]
    fn real_filesystem() {
        let dir = std::env::temp_dir();
        let p = disk_percent(&dir).unwrap();
        assert!((0.0..=100.0).contains(&p), "{p}");
        let s = disk_space(&dir).unwrap();
        assert!(s.total > 0 && s.used <= s.total && s.available <= s.total);
        assert_eq!(free_bytes(&dir).unwrap(), s.available);
    }

    #[test]
    fn missing_path_uses_nearest_ancestor() {
        let dir = std::env::temp_dir();
        let missing = dir.join("picamd-no-such-dir-7f3a/images/today");
        assert_eq!(nearest_existing(&missing), Some(dir.clone()));
        assert_eq!(
            disk_space(&missing).unwrap().total,
            disk_space(&dir).unwrap().total
        );
        assert_eq!(
            nearest_existing(Path::new("picamd-no-such-relative-dir/x")),
            Some(PathBuf::from("."))
        );
        assert!(disk_percent(Path::new("picamd-no-such-relative-dir")).is_ok());
    }

    #[test]
    fn nul_byte_never_reaches_libc() {
        use std::ffi::OsStr;
        // A path with a NUL cannot exist, so the nearest existing ancestor ("/") is measured.
        let bad = Path::new(OsStr::from_bytes(b"/a\0b/c"));
        assert_eq!(nearest_existing(bad), Some(PathBuf::from("/")));
        assert!(disk_percent(bad).is_ok());
    }
}
