//! Device assertions: the handshake's checks one by one, the shared jti namespace,
//! revocation and the peer's clock.

use super::*;

/// what, URL, headers, the reason the peer must log.
type Rejection<'a> = (&'a str, String, Vec<(&'a str, String)>, &'a str);

#[test]
fn handshake_accepts_a_correct_assertion() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    assert!(!peer.is_connected(&camera_id));
    let _socket = connect(&peer, &key, &camera_id);
    assert!(peer.wait_connected(&camera_id, Duration::from_secs(2)));
    let stats = peer.stats(&camera_id);
    assert_eq!(
        (stats.handshakes_accepted, stats.handshakes_rejected),
        (1, 0)
    );
    assert_eq!(
        (stats.connections_open, stats.max_concurrent_connections),
        (1, 1)
    );
    // An audience array that contains ours is fine too.
    let token = key.token_with(&camera_id, |c| {
        c.insert("aud".into(), json!(["other", "relab-rpi-cam-relay"]));
    });
    let second = ws_connect(
        &connect_url(&peer, &camera_id),
        &[("Authorization", &bearer(&token))],
    );
    assert!(second.is_ok());
}

#[test]
fn handshake_rejections_each_for_their_reason() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let impostor = DeviceKey::new();
    let t = now();
    let url = connect_url(&peer, &camera_id);
    let claims = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        key.token_with(&camera_id, |c| edit(c))
    };
    let forged = {
        let mut header = key.header();
        header["kid"] = json!(key.key_id);
        impostor.sign(&header, &Value::Object(DeviceKey::claims(&camera_id)))
    };
    let wrong_kid = {
        let mut header = key.header();
        header["kid"] = json!("another-key-id");
        key.sign(&header, &Value::Object(DeviceKey::claims(&camera_id)))
    };
    let hs256 = {
        let mut header = key.header();
        header["alg"] = json!("HS256");
        key.sign(&header, &Value::Object(DeviceKey::claims(&camera_id)))
    };
    let good = key.token(&camera_id);
    let other_camera = backend_peer::uuid4();
    let cases: Vec<Rejection> = vec![
        (
            "bad signature",
            url.clone(),
            vec![("Authorization", bearer(&forged))],
            "bad signature",
        ),
        (
            "wrong kid",
            url.clone(),
            vec![("Authorization", bearer(&wrong_kid))],
            "kid",
        ),
        (
            "HS256",
            url.clone(),
            vec![("Authorization", bearer(&hs256))],
            "not ES256",
        ),
        (
            "wrong aud",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("aud".into(), json!("relab"));
                })),
            )],
            "wrong aud",
        ),
        (
            "aud array without ours",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("aud".into(), json!(["x"]));
                })),
            )],
            "wrong aud",
        ),
        (
            "wrong sub",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert(
                        "sub".into(),
                        json!(format!("camera:{}", backend_peer::uuid4())),
                    );
                })),
            )],
            "wrong sub",
        ),
        (
            "iss != sub",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("iss".into(), json!("relab-pi"));
                })),
            )],
            "wrong iss",
        ),
        (
            "no iss",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.remove("iss");
                })),
            )],
            "claim iss missing",
        ),
        (
            "exp past",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("exp".into(), json!(t - 1));
                })),
            )],
            "expired",
        ),
        (
            "iat future",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("iat".into(), json!(t + 30));
                })),
            )],
            "iat",
        ),
        (
            "nbf future",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("nbf".into(), json!(t + 30));
                })),
            )],
            "nbf",
        ),
        (
            "lifetime 305 s",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("exp".into(), json!(t + 300));
                })),
            )],
            "over 300",
        ),
        (
            "empty jti",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("jti".into(), json!(""));
                })),
            )],
            "jti",
        ),
        (
            "string exp",
            url.clone(),
            vec![(
                "Authorization",
                bearer(&claims(&|c| {
                    c.insert("exp".into(), json!((t + 60).to_string()));
                })),
            )],
            "not an integer",
        ),
        (
            "Origin header",
            url.clone(),
            vec![
                ("Authorization", bearer(&good)),
                ("Origin", "http://127.0.0.1".into()),
            ],
            "Origin",
        ),
        (
            "lowercase bearer",
            url.clone(),
            vec![("Authorization", format!("bearer {}", key.token(&camera_id)))],
            "exactly \"Bearer \"",
        ),
        (
            "no Authorization",
            url.clone(),
            vec![],
            "missing Authorization",
        ),
        (
            "unknown camera",
            connect_url(&peer, &other_camera),
            vec![("Authorization", bearer(&key.token(&other_camera)))],
            "unknown camera",
        ),
        (
            "camera_id not a uuid4",
            format!("{}?camera_id=cam-1", peer.ws_url()),
            vec![("Authorization", bearer(&good))],
            "UUID4",
        ),
        (
            "no camera_id",
            peer.ws_url(),
            vec![("Authorization", bearer(&good))],
            "UUID4",
        ),
    ];
    let mut rejected_here = 0;
    for (what, url, headers, reason) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(ws_connect(url, &headers).err(), Some(403), "{what}");
        let event = last_event(&peer);
        assert!(
            event.contains("rejected") && event.contains(reason),
            "{what}: {event}"
        );
        if url.contains(&camera_id) {
            rejected_here += 1;
        }
    }
    let stats = peer.stats(&camera_id);
    assert_eq!(
        (stats.handshakes_accepted, stats.handshakes_rejected),
        (0, rejected_here)
    );
    assert!(!peer.is_connected(&camera_id));
    // The rejected "Origin" attempt did not burn the good token's jti: it was refused first.
    assert!(ws_connect(&url, &[("Authorization", &bearer(&good))]).is_ok());
}

