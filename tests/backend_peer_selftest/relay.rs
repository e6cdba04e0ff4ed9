//! The relay socket: replies of every kind, concurrency, the binary slot, malformed frames,
//! the heartbeat, replacement and unclean ends.

use super::*;

#[test]
fn relays_json_string_and_binary_replies() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    let segment: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let segment_for_pi = segment.clone();
    let pi = thread::spawn(move || {
        let capture = next_request(&mut socket);
        let keys: Vec<&String> = capture.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["id", "type", "method", "path", "params", "body", "headers"]
        );
        assert_eq!(capture["id"].as_str().unwrap().len(), 36);
        assert_eq!(
            (
                &capture["type"],
                &capture["method"],
                &capture["path"],
                &capture["params"],
                &capture["body"],
                &capture["headers"]
            ),
            (
                &json!("request"),
                &json!("POST"),
                &json!("/captures"),
                &json!({}),
                &json!({"product_id": 42}),
                &json!({})
            )
        );
        let ack = json!({"status": "uploaded", "image_id": "0123456789abcdef0123456789abcdef"});
        socket
            .send(response(&capture["id"], 201, json!("application/json"), false, ack).into())
            .unwrap();

        let playlist = next_request(&mut socket);
        assert_eq!(playlist["body"], Value::Null);
        socket
            .send(
                response(
                    &playlist["id"],
                    200,
                    json!("application/vnd.apple.mpegurl"),
                    false,
                    json!("#EXTM3U\n"),
                )
                .into(),
            )
            .unwrap();

        let part = next_request(&mut socket);
        socket
            .send(response(&part["id"], 200, json!("video/mp4"), true, Value::Null).into())
            .unwrap();
        socket.send(Message::Binary(segment_for_pi.into())).unwrap();

        let stop = next_request(&mut socket);
        socket
            .send(response(&stop["id"], 204, Value::Null, false, Value::Null).into())
            .unwrap();
        socket
    });
    let t = Duration::from_secs(5);
    let capture = peer
        .request(
            &camera_id,
            "POST",
            "/captures",
            Some(json!({"product_id": 42})),
            t,
        )
        .unwrap();
    assert_eq!(
        (capture.status, capture.content_type.as_deref()),
        (201, Some("application/json"))
    );
    assert_eq!(capture.data["image_id"], "0123456789abcdef0123456789abcdef");
    assert!(capture.binary.is_none());
    let playlist = peer
        .request(
            &camera_id,
            "GET",
            "/preview/hls/cam-preview/index.m3u8",
            None,
            t,
        )
        .unwrap();
    assert_eq!(playlist.data, json!("#EXTM3U\n"));
    let part = peer
        .request(
            &camera_id,
            "GET",
            "/preview/hls/cam-preview/part0.mp4",
            None,
            t,
        )
        .unwrap();
    assert_eq!(part.binary.as_deref(), Some(&segment[..]));
    assert_eq!(part.content_type.as_deref(), Some("video/mp4"));
    let stop = peer
        .request(&camera_id, "delete", "/streams/youtube", None, t)
        .unwrap();
    assert_eq!(
        (stop.status, stop.content_type, stop.data),
        (204, None, Value::Null)
    );
    let _socket = pi.join().unwrap();
    assert!(
        peer.stats(&camera_id).violations.is_empty(),
        "{:?}",
        peer.stats(&camera_id).violations
    );
    let other = backend_peer::uuid4();
    assert_eq!(
        peer.request(&other, "GET", "/camera", None, t).err(),
        Some(RelayError::NotConnected)
    );
}

