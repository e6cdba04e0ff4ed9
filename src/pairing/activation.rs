//! Putting relay credentials into effect and taking them out again: the credentials file
//! (written before anything else, since the backend hands them out once) and the runtime
//! (the relay credentials and the `LOCAL_` key that relayed commands carry).
//!
//! Unlike the Python plugin, the file keeps `local_api_key` and any unknown keys on both
//! pairing and unpairing (contract/plugin.md §14.2).

use std::path::Path;

use super::credentials::{self, Credentials, RelayCredentials};
use crate::runtime::Runtime;

/// Bytes of randomness in the relay-local key (`LOCAL_` + 43 characters, as the plugin).
const RELAY_KEY_BYTES: usize = 32;

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
pub fn persist(path: &Path, relay: &RelayCredentials) -> Result<(), String> {
    let mut file = credentials::load(path).ok().flatten().unwrap_or_default();
    file.set_relay(relay);
    credentials::save(path, &file).map_err(|e| {
        format!(
            "Could not save the relay credentials to {}: {e}",
            path.display()
        )
    })
}

/// Removes the relay fields from the file, keeping the rest; deletes the file when nothing
/// else remains.
pub fn forget(path: &Path) -> Result<Forgotten, String> {
    let failed = |e: &dyn std::fmt::Display| {
        format!(
            "Failed to remove the relay credentials from {}: {e}",
            path.display()
        )
    };
    let Some(mut file) = credentials::load(path).map_err(|e| failed(&e))? else {
        return Ok(Forgotten::NoFile);
    };
    if !file.has_any_relay_field() && file.relay_auth_scheme.is_none() {
        return Ok(Forgotten::Unchanged);
    }
    file.clear_relay();
    if file == Credentials::default() {
        credentials::delete(path).map_err(|e| failed(&e))?;
        return Ok(Forgotten::Deleted);
    }
    credentials::save(path, &file).map_err(|e| failed(&e))?;
    Ok(Forgotten::Rewritten)
}

/// Applies relay credentials at run time and authorizes the relay-local key: the
/// `LOCAL_RELAY_API_KEY` seed when set, else a fresh `LOCAL_…` key (memory only).
pub fn activate(rt: &Runtime, relay: RelayCredentials) {
    let seed = rt.config.relab.relay.local_relay_api_key.expose();
    let key = if seed.is_empty() {
        format!("LOCAL_{}", crate::random::token_urlsafe(RELAY_KEY_BYTES))
    } else {
        seed.to_string()
    };
    revoke_relay_key(rt);
    rt.keys
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .add(key.clone());
    *rt.local_relay_api_key
        .write()
        .unwrap_or_else(|e| e.into_inner()) = Some(key);
    *rt.relay.write().unwrap_or_else(|e| e.into_inner()) = Some(relay);
    // Captures queued while unpaired can go to the backend now.
    rt.uploads.nudge();
}

/// Takes the relay credentials out of effect and revokes the relay-local key.
pub fn deactivate(rt: &Runtime) {
    *rt.relay.write().unwrap_or_else(|e| e.into_inner()) = None;
    revoke_relay_key(rt);
}

/// Forgets the relay-local key; it stops authenticating unless it is also configured as a
/// key of its own (`AUTHORIZED_API_KEYS`, or the local key in local mode).
fn revoke_relay_key(rt: &Runtime) {
    let Some(key) = rt
        .local_relay_api_key
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    else {
        return;
    };
    let relab = &rt.config.relab;
    let configured = relab.auth.authorized_api_keys.contains(&key)
        || (relab.auth.local_mode_enabled && key == rt.local_api_key);
    if !configured {
        rt.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::credentials::TestDir;
    use crate::pairing::test_runtime;

    fn relay(camera: &str) -> RelayCredentials {
        RelayCredentials {
            backend_url: "wss://relab.example/plugins/rpi-cam/ws/connect".into(),
            camera_id: camera.into(),
            auth_scheme: "device_assertion".into(),
            key_id: "kid".into(),
            private_key_pem: "PEM".into(),
        }
    }

    #[test]
    fn persist_keeps_the_local_key_and_forget_removes_only_relay_fields() {
        let dir = TestDir::new("activation-file");
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
        let dir = TestDir::new("activation-delete");
        let path = dir.join("nested/relay_credentials.json");
        assert_eq!(forget(&path).unwrap(), Forgotten::NoFile);
        persist(&path, &relay("cam-1")).unwrap();
        assert_eq!(forget(&path).unwrap(), Forgotten::Deleted);
        assert!(!path.exists());
        // An unreadable file is replaced by pairing and reported by unpairing.
        std::fs::write(&path, "{broken").unwrap();
        assert!(forget(&path)
            .unwrap_err()
            .starts_with("Failed to remove the relay credentials"));
        persist(&path, &relay("cam-2")).unwrap();
        assert_eq!(
            credentials::load(&path).unwrap().unwrap().relay(),
            Some(relay("cam-2"))
        );
    }

    #[test]
    fn activation_authorizes_a_fresh_relay_key_and_deactivation_revokes_it() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        let keys_before = rt.keys.read().unwrap().len();
        activate(&rt, relay("cam-1"));
        let key = rt.local_relay_api_key.read().unwrap().clone().unwrap();
        assert!(key.starts_with("LOCAL_") && key.len() == 49, "{key}");
        assert!(rt.keys.read().unwrap().contains(&key));
        assert!(rt.relay_enabled());
        // Activating again replaces the key rather than piling them up.
        activate(&rt, relay("cam-2"));
        let second = rt.local_relay_api_key.read().unwrap().clone().unwrap();
        assert_ne!(second, key);
        assert!(!rt.keys.read().unwrap().contains(&key));
        assert_eq!(rt.keys.read().unwrap().len(), keys_before + 1);
        deactivate(&rt);
        assert!(!rt.relay_enabled());
        assert!(!rt.keys.read().unwrap().contains(&second));
        assert_eq!(rt.local_relay_api_key.read().unwrap().clone(), None);
        assert_eq!(rt.keys.read().unwrap().len(), keys_before);
    }

    #[test]
    fn a_seeded_relay_key_that_is_also_configured_stays_authorized() {
        let (rt, _dir) = test_runtime::runtime(&[
            ("LOCAL_RELAY_API_KEY", "LOCAL_seeded"),
            ("AUTHORIZED_API_KEYS", "LOCAL_seeded"),
        ]);
        activate(&rt, relay("cam-1"));
        assert_eq!(
            rt.local_relay_api_key.read().unwrap().as_deref(),
            Some("LOCAL_seeded")
        );
        deactivate(&rt);
        assert!(rt.keys.read().unwrap().contains("LOCAL_seeded"));
    }
}
