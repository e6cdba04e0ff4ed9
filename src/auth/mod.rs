//! Access control for the device API (contract §1.1, §1.3): the authorized API keys, browser
//! sessions, the `authed` check, the local-network check, the login form and cookies, and the
//! login brute-force limiter, all without I/O and with time passed in; `state` holds them for
//! the daemon, with the relay credentials, behind one lock.

pub mod action_limiter;
pub mod cdn;
pub mod check;
pub mod keys;
pub mod local_ip;
pub mod login;
pub mod login_limiter;
pub mod sessions;
pub mod state;

pub use check::{cookie_value, Access};
pub use local_ip::is_local_peer;
pub use sessions::{SessionStore, SESSION_TTL};
pub use state::{AuthState, ConfiguredKeys, CredentialsCell, InitialAuth};
