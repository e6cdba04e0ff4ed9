//! HTTP responses the way the backend behind uvicorn shapes them: FastAPI and problem+json
//! bodies, and `Date` plus `X-Request-ID` on every response.

use std::io::{self, Write};

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string().into_bytes())
    }

    /// FastAPI's `HTTPException` body.
    pub fn detail(status: u16, detail: &str) -> Response {
        Response::json(status, &serde_json::json!({ "detail": detail }))
    }

    /// The backend's domain-error body (RFC 9457 problem details plus `request_id` and `code`).
    pub fn problem(status: u16, detail: &str, code: &str, request_id: &str) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": reason_phrase(status),
            "status": status,
            "detail": detail,
            "request_id": request_id,
            "code": code,
        });
        Response::new(
            status,
            "application/problem+json",
            body.to_string().into_bytes(),
        )
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// What uvicorn answers to a WebSocket upgrade that was closed before `accept()`.
    pub fn forbidden_upgrade() -> Response {
        Response::new(403, "text/plain; charset=utf-8", b"Forbidden".to_vec())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes a complete response. Every response carries `Date` (from the peer clock) and
/// `X-Request-ID`, like the backend behind uvicorn.
pub fn write_response(
    stream: &mut impl Write,
    response: &Response,
    date: &str,
    request_id: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ndate: {date}\r\nserver: uvicorn\r\n",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.status != 204 {
        head.push_str(&format!("content-length: {}\r\n", response.body.len()));
    }
    head.push_str(&format!("x-request-id: {request_id}\r\n"));
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    stream.write_all(&bytes)?;
    stream.flush()
}
