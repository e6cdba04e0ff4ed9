//! Pairing with the RELab backend: the device key, the device JWT, the pairing material, the
//! credentials file, the start-up key bootstrap, and the pairing/unpairing lifecycle (the
//! sans-IO flow, its thread, and the link thread that owns pairing and the relay).

pub mod activation;
pub mod backend_api;
pub mod backend_client;
pub mod bootstrap;
pub mod clock_skew;
pub mod credentials;
pub mod flow;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod link;
pub mod link_state;
#[cfg(test)]
mod link_tests;
pub mod material;
pub mod reachability;
pub mod reply;
pub mod session;
pub mod state;
#[cfg(test)]
pub(crate) mod test_backend;
#[cfg(test)]
pub(crate) mod test_runtime;
