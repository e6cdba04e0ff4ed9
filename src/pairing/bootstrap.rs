//! Start-up key bootstrap (contract/plugin.md §3.3): which relay credentials apply, which local
//! key is used, and which API keys authenticate.
//!
//! Fixes over the plugin: the relay-local key authenticates whenever relay credentials apply,
//! also when they come from the environment (§14.8), and a file with partial relay fields
//! (say, only `local_api_key`) does not count as relay credentials.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use log::Level;

use super::credentials::{self, Credentials, RelayCredentials};
use crate::config::relab::RelabSettings;
use crate::config::secret::redacted;
use crate::config::url::{check_relay_url, is_loopback_url};

const KEY_BYTES: usize = 32;

/// The keys and credentials the daemon starts with.
#[derive(Clone, PartialEq)]
pub struct KeyBootstrap {
    /// The direct-access key; always present, authenticating only in local mode.
    pub local_api_key: String,
    /// True when no key existed and a new one was made.
    pub local_key_generated: bool,
    /// The key relayed commands carry; lives in memory only.
    pub local_relay_api_key: Option<String>,
    /// Every key that authenticates, in a stable order without duplicates.
    pub authorized_keys: Vec<String>,
    pub relay: Option<RelayCredentials>,
    /// Start-up lines for the log, in order.
    pub log: Vec<(Level, String)>,
}

impl fmt::Debug for KeyBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBootstrap")
            .field("local_api_key", &redacted(&self.local_api_key))
            .field("local_key_generated", &self.local_key_generated)
            .field(
                "local_relay_api_key",
                &self.local_relay_api_key.as_deref().map(redacted),
            )
            .field(
                "authorized_keys",
                &format!("[{} keys]", self.authorized_keys.len()),
            )
            .field("relay", &self.relay)
            .field("log", &self.log)
            .finish()
    }
}

/// Applies §3.3 to the settings and the credentials file's contents. `generate` returns a
/// fresh random token (the daemon passes `token_urlsafe(32)`); `in_container` is whether
/// `/.dockerenv` exists.
pub fn bootstrap(
    settings: &RelabSettings,
    file: Option<&Credentials>,
    in_container: bool,
    mut generate: impl FnMut() -> String,
) -> KeyBootstrap {
    let mut log = Vec::new();
    let mut authorized = Vec::new();
    for key in settings.auth.authorized_api_keys.iter() {
        authorize(&mut authorized, key);
    }
    let path = settings.pairing.credentials_file.display();

    if in_container && !settings.backend.url.is_empty() && is_loopback_url(&settings.backend.url) {
        log.push((
            Level::Warn,
            "PAIRING_BACKEND_URL uses loopback inside a container; picamd calls it as written (the container itself, unless it shares the host's network). Use host.docker.internal or a LAN address for a backend on the host."
                .to_string(),
        ));
    }

    let relay = if settings.relay.env_complete() {
        log.push((
            Level::Info,
            "Relay bootstrap credentials already present from static config; skipping persisted relay credentials"
                .to_string(),
        ));
        Some(RelayCredentials {
            backend_url: settings.relay.backend_url.clone(),
            camera_id: settings.relay.camera_id.clone(),
            auth_scheme: settings.relay.auth_scheme.clone(),
            key_id: settings.relay.key_id.clone(),
            private_key_pem: settings.relay.private_key_pem.expose().to_string(),
        })
    } else {
        match file.map(|f| (f.relay(), f.has_any_relay_field())) {
            Some((Some(relay), _)) => {
                match check_relay_url(&relay.backend_url, settings.relay.allow_plaintext) {
                    Ok(()) => {
                        log.push((Level::Info, format!("Relay credentials loaded from {path}")));
                        Some(relay)
                    }
                    Err(e) => {
                        log.push((
                            Level::Warn,
                            format!("Ignoring persisted relay credentials in {path}: {e}"),
                        ));
                        None
                    }
                }
            }
            Some((None, true)) => {
                log.push((
                    Level::Warn,
                    format!(
                        "Ignoring relay credentials in {path}: they are incomplete or not device_assertion"
                    ),
                ));
                None
            }
            _ => None,
        }
    };
    if relay
        .as_ref()
        .is_some_and(|r| r.backend_url.to_ascii_lowercase().starts_with("ws://"))
    {
        log.push((
            Level::Warn,
            "Relay runtime is using unencrypted ws:// transport. Switch to wss:// in production."
                .to_string(),
        ));
    }

    let local_relay_api_key = match (&relay, settings.relay.local_relay_api_key.expose()) {
        (_, seed) if !seed.is_empty() => Some(seed.to_string()),
        (Some(_), _) => Some(format!("LOCAL_{}", generate())),
        (None, _) => None,
    };
    if let (Some(_), Some(key)) = (&relay, &local_relay_api_key) {
        authorize(&mut authorized, key);
    }

    let file_key = file
        .and_then(|f| f.local_api_key.as_deref())
        .filter(|k| !k.is_empty());
    let (local_api_key, local_key_generated) = if !settings.auth.local_api_key.is_empty() {
        (settings.auth.local_api_key.expose().to_string(), false)
    } else if let Some(key) = file_key {
        (key.to_string(), false)
    } else {
        log.push((Level::Info, "Local mode: generated new API key".to_string()));
        (format!("local_{}", generate()), true)
    };
    if settings.auth.local_mode_enabled {
        authorize(&mut authorized, &local_api_key);
        log.push((
            Level::Info,
            "Local mode active — direct connection API key loaded".to_string(),
        ));
    } else {
        log.push((
            Level::Info,
            "Local API key loaded (local_mode_enabled=False — direct auth disabled)".to_string(),
        ));
    }

    log.push((
        Level::Info,
        format!(
            "Image sink resolved to {}",
            settings.resolved_image_sink().as_str()
        ),
    ));
    if !settings.auth.local_mode_enabled {
        log.push((
            Level::Warn,
            "LOCAL_MODE_ENABLED=false but a local API key exists; the key remains available for relay bootstrap only."
                .to_string(),
        ));
    }

    KeyBootstrap {
        local_api_key,
        local_key_generated,
        local_relay_api_key,
        authorized_keys: authorized,
        relay,
        log,
    }
}

