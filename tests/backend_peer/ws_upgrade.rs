//! The relay handshake (backend §2.1): the upgrade itself, then the backend's checks in its
//! order. A rejection is a plain HTTP 403 before any upgrade, which is how uvicorn reports a
//! WebSocket closed before `accept()`.

use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};

use super::encoding::{base64_standard, is_uuid4};
use super::http::Request;
use super::jwt_verify::{authenticate, AuthError};
use super::response::Response;
use super::state::Shared;

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub fn accept_key(key: &str) -> String {
    let hash = digest(
        &SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{WS_GUID}").as_bytes(),
    );
    base64_standard(hash.as_ref())
}

pub fn switching_protocols(key: &str, date: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {}\r\ndate: {date}\r\nserver: uvicorn\r\n\r\n",
        accept_key(key)
    )
}

fn header_has_token(request: &Request, name: &str, token: &str) -> bool {
    request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A `Sec-WebSocket-Key` is base64 of 16 bytes: 22 symbols and `==`.
fn is_websocket_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

pub enum Handshake {
    Accept { camera_id: String, key: String },
    Reject(Response),
}

pub fn check(shared: &Shared, request: &Request) -> Handshake {
    if !request.has_header("upgrade") {
        // A plain GET on a WebSocket-only route.
        return Handshake::Reject(Response::detail(404, "Not Found"));
    }
    let key = request.header("sec-websocket-key").unwrap_or("").trim();
    if request.method != "GET"
        || !header_has_token(request, "upgrade", "websocket")
        || !header_has_token(request, "connection", "upgrade")
        || request.header("sec-websocket-version").map(str::trim) != Some("13")
        || !is_websocket_key(key)
    {
        shared.event("relay handshake rejected: malformed WebSocket upgrade request".into());
        return Handshake::Reject(Response::new(
            400,
            "text/plain; charset=utf-8",
            b"Invalid WebSocket upgrade request".to_vec(),
        ));
    }
    let camera_id = request
        .query_param("camera_id")
        .unwrap_or("")
        .to_ascii_lowercase();
    let reject = |reason: String| {
        let who = if camera_id.is_empty() {
            "<none>"
        } else {
            camera_id.as_str()
        };
        shared.with_stats(who, |s| s.handshakes_rejected += 1);
        shared.event(format!("relay handshake of {who} rejected: {reason}"));
        Handshake::Reject(Response::forbidden_upgrade())
    };
    if let Some(origin) = request.header("origin") {
        return reject(format!("Origin header present ({origin})"));
    }
    if !is_uuid4(&camera_id) {
        return reject("camera_id query parameter missing or not a UUID4".into());
    }
    match authenticate(shared, &camera_id, request.header("authorization")) {
        Ok(()) => {
            shared.with_stats(&camera_id, |s| s.handshakes_accepted += 1);
            shared.event(format!("relay handshake of {camera_id} accepted"));
            Handshake::Accept {
                camera_id,
                key: key.to_string(),
            }
        }
        Err(AuthError::MissingHeader) => reject("missing Authorization header".into()),
        Err(AuthError::Failed(reason)) => reject(reason),
        Err(AuthError::BadStoredKey) => {
            shared.with_stats(&camera_id, |s| s.handshakes_rejected += 1);
            shared.event(format!(
                "relay handshake of {camera_id}: stored JWK unusable, answering 500"
            ));
            Handshake::Reject(Response::new(
                500,
                "text/plain; charset=utf-8",
                b"Internal Server Error".to_vec(),
            ))
        }
    }
}
