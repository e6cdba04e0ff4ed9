//! Responses, with bodies that can share media bytes instead of copying them per viewer.

use std::io::{self, Read};
use std::sync::Arc;

pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
    Text(Arc<str>),
    /// Several shared buffers sent back to back (a segment is its parts).
    Chunks(Vec<Arc<[u8]>>),
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
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in one buffer (tests and the relay).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        // Reading from memory cannot fail.
        let _ = self.reader().read_to_end(&mut out);
        out
    }

    pub fn reader(&self) -> BodyReader {
        let chunks: Vec<Chunk> = match self {
            Body::Empty => Vec::new(),
            Body::Bytes(b) => vec![Chunk::Owned(Arc::from(b.as_slice()))],
            Body::Static(b) => vec![Chunk::Static(b)],
            Body::Shared(b) => vec![Chunk::Owned(Arc::clone(b))],
            Body::Text(t) => vec![Chunk::Text(Arc::clone(t))],
            Body::Chunks(c) => c.iter().map(|c| Chunk::Owned(Arc::clone(c))).collect(),
        };
        BodyReader {
            chunks,
            index: 0,
            offset: 0,
        }
    }

    pub fn into_reader(self) -> BodyReader {
        match self {
            Body::Bytes(b) => BodyReader {
                chunks: vec![Chunk::Vec(b)],
                index: 0,
                offset: 0,
            },
            other => other.reader(),
        }
    }
}

enum Chunk {
    Vec(Vec<u8>),
    Static(&'static [u8]),
    Owned(Arc<[u8]>),
    Text(Arc<str>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Vec(b) => b,
            Chunk::Static(b) => b,
            Chunk::Owned(b) => b,
            Chunk::Text(t) => t.as_bytes(),
        }
    }
}

/// Reads a body's buffers in order without joining them.
pub struct BodyReader {
    chunks: Vec<Chunk>,
    index: usize,
    offset: usize,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(chunk) = self.chunks.get(self.index) {
            let rest = &chunk.bytes()[self.offset..];
            if rest.is_empty() {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.offset += n;
            return Ok(n);
        }
        Ok(0)
    }
}

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
        let mut r = body.reader();
        let mut small = [0u8; 2];
        assert_eq!(r.read(&mut small).unwrap(), 2);
        assert_eq!(body.to_vec(), b"abcde");
        assert_eq!(Body::Text(Arc::from("hé")).to_vec(), "hé".as_bytes());
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
