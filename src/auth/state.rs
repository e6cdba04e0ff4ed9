//! Who may call the API right now, behind one lock: the keys that authenticate, the relay
//! credentials in effect and the relay-local key that relayed commands carry. Pairing and
//! unpairing change all three at once through [`AuthState::activate`] and
//! [`AuthState::deactivate`], so no reader ever sees a half-applied change. Browser sessions
//! and the login limiter sit beside them under their own locks (they change independently).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::action_limiter::ActionLimiter;
use super::check::{check, Access};
use super::keys::KeySet;
use super::login_limiter::LoginLimiter;
use super::sessions::SessionStore;
use crate::config::action_limits::ActionLimitSettings;
use crate::config::auth::ApiKeys;
use crate::config::secret::Secret;
use crate::http::Request;
use crate::pairing::credentials::RelayCredentials;
use crate::sync::{LockExt, RwLockExt};

/// Bytes of randomness in the relay-local key (`LOCAL_` + 43 characters, as the plugin).
const RELAY_KEY_BYTES: usize = 32;

/// Keys that authenticate because they are configured, whatever pairing does.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredKeys {
    /// `AUTHORIZED_API_KEYS`.
    pub authorized: ApiKeys,
    /// `LOCAL_MODE_ENABLED`: the local key authenticates.
    pub local_mode: bool,
    /// `LOCAL_RELAY_API_KEY`: the relay-local key to use instead of a fresh one.
    pub relay_key_seed: Secret,
}

/// What authenticates at start-up (from the key bootstrap).
pub struct InitialAuth {
    pub authorized_keys: Vec<String>,
    pub local_api_key: String,
    pub relay: Option<RelayCredentials>,
    pub relay_api_key: Option<String>,
}

struct Current {
    keys: KeySet,
    relay: Option<RelayCredentials>,
    relay_api_key: Option<String>,
}

pub struct AuthState {
    current: RwLock<Current>,
    local_api_key: String,
    configured: ConfiguredKeys,
    sessions: Mutex<SessionStore>,
    login_limiter: Mutex<LoginLimiter>,
    action_limiter: Mutex<ActionLimiter>,
}

impl AuthState {
    pub fn new(initial: InitialAuth, configured: ConfiguredKeys, sessions: SessionStore) -> Self {
        AuthState {
            current: RwLock::new(Current {
                keys: KeySet::new(initial.authorized_keys),
                relay: initial.relay,
                relay_api_key: initial.relay_api_key,
            }),
            local_api_key: initial.local_api_key,
            configured,
            sessions: Mutex::new(sessions),
            login_limiter: Mutex::new(LoginLimiter::default()),
            action_limiter: Mutex::new(ActionLimiter::new(ActionLimitSettings::default())),
        }
    }

    /// Replaces the default action limits (`RATE_LIMIT_*`).
    pub fn with_action_limits(mut self, settings: ActionLimitSettings) -> Self {
        self.action_limiter = Mutex::new(ActionLimiter::new(settings));
        self
    }

    pub fn action_limiter(&self) -> std::sync::MutexGuard<'_, ActionLimiter> {
        self.action_limiter.lock_unpoisoned()
    }

    /// Replaces the default login limiter (`LOGIN_MAX_FAILURES`).
    pub fn with_login_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.login_limiter = Mutex::new(limiter);
        self
    }

    /// The direct-access key (`GET /local-key`, `show-key`).
    pub fn local_api_key(&self) -> &str {
        &self.local_api_key
    }

    /// The relay credentials in effect (from the environment, the file or pairing).
    pub fn relay(&self) -> Option<RelayCredentials> {
        self.current.read_unpoisoned().relay.clone()
    }

    pub fn relay_enabled(&self) -> bool {
        self.current.read_unpoisoned().relay.is_some()
    }

    /// The key relayed commands carry, while relay credentials apply.
    pub fn relay_api_key(&self) -> Option<String> {
        self.current.read_unpoisoned().relay_api_key.clone()
    }

    /// Whether `key` authenticates.
    pub fn is_authorized(&self, key: &str) -> bool {
        self.current.read_unpoisoned().keys.contains(key)
    }

    /// Keys that authenticate right now.
    pub fn key_count(&self) -> usize {
        self.current.read_unpoisoned().keys.len()
    }

    /// The `authed` check of §1.1 against the keys and sessions in effect.
    pub fn check(&self, req: &Request, key_name: &str, cookie_name: &str, now: Instant) -> Access {
        let current = self.current.read_unpoisoned();
        let mut sessions = self.sessions.lock_unpoisoned();
        check(
            req,
            key_name,
            cookie_name,
            &current.keys,
            &mut sessions,
            now,
        )
    }

    pub fn sessions(&self) -> std::sync::MutexGuard<'_, SessionStore> {
        self.sessions.lock_unpoisoned()
    }

    pub fn login_limiter(&self) -> std::sync::MutexGuard<'_, LoginLimiter> {
        self.login_limiter.lock_unpoisoned()
    }

    /// Puts relay credentials into effect and authorizes the relay-local key: the
    /// `LOCAL_RELAY_API_KEY` seed when set, else a fresh `LOCAL_…` key (memory only). A key
    /// from an earlier activation is revoked in the same step.
    pub fn activate(&self, relay: RelayCredentials) {
        let key = if self.configured.relay_key_seed.is_empty() {
            format!("LOCAL_{}", crate::random::token_urlsafe(RELAY_KEY_BYTES))
        } else {
            self.configured.relay_key_seed.expose().to_string()
        };
        let mut current = self.current.write_unpoisoned();
        self.revoke_relay_key(&mut current);
        current.keys.add(key.clone());
        current.relay_api_key = Some(key);
        current.relay = Some(relay);
    }

    /// Takes the relay credentials out of effect and revokes the relay-local key.
    pub fn deactivate(&self) {
        let mut current = self.current.write_unpoisoned();
        current.relay = None;
        self.revoke_relay_key(&mut current);
    }

    /// Forgets the relay-local key; it stops authenticating unless it is also configured as a
    /// key of its own (`AUTHORIZED_API_KEYS`, or the local key in local mode).
    fn revoke_relay_key(&self, current: &mut Current) {
        let Some(key) = current.relay_api_key.take() else {
            return;
        };
        let configured = self.configured.authorized.contains(&key)
            || (self.configured.local_mode && key == self.local_api_key);
        if !configured {
            current.keys.remove(&key);
        }
    }
}

