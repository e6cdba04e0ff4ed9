//! Our own small HTTP/1.1 layer: request and response types that the relay will share, the
//! wire format, the connection threads, the static web UI and its page templates.

pub mod budget;
pub mod chunked;
pub mod client_address;
pub mod cors;
pub mod date;
pub mod next_request;
pub mod parking;
pub mod percent;
pub mod range;
pub mod request;
pub mod request_id;
pub mod responder;
pub mod response;
pub mod security_headers;
pub mod server;
pub mod site_guard;
pub mod slots;
pub mod static_files;
pub mod template;
pub mod throttle;
pub mod wire;
pub mod workers;

pub use request::Request;
pub use response::{Body, Response};
