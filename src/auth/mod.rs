//! Access control for the device API (contract §1.1, §1.3): the authorized API keys, browser
//! sessions, the `authed` check, the local-network check, the login form and cookies, and the
//! login brute-force limiter, all without I/O and with time passed in; `state` holds them for
//! the daemon, with the relay credentials, behind one lock.

pub mod check;
pub mod keys;
pub mod local_ip;
pub mod login;
pub mod login_limiter;
pub mod sessions;
pub mod state;

pub use check::{check, cookie_value, Access, INVALID_API_KEY, MISSING_CREDENTIALS};
pub use keys::KeySet;
pub use local_ip::is_local_peer;
pub use login::{clear_cookie, parse_form, safe_redirect, session_cookie, SESSION_MAX_AGE};
pub use login_limiter::{too_many_attempts, LoginLimiter, TOO_MANY_ATTEMPTS};
pub use sessions::{RandomUnavailable, SessionStore, SESSION_TTL};
pub use state::{AuthState, ConfiguredKeys, CredentialsCell, InitialAuth};
