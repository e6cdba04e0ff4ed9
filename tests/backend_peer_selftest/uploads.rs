//! The device upload routes.

use super::*;

/// name, filename, part Content-Type, bytes.
type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[FormPart]) -> (String, Vec<u8>) {
    let boundary = "peer-selftest-boundary";
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes(),
        );
        if let Some(filename) = filename {
            body.extend(format!("; filename=\"{filename}\"").bytes());
        }
        body.extend(b"\r\n");
        if let Some(content_type) = content_type {
            body.extend(format!("Content-Type: {content_type}\r\n").bytes());
        }
        body.extend(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn image_uploads_are_checked_and_kept() {
    let peer = BackendPeer::start(PeerConfig::default());
    let port = peer.port();
    let (key, camera_id) = camera(&peer);
    let path = format!("/plugins/rpi-cam/cameras/{camera_id}/image-upload");
    let jpeg: &[u8] = b"\xFF\xD8\xFF\xE0fake jpeg\xFF\xD9";
    let capture = br#"{"image_properties":{"width":4,"height":2}}"#;
    let upload = |parts: &[FormPart]| {
        let (content_type, body) = multipart(parts);
        let auth = bearer(&key.token(&camera_id));
        http(
            port,
            "POST",
            &path,
            &[("Authorization", &auth), ("Content-Type", &content_type)],
            &body,
        )
    };
    let good_meta: &[u8] = br#"{"product_id":42,"description":"bench"}"#;
    let ok = upload(&[
        ("file", Some("capture 1.JPG"), Some("image/jpeg"), jpeg),
        ("capture_metadata", None, None, capture),
        ("upload_metadata", None, None, good_meta),
    ]);
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    let ack = ok.json();
    let image_id = ack["image_id"].as_str().unwrap();
    assert!(
        image_id.len() == 32
            && image_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let url = ack["image_url"].as_str().unwrap();
    assert!(
        url.starts_with("/uploads/images/") && url.ends_with("_capture-1.jpg"),
        "{url}"
    );
    let stored = &peer.uploads()[0];
    assert_eq!(
        (stored.image_id.as_str(), stored.camera_id.as_str()),
        (image_id, camera_id.as_str())
    );
    assert_eq!(
        (
            stored.filename.as_str(),
            stored.content_type.as_str(),
            &stored.bytes[..]
        ),
        ("capture 1.JPG", "image/jpeg", jpeg)
    );
    assert_eq!(
        stored.upload_metadata,
        json!({"product_id": 42, "description": "bench"})
    );
    assert_eq!(stored.capture_metadata["image_properties"]["width"], 4);

    let file = ("file", Some("a.jpg"), Some("image/jpeg"), jpeg);
    let capture_part = ("capture_metadata", None, None, &capture[..]);
    let meta = |bytes: &'static [u8]| ("upload_metadata", None, None, bytes);
    let big = vec![0xFFu8; 10 * 1024 * 1024 + 1];
    let cases: Vec<(Vec<FormPart>, u16)> = vec![
        (vec![file, capture_part], 422),
        (vec![file, capture_part, meta(b"{nope")], 400),
        (vec![file, capture_part, meta(b"{}")], 400),
        (
            vec![file, capture_part, meta(br#"{"product_id":"x"}"#)],
            400,
        ),
        (vec![file, capture_part, meta(br#"{"product_id":0}"#)], 400),
        (
            vec![
                file,
                ("capture_metadata", None, None, b"[1]"),
                meta(good_meta),
            ],
            500,
        ),
        (
            vec![
                ("file", None, Some("image/jpeg"), jpeg),
                capture_part,
                meta(good_meta),
            ],
            500,
        ),
        (
            vec![
                (
                    "file",
                    Some("a.jpg"),
                    Some("application/octet-stream"),
                    jpeg,
                ),
                capture_part,
                meta(good_meta),
            ],
            500,
        ),
        (
            vec![
                ("file", Some("a.jpg"), Some("image/jpeg"), b""),
                capture_part,
                meta(good_meta),
            ],
            400,
        ),
        (
            vec![
                ("file", Some("a.jpg"), Some("image/jpeg"), b"not a jpeg"),
                capture_part,
                meta(good_meta),
            ],
            400,
        ),
        (
            vec![
                ("file", Some("a.jpg"), Some("image/jpeg"), &big),
                capture_part,
                meta(good_meta),
            ],
            413,
        ),
    ];
    for (n, (parts, status)) in cases.iter().enumerate() {
        let reply = upload(parts);
        assert_eq!(
            reply.status,
            *status,
            "case {n}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert_eq!(peer.stats(&camera_id).violations.len(), cases.len());
    assert_eq!(peer.uploads().len(), 1);
    let unauthenticated = http(port, "POST", &path, &[], b"");
    assert_eq!(unauthenticated.status, 401);

    peer.set_uploads_down(true);
    let down = upload(&[file, capture_part, meta(good_meta)]);
    assert_eq!(down.status, 503);
    peer.set_uploads_down(false);
    assert_eq!(upload(&[file, capture_part, meta(good_meta)]).status, 201);

    let thumbnail_path = format!("/plugins/rpi-cam/cameras/{camera_id}/preview-thumbnail-upload");
    let (content_type, body) = multipart(&[("file", Some("t.jpg"), Some("image/jpeg"), jpeg)]);
    let auth = bearer(&key.token(&camera_id));
    let thumb = http(
        port,
        "POST",
        &thumbnail_path,
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &body,
    );
    assert_eq!(thumb.status, 201);
    assert!(thumb.json()["preview_thumbnail_url"]
        .as_str()
        .unwrap()
        .contains(&camera_id));
    assert_eq!(peer.preview_thumbnail(&camera_id).as_deref(), Some(jpeg));
}
