//! The relay against a loopback WebSocket peer, with the real router behind it.

mod peer;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use super::{Relay, RelayHooks, RelayOptions, RelayStartError, RelayStatus};
use crate::api::Api;
use crate::base64;
use crate::config::Config;
use crate::http::Request;
use crate::media::llhls::NewPart;
use crate::media::llhls::TimelineConfig;
use crate::pairing::bootstrap::KeyBootstrap;
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::keys::DeviceKey;
use crate::runtime::Runtime;
use peer::{request, Peer};

const RELAY_KEY: &str = "LOCAL_relay-test-key";
const CAMERA_ID: &str = "3f0c8a2e-5b1d-4c7e-9a6f-2d4b8e1c0f57";
const WAIT: Duration = Duration::from_secs(10);

fn runtime(extra_env: &[(&str, &str)]) -> Arc<Runtime> {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("picamd-relay-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut env: HashMap<String, String> =
        [("PAIRING_BACKEND_URL", ""), ("APP_ENV", "development")]
            .iter()
            .chain(&[("LOCAL_RELAY_API_KEY", RELAY_KEY)])
            .chain(extra_env)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    env.insert("HOME".into(), dir.display().to_string());
    let args = vec!["--data-dir".to_string(), dir.display().to_string()];
    let config = Config::from_sources(&args, &env, &HashMap::new()).expect("config");
    let keys = KeyBootstrap {
        local_api_key: "local_relay-test".into(),
        local_key_generated: false,
        local_relay_api_key: Some(RELAY_KEY.into()),
        authorized_keys: vec![RELAY_KEY.into()],
        relay: None,
        log: Vec::new(),
    };
    Runtime::new(config, keys).expect("runtime")
}

/// Starts a relay as the link does: the runtime's router, its relay key, its settings.
fn start(rt: &Arc<Runtime>, credentials: RelayCredentials) -> Result<Relay, RelayStartError> {
    let auth = Arc::clone(&rt.auth);
    let hooks = RelayHooks {
        handler: Arc::new(Api::new(Arc::clone(rt))),
        command_key: Arc::new(move || auth.relay_api_key()),
        on_connected: Arc::new(|| {}),
    };
    Relay::start(
        hooks,
        RelayOptions::from_relab(&rt.config.relab),
        credentials,
    )
}

fn credentials(url: &str) -> RelayCredentials {
    RelayCredentials {
        backend_url: url.into(),
        camera_id: CAMERA_ID.into(),
        auth_scheme: "device_assertion".into(),
        key_id: "relay-test-key-1".into(),
        private_key_pem: DeviceKey::generate().unwrap().to_pem(),
    }
}

fn wait_for(relay: &Relay, what: &str, done: impl Fn(&RelayStatus) -> bool) -> RelayStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = relay.status();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Publishes `count` parts of different sizes (some beyond 64 KiB) and returns their
/// relay paths and bytes.
fn publish_parts(rt: &Runtime, count: usize) -> Vec<(String, Vec<u8>)> {
    rt.media
        .hls
        .start_session(Arc::from(&b"init"[..]), "avc1.42c01f".into(), |first_msn| {
            TimelineConfig {
                prefix: "rt".into(),
                part_target: 18_000,
                segment_target: 90_000,
                window_segments: 7,
                first_msn,
            }
        });
    (0..count)
        .map(|i| {
            let len = 100 + (i * 7919) % 150_000;
            let data: Vec<u8> = (0..len).map(|j| (j * 31 + i * 17) as u8).collect();
            let part = rt
                .media
                .hls
                .update(|tl| {
                    let part =
                        tl.push_part(NewPart::at(18_000, i % 5 == 0, Arc::from(&data[..]), 0));
                    if i % 5 == 4 {
                        tl.close_segment();
                    }
                    part
                })
                .expect("a live session");
            let path = format!(
                "/preview/hls/cam-preview/rt-{}.{}.m4s",
                part.msn, part.index
            );
            (path, data)
        })
        .collect()
}

#[test]
fn handshake_heartbeats_and_a_clean_stop() {
    let rt = runtime(&[]);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    let (mut server, hs) = peer.accept();
    assert_eq!(
        hs.target,
        format!("/plugins/rpi-cam/ws/connect?camera_id={CAMERA_ID}")
    );
    let auth = hs.headers["authorization"].to_str().unwrap();
    let token = auth.strip_prefix("Bearer ").expect("Bearer scheme");
    let claims: Value =
        serde_json::from_slice(&base64::decode(token.split('.').nth(1).expect("a JWT")).unwrap())
            .unwrap();
    assert_eq!(claims["sub"], format!("camera:{CAMERA_ID}"));
    assert_eq!(claims["iss"], claims["sub"]);
    assert!(!hs.headers.contains_key("origin"), "no Origin header");
    assert!(
        !hs.headers.contains_key("sec-websocket-extensions"),
        "no compression"
    );

    assert_eq!(
        server.next(WAIT),
        Some(Message::text(r#"{"type":"ping"}"#)),
        "our own ping right after connecting"
    );
    wait_for(&relay, "connected", |s| s.connected && s.connects == 1);
    server.send_json(&json!({"type": "ping"}));
    assert_eq!(server.next(WAIT), Some(Message::text(r#"{"type":"pong"}"#)));
    // A control ping is answered by the WebSocket layer with the same payload.
    server
        .ws
        .send(Message::Ping(b"probe".to_vec().into()))
        .unwrap();
    server.ws.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    loop {
        match server.ws.read().unwrap() {
            Message::Pong(payload) => {
                assert_eq!(&payload[..], b"probe");
                break;
            }
            Message::Text(t) if t.as_str() == r#"{"type":"ping"}"# => {}
            other => panic!("expected the control pong, got {other:?}"),
        }
    }
    server.send_json(&json!({"type": "pong"}));
    server.send_json(&json!({"type": "hello"}));
    server.ws.send(Message::binary(vec![1, 2, 3])).unwrap();

    let started = Instant::now();
    let stopper = std::thread::spawn(move || relay.stop());
    match server.next_reply(WAIT) {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected our close frame, got {other:?}"),
    }
    // The server's reply completes the handshake; the relay then lets go of the socket.
    assert_eq!(server.next(WAIT), None);
    stopper.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        peer.tcp(Duration::from_millis(300)).is_none(),
        "no redial after stop"
    );
}

#[test]
fn get_camera_runs_through_the_router_with_the_relay_key() {
    let rt = runtime(&[]);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    let (mut server, _) = peer.accept();
    server.send_json(&request("cam-1", "GET", "/camera"));
    let reply = server.next_json(WAIT);
    let keys: Vec<&String> = reply.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "type", "status", "content_type", "has_binary", "data"]
    );
    assert_eq!(reply["id"], "cam-1");
    assert_eq!(reply["type"], "response");
    assert_eq!(reply["status"], 200);
    assert_eq!(reply["content_type"], "application/json");
    assert_eq!(reply["has_binary"], false);
    assert_eq!(reply["data"], json!({"current_mode": null, "stream": null}));

    // The relay key is what authenticates the command.
    rt.auth.deactivate();
    server.send_json(&request("cam-2", "GET", "/camera"));
    assert_eq!(server.next_json(WAIT)["status"], 401);
    rt.auth.activate(credentials(&peer.url()));

    // Round trip over the relay against the same call made directly.
    let direct = {
        let mut req = Request::new("GET", "/camera").unwrap();
        req.peer = Some("127.0.0.1:0".parse().unwrap());
        req.headers.push(("X-API-Key".into(), RELAY_KEY.into()));
        req
    };
    let mut relayed = Vec::new();
    let mut local = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        assert_eq!(crate::api::handle(&rt, &direct).status, 200);
        local.push(t.elapsed());
        let t = Instant::now();
        server.send_json(&request(&format!("rt-{i}"), "GET", "/camera"));
        let reply = server.next_json(WAIT);
        relayed.push(t.elapsed());
        assert_eq!(
            (reply["id"].clone(), reply["status"].clone()),
            (json!(format!("rt-{i}")), json!(200))
        );
    }
    relayed.sort();
    local.sort();
    let (relay_median, local_median) = (relayed[150], local[150]);
    let overhead = relay_median.saturating_sub(local_median);
    eprintln!(
        "relayed GET /camera: median {relay_median:?}, p90 {:?}; direct call median {local_median:?}; overhead {overhead:?}",
        relayed[270]
    );
    assert!(
        overhead <= Duration::from_millis(2),
        "relay overhead {overhead:?}"
    );
    let status = relay.status();
    assert_eq!(status.commands, 302);
    relay.stop();
}

/// Reads replies until `expected` ids are answered, checking that every binary header is
/// followed at once by its body. Returns (id → (status, bytes or data)).
fn collect_replies(
    server: &mut peer::Server,
    expected: usize,
) -> HashMap<String, (u64, Result<Vec<u8>, Value>)> {
    let mut replies = HashMap::new();
    while replies.len() < expected {
        let header = server.next_json(WAIT);
        let id = header["id"].as_str().unwrap().to_string();
        let status = header["status"].as_u64().unwrap();
        let body = if header["has_binary"] == true {
            assert_eq!(header["data"], Value::Null);
            match server.next_reply(WAIT) {
                Some(Message::Binary(bytes)) => Ok(bytes.to_vec()),
                other => panic!("header {id} not followed by its body but by {other:?}"),
            }
        } else {
            Err(header["data"].clone())
        };
        assert!(
            replies.insert(id.clone(), (status, body)).is_none(),
            "{id} answered twice"
        );
    }
    replies
}

#[test]
fn fifty_hls_parts_at_once_come_back_byte_exact_in_adjacent_pairs() {
    // Sixty commands at once: above the default pending limit (32), which is not tested here.
    let rt = runtime(&[("RELAY_MAX_PENDING_COMMANDS", "64")]);
    let parts = publish_parts(&rt, 50);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    let (mut server, _) = peer.accept();
    for (i, (path, _)) in parts.iter().enumerate() {
        server.send_json(&request(&format!("part-{i}"), "GET", path));
        if i % 5 == 0 {
            server.send_json(&request(&format!("cam-{i}"), "GET", "/camera"));
        }
    }
    let replies = collect_replies(&mut server, 60);
    for (i, (path, data)) in parts.iter().enumerate() {
        let (status, body) = &replies[&format!("part-{i}")];
        assert_eq!(*status, 200, "{path}");
        assert_eq!(body.as_ref().ok(), Some(data), "{path}: bytes differ");
    }
    for i in (0..50).step_by(5) {
        let (status, body) = &replies[&format!("cam-{i}")];
        assert_eq!(
            (*status, body.as_ref().err().map(|d| d["stream"].is_null())),
            (200, Some(true))
        );
    }
    relay.stop();
}

#[test]
fn refused_and_malformed_commands_get_the_contracts_answers() {
    let rt = runtime(&[]);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    let (mut server, _) = peer.accept();
    let forbidden = json!({"detail": "Relay command is not allowed."});
    for (i, (method, path)) in [
        ("GET", "/captures/0123456789abcdef0123456789abcdef"),
        ("PATCH", "/camera"),
        ("POST", "/preview/hls/cam-preview/index.m3u8"),
        ("DELETE", "/preview/hls/cam-preview/index.m3u8"),
        ("GET", "/preview/hls"),
        ("POST", "/system/telemetry"),
        ("GET", "/preview/hls/%2e%2e/local-key"),
        ("GET", "/preview/hls/%252E%252E/%252E%252E/metrics"),
        ("GET", "/stream.mjpg"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("no-{i}");
        server.send_json(&request(&id, method, path));
        let reply = server.next_json(WAIT);
        assert_eq!(
            (
                reply["id"].clone(),
                reply["status"].clone(),
                reply["data"].clone(),
                reply["content_type"].clone()
            ),
            (json!(id), json!(403), forbidden.clone(), Value::Null),
            "{method} {path}"
        );
    }
    let mut bad = request("bad-1", "GET", "/camera");
    bad["path"] = json!(7);
    server.send_json(&bad);
    let reply = server.next_json(WAIT);
    assert_eq!(
        (
            reply["id"].clone(),
            reply["status"].clone(),
            reply["data"].clone()
        ),
        (
            json!("bad-1"),
            json!(400),
            json!({"detail": "Malformed relay command."})
        )
    );
    // Without an id that can be echoed there is no one to answer; the next frame proves it.
    server.send_json(&json!({"type": "request", "method": "GET", "path": "/camera"}));
    server.send_json(
        &json!({"type": "request", "id": "not ok!", "method": "GET", "path": "/camera"}),
    );
    server.send_json(&json!({"type": "ping"}));
    assert_eq!(
        server.next_reply(WAIT),
        Some(Message::text(r#"{"type":"pong"}"#))
    );
    let status = relay.status();
    assert_eq!(
        (status.forbidden, status.malformed, status.commands),
        (9, 3, 0)
    );
    relay.stop();
}

#[test]
fn beyond_the_pending_limit_commands_get_429_and_the_rest_complete() {
    let rt = runtime(&[]);
    let parts = publish_parts(&rt, 3);
    // The part after the last one: requests for it wait until it is published.
    let next_path = {
        let (path, _) = &parts[2];
        path.replace(".2.m4s", ".3.m4s")
    };
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    let (mut server, _) = peer.accept();
    // RELAY_MAX_PENDING_COMMANDS (32 by default) counts running and waiting commands together.
    const PENDING: usize = 32;
    let sent = PENDING + 10;
    for i in 0..sent {
        server.send_json(&request(&format!("w-{i}"), "GET", &next_path));
    }
    // Until the part exists, workers wait on it: the first replies are all refusals.
    let surplus = sent - PENDING;
    let mut overloaded = HashSet::new();
    for _ in 0..surplus {
        let reply = server.next_json(WAIT);
        assert_eq!(reply["status"], 429, "{reply}");
        assert_eq!(
            reply["data"],
            json!({"detail": "Too many pending relay commands."})
        );
        overloaded.insert(reply["id"].as_str().unwrap().to_string());
    }
    let status = wait_for(&relay, "all commands seen", |s| {
        s.commands + s.overloaded == sent as u64
    });
    assert_eq!(status.in_flight, PENDING as u64, "{status:?}");
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    rt.media
        .hls
        .update(|tl| tl.push_part(NewPart::at(18_000, false, Arc::from(&data[..]), 0)));
    let replies = collect_replies(&mut server, sent - surplus);
    for (id, (status, body)) in &replies {
        if *status == 429 {
            // Workers had not picked up their first commands yet when these arrived.
            assert!(overloaded.insert(id.clone()), "{id}");
        } else {
            assert_eq!(*status, 200, "{id}");
            assert_eq!(body.as_ref().ok(), Some(&data), "{id}");
        }
    }
    assert_eq!(overloaded.len() as u64, relay.status().overloaded);
    assert_eq!(sent - overloaded.len(), PENDING);
    relay.stop();
}

#[test]
fn reconnects_after_losses_holding_one_connection_at_a_time() {
    let rt = runtime(&[
        ("RELAY_RECONNECT_MIN_S", "0.2"),
        ("RELAY_RECONNECT_MAX_S", "0.4"),
    ]);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();

    // 1. The backend replaces the socket (close 1001): the relay completes the close
    //    handshake and only then redials.
    let (mut first, hs1) = peer.accept();
    wait_for(&relay, "first connection", |s| s.connected);
    first
        .ws
        .close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "replaced".into(),
        }))
        .unwrap();
    assert!(
        matches!(first.next_reply(WAIT), Some(Message::Close(_))),
        "the relay answers the close"
    );
    assert_eq!(first.next(WAIT), None);
    // While the backend still holds the socket open, the relay does not dial again.
    assert!(
        peer.tcp(Duration::from_millis(500)).is_none(),
        "a second connection"
    );
    drop(first);
    let (mut second, hs2) = peer.accept();
    assert_ne!(
        hs1.headers["authorization"], hs2.headers["authorization"],
        "a fresh assertion per dial"
    );
    let status = wait_for(&relay, "second connection", |s| {
        s.connects == 2 && s.connected
    });
    assert_eq!(status.disconnects, 1);
    assert!(status
        .last_error
        .unwrap()
        .contains("closed by the backend: 1001 replaced"));

    // 2. An unclean loss (the socket just goes away): the relay closes its end and redials.
    second.send_json(&json!({"type": "ping"}));
    assert_eq!(
        second.next_reply(WAIT),
        Some(Message::text(r#"{"type":"pong"}"#))
    );
    drop(second);
    let (mut third, _) = peer.accept();
    wait_for(&relay, "third connection", |s| {
        s.connects == 3 && s.connected
    });
    third.send_json(&request("after", "GET", "/camera"));
    assert_eq!(third.next_json(WAIT)["status"], 200);
    assert!(
        peer.tcp(Duration::from_millis(500)).is_none(),
        "never a second connection"
    );
    assert_eq!(relay.status().disconnects, 2);
    relay.stop();
}

#[test]
fn a_forbidden_handshake_is_logged_and_backs_off_a_minute() {
    let rt = runtime(&[
        ("RELAY_RECONNECT_MIN_S", "0.2"),
        ("RELAY_RECONNECT_MAX_S", "0.4"),
    ]);
    let peer = Peer::new();
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    peer.refuse(403, "Wed, 22 Apr 2026 10:00:00 GMT");
    let status = wait_for(&relay, "the refusal", |s| s.retry_in.is_some());
    assert_eq!(
        (status.refusals, status.dial_failures, status.connected),
        (1, 1, false)
    );
    assert_eq!(status.last_error.as_deref(), Some("HTTP 403"));
    let wait = status.retry_in.unwrap();
    assert!(wait >= Duration::from_secs(60), "{wait:?}");
    assert!(
        peer.tcp(Duration::from_millis(800)).is_none(),
        "no quick redial"
    );
    let started = Instant::now();
    relay.stop();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "stop cuts the wait short"
    );

    // Other statuses use the ordinary backoff.
    let rt = runtime(&[
        ("RELAY_RECONNECT_MIN_S", "0.2"),
        ("RELAY_RECONNECT_MAX_S", "0.4"),
    ]);
    let relay = start(&rt, credentials(&peer.url())).unwrap();
    peer.refuse(500, "Wed, 22 Apr 2026 10:00:00 GMT");
    let status = wait_for(&relay, "the failure", |s| s.retry_in.is_some());
    assert_eq!(
        (status.refusals, status.last_error.as_deref()),
        (0, Some("HTTP 500"))
    );
    assert!(status.retry_in.unwrap() <= Duration::from_millis(200));
    let (_server, _) = peer.accept();
    wait_for(&relay, "the redial", |s| s.connected);
    relay.stop();
}

#[test]
fn start_refuses_unusable_credentials() {
    let rt = runtime(&[("APP_ENV", "production")]);
    let err = |creds: RelayCredentials| start(&rt, creds).err().expect("refused").to_string();
    let good = credentials("wss://relab.example/plugins/rpi-cam/ws/connect");
    assert!(err(RelayCredentials {
        private_key_pem: "nope".into(),
        ..good.clone()
    })
    .contains("private key"));
    assert!(err(RelayCredentials {
        backend_url: "ws://relab.example/ws".into(),
        ..good.clone()
    })
    .contains("APP_ENV=development"));
    assert!(err(RelayCredentials {
        backend_url: "https://relab.example/ws".into(),
        ..good.clone()
    })
    .contains("wss://"));
    assert!(err(RelayCredentials {
        auth_scheme: "api_key".into(),
        ..good
    })
    .contains("device_assertion"));
}
