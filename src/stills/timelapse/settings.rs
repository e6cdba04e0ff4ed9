//! The timelapse's settings: their limits, and the state file that makes settings changed
//! through the API win over the environment at the next start.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stills::atomic::write_atomic;

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
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        if self.interval_s > 86_400 {
            return Err(InvalidSettings::IntervalS);
        }
        if !(1..=100_000).contains(&self.keep) {
            return Err(InvalidSettings::Keep);
        }
        if !(60..=31_536_000).contains(&self.max_age_s) {
            return Err(InvalidSettings::MaxAgeS);
        }
        Ok(())
    }
}

/// The first setting out of its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidSettings {
    IntervalS,
    Keep,
    MaxAgeS,
}

impl fmt::Display for InvalidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidSettings::IntervalS => "interval_s must be 0 (off) or 1 to 86400 seconds",
            InvalidSettings::Keep => "keep must be 1 to 100000 pictures",
            InvalidSettings::MaxAgeS => "max_age_s must be 60 to 31536000 seconds (a year)",
        })
    }
}

impl std::error::Error for InvalidSettings {}

/// Why `Timelapse::update` refused new settings.
#[derive(Debug)]
pub enum TimelapseError {
    /// A setting out of range (the API answers 422).
    Invalid(InvalidSettings),
    /// The settings could not be written to the state file (the API answers 500).
    Save { path: PathBuf, source: io::Error },
}

impl fmt::Display for TimelapseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimelapseError::Invalid(reason) => write!(f, "{reason}"),
            TimelapseError::Save { path, source } => {
                write!(f, "cannot save {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for TimelapseError {}

impl From<InvalidSettings> for TimelapseError {
    fn from(reason: InvalidSettings) -> Self {
        TimelapseError::Invalid(reason)
    }
}

/// Why the state file's settings are not used at start (logged and shown as `last_error`).
#[derive(Debug)]
pub(super) enum LoadError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    Invalid {
        path: PathBuf,
        reason: InvalidSettings,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            LoadError::Parse { path, source } => {
                write!(f, "cannot parse {}: {source}", path.display())
            }
            LoadError::Invalid { path, reason } => {
                write!(f, "{} is invalid: {reason}", path.display())
            }
        }
    }
}

/// The saved settings, `None` when nothing was saved yet.
pub(super) fn load_settings(state_file: &Path) -> Result<Option<TimelapseSettings>, LoadError> {
    let path = || state_file.to_path_buf();
    let bytes = match fs::read(state_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LoadError::Read {
                path: path(),
                source,
            })
        }
    };
    let saved: TimelapseSettings =
        serde_json::from_slice(&bytes).map_err(|source| LoadError::Parse {
            path: path(),
            source,
        })?;
    saved.validate().map_err(|reason| LoadError::Invalid {
        path: path(),
        reason,
    })?;
    Ok(Some(saved))
}

pub(super) fn save_settings(
    state_file: &Path,
    settings: &TimelapseSettings,
) -> Result<(), TimelapseError> {
    let fail = |source: io::Error| TimelapseError::Save {
        path: state_file.to_path_buf(),
        source,
    };
    if state_file.file_name().and_then(|n| n.to_str()).is_none() {
        return Err(fail(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    }
    let dir = match state_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let json = serde_json::to_vec_pretty(settings).map_err(|e| fail(io::Error::other(e)))?;
    write_atomic(state_file, &json).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(interval_s: u64, keep: u32, max_age_s: u64) -> TimelapseSettings {
        TimelapseSettings {
            interval_s,
            keep,
            max_age_s,
        }
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
            let e = bad.validate().unwrap_err().to_string();
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
}