#[test]
fn many_requests_in_flight_are_matched_by_id() {
    let peer = std::sync::Arc::new(BackendPeer::start(PeerConfig::default()));
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    const N: usize = 16;
    let pi = thread::spawn(move || {
        let requests: Vec<Value> = (0..N).map(|_| next_request(&mut socket)).collect();
        // Answer in reverse order; odd paths get a binary body, each header right before it.
        for request in requests.iter().rev() {
            let path = request["path"].as_str().unwrap();
            let n: usize = path
                .trim_start_matches("/preview/hls/s")
                .trim_end_matches(".mp4")
                .parse()
                .unwrap();
            if n % 2 == 1 {
                socket
                    .send(
                        response(&request["id"], 200, json!("video/mp4"), true, Value::Null).into(),
                    )
                    .unwrap();
                socket
                    .send(Message::Binary(
                        format!("body of {path}").into_bytes().into(),
                    ))
                    .unwrap();
            } else {
                socket
                    .send(
                        response(
                            &request["id"],
                            200,
                            json!("application/json"),
                            false,
                            json!({"path": path}),
                        )
                        .into(),
                    )
                    .unwrap();
            }
        }
        socket
    });
    let callers: Vec<_> = (0..N)
        .map(|n| {
            let peer = std::sync::Arc::clone(&peer);
            let camera_id = camera_id.clone();
            thread::spawn(move || {
                let path = format!("/preview/hls/s{n}.mp4");
                let reply = peer
                    .request(&camera_id, "GET", &path, None, Duration::from_secs(10))
                    .unwrap();
                if n % 2 == 1 {
                    assert_eq!(
                        reply.binary.unwrap(),
                        format!("body of {path}").into_bytes()
                    );
                } else {
                    assert_eq!(reply.data, json!({"path": path}));
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
    let _socket = pi.join().unwrap();
    assert!(
        peer.stats(&camera_id).violations.is_empty(),
        "{:?}",
        peer.stats(&camera_id).violations
    );
}

#[test]
fn binary_interleaving_is_reported_and_mis_attributed_like_the_backend() {
    let peer = std::sync::Arc::new(BackendPeer::start(PeerConfig::default()));
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);

    // Two headers, then two bodies: the backend's one slot gives A's body to B.
    let a = request_in_background(&peer, &camera_id, "/preview/hls/a.mp4");
    let first = next_request(&mut socket);
    let b = request_in_background(&peer, &camera_id, "/preview/hls/b.mp4");
    let second = next_request(&mut socket);
    socket
        .send(response(&first["id"], 200, json!("video/mp4"), true, Value::Null).into())
        .unwrap();
    socket
        .send(response(&second["id"], 200, json!("video/mp4"), true, Value::Null).into())
        .unwrap();
    socket
        .send(Message::Binary(b"first body".to_vec().into()))
        .unwrap();
    socket
        .send(Message::Binary(b"second body".to_vec().into()))
        .unwrap();
    sync(&mut socket);
    assert_eq!(
        b.join().unwrap().unwrap().binary.as_deref(),
        Some(&b"first body"[..])
    );
    assert_eq!(a.join().unwrap().err(), Some(RelayError::Timeout));
    let violations = peer.stats(&camera_id).violations;
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].contains("before the binary body"));
    assert!(violations[1].contains("no has_binary header waiting"));

    // A JSON response between a header and its body clears the slot.
    let c = request_in_background(&peer, &camera_id, "/preview/hls/c.mp4");
    let third = next_request(&mut socket);
    let d = request_in_background(&peer, &camera_id, "/preview/hls/d.m3u8");
    let fourth = next_request(&mut socket);
    socket
        .send(response(&third["id"], 200, json!("video/mp4"), true, Value::Null).into())
        .unwrap();
    socket.send(r#"{"type":"ping"}"#.into()).unwrap(); // harmless between header and body
    socket
        .send(
            response(
                &fourth["id"],
                200,
                json!("application/vnd.apple.mpegurl"),
                false,
                json!("#EXTM3U\n"),
            )
            .into(),
        )
        .unwrap();
    socket
        .send(Message::Binary(b"third body".to_vec().into()))
        .unwrap();
    sync(&mut socket);
    assert_eq!(d.join().unwrap().unwrap().data, json!("#EXTM3U\n"));
    assert_eq!(c.join().unwrap().err(), Some(RelayError::Timeout));
    let violations = peer.stats(&camera_id).violations;
    assert_eq!(violations.len(), 4, "{violations:?}");
    assert!(violations[2].contains("between the has_binary header"));
    assert!(violations[3].contains("no has_binary header waiting"));
}

#[test]
fn malformed_frames_are_violations() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    let id = json!("4a7e4b1e-0000-4000-8000-000000000000");
    let frames = [
        (response(&id, 200, Value::Null, false, Value::Null), "unknown id"),
        ("{nope".to_string(), "invalid JSON"),
        ("[1,2]".to_string(), "non-object JSON"),
        (r#"{"type":"hello"}"#.to_string(), "unknown type"),
        (r#"{"type":"ping","seq":1}"#.to_string(), "ping with extra keys"),
        (r#"{"type":"pong","at":1}"#.to_string(), "pong with extra keys"),
        (json!({"id": id, "type": "response", "status": 200, "content_type": "", "has_binary": false, "data": null}).to_string(), "content_type"),
        (json!({"id": id, "type": "response", "status": 200, "content_type": null, "has_binary": false, "data": null, "extra": 1}).to_string(), "not exactly"),
        (json!({"id": id, "type": "response", "status": 200, "data": null}).to_string(), "not exactly"),
        (json!({"id": id, "type": "response", "status": 99, "content_type": null, "has_binary": false, "data": null}).to_string(), "100..=599"),
        (json!({"id": "has space", "type": "response", "status": 200, "content_type": null, "has_binary": false, "data": null}).to_string(), "id"),
        (json!({"id": id, "type": "response", "status": 200, "content_type": null, "has_binary": false, "data": 7}).to_string(), "data 7"),
        (json!({"id": id, "type": "response", "status": 200, "content_type": null, "has_binary": "yes", "data": null}).to_string(), "has_binary"),
    ];
    for (frame, _) in &frames {
        socket.send(frame.clone().into()).unwrap();
    }
    socket
        .send(Message::Binary(b"stray".to_vec().into()))
        .unwrap();
    read_pong(&mut socket); // the answer to the ping with extra keys
    sync(&mut socket);
    let violations = peer.stats(&camera_id).violations;
    assert_eq!(violations.len(), frames.len() + 1, "{violations:#?}");
    for ((_, expected), violation) in frames.iter().zip(&violations) {
        assert!(
            violation.contains(expected),
            "expected {expected:?} in {violation:?}"
        );
    }
    assert!(violations
        .last()
        .unwrap()
        .contains("no has_binary header waiting"));
    let stats = peer.stats(&camera_id);
    assert_eq!(
        (stats.pings_received, stats.pongs_received),
        (2, 1),
        "sync's ping and the malformed one; the malformed pong"
    );
    assert!(
        peer.is_connected(&camera_id),
        "[WB] ignores malformed frames rather than closing"
    );
}

#[test]
fn text_frames_over_64_kib_close_with_1009() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    let big = json!({"id": "x", "type": "response", "status": 200, "content_type": null, "has_binary": false, "data": "a".repeat(65 * 1024)});
    socket.send(big.to_string().into()).unwrap();
    assert_eq!(close_code(&mut socket), 1009);
    wait_until("the connection to end", || !peer.is_connected(&camera_id));
    assert!(peer.stats(&camera_id).violations[0].contains("over the 64 KiB limit"));
    assert_eq!(peer.stats(&camera_id).connections_open, 0);
}

#[test]
fn heartbeat_pings_counts_pongs_and_closes_1001_when_they_stop() {
    let peer = BackendPeer::start(PeerConfig {
        ping_interval: Duration::from_millis(150),
        pong_timeout: Duration::from_millis(400),
        ..PeerConfig::default()
    });
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    let answering_until = Instant::now() + Duration::from_millis(700);
    while Instant::now() < answering_until {
        if let Message::Text(text) = socket.read().unwrap() {
            assert_eq!(text.as_str(), r#"{"type":"ping"}"#);
            socket.send(r#"{"type":"pong"}"#.into()).unwrap();
        }
    }
    sync(&mut socket);
    let stats = peer.stats(&camera_id);
    assert!(
        stats.pings_sent >= 3 && stats.pongs_received >= 3,
        "{stats:?}"
    );
    assert_eq!(stats.pings_received, 1);
    // Stop answering: closed with 1001 within pong_timeout + one interval (plus slack).
    let silent_since = Instant::now();
    assert_eq!(close_code(&mut socket), 1001);
    let silence = silent_since.elapsed();
    assert!(silence < Duration::from_millis(900), "{silence:?}");
    assert!(peer.events().iter().any(|e| e.contains("no pong")));
    wait_until("the connection to end", || !peer.is_connected(&camera_id));
    assert!(peer.stats(&camera_id).violations.is_empty());
}

#[test]
fn overlapping_connections_are_counted_and_the_old_one_is_closed() {
    let peer = std::sync::Arc::new(BackendPeer::start(PeerConfig::default()));
    let (key, camera_id) = camera(&peer);
    let mut old = connect(&peer, &key, &camera_id);
    let mut new = connect(&peer, &key, &camera_id);
    assert_eq!(close_code(&mut old), 1001);
    let _ = old.flush(); // a real Pi echoes the close frame
    assert_eq!(peer.stats(&camera_id).max_concurrent_connections, 2);
    wait_until("the old socket to be counted closed", || {
        peer.stats(&camera_id).connections_open == 1
    });
    assert!(peer
        .events()
        .iter()
        .any(|e| e.contains("second relay connection")));
    // Requests go to the new socket.
    let pending = request_in_background(&peer, &camera_id, "/camera");
    let request = next_request(&mut new);
    new.send(response(&request["id"], 200, Value::Null, false, json!({})).into())
        .unwrap();
    assert_eq!(pending.join().unwrap().unwrap().status, 200);

    // A correct Pi: clean close handshake, then redial; or a dropped TCP connection, then
    // redial. Neither overlaps.
    let (key2, camera2) = camera(&peer);
    let mut first = connect(&peer, &key2, &camera2);
    first.close(None).unwrap();
    while first.read().is_ok() {}
    let second = connect(&peer, &key2, &camera2);
    drop(second);
    let _third = connect(&peer, &key2, &camera2);
    assert_eq!(
        peer.stats(&camera2).max_concurrent_connections,
        1,
        "{:?}",
        peer.events()
    );
    assert_eq!(peer.stats(&camera2).handshakes_accepted, 3);
}

#[test]
fn deleting_a_camera_relays_delete_pairing_and_forgets_it() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    let pi = thread::spawn(move || {
        let request = next_request(&mut socket);
        assert_eq!(
            (&request["method"], &request["path"], &request["body"]),
            (&json!("DELETE"), &json!("/pairing"), &Value::Null)
        );
        socket
            .send(response(&request["id"], 204, Value::Null, false, Value::Null).into())
            .unwrap();
        socket
    });
    let reply = peer
        .delete_camera(&camera_id)
        .expect("a connected camera answers");
    assert_eq!(reply.status, 204);
    let _socket = pi.join().unwrap();
    let auth = bearer(&key.token(&camera_id));
    assert_eq!(
        ws_connect(&connect_url(&peer, &camera_id), &[("Authorization", &auth)]).err(),
        Some(403)
    );
    let (_, offline) = camera(&peer);
    assert!(peer.delete_camera(&offline).is_none());
}

#[test]
fn dropped_connections_end_without_a_close_frame() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    peer.drop_connection(&camera_id);
    match socket.read() {
        Ok(Message::Close(_)) => panic!("an unclean drop must not send a close frame"),
        Ok(other) => panic!("unexpected frame {other:?}"),
        Err(_) => {}
    }
    wait_until("the peer to notice", || !peer.is_connected(&camera_id));
    let t = Duration::from_millis(100);
    assert_eq!(
        peer.request(&camera_id, "GET", "/camera", None, t).err(),
        Some(RelayError::NotConnected)
    );
}

#[test]
fn late_responses_are_dropped_without_a_violation() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    peer.send_text(&camera_id, r#"{"raw":true}"#);
    assert_eq!(next_request(&mut socket), json!({"raw": true}));
    let result = peer.request(
        &camera_id,
        "GET",
        "/system/telemetry",
        None,
        Duration::from_millis(100),
    );
    assert_eq!(result.err(), Some(RelayError::Timeout));
    let request = next_request(&mut socket);
    socket
        .send(
            response(
                &request["id"],
                200,
                json!("application/json"),
                false,
                json!({}),
            )
            .into(),
        )
        .unwrap();
    sync(&mut socket);
    assert!(peer.events().iter().any(|e| e.contains("late response")));
    assert!(peer.stats(&camera_id).violations.is_empty());
}
