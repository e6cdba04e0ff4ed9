//! The backend test peer against a hand-rolled client: pairing, device assertions, the relay
//! and the upload routes, including every rejection and violation the peer is meant to catch.

#[path = "backend_peer_selftest/assertions.rs"]
mod assertions;
#[path = "backend_peer/mod.rs"]
mod backend_peer;
#[path = "backend_peer_selftest/client.rs"]
mod client;
#[path = "backend_peer_selftest/pairing.rs"]
mod pairing;
#[path = "backend_peer_selftest/relay.rs"]
mod relay;
#[path = "backend_peer_selftest/uploads.rs"]
mod uploads;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use backend_peer::{BackendPeer, PeerConfig, PollStyle, RelayError};
use client::{http, next_request, now, post_json, response, ws_connect, DeviceKey, Socket};
use serde_json::{json, Value};
use tungstenite::Message;

const REGISTER: &str = "/plugins/rpi-cam/pairing/register";
const POLL: &str = "/plugins/rpi-cam/pairing/poll";

fn register_body(key: &DeviceKey, code: &str, fingerprint: &str) -> Value {
    json!({
        "code": code,
        "rpi_fingerprint": fingerprint,
        "public_key_jwk": key.jwk(),
        "key_id": key.key_id,
    })
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn connect_url(peer: &BackendPeer, camera_id: &str) -> String {
    format!("{}?camera_id={camera_id}", peer.ws_url())
}

fn connect(peer: &BackendPeer, key: &DeviceKey, camera_id: &str) -> Socket {
    let auth = bearer(&key.token(camera_id));
    ws_connect(&connect_url(peer, camera_id), &[("Authorization", &auth)])
        .expect("the peer accepts a correct assertion")
}

fn camera(peer: &BackendPeer) -> (DeviceKey, String) {
    let key = DeviceKey::new();
    let camera_id = peer.create_camera(key.jwk(), &key.key_id);
    (key, camera_id)
}

fn last_event(peer: &BackendPeer) -> String {
    peer.events().last().cloned().unwrap_or_default()
}

/// Frames are handled in order, so once our ping is answered everything before it was seen.
fn sync(socket: &mut Socket) {
    socket.send(r#"{"type":"ping"}"#.into()).unwrap();
    read_pong(socket);
}

fn read_pong(socket: &mut Socket) {
    loop {
        if let Message::Text(text) = socket.read().unwrap() {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "pong" {
                assert_eq!(value, json!({"type": "pong"}));
                return;
            }
        }
    }
}

fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame.map_or(0, |f| u16::from(f.code)),
            Ok(_) => {}
            Err(e) => panic!("no close frame before the socket ended: {e}"),
        }
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn error_locs(reply: &client::Reply) -> Vec<Value> {
    assert_eq!(
        reply.status,
        422,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["detail"]
        .as_array()
        .expect("a FastAPI detail list")
        .iter()
        .map(|e| e["loc"].clone())
        .collect()
}

fn request_in_background(
    peer: &std::sync::Arc<BackendPeer>,
    camera_id: &str,
    path: &str,
) -> thread::JoinHandle<Result<backend_peer::RelayReply, RelayError>> {
    let (peer, camera_id, path) = (
        std::sync::Arc::clone(peer),
        camera_id.to_string(),
        path.to_string(),
    );
    thread::spawn(move || peer.request(&camera_id, "GET", &path, None, Duration::from_millis(1500)))
}

#[test]
fn start_on_a_fixed_port_and_release_it_on_drop() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let peer = BackendPeer::start_on(port, PeerConfig::default()).unwrap();
    assert_eq!(peer.base_url(), format!("http://127.0.0.1:{port}"));
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    drop(peer);
    assert!(
        socket.read().is_err(),
        "stopping the peer ends its connections"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener is closed"
    );
    let again = BackendPeer::start_on(port, PeerConfig::default()).unwrap();
    assert_eq!(http(again.port(), "GET", "/nowhere", &[], b"").status, 404);
}
