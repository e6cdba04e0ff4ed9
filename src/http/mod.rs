//! Our own small HTTP/1.1 layer: request and response types that the relay will share, the
//! wire format, the connection threads, and the static web UI.

pub mod request;
pub mod response;
pub mod server;
pub mod static_files;
pub mod wire;

pub use request::Request;
pub use response::{Body, Response};
