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
    let js = cam.get("/static/player.js");
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
        "/static/../Cargo.toml",
        "/static/..%2fCargo.toml",
        "/static//etc/passwd",
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

    // Refused on the head, before the body is read.
    let big = vec![b'x'; 2 << 20];
    let resp = cam.request("POST", "/time", &[], &big);
    assert_eq!(resp.status, 405);
    let resp = cam.request("POST", "/auth/login", &[], &big);
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
        b"GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert_eq!(cam.get("/").status, 200, "still serving after junk");
}

#[test]
fn keep_alive_pipelining_and_connection_limit() {
    use std::io::BufReader;
    let cam = Picamd::start(&["--max-connections", "3"]);
    let mut stream = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Two requests in one write: both answered, in order, on the same connection.
    stream
        .write_all(b"GET /time HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let first = common::read_response(&mut reader, false).unwrap();
    let second = common::read_response(&mut reader, false).unwrap();
    assert_eq!((first.status, second.status), (200, 404));
    assert_eq!(first.header("connection"), Some("keep-alive"));

    // Expect: 100-continue gets its interim answer before the body is sent.
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap();
    let interim = common::read_response(&mut reader, true).unwrap();
    assert_eq!(interim.status, 100);
    stream.write_all(b"{}").unwrap();
    assert_eq!(
        common::read_response(&mut reader, false).unwrap().status,
        422
    );

    // With every slot taken, the connection idle the longest (ours, kept alive) makes room.
    let key = cam.local_key();
    // A closed connection's slot is given back just after its answer is written.
    let settle = || std::thread::sleep(Duration::from_millis(200));
    settle();
    let streaming = || {
        let mut s = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
        let head =
            format!("GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let resp = common::read_response(&mut r, true).unwrap();
        assert_eq!(resp.status, 200, "{:?}", resp.headers);
        s
    };
    let _busy1 = streaming();
    let _busy2 = streaming();
    let fourth = common::request(cam.port, "GET", "/time", &[], b"").unwrap();
    assert_eq!(fourth.status, 200);
    let mut byte = [0u8; 1];
    assert_eq!(stream.read(&mut byte).unwrap_or(0), 0, "ours was closed");
    // With every slot's request in progress, a newcomer is turned away politely.
    settle();
    let busy3 = streaming();
    let busy = common::request(cam.port, "GET", "/time", &[], b"").unwrap();
    assert_eq!(busy.status, 503);
    drop(busy3);
    std::thread::sleep(Duration::from_millis(100));
    let mut ok = None;
    for _ in 0..20 {
        let resp = common::request(cam.port, "GET", "/time", &[], b"").unwrap();
        if resp.status == 200 {
            ok = Some(resp);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok.is_some(), "a freed slot is reused");
}