/// The relay credentials in effect, for the upload sinks that sign with them: a read-only
/// view of [`AuthState`].
#[derive(Clone)]
pub struct CredentialsCell(Arc<AuthState>);

impl CredentialsCell {
    pub fn new(auth: Arc<AuthState>) -> CredentialsCell {
        CredentialsCell(auth)
    }

    pub fn get(&self) -> Option<RelayCredentials> {
        self.0.relay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SESSION_TTL;

    use crate::testutil::relay_credentials as relay;

    fn state(configured: ConfiguredKeys) -> AuthState {
        AuthState::new(
            InitialAuth {
                authorized_keys: vec!["local_k".into()],
                local_api_key: "local_k".into(),
                relay: None,
                relay_api_key: None,
            },
            configured,
            SessionStore::new(SESSION_TTL, 10),
        )
    }

    #[test]
    fn activation_authorizes_a_fresh_relay_key_and_deactivation_revokes_it() {
        let auth = state(ConfiguredKeys::default());
        let keys_before = auth.key_count();
        auth.activate(relay("cam-1"));
        let key = auth.relay_api_key().unwrap();
        assert!(key.starts_with("LOCAL_") && key.len() == 49, "{key}");
        assert!(auth.is_authorized(&key));
        assert!(auth.relay_enabled());
        // Activating again replaces the key rather than piling them up.
        auth.activate(relay("cam-2"));
        let second = auth.relay_api_key().unwrap();
        assert_ne!(second, key);
        assert!(!auth.is_authorized(&key));
        assert_eq!(auth.key_count(), keys_before + 1);
        assert_eq!(auth.relay().unwrap().camera_id, "cam-2");
        auth.deactivate();
        assert!(!auth.relay_enabled());
        assert!(!auth.is_authorized(&second));
        assert_eq!(auth.relay_api_key(), None);
        assert_eq!(auth.key_count(), keys_before);
    }

    #[test]
    fn a_seeded_relay_key_that_is_also_configured_stays_authorized() {
        let auth = AuthState::new(
            InitialAuth {
                authorized_keys: vec!["LOCAL_seeded".into()],
                local_api_key: "local_k".into(),
                relay: None,
                relay_api_key: None,
            },
            ConfiguredKeys {
                authorized: ApiKeys::new(vec!["LOCAL_seeded".into()]),
                local_mode: true,
                relay_key_seed: "LOCAL_seeded".into(),
            },
            SessionStore::new(SESSION_TTL, 10),
        );
        auth.activate(relay("cam-1"));
        assert_eq!(auth.relay_api_key().as_deref(), Some("LOCAL_seeded"));
        auth.deactivate();
        assert!(auth.is_authorized("LOCAL_seeded"));
    }

    #[test]
    fn the_credentials_cell_follows_activation() {
        let auth = Arc::new(state(ConfiguredKeys::default()));
        let cell = CredentialsCell::new(Arc::clone(&auth));
        assert!(cell.get().is_none());
        auth.activate(relay("cam-1"));
        assert_eq!(cell.get().unwrap().camera_id, "cam-1");
        auth.deactivate();
        assert!(cell.get().is_none());
    }
}