#[test]
fn jti_is_single_use_across_the_handshake_and_device_routes() {
    let peer = BackendPeer::start(PeerConfig::default());
    let port = peer.port();
    let (key, camera_id) = camera(&peer);
    let token = key.token(&camera_id);
    let _socket = ws_connect(
        &connect_url(&peer, &camera_id),
        &[("Authorization", &bearer(&token))],
    )
    .unwrap();
    let self_path = format!("/plugins/rpi-cam/cameras/{camera_id}/self");

    let replayed = http(
        port,
        "DELETE",
        &self_path,
        &[("Authorization", &bearer(&token))],
        b"",
    );
    assert_eq!(
        (replayed.status, replayed.json()),
        (401, json!({"detail": "Authentication failed."}))
    );
    assert!(last_event(&peer).contains("replayed jti"));
    assert_eq!(
        ws_connect(
            &connect_url(&peer, &camera_id),
            &[("Authorization", &bearer(&token))]
        )
        .err(),
        Some(403)
    );

    let missing = http(port, "DELETE", &self_path, &[], b"");
    assert_eq!(
        (missing.status, missing.json()),
        (401, json!({"detail": "Missing Authorization header."}))
    );
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let bad_id = http(
        port,
        "DELETE",
        "/plugins/rpi-cam/cameras/not-a-uuid/self",
        &[],
        b"",
    );
    assert_eq!(error_locs(&bad_id), vec![json!(["path", "camera_id"])]);

    let fresh = bearer(&key.token(&camera_id));
    let gone = http(
        port,
        "DELETE",
        &self_path,
        &[("Authorization", &fresh)],
        b"",
    );
    assert_eq!((gone.status, gone.body.len()), (204, 0));
    assert_eq!(peer.self_unpaired(), vec![camera_id.clone()]);
    assert!(
        peer.is_connected(&camera_id),
        "self-unpair leaves the socket to the Pi"
    );
    let again = http(
        port,
        "DELETE",
        &self_path,
        &[("Authorization", &bearer(&key.token(&camera_id)))],
        b"",
    );
    assert_eq!(again.status, 401);
    assert!(last_event(&peer).contains("unknown camera"));
}

#[test]
fn revoking_refuses_new_handshakes_but_keeps_the_open_socket() {
    let peer = BackendPeer::start(PeerConfig::default());
    let (key, camera_id) = camera(&peer);
    let mut socket = connect(&peer, &key, &camera_id);
    peer.revoke(&camera_id);
    let auth = bearer(&key.token(&camera_id));
    assert_eq!(
        ws_connect(&connect_url(&peer, &camera_id), &[("Authorization", &auth)]).err(),
        Some(403)
    );
    assert!(last_event(&peer).contains("revoked"));
    let pi = thread::spawn(move || {
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
        socket
    });
    let reply = peer.request(&camera_id, "GET", "/camera", None, Duration::from_secs(5));
    assert_eq!(reply.unwrap().status, 200);
    let _socket = pi.join().unwrap();
}

/// Seconds since the epoch of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(date: &str) -> i64 {
    let fields: Vec<&str> = date.split([' ', ':']).collect();
    assert_eq!((fields.len(), fields[7]), (8, "GMT"), "{date}");
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == fields[2]).unwrap() as i64 + 1;
    let (day, year): (i64, i64) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let hms: Vec<i64> = fields[4..7].iter().map(|f| f.parse().unwrap()).collect();
    days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]
}

#[test]
fn date_headers_and_assertions_follow_the_peer_clock() {
    let peer = BackendPeer::start(PeerConfig {
        clock_offset_s: 3600,
        ..PeerConfig::default()
    });
    let port = peer.port();
    let date = |port| {
        http(port, "GET", "/nowhere", &[], b"")
            .header("date")
            .unwrap()
            .to_string()
    };
    assert!(
        (parse_http_date(&date(port)) - (now() + 3600)).abs() <= 2,
        "{}",
        date(port)
    );
    let (key, camera_id) = camera(&peer);
    let url = connect_url(&peer, &camera_id);
    assert_eq!(
        ws_connect(&url, &[("Authorization", &bearer(&key.token(&camera_id)))]).err(),
        Some(403)
    );
    assert!(last_event(&peer).contains("expired"));
    peer.set_clock_offset(-600);
    assert!((parse_http_date(&date(port)) - (now() - 600)).abs() <= 2);
    assert_eq!(
        ws_connect(&url, &[("Authorization", &bearer(&key.token(&camera_id)))]).err(),
        Some(403)
    );
    assert!(last_event(&peer).contains("iat"));
    peer.set_clock_offset(0);
    assert!(ws_connect(&url, &[("Authorization", &bearer(&key.token(&camera_id)))]).is_ok());
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        784_111_777
    );
}
