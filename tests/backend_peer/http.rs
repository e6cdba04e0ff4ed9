//! HTTP/1.1 requests on one accepted socket: httparse heads, Content-Length or chunked bodies,
//! keep-alive. Responses are in `response.rs`, routing in `router.rs`.

use std::io::{self, Read};
use std::net::TcpStream;

use super::encoding::percent_decode;

const MAX_HEAD: usize = 64 * 1024;
/// Far above every route's own cap; only protects the test process.
const MAX_BODY: usize = 32 * 1024 * 1024;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type of the body, lowercased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

pub enum Incoming {
    Request(Request),
    Closed,
    Malformed(String),
    TooLarge,
}

/// Why a body could not be read.
enum BodyError {
    Malformed(String),
    TooLarge,
}

impl From<BodyError> for Incoming {
    fn from(e: BodyError) -> Incoming {
        match e {
            BodyError::Malformed(why) => Incoming::Malformed(why),
            BodyError::TooLarge => Incoming::TooLarge,
        }
    }
}

/// The read side of one client connection, keeping bytes that arrived past the current request.
pub struct HttpConn {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl HttpConn {
    pub fn new(stream: TcpStream) -> HttpConn {
        HttpConn {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Bytes already read past the last request (handed to the WebSocket after an upgrade).
    pub fn take_leftover(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    pub fn read_request(&mut self) -> Incoming {
        let (head_len, method, target, headers) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Request::new(&mut slots);
            match parsed.parse(&self.buffer) {
                Ok(httparse::Status::Complete(len)) => {
                    if parsed.version != Some(1) {
                        return Incoming::Malformed("only HTTP/1.1 is served".into());
                    }
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect::<Vec<_>>();
                    let method = parsed.method.unwrap_or("").to_string();
                    let target = parsed.path.unwrap_or("").to_string();
                    break (len, method, target, headers);
                }
                Ok(httparse::Status::Partial) => {
                    if self.buffer.len() > MAX_HEAD {
                        return Incoming::Malformed("request head over 64 KiB".into());
                    }
                    match self.fill() {
                        Ok(0) | Err(_) if self.buffer.is_empty() => return Incoming::Closed,
                        Ok(0) | Err(_) => {
                            return Incoming::Malformed("connection ended inside a request".into())
                        }
                        Ok(_) => {}
                    }
                }
                Err(e) => return Incoming::Malformed(format!("unparseable request: {e}")),
            }
        };
        self.buffer.drain(..head_len);
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_ascii_lowercase())
        };
        let chunked = find("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let body = if chunked {
            match self.read_chunked() {
                Ok(body) => body,
                Err(e) => return e.into(),
            }
        } else {
            let length = match find("content-length").map(|v| v.parse::<usize>()) {
                None => 0,
                Some(Ok(n)) => n,
                Some(Err(_)) => return Incoming::Malformed("bad Content-Length".into()),
            };
            if length > MAX_BODY {
                return Incoming::TooLarge;
            }
            match self.read_exact_body(length) {
                Ok(body) => body,
                Err(e) => return e.into(),
            }
        };
        let keep_alive = !find("connection").is_some_and(|v| v.contains("close"));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), parse_query(q)),
            None => (target.clone(), Vec::new()),
        };
        Incoming::Request(Request {
            method,
            path,
            query,
            headers,
            body,
            keep_alive,
        })
    }

    fn read_exact_body(&mut self, length: usize) -> Result<Vec<u8>, BodyError> {
        while self.buffer.len() < length {
            match self.fill() {
                Ok(0) | Err(_) => {
                    return Err(BodyError::Malformed(
                        "connection ended inside a body".into(),
                    ))
                }
                Ok(_) => {}
            }
        }
        Ok(self.buffer.drain(..length).collect())
    }

    fn read_line(&mut self) -> Result<String, BodyError> {
        loop {
            if let Some(pos) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffer[..pos]).into_owned();
                self.buffer.drain(..pos + 2);
                return Ok(line);
            }
            match self.fill() {
                Ok(0) | Err(_) => {
                    return Err(BodyError::Malformed(
                        "connection ended inside a chunk".into(),
                    ))
                }
                Ok(_) => {}
            }
        }
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| BodyError::Malformed(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the final empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(BodyError::TooLarge);
            }
            body.extend(self.read_exact_body(size)?);
            if !self.read_line()?.is_empty() {
                return Err(BodyError::Malformed("chunk not followed by CRLF".into()));
            }
        }
    }
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}
