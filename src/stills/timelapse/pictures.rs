//! The newest timelapse pictures on disk, for the web console: names, times and sizes, and
//! the path of one picture when its name is one the timelapse gives (so a request can name
//! nothing else in the directory).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::capture::picture_names;
use super::names::parse_name;

/// One picture on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub name: String,
    /// When it was taken (from its name), UTC seconds.
    pub taken_unix_s: u64,
    pub bytes: u64,
}

/// The `limit` newest pictures in `dir`, newest first (an absent directory has none). A file
/// that retention deletes between the listing and its size is left out.
pub fn newest(dir: &Path, limit: usize) -> io::Result<Vec<Picture>> {
    let mut named: Vec<((u64, u64), String)> = picture_names(dir)?
        .into_iter()
        .filter_map(|n| parse_name(&n).map(|key| (key, n)))
        .collect();
    named.sort_unstable_by_key(|n| std::cmp::Reverse(n.0));
    let mut out = Vec::with_capacity(limit.min(named.len()));
    for ((taken_unix_s, _), name) in named {
        if out.len() == limit {
            break;
        }
        match fs::metadata(dir.join(&name)) {
            Ok(meta) => out.push(Picture {
                name,
                taken_unix_s,
                bytes: meta.len(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The path of the picture called `name`, if it is a timelapse picture's name.
pub fn path_of(dir: &Path, name: &str) -> Option<PathBuf> {
    parse_name(name).map(|_| dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn newest_first_and_only_own_names() {
        let tmp = TempDir::new("timelapse-pictures");
        let dir = tmp.0.clone();
        for (name, len) in [
            ("20261204-100000.jpg", 3),
            ("20261204-100010.jpg", 5),
            ("20261204-100010-1.jpg", 7),
            ("current.jpg", 11),
            ("notes.txt", 13),
        ] {
            fs::write(dir.join(name), vec![0u8; len]).unwrap();
        }
        let got = newest(&dir, 2).unwrap();
        let names: Vec<_> = got.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["20261204-100010-1.jpg", "20261204-100010.jpg"]);
        assert_eq!(got[0].bytes, 7);
        assert_eq!(newest(&dir, 10).unwrap().len(), 3);
        assert!(path_of(&dir, "20261204-100000.jpg").is_some());
        for bad in [
            "current.jpg",
            "../x.jpg",
            "notes.txt",
            "20261204-100000.jpg/..",
        ] {
            assert_eq!(path_of(&dir, bad), None, "{bad}");
        }
        assert!(newest(&dir.join("absent"), 5).unwrap().is_empty());
    }
}
