//! Pairing and the WebSocket relay, end to end: the spawned daemon against our backend test
//! peer (tests/backend_peer, written from contract/backend.md). Pairing with both API
//! layouts, commands through the relay (JSON, playlist text, binary parts), forced
//! disconnects, a backend that is down at start-up, a refused handshake, a clock that is
//! ten minutes off, unpairing and re-pairing, and a reboot.

#[path = "backend_peer/mod.rs"]
mod backend_peer;
mod common;
mod paired;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use backend_peer::{BackendPeer, PeerConfig, PollStyle};
use common::Picamd;
use paired::{pair, relay, start_daemon, start_paired_daemon, RECONNECT_MIN_S};
use serde_json::{json, Value};

fn credentials(cam: &Picamd) -> Value {
    let text = std::fs::read_to_string(cam.data_dir.join("relay_credentials.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_clean(peer: &BackendPeer, camera: &str) {
    let stats = peer.stats(camera);
    assert!(
        stats.violations.is_empty(),
        "protocol violations: {:?}",
        stats.violations
    );
    assert!(
        stats.max_concurrent_connections <= 1,
        "two connections at once: {stats:?}"
    );
}

#[test]
fn pairs_with_a_code_and_serves_commands_through_the_relay() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_paired_daemon(&peer);
    let code = peer.wait_for_code(Duration::from_secs(20)).expect("a code");
    assert!(
        code.len() == 6
            && code
                .bytes()
                .all(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(&b))
    );
    cam.wait_for_log("PAIRING READY", Duration::from_secs(5))
        .unwrap();
    assert!(cam.log().contains(&code), "the banner shows the code");
    assert_eq!(
        cam.get("/pairing/state").json(),
        json!({"status": "waiting", "relay_enabled": false})
    );
    assert!(cam.get("/setup").text().contains(&code));
    let local_key = cam.local_key();

    let camera_id = peer.claim(&code).expect("claim");
    assert!(
        peer.wait_connected(&camera_id, Duration::from_secs(20)),
        "{}",
        cam.log()
    );
    cam.wait_for_log(
        &format!("PAIRING COMPLETE | camera_id={camera_id}"),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        cam.get("/pairing/state").json(),
        json!({"status": "paired", "relay_enabled": true})
    );

    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_relay_connected 1"), "{metrics}");
    assert!(
        metrics.contains("picamd_relay_connects_total 1"),
        "{metrics}"
    );

    // The paired bootstrap is on disk, the local key kept, the file private.
    let creds = credentials(&cam);
    assert_eq!(creds["relay_camera_id"], camera_id.as_str());
    assert_eq!(creds["relay_auth_scheme"], "device_assertion");
    assert!(creds["relay_backend_url"]
        .as_str()
        .unwrap()
        .starts_with("ws://127.0.0.1:"));
    assert!(creds["relay_private_key_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(creds["local_api_key"], local_key.as_str());
    let mode = std::fs::metadata(cam.data_dir.join("relay_credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let log = cam.log();
    assert!(
        !log.contains("BEGIN PRIVATE KEY"),
        "the private key never reaches the log"
    );

    // JSON commands.
    let camera = relay(&peer, &camera_id, "GET", "/camera", None);
    assert_eq!(camera.status, 200);
    assert_eq!(camera.content_type.as_deref(), Some("application/json"));
    assert!(camera.data.is_object(), "{:?}", camera.data);
    let telemetry = relay(&peer, &camera_id, "GET", "/system/telemetry", None);
    assert_eq!(telemetry.status, 200);
    for field in [
        "timestamp",
        "cpu_percent",
        "mem_percent",
        "disk_percent",
        "thermal_state",
    ] {
        assert!(
            telemetry.data.get(field).is_some(),
            "telemetry lacks {field}"
        );
    }
    let capture = relay(
        &peer,
        &camera_id,
        "POST",
        "/captures",
        Some(json!({"product_id": 1})),
    );
    assert_eq!(capture.status, 201, "{:?}", capture.data);
    assert!(capture.data["image_id"].is_string());
    let access = relay(&peer, &camera_id, "GET", "/system/local-access", None);
    assert_eq!(access.status, 200);
    assert_eq!(access.data["local_api_key"], local_key.as_str());

    // Playlist as text, a part as one binary message identical to the local answer.
    let playlist = relay(
        &peer,
        &camera_id,
        "GET",
        "/preview/hls/cam-preview/index.m3u8",
        None,
    );
    assert_eq!(playlist.status, 200);
    let text = match (&playlist.binary, &playlist.data) {
        (Some(bytes), _) => String::from_utf8(bytes.clone()).unwrap(),
        (None, Value::String(s)) => s.clone(),
        other => panic!("playlist came as {other:?}"),
    };
    assert!(text.starts_with("#EXTM3U"), "{text}");
    let part = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PART:"))
        .and_then(|l| l.split("URI=\"").nth(1))
        .map(|u| u.split('"').next().unwrap().to_string())
        .expect("a part in the playlist");
    let relayed = relay(
        &peer,
        &camera_id,
        "GET",
        &format!("/preview/hls/cam-preview/{part}"),
        None,
    );
    assert_eq!(relayed.status, 200);
    assert_eq!(relayed.content_type.as_deref(), Some("video/mp4"));
    let local = cam.get(&format!("/preview/hls/cam-preview/{part}"));
    assert_eq!(
        relayed.binary.as_deref(),
        Some(local.body.as_slice()),
        "byte-exact part"
    );

    // The allow-list: what the backend may not ask for is refused with the contract's detail.
    for (method, path) in [
        ("GET", "/local-key"),
        ("GET", "/captures"),
        ("DELETE", "/preview/hls/x"),
        ("GET", "/preview/hls/../local-key"),
    ] {
        let refused = relay(&peer, &camera_id, method, path, None);
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(
            refused.data,
            json!({"detail": "Relay command is not allowed."})
        );
    }
    assert_clean(&peer, &camera_id);
}

#[test]
fn many_binary_answers_in_flight_stay_whole() {
    let peer = BackendPeer::start(PeerConfig::default());
    // 50 at once: above the plugin's default of 32 pending commands (429 beyond it).
    let cam = start_daemon(&peer.base_url(), &[("RELAY_MAX_PENDING_COMMANDS", "64")]);
    let camera_id = pair(&peer, &cam);
    let playlist = cam.get("/preview/hls/cam-preview/index.m3u8").text();
    let parts: Vec<String> = playlist
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .filter_map(|l| {
            l.split("URI=\"")
                .nth(1)
                .map(|u| u.split('"').next().unwrap().to_string())
        })
        .collect();
    assert!(!parts.is_empty());
    let expected: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| cam.get(&format!("/preview/hls/cam-preview/{p}")).body)
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (peer, camera_id, parts, expected) = (&peer, &camera_id, &parts, &expected);
                s.spawn(move || {
                    let k = i % parts.len();
                    let reply = relay(
                        peer,
                        camera_id,
                        "GET",
                        &format!("/preview/hls/cam-preview/{}", parts[k]),
                        None,
                    );
                    assert_eq!(reply.status, 200);
                    assert_eq!(
                        reply.binary.as_deref(),
                        Some(expected[k].as_slice()),
                        "part {k}"
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_clean(&peer, &camera_id);
}

#[test]
fn twenty_forced_disconnects_each_come_back_within_the_backoff() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_paired_daemon(&peer);
    let camera_id = pair(&peer, &cam);
    let mut worst = Duration::ZERO;
    for round in 0..20 {
        peer.drop_connection(&camera_id);
        let dropped = Instant::now();
        // Backoff after a good session restarts at the minimum, plus up to 50 % jitter, plus the
        // time to notice the loss and to dial.
        let bound = Duration::from_secs_f64(RECONNECT_MIN_S * 1.5 + 2.0);
        let deadline = dropped + bound;
        loop {
            if peer.stats(&camera_id).handshakes_accepted as usize == round + 2
                && peer.is_connected(&camera_id)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: not back within {bound:?}\n{}",
                cam.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        worst = worst.max(dropped.elapsed());
    }
    eprintln!("slowest reconnect after a forced disconnect: {worst:?}");
    let reply = relay(&peer, &camera_id, "GET", "/camera", None);
    assert_eq!(reply.status, 200);
    assert_clean(&peer, &camera_id);
    assert_eq!(peer.stats(&camera_id).handshakes_accepted, 21);
}

#[test]
fn a_backend_down_at_start_up_is_retried_until_it_comes_up() {
    let port = common::free_port();
    let backend = format!("http://127.0.0.1:{port}");
    let cam = start_daemon(&backend, &[]);
    cam.wait_for_log("could not be reached", Duration::from_secs(10))
        .unwrap();
    assert_eq!(cam.get("/pairing/state").json()["status"], "error");
    let peer = BackendPeer::start_on(port, PeerConfig::default()).expect("the port is still free");
    let camera_id = pair(&peer, &cam);
    assert_eq!(relay(&peer, &camera_id, "GET", "/camera", None).status, 200);
}

#[test]
fn a_refused_handshake_is_explained_and_backs_off() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_paired_daemon(&peer);
    let camera_id = pair(&peer, &cam);
    peer.revoke(&camera_id);
    peer.drop_connection(&camera_id);
    cam.wait_for_log("HTTP 403", Duration::from_secs(10))
        .unwrap();
    let log = cam.log();
    assert!(
        log.contains("revoked") && log.contains("clock"),
        "likely causes named:\n{log}"
    );
    // The backend locks a camera out after a few failures: no hammering.
    let rejected = peer.stats(&camera_id).handshakes_rejected;
    std::thread::sleep(Duration::from_secs(5));
    let more = peer.stats(&camera_id).handshakes_rejected - rejected;
    assert!(more <= 1, "{more} more refused handshakes within 5 s");
    assert_clean(&peer, &camera_id);
}

#[test]
fn a_clock_ten_minutes_off_is_named_in_the_log() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_paired_daemon(&peer);
    let camera_id = pair(&peer, &cam);
    // The backend's clock runs ten minutes ahead of ours: our tokens look expired to it.
    peer.set_clock_offset(600);
    peer.drop_connection(&camera_id);
    cam.wait_for_log("HTTP 403", Duration::from_secs(10))
        .unwrap();
    cam.wait_for_log("600 s behind", Duration::from_secs(5))
        .unwrap_or_else(|log| panic!("no clock skew line:\n{log}"));
    // Once the clocks agree again the relay comes back by itself.
    peer.set_clock_offset(0);
    assert!(
        peer.wait_connected(&camera_id, Duration::from_secs(90)),
        "{}",
        cam.log()
    );
}

#[test]
fn unpairing_cleans_up_and_pairs_again() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_paired_daemon(&peer);
    let local_key = cam.local_key();
    let first = pair(&peer, &cam);
    let old_code_count = peer.registered_codes().len();

    // Unpair from /setup (a LAN browser).
    let resp = cam.authed("DELETE", "/pairing", "");
    assert_eq!(resp.status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !peer.self_unpaired().contains(&first) {
        assert!(
            Instant::now() < deadline,
            "no self-unpair call\n{}",
            cam.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let creds = credentials(&cam);
    assert!(creds.get("relay_camera_id").is_none(), "{creds}");
    assert_eq!(
        creds["local_api_key"],
        local_key.as_str(),
        "the local key survives unpairing"
    );

    // A new pairing starts with a new code; the old camera never reconnects.
    let deadline = Instant::now() + Duration::from_secs(20);
    while peer.registered_codes().len() <= old_code_count {
        assert!(Instant::now() < deadline, "no new code\n{}", cam.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = pair(&peer, &cam);
    assert_ne!(first, second);
    assert!(!peer.is_connected(&first));
    assert_eq!(relay(&peer, &second, "GET", "/camera", None).status, 200);

    // Unpair from the backend: it relays DELETE /pairing; the daemon answers, then leaves.
    let reply = peer.delete_camera(&second).expect("connected");
    assert_eq!(reply.status, 204);
    cam.wait_for_log("PAIRING READY", Duration::from_secs(10))
        .unwrap();
    assert_clean(&peer, &second);
    assert_eq!(cam.local_key(), local_key);
}

#[test]
fn paired_state_survives_a_reboot() {
    let peer = BackendPeer::start(PeerConfig::default());
    let mut cam = start_paired_daemon(&peer);
    let camera_id = pair(&peer, &cam);
    cam.restart();
    assert!(
        peer.wait_connected(&camera_id, Duration::from_secs(20)),
        "{}",
        cam.log()
    );
    assert_eq!(relay(&peer, &camera_id, "GET", "/camera", None).status, 200);
    assert_eq!(
        peer.registered_codes().len(),
        1,
        "no new pairing after a reboot"
    );
}

#[test]
fn pairs_with_the_v1_backend_and_post_polling() {
    let peer = BackendPeer::start(PeerConfig {
        api_prefix: "/v1".into(),
        poll_style: PollStyle::PostJson,
        ..PeerConfig::default()
    });
    let cam = start_paired_daemon(&peer);
    let camera_id = pair(&peer, &cam);
    assert_eq!(relay(&peer, &camera_id, "GET", "/camera", None).status, 200);
    assert_eq!(cam.authed("DELETE", "/pairing", "").status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !peer.self_unpaired().contains(&camera_id) {
        assert!(
            Instant::now() < deadline,
            "no self-unpair on the /v1 device route\n{}",
            cam.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn expired_codes_rotate() {
    let peer = BackendPeer::start(PeerConfig {
        code_ttl: Duration::from_secs(2),
        ..PeerConfig::default()
    });
    let cam = start_paired_daemon(&peer);
    cam.wait_for_log("reason=expired", Duration::from_secs(15))
        .unwrap();
    // The rotation is logged before the new code is registered.
    common::wait_until(
        "a second code registered after the first expired",
        Duration::from_secs(10),
        || peer.registered_codes().len() >= 2,
    );
    let camera_id = pair(&peer, &cam);
    assert!(peer.is_connected(&camera_id));
}
