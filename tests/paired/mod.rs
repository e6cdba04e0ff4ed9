//! Shared by the tests that pair the spawned daemon with the backend test peer: start a
//! daemon that pairs with it, claim its code, send commands through the relay.
#![allow(dead_code)]

use std::time::Duration;

use crate::backend_peer::{BackendPeer, RelayReply};
use crate::common::Picamd;
use serde_json::Value;

pub const RECONNECT_MIN_S: f64 = 0.5;

pub fn start_paired_daemon(peer: &BackendPeer) -> Picamd {
    start_daemon(&peer.base_url(), &[])
}

pub fn start_daemon(backend: &str, more: &[(&str, &str)]) -> Picamd {
    let min = RECONNECT_MIN_S.to_string();
    let mut env = vec![
        ("PAIRING_BACKEND_URL", backend),
        ("PAIRING_POLL_INTERVAL_S", "1"),
        ("APP_ENV", "development"),
        ("RELAY_RECONNECT_MIN_S", min.as_str()),
        ("RUST_LOG", "info"),
    ];
    env.extend_from_slice(more);
    Picamd::start_with(&["--resolution", "320x240"], &env, |_| {})
}

/// Waits for the daemon's code, claims it and waits for the relay.
pub fn pair(peer: &BackendPeer, cam: &Picamd) -> String {
    let code = peer
        .wait_for_code(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no pairing code registered\n{}", cam.log()));
    let camera_id = peer.claim(&code).expect("claim");
    assert!(
        peer.wait_connected(&camera_id, Duration::from_secs(20)),
        "relay did not connect after the claim\n{}",
        cam.log()
    );
    camera_id
}

pub fn relay(
    peer: &BackendPeer,
    camera: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> RelayReply {
    peer.request(camera, method, path, body, Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!(
                "{method} {path} through the relay: {e:?}\npeer events:\n{}",
                peer.events().join("\n")
            )
        })
}
