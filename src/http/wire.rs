//! HTTP/1.1 on the wire, sans-IO: request heads parsed from bytes, response heads written to
//! bytes. The connection loop in `server.rs` does the reading and writing.

use super::{Request, Response};

/// Longest request head (request line and headers) we accept; a longer request line alone
/// is answered 414.
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// What the head of a request says.
#[derive(Debug)]
pub struct Head {
    pub request: Request,
    /// Bytes of the head, including the blank line.
    pub head_len: usize,
    pub body: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// How the body that follows a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0 when the head declares no body).
    Length(usize),
    /// `Transfer-Encoding: chunked`, decoded by [`super::chunked::Decoder`].
    Chunked,
}

impl Framing {
    pub fn is_empty(self) -> bool {
        self == Framing::Length(0)
    }
}

/// Why a request cannot be served; the connection closes after the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub status: u16,
    pub detail: &'static str,
}

fn fail(status: u16, detail: &'static str) -> WireError {
    WireError { status, detail }
}

/// Headers whose second copy could make two checks read different values (the `Host` check
/// and the router, the cross-site check and the browser): a request with two is refused.
const SINGLE_VALUED: [&str; 5] = [
    "Host",
    "Origin",
    "Sec-Fetch-Site",
    "X-API-Key",
    "Authorization",
];

/// The authority of an absolute-form request target (`http://host:port/path`).
fn absolute_form_authority(target: &str) -> Option<&str> {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| target.strip_prefix(scheme))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// True when `bytes` hold a CR that is not followed by LF: no head may contain one, so the
/// request is refused at once instead of waiting for a head end that never comes.
pub fn has_bare_cr(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
}

