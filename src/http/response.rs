//! Responses, with bodies that can share media bytes instead of copying them per viewer.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;

use super::parking::Pending;

pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
    Text(Arc<str>),
    /// Several shared buffers sent back to back (a segment is its parts).
    Chunks(Vec<Arc<[u8]>>),
    /// Written by a closure for as long as it runs (a live stream); sent without
    /// Content-Length and followed by closing the connection.
    Stream(StreamBody),
    /// Not there yet: the server's responder answers it when it is (a request waiting for
    /// media). Only a request with `may_park` set may be answered with one.
    Parked(Box<dyn Pending>),
    /// A `101 Switching Protocols`: after the head the connection is handed to the closure
    /// (a WebSocket), with any bytes the client sent after its request head. Never parked
    /// nor handed to the responder.
    Upgrade(Upgrade),
}

type StreamWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// A body that writes itself to the client until it is done or the client goes away (a
/// write fails): of unknown length (a live stream), or of a known length (a file sent from
/// disk), which the head then declares.
pub struct StreamBody(StreamWriter, Option<u64>);

impl StreamBody {
    pub fn new(write: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static) -> Self {
        StreamBody(Box::new(write), None)
    }

    /// A body of exactly `len` bytes that `write` writes.
    pub fn sized(
        len: u64,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    ) -> Self {
        StreamBody(Box::new(write), Some(len))
    }

    /// The length declared with [`StreamBody::sized`].
    pub fn declared_len(&self) -> Option<u64> {
        self.1
    }

    /// Writes the body to `out`, returning when the closure does.
    pub fn run(self, out: &mut dyn Write) -> io::Result<()> {
        (self.0)(out)
    }
}

type UpgradeHandler = Box<dyn FnOnce(TcpStream, Vec<u8>) + Send>;

/// What takes over a connection once its `101` is written: the socket and the bytes already
/// read past the request head. It runs on the connection's thread, which keeps its slot.
pub struct Upgrade(UpgradeHandler);

impl Upgrade {
    pub fn new(take: impl FnOnce(TcpStream, Vec<u8>) + Send + 'static) -> Self {
        Upgrade(Box::new(take))
    }

    pub fn run(self, stream: TcpStream, read_ahead: Vec<u8>) {
        (self.0)(stream, read_ahead)
    }
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len(),
            Body::Static(b) => b.len(),
            Body::Shared(b) => b.len(),
            Body::Text(t) => t.len(),
            Body::Chunks(c) => c.iter().map(|c| c.len()).sum(),
            Body::Stream(_) | Body::Parked(_) | Body::Upgrade(_) => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body's bytes, as the buffers it is made of (nothing is copied).
    pub fn slices(&self) -> Vec<&[u8]> {
        match self {
            Body::Empty => Vec::new(),
            Body::Bytes(b) => vec![b],
            Body::Static(b) => vec![b],
            Body::Shared(b) => vec![b],
            Body::Text(t) => vec![t.as_bytes()],
            Body::Chunks(c) => c.iter().map(|c| &c[..]).collect(),
            Body::Stream(_) | Body::Parked(_) | Body::Upgrade(_) => Vec::new(),
        }
    }

    /// A body with no fixed bytes, that only the connection loop can run (a stream or an
    /// upgrade): never relayed, never kept alive.
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_) | Body::Upgrade(_))
    }

    pub fn is_upgrade(&self) -> bool {
        matches!(self, Body::Upgrade(_))
    }

    /// The declared length of a sized stream (a file).
    pub fn stream_len(&self) -> Option<u64> {
        match self {
            Body::Stream(s) => s.declared_len(),
            _ => None,
        }
    }

    /// The whole body in one buffer (tests and the relay); empty for a stream, which only
    /// the connection loop can run.
    pub fn to_vec(&self) -> Vec<u8> {
        self.slices().concat()
    }
}

/// The headers of [`Response::parked`] that stand in for the real answer's own.
pub const PLACEHOLDERS: [&str; 2] = ["Content-Type", "Cache-Control"];

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Body) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(
            status,
            "application/json",
            Body::Bytes(value.to_string().into_bytes()),
        )
    }

    /// The error shape every route uses: `{"detail": "..."}`.
    pub fn detail(status: u16, detail: &str) -> Response {
        Response::json(status, &serde_json::json!({ "detail": detail }))
    }

    /// A request that waits for media, answered later by the server's responder. It carries
    /// a `Content-Type` and a `Cache-Control` only so the middleware adds what it would add
    /// to the real answer (which sets both); the server drops them ([`PLACEHOLDERS`]).
    pub fn parked(pending: Box<dyn Pending>) -> Response {
        Response {
            status: 200,
            headers: PLACEHOLDERS
                .iter()
                .map(|n| (n.to_string(), "parked".to_string()))
                .collect(),
            body: Body::Parked(pending),
        }
    }

    pub fn not_found() -> Response {
        Response::detail(404, "Not Found")
    }

    pub fn method_not_allowed(allow: &str) -> Response {
        Response::detail(405, "Method Not Allowed").with_header("Allow", allow)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_back_to_back() {
        let body = Body::Chunks(vec![
            Arc::from(&b"ab"[..]),
            Arc::from(&b""[..]),
            Arc::from(&b"cde"[..]),
        ]);
        assert_eq!(body.len(), 5);
        assert_eq!(body.slices().len(), 3);
        assert_eq!(body.to_vec(), b"abcde");
        assert_eq!(Body::Text(Arc::from("hé")).to_vec(), "hé".as_bytes());
    }

    #[test]
    fn streams_have_no_fixed_bytes_and_write_when_run() {
        let body = Body::Stream(StreamBody::new(|out| out.write_all(b"live")));
        assert!(body.is_stream() && !Body::Empty.is_stream());
        assert_eq!(
            (body.len(), body.slices().len(), body.to_vec()),
            (0, 0, vec![])
        );
        let Body::Stream(stream) = body else {
            unreachable!()
        };
        let mut out = Vec::new();
        stream.run(&mut out).unwrap();
        assert_eq!(out, b"live");
    }

    #[test]
    fn detail_shape() {
        let r = Response::detail(404, "Not Found");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body.to_vec(), br#"{"detail":"Not Found"}"#);
        let r = r.with_header("Content-Type", "text/plain");
        assert_eq!(r.headers.len(), 1);
    }
}
