//! The pairing protocol with the RELab backend: the device key, the device JWT, the pairing
//! material, the credentials file, the start-up key bootstrap, the sans-IO pairing flow, the
//! backend API and its HTTP client. The threads that run it live in `link/`.

pub mod backend_api;
pub mod backend_client;
pub mod bootstrap;
pub mod clock_skew;
pub mod credentials;
pub mod flow;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod material;
pub mod reachability;
pub mod reply;
pub mod state;
#[cfg(test)]
pub(crate) mod test_backend;
