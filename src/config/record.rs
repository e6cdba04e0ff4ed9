//! What the recorder reads: where recordings go and how they are named (the seed pipeline's
//! `RECORD_OUTPUT_DIR` and `RECORD_FILE_PREFIX`), when a file rotates, always-on recording,
//! and retention (count, age, a quota on the folder, a free-space floor on its filesystem).

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::vars::Vars;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSettings {
    /// `RECORD_OUTPUT_DIR`; default `<data dir>/recordings`.
    pub output_dir: PathBuf,
    /// `RECORD_FILE_PREFIX` (`capture`): files are `<prefix>_<UTC %Y%m%dT%H%M%S>.mp4`.
    pub prefix: String,
    /// `RECORD_SEGMENT_S` (900): a new file starts at the first IDR after this long; 0 never.
    pub segment_s: u64,
    /// `RECORD_ALWAYS` (false): record from start-up.
    pub always: bool,
    /// `RECORD_ALWAYS_RETRY_S` (60): an always-on recording an error stopped starts again
    /// after this long.
    pub always_retry_s: u64,
    /// `RECORD_KEEP` (100): finished files kept at most; 0 no limit.
    pub keep: u64,
    /// `RECORD_MAX_AGE_S` (0: no limit): finished files older than this are deleted.
    pub max_age_s: u64,
    /// `RECORD_MAX_MB` (4096, MiB, fractions allowed): the folder's recordings may use at most this much; 0 no limit.
    pub max_bytes: u64,
    /// `RECORD_MIN_FREE_MB` (256): free space kept on the filesystem; recording stops below it
    /// once no finished file is left to delete.
    pub min_free_bytes: u64,
}

impl RecordSettings {
    pub(crate) fn from_vars(v: &Vars, data_dir: &Path) -> Result<RecordSettings, ConfigError> {
        let output_dir = v
            .path("RECORD_OUTPUT_DIR")
            .unwrap_or_else(|| data_dir.join("recordings"));
        let prefix = v.string("RECORD_FILE_PREFIX", "capture");
        let prefix_ok = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !prefix.starts_with('-');
        if !prefix_ok {
            return Err(ConfigError::invalid(
                "RECORD_FILE_PREFIX",
                &prefix,
                "1 to 64 of A-Z a-z 0-9 - _",
            ));
        }
        Ok(RecordSettings {
            output_dir,
            prefix,
            segment_s: v.uint("RECORD_SEGMENT_S", 900, 0, 86_400)?,
            always: v.bool("RECORD_ALWAYS", false)?,
            always_retry_s: v.uint("RECORD_ALWAYS_RETRY_S", 60, 1, 86_400)?,
            keep: v.uint("RECORD_KEEP", 100, 0, 1_000_000)?,
            max_age_s: v.uint("RECORD_MAX_AGE_S", 0, 0, u64::MAX)?,
            max_bytes: megabytes(v, "RECORD_MAX_MB", 4096)?,
            min_free_bytes: megabytes(v, "RECORD_MIN_FREE_MB", 256)?,
        })
    }
}

/// A size in MiB (fractions allowed, e.g. `0.5`), as bytes.
fn megabytes(v: &Vars, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    let Some(raw) = v.get(name) else {
        return Ok(default * MIB);
    };
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|mb| (0.0..=1_048_576.0).contains(mb))
        .map(|mb| (mb * MIB as f64) as u64)
        .ok_or_else(|| ConfigError::invalid(name, raw, "a number of MiB from 0 to 1048576"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<RecordSettings, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RecordSettings::from_vars(&Vars::new(&env, &HashMap::new()), Path::new("/data"))
    }

    #[test]
    fn defaults_and_overrides() {
        let s = read(&[]).unwrap();
        assert_eq!(s.output_dir, PathBuf::from("/data/recordings"));
        assert_eq!(s.prefix, "capture");
        assert_eq!((s.segment_s, s.always, s.keep), (900, false, 100));
        assert_eq!(s.max_bytes, 4096 * MIB);
        let s = read(&[
            ("RECORD_OUTPUT_DIR", "/rec"),
            ("RECORD_FILE_PREFIX", "cam-1"),
            ("RECORD_ALWAYS", "1"),
            ("RECORD_MAX_MB", "0"),
            ("RECORD_MIN_FREE_MB", "0.5"),
        ])
        .unwrap();
        assert_eq!(s.min_free_bytes, MIB / 2);
        assert!(read(&[("RECORD_MAX_MB", "-1")]).is_err());
        assert_eq!(s.output_dir, PathBuf::from("/rec"));
        assert_eq!(s.prefix, "cam-1");
        assert!(s.always);
        assert_eq!(s.max_bytes, 0);
        for bad in ["", "../x", "a b", "-x"] {
            assert!(read(&[("RECORD_FILE_PREFIX", bad)]).is_err(), "{bad:?}");
        }
    }
}
