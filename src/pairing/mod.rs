//! Pairing with the RELab backend: the device key, the device JWT, the pairing material, the
//! credentials file and the start-up key bootstrap.

pub mod bootstrap;
pub mod credentials;
pub mod identity;
pub mod jwt;
pub mod keys;
pub mod material;
