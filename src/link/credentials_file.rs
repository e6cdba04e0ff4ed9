//! The relay fields of the credentials file: written on pairing before anything else (the
//! backend hands them out once), removed on unpairing. Putting them into effect is
//! `AuthState::activate`'s job.
//!
//! Unlike the Python plugin, the file keeps `local_api_key` and any unknown keys on both
//! pairing and unpairing (contract/plugin.md §14.2).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::pairing::credentials::{self, Credentials, CredentialsError, RelayCredentials};

/// Saving or cleaning the credentials file failed.
#[derive(Debug)]
pub enum CredentialsFileError {
    Save {
        path: PathBuf,
        source: CredentialsError,
    },
    Forget {
        path: PathBuf,
        source: CredentialsError,
    },
}

impl fmt::Display for CredentialsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsFileError::Save { path, source } => write!(
                f,
                "Could not save the relay credentials to {}: {source}",
                path.display()
            ),
            CredentialsFileError::Forget { path, source } => write!(
                f,
                "Failed to remove the relay credentials from {}: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CredentialsFileError {}

/// What unpairing did to the credentials file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgotten {
    /// There was no file.
    NoFile,
    /// The file held no relay fields; it was left alone.
    Unchanged,
    /// The relay fields were removed; the rest (such as `local_api_key`) was kept.
    Rewritten,
    /// Nothing but relay fields was in it, so the file was deleted.
    Deleted,
}

/// Stores relay credentials in the file, keeping what else it holds. An unreadable file is
/// replaced (its contents are lost anyway).
pub fn persist(path: &Path, relay: &RelayCredentials) -> Result<(), CredentialsFileError> {
    let mut file = credentials::load(path).ok().flatten().unwrap_or_default();
    file.set_relay(relay);
    credentials::save(path, &file).map_err(|e| CredentialsFileError::Save {
        path: path.to_path_buf(),
        source: CredentialsError::Io(e),
    })
}

/// Removes the relay fields from the file, keeping the rest; deletes the file when nothing
/// else remains.
pub fn forget(path: &Path) -> Result<Forgotten, CredentialsFileError> {
    let failed = |source| CredentialsFileError::Forget {
        path: path.to_path_buf(),
        source,
    };
    let Some(mut file) = credentials::load(path).map_err(failed)? else {
        return Ok(Forgotten::NoFile);
    };
    if !file.has_any_relay_field() && file.relay_auth_scheme.is_none() {
        return Ok(Forgotten::Unchanged);
    }
    file.clear_relay();
    if file == Credentials::default() {
        credentials::delete(path).map_err(|e| failed(CredentialsError::Io(e)))?;
        return Ok(Forgotten::Deleted);
    }
    credentials::save(path, &file).map_err(|e| failed(CredentialsError::Io(e)))?;
    Ok(Forgotten::Rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    use crate::testutil::relay_credentials as relay;

    #[test]
    fn persist_keeps_the_local_key_and_forget_removes_only_relay_fields() {
        let dir = TempDir::new("activation-file");
        let path = dir.join("relay_credentials.json");
        std::fs::write(&path, r#"{"local_api_key": "local_k", "zz": [1]}"#).unwrap();
        persist(&path, &relay("cam-1")).unwrap();
        let file = credentials::load(&path).unwrap().unwrap();
        assert_eq!(file.relay(), Some(relay("cam-1")));
        assert_eq!(file.local_api_key.as_deref(), Some("local_k"));
        assert_eq!(forget(&path).unwrap(), Forgotten::Rewritten);
        assert_eq!(
            credentials::load(&path).unwrap().unwrap(),
            Credentials::from_json(r#"{"local_api_key": "local_k", "zz": [1]}"#).unwrap()
        );
        assert_eq!(forget(&path).unwrap(), Forgotten::Unchanged);
    }

    #[test]
    fn a_file_of_relay_fields_only_is_deleted_and_a_missing_one_is_fine() {
        let dir = TempDir::new("activation-delete");
        let path = dir.join("nested/relay_credentials.json");
        assert_eq!(forget(&path).unwrap(), Forgotten::NoFile);
        persist(&path, &relay("cam-1")).unwrap();
        assert_eq!(forget(&path).unwrap(), Forgotten::Deleted);
        assert!(!path.exists());
        // An unreadable file is replaced by pairing and reported by unpairing.
        std::fs::write(&path, "{broken").unwrap();
        assert!(forget(&path)
            .unwrap_err()
            .to_string()
            .starts_with("Failed to remove the relay credentials"));
        persist(&path, &relay("cam-2")).unwrap();
        assert_eq!(
            credentials::load(&path).unwrap().unwrap().relay(),
            Some(relay("cam-2"))
        );
    }
}
