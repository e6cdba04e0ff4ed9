//! Checking a WebSocket upgrade request (RFC 6455 §4.2.1) on our own HTTP server, and the
//! head of the `101` answer. Sans-IO: the request in, the verdict out.

use crate::http::{Request, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeError {
    /// No `Upgrade: websocket`: a plain HTTP request, which the reference hub answers 404.
    NotWebSocket,
    /// An upgrade that asks for the impossible (the text says what).
    Bad(&'static str),
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The client's `Sec-WebSocket-Key`, when `req` is a well-formed upgrade.
pub fn check(req: &Request) -> Result<&str, UpgradeError> {
    if !has_token(req.header("Upgrade"), "websocket") {
        return Err(UpgradeError::NotWebSocket);
    }
    if req.method != "GET" {
        return Err(UpgradeError::Bad("a WebSocket upgrade must be a GET"));
    }
    if !has_token(req.header("Connection"), "upgrade") {
        return Err(UpgradeError::Bad("Connection: Upgrade is missing"));
    }
    if req.header("Sec-WebSocket-Version").map(str::trim) != Some("13") {
        return Err(UpgradeError::Bad("only WebSocket version 13 is spoken"));
    }
    match req.header("Sec-WebSocket-Key").map(str::trim) {
        Some(key) if !key.is_empty() && key.len() <= 64 => Ok(key),
        _ => Err(UpgradeError::Bad("Sec-WebSocket-Key is missing")),
    }
}

/// The `101 Switching Protocols` headers for `key` (the body is set by the caller).
pub fn switching(key: &str, body: crate::http::Body) -> Response {
    Response {
        status: 101,
        headers: vec![
            ("Upgrade".into(), "websocket".into()),
            (
                "Sec-WebSocket-Accept".into(),
                tungstenite::handshake::derive_accept_key(key.as_bytes()),
            ),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new("GET", "/video-input-stream").unwrap();
        for (n, v) in headers {
            req.headers.push((n.to_string(), v.to_string()));
        }
        req
    }

    const GOOD: [(&str, &str); 4] = [
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn accepts_rfc_6455s_example() {
        let req = upgrade(&GOOD);
        let key = check(&req).unwrap();
        let resp = switching(key, crate::http::Body::Empty);
        assert_eq!(
            resp.header("Sec-WebSocket-Accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn plain_requests_and_bad_upgrades() {
        assert_eq!(check(&upgrade(&[])), Err(UpgradeError::NotWebSocket));
        for skip in 1..GOOD.len() {
            let headers: Vec<_> = GOOD
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, h)| *h)
                .collect();
            assert!(matches!(
                check(&upgrade(&headers)),
                Err(UpgradeError::Bad(_))
            ));
        }
        let mut post = upgrade(&GOOD);
        post.method = "POST".into();
        assert!(matches!(check(&post), Err(UpgradeError::Bad(_))));
    }
}
