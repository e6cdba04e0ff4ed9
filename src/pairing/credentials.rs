//! The relay credentials file (contract/plugin.md §4), read and written compatibly with the
//! Python plugin: a JSON object with 2-space indent. Keys we do not know are kept on rewrite,
//! and writes are atomic with mode 0600 from the first byte (fixing §14.3).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::secret::redacted;

/// The relay auth scheme picamd speaks: the device signs a JWT assertion with its key
/// (contract/plugin.md §4). `RELAY_AUTH_SCHEME` defaults to it and must equal it.
pub const DEVICE_ASSERTION: &str = "device_assertion";

const RELAY_BACKEND_URL: &str = "relay_backend_url";
const RELAY_CAMERA_ID: &str = "relay_camera_id";
const RELAY_AUTH_SCHEME: &str = "relay_auth_scheme";
const RELAY_KEY_ID: &str = "relay_key_id";
const RELAY_PRIVATE_KEY_PEM: &str = "relay_private_key_pem";
const LOCAL_API_KEY: &str = "local_api_key";

/// The file's contents. `None` means the key is absent, so a rewrite does not invent keys.
#[derive(Clone, Default, PartialEq)]
pub struct Credentials {
    pub relay_backend_url: Option<String>,
    pub relay_camera_id: Option<String>,
    pub relay_auth_scheme: Option<String>,
    pub relay_key_id: Option<String>,
    pub relay_private_key_pem: Option<String>,
    pub local_api_key: Option<String>,
    /// Keys this version does not know, written back unchanged.
    pub other: Map<String, Value>,
}

/// A complete set of relay credentials, as pairing returns them.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayCredentials {
    pub backend_url: String,
    pub camera_id: String,
    pub auth_scheme: String,
    pub key_id: String,
    pub private_key_pem: String,
}

#[derive(Debug)]
pub enum CredentialsError {
    Io(io::Error),
    Json(serde_json::Error),
    NotAnObject,
    NotAString(String),
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::Io(e) => write!(f, "{e}"),
            CredentialsError::Json(e) => write!(f, "invalid JSON: {e}"),
            CredentialsError::NotAnObject => f.write_str("the file is not a JSON object"),
            CredentialsError::NotAString(key) => write!(f, "{key} is not a string"),
        }
    }
}

impl std::error::Error for CredentialsError {}

