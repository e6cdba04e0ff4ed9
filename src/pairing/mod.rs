//! Pairing with the RELab backend: the credentials file and the start-up key bootstrap.

pub mod bootstrap;
pub mod credentials;