/// The head is too long: 414 when the request line alone is, else 431.
fn too_large(buf: &[u8]) -> WireError {
    let line = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    if line > MAX_HEAD {
        fail(414, "URI too long")
    } else {
        fail(431, "Request header fields too large")
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)` means more bytes are needed.
/// The body's size is checked later, against the limit of the route the head names.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, WireError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let result = parsed.parse(buf);
    let scanned = match result {
        Ok(httparse::Status::Complete(n)) => n,
        _ => buf.len(),
    };
    if has_bare_cr(&buf[..scanned]) {
        return Err(fail(400, "Malformed request"));
    }
    let head_len = match result {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(too_large(buf)),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(fail(431, "Too many request headers")),
        Err(httparse::Error::Version) => return Err(fail(505, "HTTP version not supported")),
        Err(_) => return Err(fail(400, "Malformed request")),
    };
    if head_len > MAX_HEAD {
        return Err(too_large(buf));
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(fail(400, "Malformed request"));
    };
    let mut request = Request::new(method, target).map_err(|e| WireError {
        status: 400,
        detail: e.0,
    })?;
    let mut hosts = 0usize;
    let mut body_len = 0usize;
    let mut connection = String::new();
    let mut expect_continue = false;
    let mut saw_length = false;
    let mut transfer_encoding = String::new();
    for h in parsed.headers.iter() {
        let value =
            std::str::from_utf8(h.value).map_err(|_| fail(400, "Header value is not UTF-8"))?;
        if h.name.eq_ignore_ascii_case("content-length") {
            let digits = value.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail(400, "Invalid Content-Length"));
            }
            let n: usize = digits
                .parse()
                .map_err(|_| fail(400, "Invalid Content-Length"))?;
            if saw_length && n != body_len {
                return Err(fail(400, "Conflicting Content-Length headers"));
            }
            saw_length = true;
            body_len = n;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding.push(',');
            transfer_encoding.push_str(&value.to_ascii_lowercase());
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection.push(',');
            connection.push_str(&value.to_ascii_lowercase());
        } else if h.name.eq_ignore_ascii_case("expect") {
            if !value.eq_ignore_ascii_case("100-continue") {
                return Err(fail(417, "Only Expect: 100-continue is supported"));
            }
            expect_continue = true;
        }
        if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        }
        if SINGLE_VALUED.iter().any(|n| h.name.eq_ignore_ascii_case(n))
            && request.header(h.name).is_some()
        {
            return Err(fail(400, "A header that must appear once appears twice"));
        }
        request
            .headers
            .push((h.name.to_string(), value.to_string()));
    }
    if let Some(authority) = absolute_form_authority(target) {
        // RFC 9112 §3.2.2: the target's authority replaces whatever `Host` says, so the
        // Host check sees the name the request is really for.
        if authority.is_empty() {
            return Err(fail(400, "The request target names no host"));
        }
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
        request.headers.push(("Host".into(), authority.into()));
    } else if hosts == 0 && version == 1 {
        return Err(fail(400, "An HTTP/1.1 request needs a Host header"));
    }
    let body = if transfer_encoding.is_empty() {
        Framing::Length(body_len)
    } else {
        // Both framings at once is how requests are smuggled past proxies: refuse it.
        if saw_length {
            return Err(fail(400, "Both Content-Length and Transfer-Encoding"));
        }
        if version == 0 {
            return Err(fail(400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        let codings: Vec<&str> = transfer_encoding
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if codings != ["chunked"] {
            return Err(fail(501, "Only Transfer-Encoding: chunked is supported"));
        }
        Framing::Chunked
    };
    let keep_alive = if version == 0 {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !connection.split(',').any(|t| t.trim() == "close")
    };
    Ok(Some(Head {
        request,
        head_len,
        body,
        keep_alive,
        expect_continue,
    }))
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// The status line and headers of `resp`, with Content-Length and Connection added.
/// Header names or values with CR or LF are dropped rather than allowed to split the head.
/// A streamed body has no length (but a sized one declares it): closing the connection is
/// what ends it.
pub fn write_head(resp: &Response, keep_alive: bool, out: &mut Vec<u8>) {
    write_status_and_headers(resp, out);
    write_length_and_connection(resp, keep_alive, out);
}

/// The status line and the response's own headers (the first half of [`write_head`]).
pub fn write_status_and_headers(resp: &Response, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    write_headers(&resp.headers, out);
}

/// Header lines; any with CR or LF in it, and Content-Length (ours is computed), are left out.
pub fn write_headers(headers: &[(String, String)], out: &mut Vec<u8>) {
    use std::io::Write;
    for (name, value) in headers {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if bad(name) || bad(value) || name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let _ = write!(out, "{name}: {value}\r\n");
    }
}

/// Content-Length (when the status has a body), Connection and the end of the head (the
/// second half of [`write_head`]).
pub fn write_length_and_connection(resp: &Response, keep_alive: bool, out: &mut Vec<u8>) {
    use std::io::Write;
    let streamed = resp.body.is_stream();
    let keep_alive = keep_alive && !streamed;
    let has_length = !(100..200).contains(&resp.status) && resp.status != 204 && resp.status != 304;
    if has_length && !streamed {
        let _ = write!(out, "Content-Length: {}\r\n", resp.body.len());
    } else if let Some(len) = resp.body.stream_len().filter(|_| has_length) {
        let _ = write!(out, "Content-Length: {len}\r\n");
    }
    out.extend_from_slice(if resp.body.is_upgrade() {
        b"Connection: Upgrade\r\n\r\n"
    } else if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;

    #[test]
    fn parses_heads_incrementally() {
        let raw = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n\r\nrest";
        assert!(parse_head(&raw[..20]).unwrap().is_none());
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.head_len, raw.len() - 4);
        assert_eq!(head.request.path, "/a");
        assert_eq!(head.request.header("x-api-key"), Some("k"));
        assert!(head.keep_alive);
        let head = parse_head(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!head.keep_alive);
        assert_eq!(head.body, Framing::Length(5));
        let chunked = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: Chunked\r\n\r\n";
        assert_eq!(parse_head(chunked).unwrap().unwrap().body, Framing::Chunked);
        let head = parse_head(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!head.keep_alive);
        let two =
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nConnection: x\r\n\r\n";
        assert!(
            !parse_head(two).unwrap().unwrap().keep_alive,
            "every Connection header counts"
        );
    }

    #[test]
    fn one_unambiguous_host() {
        let host = |raw: &[u8]| {
            parse_head(raw).map(|h| h.unwrap().request.header("Host").map(str::to_owned))
        };
        assert_eq!(host(b"GET / HTTP/1.0\r\n\r\n"), Ok(None));
        assert_eq!(host(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().status, 400);
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            host(b"GET http://b:1/x HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(Some("b:1".into())),
            "the target's authority wins"
        );
        assert_eq!(
            host(b"GET http://b?q HTTP/1.0\r\n\r\n"),
            Ok(Some("b".into()))
        );
        assert_eq!(
            host(b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap_err()
                .status,
            400
        );
        for name in ["Origin", "Sec-Fetch-Site", "X-API-Key", "authorization"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: a\r\n{name}: 1\r\n{name}: 2\r\n\r\n");
            assert_eq!(
                parse_head(raw.as_bytes()).unwrap_err().status,
                400,
                "{name}"
            );
        }
    }

    #[test]
    fn rejects_bad_heads() {
        let cases: &[(&[u8], u16)] = &[
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 505),
            (b"GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +5\r\n\r\n", 400),
            (
                b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            (
                b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                400,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\ry", 400),
            (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: magic\r\n\r\n", 417),
        ];
        for (raw, status) in cases {
            let err = parse_head(raw).unwrap_err();
            assert_eq!(err.status, *status, "{}", String::from_utf8_lossy(raw));
        }
        let mut many = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&many).unwrap_err().status, 431);
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(parse_head(&long).unwrap_err().status, 414, "a long URL");
        long.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert_eq!(
            parse_head(&long).unwrap_err().status,
            414,
            "a long URL, whole"
        );
        let mut fat = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ".to_vec();
        fat.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(parse_head(&fat).unwrap_err().status, 431, "a long header");
    }

    #[test]
    fn writes_heads() {
        let resp = Response::new(200, "text/plain", Body::Static(b"hello"))
            .with_header("X-Evil", "a\r\nSet-Cookie: x");
        let mut out = Vec::new();
        write_head(&resp, true, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"
        );
        let mut out = Vec::new();
        write_head(&Response::empty(204), false, &mut out);
        assert_eq!(out, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        let stream = Body::Stream(crate::http::response::StreamBody::new(|_| Ok(())));
        let resp = Response::new(200, "multipart/x-mixed-replace; boundary=frame", stream)
            .with_header("Content-Length", "5");
        let mut out = Vec::new();
        write_head(&resp, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nConnection: close\r\n\r\n",
            "a stream has no length and ends the connection, even when kept alive was asked"
        );
    }
}
