//! One recording on disk: created with its init segment, fragments appended and made durable
//! one by one (`sync_data`), and at the end the durations patched into `mvhd`, `tkhd` and
//! `mdhd`. A write that fails (a full disk) is cut back to the last whole fragment, so the
//! file stays playable whatever happens.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::media::fmp4::{find_box, parse_box_tree};
use crate::media::TIMESCALE;

pub struct Mp4File {
    file: File,
    path: PathBuf,
    /// Bytes that are whole and durable.
    len: u64,
    /// Offsets of the 32-bit duration fields of `mvhd`, `tkhd` and `mdhd`.
    duration_fields: Vec<u64>,
}

/// Where the durations sit in an init segment written by `media::fmp4::init_segment`
/// (version 0 boxes): `mvhd` and `mdhd` after version/flags, creation, modification and
/// timescale; `tkhd` after version/flags, creation, modification, track ID and a reserved word.
pub fn duration_fields(init: &[u8]) -> Vec<u64> {
    let Ok(tree) = parse_box_tree(init) else {
        return Vec::new();
    };
    [
        ("moov/mvhd", 16),
        ("moov/trak/tkhd", 20),
        ("moov/trak/mdia/mdhd", 16),
    ]
    .iter()
    .filter_map(|(path, skip)| {
        let b = find_box(&tree, path)?;
        // Version 0 only: a 32-bit duration.
        (init.get(b.payload_offset(init)) == Some(&0))
            .then(|| (b.payload_offset(init) + skip) as u64)
    })
    .collect()
}

impl Mp4File {
    /// Creates `path` (never replacing a file) and writes the init segment durably.
    pub fn create(path: &Path, init: &[u8]) -> io::Result<Mp4File> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut this = Mp4File {
            path: path.to_path_buf(),
            len: 0,
            duration_fields: duration_fields(init),
            file: file.try_clone()?,
        };
        if let Err(e) = file.write_all(init).and_then(|()| file.sync_data()) {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        this.len = init.len() as u64;
        // The new directory entry survives a crash too.
        if let Some(dir) = path.parent() {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(this)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written (whole fragments only).
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Appends one fragment and makes it durable. On failure the file is cut back to the
    /// fragments before it.
    pub fn append(&mut self, fragment: &[u8]) -> io::Result<()> {
        let result = self
            .file
            .write_all_at(fragment, self.len)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += fragment.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                let _ = self.file.sync_data();
                Err(e)
            }
        }
    }

    /// Writes the duration (90 kHz ticks; saturating at about 13 h) into the headers and
    /// makes the file durable. Returns its length.
    pub fn finish(self, duration_ticks: u64) -> io::Result<u64> {
        debug_assert_eq!(TIMESCALE, 90_000);
        let d = u32::try_from(duration_ticks)
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        for at in &self.duration_fields {
            self.file.write_all_at(&d, *at)?;
        }
        self.file.sync_data()?;
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fmp4::{init_segment, TrackConfig};
    use crate::media::test_vectors::{hex, OPENH264_720P_PPS, OPENH264_720P_SPS};
    use crate::testutil::TempDir;

    fn init() -> Vec<u8> {
        init_segment(
            &TrackConfig::from_parameter_sets(&hex(OPENH264_720P_SPS), &hex(OPENH264_720P_PPS))
                .unwrap(),
        )
    }

    #[test]
    fn durations_are_patched_at_the_end_and_files_are_never_replaced() {
        let dir = TempDir::new("record-file");
        let path = dir.join("a.mp4");
        let init = init();
        let fields = duration_fields(&init);
        assert_eq!(fields.len(), 3);
        let mut f = Mp4File::create(&path, &init).unwrap();
        f.append(b"\0\0\0\x08free").unwrap();
        assert_eq!(f.bytes(), init.len() as u64 + 8);
        assert_eq!(f.finish(123_456).unwrap(), init.len() as u64 + 8);
        let data = std::fs::read(&path).unwrap();
        for at in fields {
            let at = at as usize;
            assert_eq!(&data[at..at + 4], &123_456u32.to_be_bytes());
        }
        assert!(parse_box_tree(&data).is_ok());
        assert_eq!(
            Mp4File::create(&path, &init).err().map(|e| e.kind()),
            Some(io::ErrorKind::AlreadyExists)
        );
    }
}
