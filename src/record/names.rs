//! Recording file names (sans-IO): the seed pipeline's `<prefix>_<UTC %Y%m%dT%H%M%S>.mp4`, the
//! names of the files a rotation adds, and which names a client may give or ask for. Every
//! recording is a plain file directly in the output folder, so a name alone (no `/`, no `..`)
//! confines it there.

use std::path::Path;

/// Why a client-given path is refused (the 400 detail).
pub const PATH_OUTSIDE: &str =
    "path must name an .mp4 file directly inside RECORD_OUTPUT_DIR (letters, digits, '.', '-', '_')";

/// The longest file name accepted.
const MAX_NAME: usize = 128;

/// `<prefix>_<UTC %Y%m%dT%H%M%S>.mp4`.
pub fn auto_name(prefix: &str, unix_us: u64) -> String {
    let stamp: String = crate::clock::rfc3339_s(unix_us)
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{prefix}_{stamp}.mp4")
}

/// The name for the `n`th file of a recording whose first file is `first` (n = 0 is `first`
/// itself): `<stem>-<n>.mp4`. Used when the next automatic name is taken, and for the files
/// a rotation adds to a recording the client named.
pub fn numbered(first: &str, n: u32) -> String {
    if n == 0 {
        return first.to_string();
    }
    let stem = first.strip_suffix(".mp4").unwrap_or(first);
    format!("{stem}-{n}.mp4")
}

/// Whether `name` may be a recording's file name: 1 to 128 of `A-Z a-z 0-9 . - _`, not
/// starting with `.` or `-`, ending in `.mp4`.
pub fn is_recording_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.len() > ".mp4".len()
        && name.ends_with(".mp4")
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The file name a client-given `path` stands for: a bare name, `./name`, or an absolute
/// path whose folder is exactly `output_dir`. Anything else (another folder, `..`, a
/// sub-folder, a name that is not an `.mp4`) is `None`.
pub fn confine(path: &str, output_dir: &Path) -> Option<String> {
    let p = Path::new(path);
    let name = p.file_name()?.to_str()?;
    let parent = p.parent().unwrap_or(Path::new(""));
    let inside = if p.is_absolute() {
        parent == output_dir
    } else {
        parent.as_os_str().is_empty() || parent == Path::new(".")
    };
    (inside && is_recording_name(name) && !path.ends_with('/')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_and_numbered_names() {
        // 2026-12-04T09:30:05Z
        let t = 1_796_376_605_000_000;
        assert_eq!(auto_name("capture", t), "capture_20261204T093005.mp4");
        assert_eq!(
            numbered("capture_20261204T093005.mp4", 0),
            "capture_20261204T093005.mp4"
        );
        assert_eq!(numbered("clip.mp4", 3), "clip-3.mp4");
        assert!(is_recording_name(&auto_name("capture", t)));
        assert!(is_recording_name(&numbered("clip.mp4", 3)));
    }

    #[test]
    fn client_paths_are_confined_to_the_output_folder() {
        let dir = Path::new("/var/lib/picamd/recordings");
        for (path, want) in [
            ("clip.mp4", Some("clip.mp4")),
            ("./clip.mp4", Some("clip.mp4")),
            ("/var/lib/picamd/recordings/clip.mp4", Some("clip.mp4")),
            ("../clip.mp4", None),
            ("sub/clip.mp4", None),
            ("/tmp/clip.mp4", None),
            ("/var/lib/picamd/recordings/../clip.mp4", None),
            ("/var/lib/picamd/recordings/sub/clip.mp4", None),
            ("clip.avi", None),
            (".mp4", None),
            (".hidden.mp4", None),
            ("-x.mp4", None),
            ("a b.mp4", None),
            ("clip.mp4/", None),
            ("", None),
            ("..", None),
        ] {
            assert_eq!(confine(path, dir).as_deref(), want, "{path:?}");
        }
        assert!(!is_recording_name(&"a".repeat(200)));
        assert!(!is_recording_name("..%2f.mp4"));
    }
}
