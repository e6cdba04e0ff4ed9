//! Captures to the RELab backend: the spawned daemon paired with our backend test peer, which
//! checks the device JWT and the multipart upload as the backend does. A relayed capture is
//! answered `uploaded` with the backend's image id; captures made while the backend refuses
//! uploads or before pairing are delivered later, each exactly once.

#[path = "backend_peer/mod.rs"]
mod backend_peer;
mod common;
mod paired;

use std::time::{Duration, Instant};

use backend_peer::{BackendPeer, PeerConfig, Upload};
use common::Picamd;
use paired::{pair, relay, start_daemon};
use serde_json::{json, Value};

const FAST_RETRIES: (&str, &str) = ("UPLOAD_RETRY_SCHEDULE_S", "1,1,2");

fn capture(cam: &Picamd, body: &Value) -> Value {
    let key = cam.local_key();
    let resp = cam.request(
        "POST",
        "/captures",
        &[("X-API-Key", &key), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()
}

fn wait_for_uploads(peer: &BackendPeer, cam: &Picamd, count: usize) -> Vec<Upload> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let uploads = peer.uploads();
        if uploads.len() >= count {
            return uploads;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} uploads arrived\n{}",
            uploads.len(),
            cam.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_relayed_capture_is_answered_with_the_backends_image_id() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_daemon(&peer.base_url(), &[]);
    let camera_id = pair(&peer, &cam);
    let body = json!({"product_id": 42, "description": "front view"});
    let reply = relay(&peer, &camera_id, "POST", "/captures", Some(body.clone()));
    assert_eq!(reply.status, 201, "{:?}", reply.data);
    assert_eq!(reply.data["status"], "uploaded", "{:?}", reply.data);
    let uploads = peer.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(reply.data["image_id"], upload.image_id.as_str());
    let url = reply.data["image_url"].as_str().unwrap();
    assert!(
        url.starts_with(&peer.base_url()) && url.contains("/uploads/"),
        "absolute backend URL: {url}"
    );
    assert_eq!(upload.camera_id, camera_id);
    assert_eq!(upload.content_type, "image/jpeg");
    assert!(upload.filename.ends_with(".jpg"), "{}", upload.filename);
    assert_eq!(&upload.bytes[..2], [0xff, 0xd8], "a JPEG");
    assert_eq!(upload.upload_metadata, body);
    let props = &upload.capture_metadata["image_properties"];
    assert_eq!(
        (props["width"].as_u64(), props["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(upload.capture_metadata["camera_properties"].is_object());

    // The local record says where the image went; its id is the local one.
    let local_id = upload.filename.trim_end_matches(".jpg");
    let key = cam.local_key();
    let resp = cam.request(
        "GET",
        &format!("/captures/{local_id}"),
        &[("X-API-Key", &key)],
        b"",
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(resp.header("Location"), Some(url));
    let telemetry = relay(&peer, &camera_id, "GET", "/system/telemetry", None);
    assert!(
        telemetry.data.get("uploads").is_some(),
        "{:?}",
        telemetry.data
    );
}

#[test]
fn captures_wait_out_a_backend_refusing_uploads_and_arrive_once() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_daemon(&peer.base_url(), &[FAST_RETRIES]);
    pair(&peer, &cam);
    peer.set_uploads_down(true);
    // Product ids start at 1: the backend refuses 0 (and that capture would be given up).
    let answers: Vec<Value> = (1..=5)
        .map(|i| capture(&cam, &json!({"product_id": i})))
        .collect();
    for a in &answers {
        assert_eq!(a["status"], "queued", "{a}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(peer.uploads().is_empty());
    peer.set_uploads_down(false);
    let uploads = wait_for_uploads(&peer, &cam, 5);
    std::thread::sleep(Duration::from_secs(3));
    let uploads_later = peer.uploads();
    assert_eq!(uploads_later.len(), 5, "no duplicates: {uploads:?}");
    let mut names: Vec<String> = uploads_later.iter().map(|u| u.filename.clone()).collect();
    names.sort();
    let mut expected: Vec<String> = answers
        .iter()
        .map(|a| format!("{}.jpg", a["image_id"].as_str().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "every queued capture, by its local id");
    let products: Vec<Value> = uploads_later
        .iter()
        .map(|u| u.upload_metadata["product_id"].clone())
        .collect();
    assert_eq!(
        products,
        (1..=5).map(|i| json!(i)).collect::<Vec<_>>(),
        "in order"
    );
    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_upload_queue_depth 0"), "{metrics}");
}

#[test]
fn captures_made_before_pairing_go_out_once_paired() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_daemon(&peer.base_url(), &[FAST_RETRIES]);
    let first = capture(&cam, &json!({"product_id": 7}));
    assert_eq!(first["status"], "queued");
    assert!(
        cam.log().contains("device is unpaired"),
        "the reason is logged\n{}",
        cam.log()
    );
    pair(&peer, &cam);
    let uploads = wait_for_uploads(&peer, &cam, 1);
    assert_eq!(
        uploads[0].filename,
        format!("{}.jpg", first["image_id"].as_str().unwrap())
    );
    assert_eq!(uploads[0].upload_metadata, json!({"product_id": 7}));
}

#[test]
fn a_capture_the_backend_refuses_is_given_up_after_its_retries_and_counted() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_daemon(&peer.base_url(), &[FAST_RETRIES]);
    pair(&peer, &cam);
    // The backend refuses product 0 (400); the next capture is fine and is not held up.
    let refused = capture(&cam, &json!({"product_id": 0}));
    let fine = capture(&cam, &json!({"product_id": 3}));
    assert_eq!(fine["status"], "uploaded", "{fine}");
    let id = refused["image_id"].as_str().unwrap();
    cam.wait_for_log(&format!("capture {id} given up"), Duration::from_secs(30))
        .unwrap_or_else(|log| panic!("not given up:\n{log}"));
    let dead = cam.data_dir.join(format!("images/captures/dead/{id}.jpg"));
    assert!(dead.exists(), "kept in dead/, not deleted");
    let metrics = cam.authed("GET", "/metrics", "").text();
    assert!(metrics.contains("picamd_upload_dead_total 1"), "{metrics}");
    assert_eq!(peer.uploads().len(), 1);
}

#[test]
fn the_preview_thumbnail_reaches_the_backend_once_paired() {
    let peer = BackendPeer::start(PeerConfig::default());
    let cam = start_daemon(&peer.base_url(), &[]);
    let camera_id = pair(&peer, &cam);
    let deadline = Instant::now() + Duration::from_secs(15);
    let thumbnail = loop {
        if let Some(bytes) = peer.preview_thumbnail(&camera_id) {
            break bytes;
        }
        assert!(Instant::now() < deadline, "no thumbnail\n{}", cam.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(&thumbnail[..2], [0xff, 0xd8], "a JPEG");
    let local = cam.get("/preview-thumbnail.jpg");
    assert_eq!(local.status, 200);
    assert_eq!(
        thumbnail, local.body,
        "the cached thumbnail, as served locally"
    );
}