impl Credentials {
    /// Parses the file's text. Any subset of keys is fine; a known key with a non-string value
    /// (other than `null`, read as absent) is an error.
    pub fn from_json(text: &str) -> Result<Credentials, CredentialsError> {
        let Value::Object(mut map) = serde_json::from_str(text).map_err(CredentialsError::Json)?
        else {
            return Err(CredentialsError::NotAnObject);
        };
        let mut take = |key: &str| match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(CredentialsError::NotAString(key.to_string())),
        };
        Ok(Credentials {
            relay_backend_url: take(RELAY_BACKEND_URL)?,
            relay_camera_id: take(RELAY_CAMERA_ID)?,
            relay_auth_scheme: take(RELAY_AUTH_SCHEME)?,
            relay_key_id: take(RELAY_KEY_ID)?,
            relay_private_key_pem: take(RELAY_PRIVATE_KEY_PEM)?,
            local_api_key: take(LOCAL_API_KEY)?,
            other: map,
        })
    }

    /// The file's text: known keys in the plugin's order, then the others, 2-space indent.
    pub fn to_json(&self) -> String {
        let known = [
            (RELAY_BACKEND_URL, &self.relay_backend_url),
            (RELAY_CAMERA_ID, &self.relay_camera_id),
            (RELAY_AUTH_SCHEME, &self.relay_auth_scheme),
            (RELAY_KEY_ID, &self.relay_key_id),
            (RELAY_PRIVATE_KEY_PEM, &self.relay_private_key_pem),
            (LOCAL_API_KEY, &self.local_api_key),
        ];
        let mut entries: Vec<(&str, Value)> = known
            .into_iter()
            .filter_map(|(key, value)| Some((key, Value::String(value.clone()?))))
            .collect();
        entries.extend(self.other.iter().map(|(k, v)| (k.as_str(), v.clone())));
        if entries.is_empty() {
            return "{}\n".to_string();
        }
        let body: Vec<String> = entries
            .iter()
            .map(|(key, value)| {
                // Pretty JSON has no raw newlines inside strings, so indenting every line nests
                // objects and arrays correctly.
                let value = serde_json::to_string_pretty(value)
                    .unwrap_or_else(|_| "null".to_string())
                    .replace('\n', "\n  ");
                format!("  {}: {value}", Value::String(key.to_string()))
            })
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }

    /// The auth scheme, `device_assertion` when the file names none.
    pub fn auth_scheme(&self) -> &str {
        self.relay_auth_scheme
            .as_deref()
            .unwrap_or(DEVICE_ASSERTION)
    }

    /// Whether all four relay fields are set and the scheme is `device_assertion`.
    pub fn has_relay(&self) -> bool {
        let set = |f: &Option<String>| f.as_deref().is_some_and(|s| !s.is_empty());
        set(&self.relay_backend_url)
            && set(&self.relay_camera_id)
            && set(&self.relay_key_id)
            && set(&self.relay_private_key_pem)
            && self.auth_scheme() == DEVICE_ASSERTION
    }

    /// Whether any relay field holds a value, complete or not.
    pub fn has_any_relay_field(&self) -> bool {
        [
            &self.relay_backend_url,
            &self.relay_camera_id,
            &self.relay_key_id,
            &self.relay_private_key_pem,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(|s| !s.is_empty()))
    }

    /// The relay credentials, when [`Credentials::has_relay`].
    pub fn relay(&self) -> Option<RelayCredentials> {
        let get = |f: &Option<String>| f.clone().unwrap_or_default();
        self.has_relay().then(|| RelayCredentials {
            backend_url: get(&self.relay_backend_url),
            camera_id: get(&self.relay_camera_id),
            auth_scheme: self.auth_scheme().to_string(),
            key_id: get(&self.relay_key_id),
            private_key_pem: get(&self.relay_private_key_pem),
        })
    }

    /// Stores relay credentials, keeping `local_api_key` and unknown keys (fixing §14.2).
    pub fn set_relay(&mut self, relay: &RelayCredentials) {
        self.relay_backend_url = Some(relay.backend_url.clone());
        self.relay_camera_id = Some(relay.camera_id.clone());
        self.relay_auth_scheme = Some(relay.auth_scheme.clone());
        self.relay_key_id = Some(relay.key_id.clone());
        self.relay_private_key_pem = Some(relay.private_key_pem.clone());
    }

    /// Removes the relay fields and keeps everything else.
    pub fn clear_relay(&mut self) {
        self.relay_backend_url = None;
        self.relay_camera_id = None;
        self.relay_auth_scheme = None;
        self.relay_key_id = None;
        self.relay_private_key_pem = None;
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &Option<String>| s.as_deref().map(redacted);
        f.debug_struct("Credentials")
            .field("relay_backend_url", &self.relay_backend_url)
            .field("relay_camera_id", &self.relay_camera_id)
            .field("relay_auth_scheme", &self.relay_auth_scheme)
            .field("relay_key_id", &self.relay_key_id)
            .field(
                "relay_private_key_pem",
                &secret(&self.relay_private_key_pem),
            )
            .field("local_api_key", &secret(&self.local_api_key))
            .field("other", &self.other.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for RelayCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayCredentials")
            .field("backend_url", &self.backend_url)
            .field("camera_id", &self.camera_id)
            .field("auth_scheme", &self.auth_scheme)
            .field("key_id", &self.key_id)
            .field("private_key_pem", &redacted(&self.private_key_pem))
            .finish()
    }
}

/// Reads the file: `Ok(None)` when it does not exist. The caller logs `Failed to read <path>`
/// for an error and carries on as if the file were absent.
pub fn load(path: &Path) -> Result<Option<Credentials>, CredentialsError> {
    match fs::read_to_string(path) {
        Ok(text) => Credentials::from_json(&text).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CredentialsError::Io(e)),
    }
}

