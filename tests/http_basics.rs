//! The HTTP layer against bad input: nothing crashes, every error is clear JSON.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Picamd;

#[test]
fn static_files_errors_and_abuse() {
    let cam = Picamd::start(&[]);
    let index = cam.get("/");
    assert_eq!(index.status, 200);
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(index.text().contains("<video"));
    let js = cam.get("/player.js");
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));

    let missing = cam.get("/nothing-here");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), serde_json::json!({"detail": "Not Found"}));
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/..%2fCargo.toml",
        "/www/../Cargo.toml",
        "/%00",
    ] {
        let resp = cam.get(path);
        assert!(matches!(resp.status, 400 | 404), "{path}: {}", resp.status);
        assert!(!resp.text().contains("[package]"), "{path} escaped www/");
    }

    let post = cam.request("POST", "/preview/hls/cam-preview/index.m3u8", &[], b"{}");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = cam.request("HEAD", "/", &[], b"");
    assert_eq!(head.status, 200);

    let big = vec![b'x'; 2 << 20];
    let resp = cam.request("POST", "/time", &[], &big);
    assert_eq!(resp.status, 413);

    let time = cam.get("/time").json();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let diff = (time["unix_us"].as_u64().unwrap() as i128 - now.as_micros() as i128).abs();
    assert!(diff < 5_000_000);

    // Garbage on the wire: the server survives and keeps serving.
    for junk in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert_eq!(cam.get("/").status, 200, "still serving after junk");
}
