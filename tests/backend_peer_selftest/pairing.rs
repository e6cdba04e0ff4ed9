//! Pairing: register validation, both poll styles, the one-shot paired answer, expiry.

use super::*;

type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn register_answers_201_then_409_and_validates_like_models_0_5_2() {
    let peer = BackendPeer::start(PeerConfig::default());
    let port = peer.port();
    let key = DeviceKey::new();
    let body = register_body(&key, "ABC234", "fp-12345678");
    let created = post_json(port, REGISTER, &body);
    assert_eq!(created.status, 201);
    assert_eq!(created.json(), json!({"code": "ABC234", "expires_in": 600}));
    assert!(created.header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert!(created.header("x-request-id").is_some());

    let again = post_json(port, REGISTER, &body);
    assert_eq!(again.status, 409);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(again.json()["code"], "PairingCodeCollisionError");
    assert_eq!(again.json()["status"], 409);
    assert_eq!(peer.registered_codes(), vec!["ABC234".to_string()]);

    let valid = register_body(&key, "XYZ789", "fp-12345678");
    let x = valid["public_key_jwk"]["x"].as_str().unwrap().to_string();
    let cases: Vec<(&str, Edit, Value)> = vec![
        (
            "code with 0",
            Box::new(|b| b["code"] = json!("ABC0EF")),
            json!(["body", "code"]),
        ),
        (
            "5-char code",
            Box::new(|b| b["code"] = json!("ABC23")),
            json!(["body", "code"]),
        ),
        (
            "short fingerprint",
            Box::new(|b| b["rpi_fingerprint"] = json!("short")),
            json!(["body", "rpi_fingerprint"]),
        ),
        (
            "fingerprint with space",
            Box::new(|b| b["rpi_fingerprint"] = json!("has space 123")),
            json!(["body", "rpi_fingerprint"]),
        ),
        (
            "private d",
            Box::new(|b| b["public_key_jwk"]["d"] = json!("secret")),
            json!(["body", "public_key_jwk", "d"]),
        ),
        (
            "kty RSA",
            Box::new(|b| b["public_key_jwk"]["kty"] = json!("RSA")),
            json!(["body", "public_key_jwk", "kty"]),
        ),
        (
            "crv P-384",
            Box::new(|b| b["public_key_jwk"]["crv"] = json!("P-384")),
            json!(["body", "public_key_jwk", "crv"]),
        ),
        (
            "42-char x",
            Box::new(|b| {
                b["public_key_jwk"]["x"] = json!(&b["public_key_jwk"]["x"].as_str().unwrap()[..42])
            }),
            json!(["body", "public_key_jwk", "x"]),
        ),
        (
            "padded y",
            Box::new(|b| {
                b["public_key_jwk"]["y"] =
                    json!(format!("{}=", b["public_key_jwk"]["y"].as_str().unwrap()))
            }),
            json!(["body", "public_key_jwk", "y"]),
        ),
        (
            "point off the curve",
            Box::new(move |b| b["public_key_jwk"]["y"] = json!(x.clone())),
            json!(["body", "public_key_jwk"]),
        ),
        (
            "missing y",
            Box::new(|b| {
                b["public_key_jwk"].as_object_mut().unwrap().remove("y");
            }),
            json!(["body", "public_key_jwk", "y"]),
        ),
        (
            "key_id with !",
            Box::new(|b| b["key_id"] = json!("bad-key-id!")),
            json!(["body", "key_id"]),
        ),
        (
            "7-char key_id",
            Box::new(|b| b["key_id"] = json!("abcdefg")),
            json!(["body", "key_id"]),
        ),
        (
            "extra top-level key",
            Box::new(|b| b["api_key"] = json!("x")),
            json!(["body", "api_key"]),
        ),
        (
            "missing key_id",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("key_id");
            }),
            json!(["body", "key_id"]),
        ),
    ];
    for (what, edit, loc) in cases {
        let mut body = valid.clone();
        edit(&mut body);
        let reply = post_json(port, REGISTER, &body);
        assert!(
            error_locs(&reply).contains(&loc),
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let not_json = http(
        port,
        "POST",
        REGISTER,
        &[("Content-Type", "application/json")],
        b"{nope",
    );
    assert_eq!(not_json.json()["detail"][0]["type"], "json_invalid");
    let not_typed = http(port, "POST", REGISTER, &[], valid.to_string().as_bytes());
    assert_eq!(
        not_typed.status, 422,
        "a body without Content-Type: application/json"
    );
    // Nothing invalid was stored.
    assert_eq!(peer.registered_codes(), vec!["ABC234".to_string()]);
    // use: null and kid are optional.
    let mut minimal = register_body(&key, "MNP234", "fp-12345678");
    let jwk = minimal["public_key_jwk"].as_object_mut().unwrap();
    jwk.remove("use");
    jwk.remove("kid");
    assert_eq!(post_json(port, REGISTER, &minimal).status, 201);
}

#[test]
fn get_poll_answers_waiting_then_paired_exactly_once() {
    let peer = BackendPeer::start(PeerConfig::default());
    let port = peer.port();
    let key = DeviceKey::new();
    assert_eq!(
        post_json(
            port,
            REGISTER,
            &register_body(&key, "QRS456", "fp-abcdefgh")
        )
        .status,
        201
    );
    let poll = |code: &str, fp: &str| {
        http(
            port,
            "GET",
            &format!("{POLL}?code={code}&fingerprint={fp}"),
            &[],
            b"",
        )
    };

    let waiting = poll("QRS456", "fp-abcdefgh");
    assert_eq!(waiting.status, 200);
    assert_eq!(
        waiting.body,
        br#"{"status":"waiting","camera_id":null,"ws_url":null,"auth_scheme":null,"key_id":null}"#
    );
    let mismatch = poll("QRS456", "fp-wrong-one");
    assert_eq!(
        (mismatch.status, mismatch.json()["code"].clone()),
        (403, json!("PairingFingerprintMismatchError"))
    );
    let unknown = poll("ZZZZZZ", "fp-abcdefgh");
    assert_eq!(
        (unknown.status, unknown.json()["code"].clone()),
        (404, json!("PairingCodeNotFoundError"))
    );
    assert_eq!(
        error_locs(&poll("QRS45O", "fp-abcdefgh")),
        vec![json!(["query", "code"])]
    );
    let no_fingerprint = http(port, "GET", &format!("{POLL}?code=QRS456"), &[], b"");
    assert_eq!(
        error_locs(&no_fingerprint),
        vec![json!(["query", "fingerprint"])]
    );
    assert_eq!(
        post_json(
            port,
            POLL,
            &json!({"code": "QRS456", "fingerprint": "fp-abcdefgh"})
        )
        .status,
        405
    );

    assert_eq!(
        peer.wait_for_code(Duration::from_secs(1)).as_deref(),
        Some("QRS456")
    );
    assert_eq!(peer.claim("ZZZZZZ"), Err(404));
    let camera_id = peer.claim("QRS456").expect("a waiting code can be claimed");
    assert_eq!(peer.claim("QRS456"), Err(409));
    assert_eq!(
        peer.wait_for_code(Duration::ZERO),
        None,
        "a claimed code is no longer offered"
    );

    let paired = poll("QRS456", "fp-abcdefgh");
    assert_eq!(paired.status, 200);
    assert_eq!(
        paired.json(),
        json!({
            "status": "paired",
            "camera_id": camera_id,
            "ws_url": format!("ws://127.0.0.1:{port}/plugins/rpi-cam/ws/connect"),
            "auth_scheme": "device_assertion",
            "key_id": key.key_id,
        })
    );
    assert_eq!(
        poll("QRS456", "fp-abcdefgh").status,
        404,
        "the paired answer is one-shot"
    );
    // The claim created a camera with the registered key.
    let _socket = connect(&peer, &key, &camera_id);
    assert!(peer.wait_connected(&camera_id, Duration::from_secs(2)));
}

#[test]
fn v1_layout_with_post_json_poll() {
    let peer = BackendPeer::start(PeerConfig {
        api_prefix: "/v1".into(),
        poll_style: PollStyle::PostJson,
        ..PeerConfig::default()
    });
    let port = peer.port();
    let key = DeviceKey::new();
    let body = register_body(&key, "HJK789", "fp.~_-12345");
    assert_eq!(
        post_json(port, REGISTER, &body).status,
        404,
        "main's path is not served"
    );
    assert_eq!(
        post_json(port, &format!("/v1{REGISTER}"), &body).status,
        201
    );
    let poll_path = format!("/v1{POLL}");
    let poll = || {
        post_json(
            port,
            &poll_path,
            &json!({"code": "HJK789", "fingerprint": "fp.~_-12345"}),
        )
    };
    assert_eq!(poll().json()["status"], "waiting");
    let extra = post_json(
        port,
        &poll_path,
        &json!({"code": "HJK789", "fingerprint": "fp.~_-12345", "x": 1}),
    );
    assert_eq!(error_locs(&extra), vec![json!(["body", "x"])]);
    assert_eq!(
        http(
            port,
            "GET",
            &format!("{poll_path}?code=HJK789&fingerprint=fp.~_-12345"),
            &[],
            b""
        )
        .status,
        405
    );

    let camera_id = peer.claim("HJK789").unwrap();
    let paired = poll().json();
    assert_eq!(
        paired["ws_url"],
        format!("ws://127.0.0.1:{port}/v1/plugins/rpi-cam/ws/connect")
    );
    assert_eq!(poll().status, 404);
    let _socket = connect(&peer, &key, &camera_id);

    let auth = bearer(&key.token(&camera_id));
    let main_path = format!("/plugins/rpi-cam/cameras/{camera_id}/self");
    assert_eq!(
        http(port, "DELETE", &main_path, &[("Authorization", &auth)], b"").status,
        404
    );
    let v1_path = format!("/v1/plugins/rpi-cam/device/cameras/{camera_id}/self");
    assert_eq!(
        http(port, "DELETE", &v1_path, &[("Authorization", &auth)], b"").status,
        204
    );
    assert_eq!(peer.self_unpaired(), vec![camera_id]);
}

#[test]
fn codes_and_claimed_records_expire() {
    let peer = BackendPeer::start(PeerConfig {
        code_ttl: Duration::from_secs(1),
        claimed_ttl: Duration::from_secs(1),
        ..PeerConfig::default()
    });
    let port = peer.port();
    let key = DeviceKey::new();
    let poll = |code: &str| {
        http(
            port,
            "GET",
            &format!("{POLL}?code={code}&fingerprint=fp-12345678"),
            &[],
            b"",
        )
    };
    let created = post_json(
        port,
        REGISTER,
        &register_body(&key, "AAA222", "fp-12345678"),
    );
    assert_eq!(created.json()["expires_in"], 1);
    assert_eq!(
        peer.wait_for_code(Duration::ZERO).as_deref(),
        Some("AAA222")
    );
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(poll("AAA222").status, 404);
    assert_eq!(peer.wait_for_code(Duration::ZERO), None);
    assert_eq!(peer.claim("AAA222"), Err(404));
    // An expired code is free again.
    assert_eq!(
        post_json(
            port,
            REGISTER,
            &register_body(&key, "AAA222", "fp-12345678")
        )
        .status,
        201
    );
    assert_eq!(peer.registered_codes(), vec!["AAA222", "AAA222"]);

    assert_eq!(
        post_json(
            port,
            REGISTER,
            &register_body(&key, "BBB333", "fp-12345678")
        )
        .status,
        201
    );
    assert_eq!(
        peer.wait_for_code(Duration::ZERO).as_deref(),
        Some("BBB333"),
        "the newest code"
    );
    peer.claim("BBB333").unwrap();
    thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        poll("BBB333").status,
        404,
        "a claim must be collected within claimed_ttl"
    );
}