/// Writes the file atomically: a 0600 temp file in the same folder, fsync, rename over the
/// target, fsync the folder. Parent folders are created as needed.
pub fn save(path: &Path, credentials: &Credentials) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    fs::create_dir_all(&dir)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        crate::random::hex_id()
    ));
    let written = write_new_private(&temp, credentials.to_json().as_bytes())
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // The rename is done; a folder fsync that fails (some filesystems refuse it) only weakens
    // durability across a power cut, so it is not an error.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the file; a missing file is not an error.
pub fn delete(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::fs::PermissionsExt;

    /// What the Python plugin writes after pairing plus local key persistence.
    const PYTHON_FILE: &str = r#"{
  "relay_backend_url": "wss://api.cml-relab.org/plugins/rpi-cam/ws/connect",
  "relay_camera_id": "0b6cf7a2-52c4-4d1c-9d6e-1f1a9b2b3c4d",
  "relay_auth_scheme": "device_assertion",
  "relay_key_id": "Zm9vYmFyYmF6cXV4cXV1",
  "relay_private_key_pem": "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
  "local_api_key": "local_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
}"#;

    fn relay() -> RelayCredentials {
        RelayCredentials {
            backend_url: "wss://relab.example/ws".into(),
            camera_id: "cam-1".into(),
            auth_scheme: DEVICE_ASSERTION.into(),
            key_id: "kid".into(),
            private_key_pem: "PEM".into(),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn config_accepts_exactly_the_scheme_pairing_speaks() {
        assert_eq!(
            DEVICE_ASSERTION,
            crate::config::relay::DEFAULT_RELAY_AUTH_SCHEME
        );
    }

    #[test]
    fn reads_a_python_written_file_and_writes_it_back_identically() {
        let creds = Credentials::from_json(PYTHON_FILE).unwrap();
        assert!(creds.has_relay());
        let relay = creds.relay().unwrap();
        assert_eq!(relay.camera_id, "0b6cf7a2-52c4-4d1c-9d6e-1f1a9b2b3c4d");
        assert!(relay.private_key_pem.contains("\nMIGH"));
        assert_eq!(
            creds.local_api_key.as_deref(),
            Some("local_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ")
        );
        assert_eq!(creds.to_json(), format!("{PYTHON_FILE}\n"));
    }

    #[test]
    fn round_trips_through_disk_with_mode_0600() {
        let dir = TempDir::new("creds-roundtrip");
        let path = dir.join("nested/relab/relay_credentials.json");
        let mut creds = Credentials {
            local_api_key: Some("local_x".into()),
            ..Credentials::default()
        };
        creds.set_relay(&relay());
        save(&path, &creds).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(load(&path).unwrap(), Some(creds.clone()));

        // Overwriting a file someone made world-readable leaves a private one.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        save(&path, &creds).unwrap();
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["relay_credentials.json"],
            "no temp file left behind"
        );
    }

    #[test]
    fn missing_keys_and_defaults() {
        let creds = Credentials::from_json(r#"{"relay_camera_id": "cam-1"}"#).unwrap();
        assert_eq!(creds.auth_scheme(), DEVICE_ASSERTION);
        assert!(!creds.has_relay());
        assert!(creds.has_any_relay_field());
        assert_eq!(creds.relay(), None);
        assert_eq!(creds.to_json(), "{\n  \"relay_camera_id\": \"cam-1\"\n}\n");

        let only_local = Credentials::from_json(r#"{"local_api_key": "k"}"#).unwrap();
        assert!(!only_local.has_any_relay_field());
        assert_eq!(Credentials::default().to_json(), "{}\n");

        let mut complete_without_scheme: Value = serde_json::from_str(PYTHON_FILE).unwrap();
        complete_without_scheme
            .as_object_mut()
            .unwrap()
            .remove("relay_auth_scheme");
        let creds = Credentials::from_json(&complete_without_scheme.to_string()).unwrap();
        assert!(creds.has_relay());
        assert_eq!(creds.relay().unwrap().auth_scheme, DEVICE_ASSERTION);
        assert!(!creds.to_json().contains("relay_auth_scheme"));

        let mut other_scheme = Credentials::from_json(PYTHON_FILE).unwrap();
        other_scheme.relay_auth_scheme = Some("api_key".into());
        assert!(!other_scheme.has_relay());
        let mut empty_field = Credentials::from_json(PYTHON_FILE).unwrap();
        empty_field.relay_key_id = Some(String::new());
        assert!(!empty_field.has_relay());
    }

    #[test]
    fn unknown_keys_survive_a_rewrite() {
        let text = r#"{"relay_camera_id": "cam-1", "zz_extra": {"a": [1, 2], "b": null}, "local_api_key": null, "aa": 5}"#;
        let mut creds = Credentials::from_json(text).unwrap();
        assert_eq!(creds.local_api_key, None);
        creds.local_api_key = Some("local_new".into());
        let out = creds.to_json();
        let reread: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            reread["zz_extra"],
            serde_json::json!({"a": [1, 2], "b": null})
        );
        assert_eq!(reread["aa"], 5);
        assert_eq!(reread["relay_camera_id"], "cam-1");
        assert_eq!(reread["local_api_key"], "local_new");
        assert!(
            out.contains("\n  \"zz_extra\": {\n    \"a\": [\n      1,"),
            "{out}"
        );
    }

    #[test]
    fn set_and_clear_relay_keep_the_local_key() {
        let mut creds = Credentials::from_json(r#"{"local_api_key": "k", "x": 1}"#).unwrap();
        creds.set_relay(&relay());
        assert_eq!(creds.relay(), Some(relay()));
        assert_eq!(creds.local_api_key.as_deref(), Some("k"));
        creds.clear_relay();
        assert_eq!(
            creds,
            Credentials::from_json(r#"{"local_api_key": "k", "x": 1}"#).unwrap()
        );
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = TempDir::new("creds-bad");
        let path = dir.join("relay_credentials.json");
        for (text, what) in [
            ("{not json", "invalid JSON"),
            ("", "invalid JSON"),
            ("[1, 2]", "not a JSON object"),
            (r#"{"relay_key_id": 7}"#, "relay_key_id is not a string"),
        ] {
            fs::write(&path, text).unwrap();
            let err = load(&path).unwrap_err();
            assert!(err.to_string().contains(what), "{text}: {err}");
        }
        fs::create_dir(dir.join("a_dir")).unwrap();
        assert!(matches!(
            load(&dir.join("a_dir")),
            Err(CredentialsError::Io(_))
        ));
    }

    #[test]
    fn missing_file_loads_as_none_and_leftover_temp_files_never_count() {
        let dir = TempDir::new("creds-missing");
        let path = dir.join("relay_credentials.json");
        assert!(load(&path).unwrap().is_none());
        let leftover = dir.join(".relay_credentials.json.0123456789abcdef.tmp");
        fs::write(&leftover, PYTHON_FILE).unwrap();
        assert!(load(&path).unwrap().is_none());
        let creds = Credentials {
            local_api_key: Some("k".into()),
            ..Credentials::default()
        };
        save(&path, &creds).unwrap();
        assert_eq!(load(&path).unwrap(), Some(creds));
        assert!(leftover.exists(), "someone else's temp file is left alone");
    }

    #[test]
    fn delete_removes_the_file_and_tolerates_absence() {
        let dir = TempDir::new("creds-delete");
        let path = dir.join("relay_credentials.json");
        save(&path, &Credentials::default()).unwrap();
        delete(&path).unwrap();
        assert!(!path.exists());
        delete(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(delete(&path).is_err(), "a folder in the way is reported");
    }

    #[test]
    fn save_reports_an_impossible_path() {
        let dir = TempDir::new("creds-blocked");
        let blocker = dir.join("file");
        fs::write(&blocker, "x").unwrap();
        assert!(save(&blocker.join("creds.json"), &Credentials::default()).is_err());
        assert!(save(Path::new("/"), &Credentials::default()).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let text = format!("{:?}", Credentials::from_json(PYTHON_FILE).unwrap());
        assert!(
            !text.contains("MIGH") && !text.contains("local_abc"),
            "{text}"
        );
        assert!(!format!("{:?}", relay()).contains("PEM"));
    }
}
