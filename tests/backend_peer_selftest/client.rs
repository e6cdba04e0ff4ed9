//! A minimal hand-rolled Pi for the peer's self-test: raw HTTP/1.1, ES256 assertions minted
//! with ring, and a tungstenite client socket. Independent of the peer's own code.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Map, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::WebSocket;

pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).unwrap();
    b64url(&buf)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The Pi's P-256 key and key id.
pub struct DeviceKey {
    pair: EcdsaKeyPair,
    pub key_id: String,
}

impl DeviceKey {
    pub fn new() -> DeviceKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        DeviceKey {
            pair,
            key_id: random_token(16),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256",
            "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
            "use": null, "kid": self.key_id,
        })
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64url(signature.as_ref()))
    }

    pub fn header(&self) -> Value {
        json!({ "alg": "ES256", "kid": self.key_id, "typ": "JWT" })
    }

    /// What a correct Pi sends: iat/nbf slightly backdated, 120 s lifetime, fresh jti.
    pub fn claims(camera_id: &str) -> Map<String, Value> {
        let t = now();
        let subject = format!("camera:{camera_id}");
        json!({
            "iss": subject, "sub": subject, "aud": "relab-rpi-cam-relay",
            "iat": t - 5, "nbf": t - 5, "exp": t + 115, "jti": random_token(24),
        })
        .as_object()
        .unwrap()
        .clone()
    }

    pub fn token(&self, camera_id: &str) -> String {
        self.sign(&self.header(), &Value::Object(DeviceKey::claims(camera_id)))
    }

    pub fn token_with(
        &self,
        camera_id: &str,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> String {
        let mut claims = DeviceKey::claims(camera_id);
        edit(&mut claims);
        self.sign(&self.header(), &Value::Object(claims))
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on a fresh connection; reads until the server closes or Content-Length is met.
pub fn http(port: u16, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut slots);
    let head_len = match parsed.parse(&raw).unwrap() {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("incomplete response: {raw:?}"),
    };
    Reply {
        status: parsed.code.unwrap(),
        headers: parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: raw[head_len..].to_vec(),
    }
}

pub fn post_json(port: u16, path: &str, body: &Value) -> Reply {
    http(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub type Socket = WebSocket<TcpStream>;

/// Dials the relay; Err(status) when the upgrade is refused.
pub fn ws_connect(url: &str, headers: &[(&str, &str)]) -> Result<Socket, u16> {
    let mut request = url.into_client_request().unwrap();
    for (n, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(n.as_bytes()).unwrap();
        request.headers_mut().insert(name, v.parse().unwrap());
    }
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    match tungstenite::client::client(request, stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("WebSocket handshake failed unexpectedly: {e}"),
    }
}

/// Reads text frames until one that is not a backend ping (which it answers).
pub fn next_request(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("a frame from the peer") {
            tungstenite::Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "ping" {
                    socket.send(r#"{"type":"pong"}"#.into()).unwrap();
                    continue;
                }
                return value;
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub fn response(
    id: &Value,
    status: u16,
    content_type: Value,
    has_binary: bool,
    data: Value,
) -> String {
    json!({
        "id": id, "type": "response", "status": status,
        "content_type": content_type, "has_binary": has_binary, "data": data,
    })
    .to_string()
}