fn authorize(keys: &mut Vec<String>, key: &str) {
    if !key.is_empty() && !keys.iter().any(|k| k == key) {
        keys.push(key.to_string());
    }
}

/// Why the keys could not be prepared from disk.
#[derive(Debug)]
pub enum BootstrapError {
    /// A newly generated local key could not be written to the credentials file.
    SaveLocalKey(PathBuf, io::Error),
}

impl fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootstrapError::SaveLocalKey(path, e) => write!(
                f,
                "Could not save the local API key to {}: {e}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for BootstrapError {}

/// Reads the credentials file, runs [`bootstrap`] and persists a newly generated local key
/// into the file (merging with what is there). Fails only when that key cannot be saved.
pub fn bootstrap_from_disk(settings: &RelabSettings) -> Result<KeyBootstrap, BootstrapError> {
    bootstrap_with(settings, Path::new("/.dockerenv").exists())
}

fn bootstrap_with(
    settings: &RelabSettings,
    in_container: bool,
) -> Result<KeyBootstrap, BootstrapError> {
    let path = &settings.pairing.credentials_file;
    let mut log = vec![(
        Level::Info,
        format!("Relay credentials path resolved to {}", path.display()),
    )];
    let file = credentials::load(path).unwrap_or_else(|e| {
        log.push((
            Level::Warn,
            format!("Failed to read {}: {e}", path.display()),
        ));
        None
    });
    let mut result = bootstrap(settings, file.as_ref(), in_container, || {
        crate::random::token_urlsafe(KEY_BYTES)
    });
    if result.local_key_generated {
        let mut updated = file.unwrap_or_default();
        updated.local_api_key = Some(result.local_api_key.clone());
        credentials::save(path, &updated)
            .map_err(|e| BootstrapError::SaveLocalKey(path.clone(), e))?;
        result.log.push((
            Level::Info,
            format!("local_api_key persisted to {}", path.display()),
        ));
    }
    log.append(&mut result.log);
    result.log = log;
    Ok(result)
}

/// The local API key, for `picamd show-key`: generated and persisted on first use exactly as
/// the daemon's first start would.
pub fn show_key(settings: &RelabSettings) -> Result<String, BootstrapError> {
    bootstrap_from_disk(settings).map(|b| b.local_api_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::collections::HashMap;
    use std::fs;

    const ENV_RELAY: [(&str, &str); 4] = [
        ("RELAY_BACKEND_URL", "wss://env.example/ws"),
        ("RELAY_CAMERA_ID", "env-cam"),
        ("RELAY_KEY_ID", "env-kid"),
        ("RELAY_PRIVATE_KEY_PEM", "env-pem"),
    ];

    fn settings(env: &[(&str, &str)]) -> RelabSettings {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RelabSettings::from_vars(&env, &HashMap::new(), Path::new("data"), None).unwrap()
    }

    fn file_relay() -> RelayCredentials {
        RelayCredentials {
            backend_url: "wss://file.example/ws".into(),
            camera_id: "file-cam".into(),
            auth_scheme: "device_assertion".into(),
            key_id: "file-kid".into(),
            private_key_pem: "file-pem".into(),
        }
    }

    fn paired_file(local_key: Option<&str>) -> Credentials {
        let mut creds = Credentials {
            local_api_key: local_key.map(str::to_string),
            ..Credentials::default()
        };
        creds.set_relay(&file_relay());
        creds
    }

    /// Runs the bootstrap with a counter as the token source.
    fn run(
        settings: &RelabSettings,
        file: Option<&Credentials>,
        in_container: bool,
    ) -> KeyBootstrap {
        let mut n = 0;
        bootstrap(settings, file, in_container, || {
            n += 1;
            format!("tok{n}")
        })
    }

    fn has_line(b: &KeyBootstrap, level: Level, text: &str) -> bool {
        b.log.iter().any(|(l, m)| *l == level && m.contains(text))
    }

    #[test]
    fn first_boot_generates_an_authorized_local_key() {
        let b = run(
            &settings(&[("AUTHORIZED_API_KEYS", "a, b, a")]),
            None,
            false,
        );
        assert_eq!(b.local_api_key, "local_tok1");
        assert!(b.local_key_generated);
        assert_eq!(b.authorized_keys, ["a", "b", "local_tok1"]);
        assert_eq!(
            (b.relay.clone(), b.local_relay_api_key.clone()),
            (None, None)
        );
        assert!(has_line(&b, Level::Info, "Image sink resolved to backend"));
        assert!(!b.log.iter().any(|(l, _)| *l == Level::Warn));
    }

    #[test]
    fn local_key_comes_from_env_then_file() {
        let file = Credentials {
            local_api_key: Some("local_file".into()),
            ..Credentials::default()
        };
        let b = run(
            &settings(&[("LOCAL_API_KEY", "local_env")]),
            Some(&file),
            false,
        );
        assert_eq!(
            (b.local_api_key.as_str(), b.local_key_generated),
            ("local_env", false)
        );
        assert_eq!(b.authorized_keys, ["local_env"]);
        let b = run(&settings(&[]), Some(&file), false);
        assert_eq!(
            (b.local_api_key.as_str(), b.local_key_generated),
            ("local_file", false)
        );
        // An empty key in the file is no key.
        let empty = Credentials {
            local_api_key: Some(String::new()),
            ..Credentials::default()
        };
        assert!(run(&settings(&[]), Some(&empty), false).local_key_generated);
    }

    #[test]
    fn local_mode_off_keeps_the_key_but_does_not_authorize_it() {
        let b = run(
            &settings(&[
                ("LOCAL_MODE_ENABLED", "false"),
                ("AUTHORIZED_API_KEYS", "k"),
            ]),
            None,
            false,
        );
        assert_eq!(b.local_api_key, "local_tok1");
        assert_eq!(b.authorized_keys, ["k"]);
        assert!(has_line(
            &b,
            Level::Warn,
            "LOCAL_MODE_ENABLED=false but a local API key exists"
        ));
    }

    #[test]
    fn persisted_relay_credentials_apply_when_env_has_none() {
        let b = run(&settings(&[]), Some(&paired_file(Some("local_f"))), false);
        assert_eq!(b.relay, Some(file_relay()));
        assert_eq!(b.local_relay_api_key.as_deref(), Some("LOCAL_tok1"));
        assert_eq!(b.authorized_keys, ["LOCAL_tok1", "local_f"]);
        assert!(has_line(&b, Level::Info, "Relay credentials loaded from"));
    }

    #[test]
    fn env_relay_credentials_win_and_their_relay_key_authorizes() {
        let b = run(&settings(&ENV_RELAY), Some(&paired_file(None)), false);
        let relay = b.relay.clone().unwrap();
        assert_eq!(
            (relay.camera_id.as_str(), relay.key_id.as_str()),
            ("env-cam", "env-kid")
        );
        assert_eq!(b.local_relay_api_key.as_deref(), Some("LOCAL_tok1"));
        assert_eq!(b.authorized_keys, ["LOCAL_tok1", "local_tok2"]);
        assert!(has_line(
            &b,
            Level::Info,
            "Relay bootstrap credentials already present from static config"
        ));

        let mut seeded = ENV_RELAY.to_vec();
        seeded.push(("LOCAL_RELAY_API_KEY", "LOCAL_seed"));
        let b = run(&settings(&seeded), None, false);
        assert_eq!(b.local_relay_api_key.as_deref(), Some("LOCAL_seed"));
        assert!(b.authorized_keys.contains(&"LOCAL_seed".to_string()));
    }

    #[test]
    fn relay_key_seed_without_relay_is_kept_but_not_authorized() {
        let b = run(
            &settings(&[("LOCAL_RELAY_API_KEY", "LOCAL_seed")]),
            None,
            false,
        );
        assert_eq!(b.local_relay_api_key.as_deref(), Some("LOCAL_seed"));
        assert_eq!(b.authorized_keys, ["local_tok1"]);
    }

    #[test]
    fn missing_scheme_in_the_file_means_device_assertion() {
        let mut file = paired_file(None);
        file.relay_auth_scheme = None;
        let b = run(&settings(&[]), Some(&file), false);
        assert_eq!(b.relay.unwrap().auth_scheme, "device_assertion");
    }

    #[test]
    fn partial_or_local_only_files_apply_no_relay() {
        let partial =
            Credentials::from_json(r#"{"relay_camera_id":"cam-1","local_api_key":"local_k"}"#)
                .unwrap();
        let b = run(&settings(&[]), Some(&partial), false);
        assert_eq!(
            (b.relay.clone(), b.local_relay_api_key.clone()),
            (None, None)
        );
        assert_eq!(b.authorized_keys, ["local_k"]);
        assert!(has_line(&b, Level::Warn, "incomplete"));

        let local_only = Credentials::from_json(r#"{"local_api_key":"local_k"}"#).unwrap();
        let b = run(&settings(&[]), Some(&local_only), false);
        assert_eq!(b.relay, None);
        assert!(!b.log.iter().any(|(l, _)| *l == Level::Warn));
    }

    #[test]
    fn plaintext_file_relay_needs_permission() {
        let mut file = paired_file(None);
        file.relay_backend_url = Some("ws://127.0.0.1:8000/ws".into());
        let b = run(&settings(&[]), Some(&file), false);
        assert_eq!(
            (b.relay.clone(), b.local_relay_api_key.clone()),
            (None, None)
        );
        assert!(has_line(&b, Level::Warn, "APP_ENV=development"));

        let b = run(&settings(&[("APP_ENV", "development")]), Some(&file), false);
        assert!(b.relay.is_some());
        // The deprecated switch still works.
        let b = run(
            &settings(&[("ALLOW_PLAINTEXT_RELAY", "true")]),
            Some(&file),
            false,
        );
        assert!(b.relay.is_some());
        assert!(has_line(&b, Level::Warn, "unencrypted ws://"));

        file.relay_backend_url = Some("https://file.example/ws".into());
        assert_eq!(run(&settings(&[]), Some(&file), false).relay, None);
    }

    #[test]
    fn loopback_pairing_backend_warns_only_inside_a_container() {
        let loopback = settings(&[("PAIRING_BACKEND_URL", "http://localhost:8000")]);
        let warning = "PAIRING_BACKEND_URL uses loopback inside a container";
        assert!(has_line(&run(&loopback, None, true), Level::Warn, warning));
        assert!(!has_line(
            &run(&loopback, None, false),
            Level::Warn,
            warning
        ));
        assert!(!has_line(
            &run(&settings(&[]), None, true),
            Level::Warn,
            warning
        ));
    }

    #[test]
    fn image_sink_line_names_the_resolved_sink() {
        let b = run(&settings(&[("PAIRING_BACKEND_URL", "")]), None, false);
        assert!(has_line(&b, Level::Info, "Image sink resolved to local"));
    }

    fn disk_settings(dir: &TempDir, extra: &[(&str, &str)]) -> RelabSettings {
        let path = dir.join("relab/relay_credentials.json");
        let mut env = vec![("RELAB_CREDENTIALS_FILE", path.to_str().unwrap())];
        env.extend_from_slice(extra);
        settings(&env)
    }

    #[test]
    fn generated_key_is_merged_into_the_existing_file() {
        let dir = TempDir::new("bootstrap-merge");
        let s = disk_settings(&dir, &[]);
        fs::create_dir_all(s.pairing.credentials_file.parent().unwrap()).unwrap();
        fs::write(
            &s.pairing.credentials_file,
            r#"{"relay_camera_id": "cam-1", "note": [1]}"#,
        )
        .unwrap();

        let b = bootstrap_with(&s, false).unwrap();
        assert!(b.local_key_generated);
        let token = b.local_api_key.strip_prefix("local_").unwrap();
        assert_eq!(token.len(), 43);
        assert!(has_line(&b, Level::Info, "local_api_key persisted to"));
        assert!(has_line(
            &b,
            Level::Info,
            "Relay credentials path resolved to"
        ));

        let on_disk = credentials::load(&s.pairing.credentials_file)
            .unwrap()
            .unwrap();
        assert_eq!(
            on_disk.local_api_key.as_deref(),
            Some(b.local_api_key.as_str())
        );
        assert_eq!(on_disk.relay_camera_id.as_deref(), Some("cam-1"));
        assert_eq!(on_disk.other["note"], serde_json::json!([1]));

        let again = bootstrap_with(&s, false).unwrap();
        assert_eq!(again.local_api_key, b.local_api_key);
        assert!(!again.local_key_generated);
    }

    #[test]
    fn env_key_is_not_written_to_disk() {
        let dir = TempDir::new("bootstrap-envkey");
        let s = disk_settings(&dir, &[("LOCAL_API_KEY", "local_env")]);
        let b = bootstrap_with(&s, false).unwrap();
        assert_eq!(b.local_api_key, "local_env");
        assert!(!s.pairing.credentials_file.exists());
    }

    #[test]
    fn unreadable_file_is_reported_and_replaced() {
        let dir = TempDir::new("bootstrap-invalid");
        let s = disk_settings(&dir, &[]);
        fs::create_dir_all(s.pairing.credentials_file.parent().unwrap()).unwrap();
        fs::write(&s.pairing.credentials_file, "{broken").unwrap();
        let b = bootstrap_with(&s, false).unwrap();
        assert!(has_line(&b, Level::Warn, "Failed to read"));
        assert!(b.local_key_generated);
        let on_disk = credentials::load(&s.pairing.credentials_file)
            .unwrap()
            .unwrap();
        assert_eq!(on_disk.local_api_key, Some(b.local_api_key));
    }

    #[test]
    fn persisted_relay_credentials_apply_from_disk() {
        let dir = TempDir::new("bootstrap-relay");
        let s = disk_settings(&dir, &[]);
        credentials::save(&s.pairing.credentials_file, &paired_file(Some("local_k"))).unwrap();
        let b = bootstrap_with(&s, false).unwrap();
        assert_eq!(b.relay, Some(file_relay()));
        let relay_key = b.local_relay_api_key.clone().unwrap();
        assert!(relay_key.starts_with("LOCAL_") && relay_key.len() == 6 + 43);
        assert_eq!(b.authorized_keys, [relay_key, "local_k".to_string()]);
    }

    #[test]
    fn save_failure_is_an_error() {
        let dir = TempDir::new("bootstrap-blocked");
        fs::write(dir.join("relab"), "not a folder").unwrap();
        let s = disk_settings(&dir, &[]);
        let err = bootstrap_with(&s, false).unwrap_err().to_string();
        assert!(
            err.starts_with("Could not save the local API key to"),
            "{err}"
        );
    }

    #[test]
    fn show_key_creates_then_repeats_the_key() {
        let dir = TempDir::new("bootstrap-showkey");
        let s = disk_settings(&dir, &[]);
        let first = show_key(&s).unwrap();
        assert!(first.starts_with("local_"));
        assert_eq!(show_key(&s).unwrap(), first);
        let on_disk = credentials::load(&s.pairing.credentials_file)
            .unwrap()
            .unwrap();
        assert_eq!(on_disk.local_api_key, Some(first));
    }

    #[test]
    fn debug_output_hides_keys() {
        let b = run(&settings(&ENV_RELAY), None, false);
        let text = format!("{b:?}");
        assert!(
            !text.contains("tok1") && !text.contains("env-pem"),
            "{text}"
        );
    }
}
