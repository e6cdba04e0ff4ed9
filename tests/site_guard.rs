//! The key-bearing and local-network routes against browsers on other sites and DNS
//! rebinding, over real HTTP on loopback: `Host`, `Origin` and `Sec-Fetch-Site` as a browser
//! would send them, and wrong API keys counted on any route. (Non-local peers: see
//! `tests/non_local_peer.rs` and, route by route, `tests/auth_matrix.rs`.)

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{read_response, HttpResponse, Picamd};

/// One request with exactly these headers (no default `Host`).
fn raw(cam: &Picamd, method: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", cam.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream), method == "HEAD").expect("response")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string()
}

fn assert_no_grants(resp: &HttpResponse, what: &str) {
    for name in [
        "Access-Control-Allow-Origin",
        "Access-Control-Allow-Credentials",
        "Access-Control-Allow-Private-Network",
    ] {
        assert!(resp.header(name).is_none(), "{what}: {name}");
    }
}

#[test]
fn other_sites_and_rebinding_get_nothing_and_key_guessing_is_limited() {
    let cam = Picamd::start(&[]);
    let key = cam.local_key();
    let port = cam.port;
    let own_origin = format!("http://127.0.0.1:{port}");
    let own_host = format!("127.0.0.1:{port}");

    // The daemon's own names get the key.
    for host in [
        own_host.clone(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("{}:{port}", hostname()),
        format!("{}.local:{port}", hostname()),
    ] {
        let resp = raw(&cam, "GET", "/local-key", &[("Host", &host)]);
        assert_eq!(resp.status, 200, "Host {host}");
        assert_eq!(resp.text(), key);
        assert_no_grants(&resp, &host);
    }
    let with_own_origin = raw(
        &cam,
        "GET",
        "/local-key",
        &[("Host", &own_host), ("Origin", &own_origin)],
    );
    assert_eq!(with_own_origin.status, 200);
    assert_no_grants(&with_own_origin, "own origin");

    // DNS rebinding: a name that is not ours.
    for path in ["/local-key", "/setup", "/preview-thumbnail.jpg"] {
        let resp = raw(
            &cam,
            "GET",
            path,
            &[("Host", &format!("evil.example:{port}"))],
        );
        assert_eq!(resp.status, 421, "{path}");
        assert!(resp.json()["detail"]
            .as_str()
            .unwrap()
            .contains("DNS rebinding"));
        assert!(!resp.text().contains(&key));
    }

    // Another site's page.
    for path in ["/local-key", "/setup", "/preview-thumbnail.jpg"] {
        for foreign in [
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ] {
            let resp = raw(&cam, "GET", path, &[("Host", &own_host), foreign]);
            assert_eq!(resp.status, 403, "{path} {foreign:?}");
            assert!(!resp.text().contains(&key), "{path}");
            assert_no_grants(&resp, path);
        }
    }
    for path in ["/preview/start", "/preview/stop"] {
        let resp = raw(
            &cam,
            "POST",
            path,
            &[
                ("Host", &own_host),
                ("Origin", "https://evil.example"),
                ("X-API-Key", &key),
            ],
        );
        assert_eq!(resp.status, 403, "{path}");
        assert_eq!(
            resp.json()["detail"],
            "Preview control is not allowed from another site"
        );
        let own = raw(
            &cam,
            "POST",
            path,
            &[
                ("Host", &own_host),
                ("Origin", &own_origin),
                ("X-API-Key", &key),
            ],
        );
        assert_eq!(own.status, 204, "{path} from the camera's own page");
    }
    let preflight = raw(
        &cam,
        "OPTIONS",
        "/local-key",
        &[
            ("Host", &own_host),
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
    );
    assert_eq!(preflight.status, 403);
    assert_no_grants(&preflight, "preflight");

    // Wrong keys on any keyed route count; the sixth request is refused even with the key.
    for path in [
        "/camera",
        "/frame",
        "/captures",
        "/timelapse",
        "/system/telemetry",
    ] {
        let resp = raw(
            &cam,
            "GET",
            path,
            &[("Host", &own_host), ("X-API-Key", "guess")],
        );
        assert_eq!(resp.status, 403, "{path}");
    }
    let blocked = raw(
        &cam,
        "GET",
        "/camera",
        &[("Host", &own_host), ("X-API-Key", &key)],
    );
    assert_eq!(blocked.status, 429);
    assert_eq!(
        blocked.json()["detail"],
        "Too many failed login attempts. Try again later."
    );
    assert!(blocked.header("Retry-After").is_some());
}

/// A page on another site can neither post keys to `/auth/login` nor, with forms the login
/// refuses as malformed (422), use up its visitor's allowance of failures.
#[test]
fn another_site_cannot_log_in_or_lock_its_visitor_out() {
    let cam = Picamd::start(&[]);
    let key = cam.local_key();
    let host = format!("127.0.0.1:{}", cam.port);
    let foreign = [
        ("Host", host.as_str()),
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let resp = raw(&cam, "POST", "/auth/login", &foreign);
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_no_grants(&resp, "cross-site login");
    // Malformed same-site logins (no api_key field) are 422 and are not failures.
    for _ in 0..8 {
        let resp = raw(
            &cam,
            "POST",
            "/auth/login",
            &[
                ("Host", host.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        );
        assert_eq!(resp.status, 422, "{}", resp.text());
    }
    let resp = raw(
        &cam,
        "GET",
        "/camera",
        &[("Host", host.as_str()), ("X-API-Key", &key)],
    );
    assert_eq!(resp.status, 200, "not locked out: {}", resp.text());
}

/// Sends `head` as written and reads the answer.
fn exact(cam: &Picamd, head: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", cam.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream), false).expect("response")
}

/// The Host check cannot be side-stepped: an HTTP/1.1 request needs exactly one `Host`, a
/// second `Host` or `Sec-Fetch-Site` cannot hide the first, and an absolute-form target's
/// authority is what counts (RFC 9112 §3.2).
#[test]
fn the_host_check_reads_one_unambiguous_host() {
    let cam = Picamd::start(&[]);
    let key = cam.local_key();
    let port = cam.port;
    let own = format!("127.0.0.1:{port}");
    let evil = format!("evil.example:{port}");
    let refused = [
        ("GET /local-key HTTP/1.1\r\nConnection: close\r\n\r\n".to_string(), 400),
        (
            format!("GET /local-key HTTP/1.1\r\nHost: {own}\r\nHost: {evil}\r\nConnection: close\r\n\r\n"),
            400,
        ),
        (
            format!("GET /local-key HTTP/1.1\r\nHost: {evil}\r\nHost: {own}\r\nConnection: close\r\n\r\n"),
            400,
        ),
        (
            format!("GET /local-key HTTP/1.1\r\nHost: {own}\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n"),
            400,
        ),
        (
            format!("GET /local-key HTTP/1.1\r\nHost: {own}\r\nOrigin: http://{own}\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n"),
            400,
        ),
        (
            format!("GET http://{evil}/local-key HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n"),
            421,
        ),
        (
            format!("GET http:///local-key HTTP/1.1\r\nHost: {own}\r\nConnection: close\r\n\r\n"),
            400,
        ),
    ];
    for (head, status) in &refused {
        let resp = exact(&cam, head);
        assert_eq!(resp.status, *status, "{head:?}: {}", resp.text());
        assert!(!resp.text().contains(&key), "{head:?}");
    }
    let absolute = exact(
        &cam,
        &format!(
            "GET http://{own}/local-key HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(absolute.status, 200, "the target's authority is ours");
    assert_eq!(absolute.text(), key);
    let old_tool = exact(&cam, "GET /local-key HTTP/1.0\r\n\r\n");
    assert_eq!(old_tool.status, 200, "HTTP/1.0 needs no Host");
}
