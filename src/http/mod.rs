//! Our own small HTTP layer on tiny_http: request and response types that the relay will
//! share, the worker pool, and the static web UI.

pub mod request;
pub mod response;
pub mod server;
pub mod static_files;

pub use request::Request;
pub use response::{Body, Response};
