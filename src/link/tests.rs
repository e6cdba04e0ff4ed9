//! The link and pairing threads against a scripted backend on 127.0.0.1: pairing end to end
//! (both API generations), a new code on request, and unpairing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{LinkCommand, LinkServices, LinkSettings};
use crate::api::Api;
use crate::base64;
use crate::pairing::credentials;
use crate::pairing::state::PairingStatus;
use crate::pairing::test_backend::{Canned, Recorded, TestBackend};
use crate::runtime::{test_runtime, Runtime};
use crate::testutil::TempDir;

/// Starts the link of `rt` as the daemon does, with the router for the relay.
fn start_link(rt: &Arc<Runtime>) -> std::io::Result<std::thread::JoinHandle<()>> {
    super::start(LinkServices {
        state: Arc::clone(&rt.link),
        auth: Arc::clone(&rt.auth),
        uploads: Arc::clone(&rt.uploads),
        handler: Arc::new(Api::new(Arc::clone(rt))),
        settings: Arc::new(LinkSettings::from_relab(&rt.config.relab)),
        listen: rt.config.listen,
    })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A backend serving the pairing API under `prefix` ("" or "/v1") that reports the code
/// claimed on the second poll of each code, and accepts self-unpair.
fn backend(prefix: &'static str) -> TestBackend {
    let polls = Arc::new(AtomicUsize::new(0));
    TestBackend::start(move |req: &Recorded| {
        let Some(path) = req.target.strip_prefix(prefix) else {
            return Canned::json(404, r#"{"detail":"Not Found"}"#);
        };
        if prefix.is_empty() && req.target.starts_with("/v1/") {
            return Canned::json(404, r#"{"detail":"Not Found"}"#);
        }
        let ws = format!("ws://127.0.0.1:9{prefix}/plugins/rpi-cam/ws/connect");
        match (req.method.as_str(), path.split('?').next().unwrap_or("")) {
            ("POST", "/plugins/rpi-cam/pairing/register") => {
                Canned::json(201, r#"{"code":"X","expires_in":600}"#)
            }
            (_, "/plugins/rpi-cam/pairing/poll") => {
                if polls.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                    Canned::json(
                        200,
                        r#"{"status":"waiting","camera_id":null,"ws_url":null,"auth_scheme":null,"key_id":null}"#,
                    )
                } else {
                    let body = serde_json::json!({
                        "status": "paired",
                        "camera_id": "cam-1",
                        "ws_url": ws,
                        "auth_scheme": "device_assertion",
                        "key_id": "backend-kid",
                    });
                    Canned::json(200, &body.to_string())
                }
            }
            ("DELETE", p) if p.ends_with("/cam-1/self") => Canned::json(204, ""),
            _ => Canned::json(404, r#"{"detail":"Not Found"}"#),
        }
    })
}

fn runtime_for(backend: &TestBackend) -> (Arc<Runtime>, TempDir) {
    let url = backend.url();
    test_runtime::runtime(&[
        ("PAIRING_BACKEND_URL", url.as_str()),
        ("PAIRING_POLL_INTERVAL_S", "1"),
        ("APP_ENV", "development"),
    ])
}

fn claims(token: &str) -> (serde_json::Value, serde_json::Value) {
    let part = |i: usize| -> serde_json::Value {
        serde_json::from_slice(&base64::decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    (part(0), part(1))
}

fn pair_and_unpair(prefix: &'static str, device_path: &str) {
    let backend = backend(prefix);
    let (rt, _dir) = runtime_for(&backend);
    let path = rt.config.relab.pairing.credentials_file.clone();
    let local_key = rt.auth.local_api_key().to_string();
    credentials::save(
        &path,
        &credentials::Credentials {
            local_api_key: Some(local_key.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let keys_before = rt.auth.key_count();
    start_link(&rt).unwrap();
    assert!(start_link(&rt).is_err(), "one link per runtime");

    wait_for("pairing", || rt.auth.relay_enabled());
    assert_eq!(rt.link.pairing_view().status, PairingStatus::Paired);
    let file = credentials::load(&path).unwrap().unwrap();
    let relay = file.relay().expect("relay credentials saved");
    assert_eq!(relay.camera_id, "cam-1");
    assert_eq!(relay.key_id, "backend-kid");
    assert!(relay
        .backend_url
        .contains(&format!("{prefix}/plugins/rpi-cam/ws/connect")));
    assert!(relay
        .private_key_pem
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        file.local_api_key.as_deref(),
        Some(local_key.as_str()),
        "local key kept"
    );
    let relay_key = rt.auth.relay_api_key().unwrap();
    assert!(relay_key.starts_with("LOCAL_"));
    assert!(rt.auth.is_authorized(&relay_key));
    wait_for("the relay", || rt.link.relay_status().is_some());
    let poll_method = if prefix.is_empty() { "GET" } else { "POST" };
    for poll in backend
        .requests()
        .iter()
        .filter(|r| r.target.contains("/pairing/poll"))
    {
        assert_eq!(poll.method, poll_method, "{}", poll.target);
    }

    let registers_before = count(&backend, "/pairing/register");
    // Paired: a new code is refused.
    assert!(rt.link.request(LinkCommand::RotateCode));
    assert!(rt.link.request(LinkCommand::Unpair));
    wait_for("unpairing", || !rt.auth.relay_enabled());
    wait_for("a new pairing run", || {
        count(&backend, "/pairing/register") > registers_before
    });
    let unpair = backend
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("self-unpair sent");
    assert_eq!(unpair.target, device_path);
    let token = unpair
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .expect("bearer token");
    let (header, body) = claims(token);
    assert_eq!(header["kid"], "backend-kid");
    assert_eq!(body["iss"], "camera:cam-1");
    let file = credentials::load(&path).unwrap().unwrap();
    assert!(!file.has_any_relay_field());
    assert_eq!(file.local_api_key.as_deref(), Some(local_key.as_str()));
    assert!(!rt.auth.is_authorized(&relay_key));
    assert_eq!(rt.auth.key_count(), keys_before);
    assert!(rt.link.relay_status().is_none());
    wait_for("a new code", || rt.link.pairing_view().code.is_some());
}

fn count(backend: &TestBackend, path_end: &str) -> usize {
    backend
        .requests()
        .iter()
        .filter(|r| r.target.ends_with(path_end))
        .count()
}

#[test]
fn pairs_and_unpairs_with_the_current_backend() {
    pair_and_unpair("", "/plugins/rpi-cam/cameras/cam-1/self");
}

#[test]
fn pairs_and_unpairs_with_the_v1_backend_found_by_auto() {
    pair_and_unpair("/v1", "/v1/plugins/rpi-cam/device/cameras/cam-1/self");
}

#[test]
fn a_new_code_on_request_replaces_the_old_one() {
    // A backend that never reports a claim.
    let backend = TestBackend::start(|req| {
        if req.target.ends_with("/register") {
            Canned::json(201, "{}")
        } else {
            Canned::json(200, r#"{"status":"waiting"}"#)
        }
    });
    let (rt, _dir) = runtime_for(&backend);
    start_link(&rt).unwrap();
    wait_for("waiting", || {
        rt.link.pairing_view().status == PairingStatus::Waiting
    });
    let first = rt.link.pairing_view().code.unwrap();
    assert!(rt.link.request(LinkCommand::RotateCode));
    wait_for("a second code", || {
        let v = rt.link.pairing_view();
        v.status == PairingStatus::Waiting && v.code.as_deref() != Some(first.as_str())
    });
    let codes: Vec<String> = backend
        .requests()
        .iter()
        .filter(|r| r.target.ends_with("/register"))
        .map(|r| r.json()["code"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert_eq!(codes[0], first);
    assert!(!rt.auth.relay_enabled());
    // Unpairing while not paired resets and pairs again; the file is left alone.
    assert!(rt.link.request(LinkCommand::Unpair));
    wait_for("a third code", || count(&backend, "/register") >= 3);
    assert!(!backend.requests().iter().any(|r| r.method == "DELETE"));
}

#[test]
fn without_a_backend_the_link_stays_idle_and_commands_are_harmless() {
    let (rt, _dir) = test_runtime::runtime(&[]);
    let before = std::fs::read_to_string(&rt.config.relab.pairing.credentials_file).ok();
    start_link(&rt).unwrap();
    assert!(rt.link.request(LinkCommand::RotateCode));
    assert!(rt.link.request(LinkCommand::Unpair));
    // The inbox drains; nothing changes.
    wait_for("the link to drain", || {
        std::thread::sleep(Duration::from_millis(50));
        (0..16).all(|_| rt.link.request(LinkCommand::RotateCode))
    });
    assert_eq!(rt.link.pairing_view().status, PairingStatus::Idle);
    assert!(!rt.auth.relay_enabled());
    assert_eq!(
        std::fs::read_to_string(&rt.config.relab.pairing.credentials_file).ok(),
        before
    );
}

#[test]
fn a_backend_without_the_pairing_api_stops_pairing_with_the_contract_error() {
    let backend = TestBackend::start(|_| Canned::json(404, r#"{"detail":"Not Found"}"#));
    let (rt, _dir) = runtime_for(&backend);
    start_link(&rt).unwrap();
    wait_for("the error", || {
        rt.link.pairing_view().status == PairingStatus::Error
    });
    let view = rt.link.pairing_view();
    assert_eq!(
        view.error.as_deref(),
        Some(crate::pairing::flow::ERROR_API_NOT_FOUND),
        "{view:?}"
    );
    let targets: Vec<String> = backend.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/plugins/rpi-cam/pairing/register",
            "/v1/plugins/rpi-cam/pairing/register"
        ]
    );
}
