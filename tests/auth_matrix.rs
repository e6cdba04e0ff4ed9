//! The full auth matrix, route by route, through the same router the HTTP server and the
//! relay use. In-process, because a test on loopback cannot come from a public address:
//! the peer address is set on each request instead.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use picamd::internal::api::{handle, Auth, Guard, LocalTier, ROUTES};
use picamd::internal::config::Config;
use picamd::internal::http::{Request, Response};
use picamd::internal::pairing::bootstrap::bootstrap;
use picamd::internal::runtime::Runtime;

const KEY: &str = "matrix-key-0123456789";
const PUBLIC: &str = "8.8.8.8:40000";
const LAN: &str = "192.168.1.20:40000";

fn runtime() -> Arc<Runtime> {
    runtime_with(&[])
}

fn runtime_with(extra: &[(&str, &str)]) -> Arc<Runtime> {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("picamd-matrix-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let env = HashMap::from([
        ("AUTHORIZED_API_KEYS".to_string(), format!("[\"{KEY}\"]")),
        ("PAIRING_BACKEND_URL".to_string(), String::new()),
        ("HOME".to_string(), dir.display().to_string()),
    ]);
    let env: HashMap<String, String> = env
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let args = vec!["--data-dir".to_string(), dir.display().to_string()];
    let config = Config::from_sources(&args, &env, &HashMap::new()).expect("config");
    let keys = bootstrap(&config.relab, None, false, || "generated".into());
    Runtime::new(config, keys).expect("runtime")
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{image_id}", "0123456789abcdef0123456789abcdef")
        .replace("{hls_path:path}", "cam-preview/not-a-file.bin")
        .replace("{file:path}", "style.css")
}

fn call(rt: &Runtime, method: &str, path: &str, peer: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = Request::new(method, path).expect("valid target");
    req.peer = Some(peer.parse::<SocketAddr>().expect("peer"));
    req.headers = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    handle(rt, &req)
}

fn detail(resp: &Response) -> String {
    let body: serde_json::Value = serde_json::from_slice(&resp.body.to_vec()).unwrap_or_default();
    body["detail"].as_str().unwrap_or_default().to_string()
}

#[test]
fn every_route_enforces_its_auth_class() {
    let rt = runtime();
    for (i, route) in ROUTES.iter().enumerate() {
        let path = concrete(route.pattern);
        let m = route.method;
        let what = format!("{m} {path}");
        let public_no_key = call(&rt, m, &path, PUBLIC, &[]);
        // Each wrong key from its own /64, so the limiter does not step in.
        let v6_public = format!("[2001:4860:4860:{i:x}::8888]:40000");
        let public_wrong_key = call(&rt, m, &path, &v6_public, &[("X-API-Key", "wrong")]);
        let public_right_key = call(&rt, m, &path, PUBLIC, &[("x-api-key", KEY)]);
        let lan_no_key = call(&rt, m, &path, LAN, &[]);
        match route.auth {
            Auth::None => {
                for r in [&public_no_key, &public_wrong_key, &lan_no_key] {
                    assert!(![401, 403].contains(&r.status), "{what}: {}", r.status);
                }
            }
            Auth::Local(text) | Auth::LocalOrCdn(text) => {
                // The API key is no CDN secret, and no CDN secret is set here.
                let bearer = format!("Bearer {KEY}");
                let public_bearer = call(&rt, m, &path, PUBLIC, &[("Authorization", &bearer)]);
                for r in [
                    &public_no_key,
                    &public_wrong_key,
                    &public_right_key,
                    &public_bearer,
                ] {
                    assert_eq!(r.status, 403, "{what} from a public address");
                    assert_eq!(detail(r), text, "{what}");
                }
                assert!(
                    ![401, 403].contains(&lan_no_key.status),
                    "{what} from the LAN"
                );
            }
            Auth::Key | Auth::LocalOrKey(_) => {
                assert_eq!(public_no_key.status, 401, "{what} without a key");
                assert_eq!(
                    detail(&public_no_key),
                    "API Key header or browser session is missing"
                );
                assert!(public_no_key.header("WWW-Authenticate").is_none());
                assert_eq!(public_wrong_key.status, 403, "{what} with a wrong key");
                assert_eq!(detail(&public_wrong_key), "Invalid API Key");
                assert!(
                    ![401, 403].contains(&public_right_key.status),
                    "{what} with the key: {}",
                    public_right_key.status
                );
                if route.auth == Auth::LocalOrKey(LocalTier::View) {
                    assert!(
                        ![401, 403].contains(&lan_no_key.status),
                        "{what}: the LAN watches without a key by default"
                    );
                } else {
                    assert_eq!(lan_no_key.status, 401, "{what}: the LAN needs a key too");
                }
                let bearer = format!("Bearer {KEY}");
                let with_bearer = call(&rt, m, &path, PUBLIC, &[("Authorization", &bearer)]);
                assert!(
                    ![401, 403].contains(&with_bearer.status),
                    "{what} with the key as a bearer token: {}",
                    with_bearer.status
                );
            }
        }
        for r in [&public_no_key, &public_wrong_key, &public_right_key] {
            assert!(r.header("X-Request-ID").is_some(), "{what}: request id");
            assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
            assert!(r.header("Content-Security-Policy").is_some(), "{what}: CSP");
        }
    }
}

#[test]
fn the_local_network_tiers_follow_their_settings() {
    let flipped = runtime_with(&[
        ("LOCAL_VIEW_WITHOUT_KEY", "0"),
        ("LOCAL_CONTROL_WITHOUT_KEY", "1"),
    ]);
    let default = runtime();
    let tiered = ROUTES
        .iter()
        .filter(|r| matches!(r.auth, Auth::LocalOrKey(_)));
    let mut seen = 0;
    for route in tiered {
        seen += 1;
        let path = concrete(route.pattern);
        let what = format!("{} {path}", route.method);
        let view = route.auth == Auth::LocalOrKey(LocalTier::View);
        for (rt, lan_open) in [(&default, view), (&flipped, !view)] {
            let lan = call(rt, route.method, &path, LAN, &[]);
            let public = call(rt, route.method, &path, PUBLIC, &[]);
            assert_eq!(public.status, 401, "{what} from a public address");
            if lan_open {
                assert!(![401, 403].contains(&lan.status), "{what}: {}", lan.status);
            } else {
                assert_eq!(lan.status, 401, "{what} from the LAN");
            }
        }
        // A key that is sent is checked, even where the LAN needs none.
        let own_lan_address = format!("192.168.7.{seen}:40000");
        let wrong = call(
            &default,
            route.method,
            &path,
            &own_lan_address,
            &[("X-API-Key", "wrong")],
        );
        assert_eq!(wrong.status, 403, "{what} with a wrong key");
    }
    assert_eq!(
        seen, 10,
        "/frame, /stream.mjpg, /camera/status|start|stop, /record/start|stop, /recorder, \
         /recorder/start|stop"
    );
}

#[test]
fn the_cdn_secret_opens_the_hls_routes_only() {
    const SECRET: &str = "cdn-secret-0123456789";
    let rt = runtime_with(&[("HLS_CDN_SECRET", SECRET)]);
    let bearer = format!("Bearer {SECRET}");
    let from_edge = [
        ("Authorization", bearer.as_str()),
        ("Host", "live.example.org"),
    ];
    for route in ROUTES {
        let path = concrete(route.pattern);
        let resp = call(&rt, route.method, &path, PUBLIC, &from_edge);
        let what = format!("{} {path}", route.method);
        if matches!(route.auth, Auth::LocalOrCdn(_)) {
            // Past auth and the Host guard: the file itself is unknown.
            assert_eq!(resp.status, 404, "{what}: {}", detail(&resp));
        } else if route.auth != Auth::None {
            // Refused, or blocked once the secret counted as wrong keys.
            assert!(
                [401, 403, 421, 429].contains(&resp.status),
                "{what}: {}",
                resp.status
            );
        }
    }
}

#[test]
fn sessions_from_login_open_keyed_routes_and_logout_closes_them() {
    let rt = runtime();
    let mut login = Request::new("POST", "/auth/login").unwrap();
    login.peer = Some(PUBLIC.parse().unwrap());
    login.body = format!("api_key={KEY}&redirect_url=/camera%3Ftab%3Dlive").into_bytes();
    let resp = handle(&rt, &login);
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("Location"), Some("/camera?tab=live"));
    let cookie = resp.header("Set-Cookie").expect("cookie").to_string();
    assert!(cookie.starts_with("relab_session=") && cookie.contains("HttpOnly"));
    assert!(!cookie.contains(KEY) && !cookie.contains("Secure"));
    let session = cookie.split(';').next().unwrap().to_string();

    let with_cookie = call(
        &rt,
        "GET",
        "/camera/controls",
        PUBLIC,
        &[("Cookie", &session)],
    );
    assert_eq!(with_cookie.status, 200);
    let state = |headers: &[(&str, &str)]| {
        let resp = call(&rt, "GET", "/auth/session", PUBLIC, headers);
        assert_eq!(resp.status, 200);
        serde_json::from_str::<serde_json::Value>(&body_text(&resp)).unwrap()["authenticated"]
            .clone()
    };
    assert_eq!(state(&[("Cookie", &session)]), true);
    assert_eq!(state(&[]), false);
    // The open session route is no key oracle: a right key alone is not a session.
    assert_eq!(state(&[("X-API-Key", KEY)]), false);
    // A wrong key wins over a valid cookie.
    let both = call(
        &rt,
        "GET",
        "/camera/controls",
        PUBLIC,
        &[("Cookie", &session), ("X-API-Key", "nope")],
    );
    assert_eq!(both.status, 403);

    let out = call(&rt, "POST", "/auth/logout", PUBLIC, &[("Cookie", &session)]);
    assert_eq!(out.status, 303);
    assert!(out.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    let after = call(
        &rt,
        "GET",
        "/camera/controls",
        PUBLIC,
        &[("Cookie", &session)],
    );
    assert_eq!(after.status, 401);
    assert_eq!(state(&[("Cookie", &session)]), false);
}

#[test]
fn failed_logins_are_rate_limited_per_address() {
    let rt = runtime();
    let attempt = |peer: &str, key: &str| {
        let mut req = Request::new("POST", "/auth/login").unwrap();
        req.peer = Some(peer.parse().unwrap());
        req.body = format!("api_key={key}").into_bytes();
        handle(&rt, &req).status
    };
    for _ in 0..5 {
        assert_eq!(attempt(PUBLIC, "bad"), 403);
    }
    assert_eq!(attempt(PUBLIC, "bad"), 429);
    assert_eq!(attempt(PUBLIC, KEY), 429, "blocked even with the right key");
    assert_eq!(attempt(LAN, KEY), 303, "other addresses are not affected");
    let redirect = {
        let mut req = Request::new("POST", "/auth/login").unwrap();
        req.peer = Some(LAN.parse().unwrap());
        req.body = format!("api_key={KEY}&redirect_url=https://evil.example/phish").into_bytes();
        handle(&rt, &req)
    };
    assert_eq!(redirect.header("Location"), Some("/"));
    let missing = {
        let mut req = Request::new("POST", "/auth/login").unwrap();
        req.peer = Some(LAN.parse().unwrap());
        handle(&rt, &req)
    };
    assert_eq!(missing.status, 422);
}

#[test]
fn relayed_requests_without_a_peer_are_not_local() {
    let rt = runtime();
    let mut req = Request::new("GET", "/local-key").unwrap();
    req.peer = None;
    assert_eq!(handle(&rt, &req).status, 403);
}

fn body_text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body.to_vec()).into_owned()
}

#[test]
fn the_setup_page_and_its_key_are_for_the_local_network_only() {
    let rt = runtime();
    let key = rt.auth.local_api_key().to_string();
    for peer in [PUBLIC, "100.64.0.9:1234", "[2001:4860:4860::8888]:1"] {
        let resp = call(&rt, "GET", "/setup", peer, &[]);
        assert_eq!(resp.status, 403, "{peer}");
        assert_eq!(
            detail(&resp),
            "The setup page is only available from the local network"
        );
        assert!(!body_text(&resp).contains(&key), "{peer}");
    }
    let lan = call(&rt, "GET", "/setup", LAN, &[("Host", "localhost:8018")]);
    assert_eq!(lan.status, 200);
    assert!(body_text(&lan).contains(&key));
}

#[test]
fn same_site_routes_refuse_other_sites_and_grant_them_no_cors() {
    let rt = runtime();
    let host = ("Host", "127.0.0.1:8018");
    // With the key, so keyed routes get as far as their guard.
    let key = ("X-API-Key", KEY);
    for route in ROUTES {
        let Guard::SameSite(text) = route.guard else {
            continue;
        };
        let path = concrete(route.pattern);
        let m = route.method;
        for foreign in [
            ("Origin", "https://evil.example"),
            ("Origin", "null"),
            ("Origin", "http://127.0.0.1:9999"),
            ("Sec-Fetch-Site", "cross-site"),
        ] {
            let resp = call(&rt, m, &path, LAN, &[host, key, foreign]);
            assert_eq!(resp.status, 403, "{m} {path} {foreign:?}");
            assert_eq!(detail(&resp), text);
        }
        let own = call(
            &rt,
            m,
            &path,
            LAN,
            &[host, key, ("Origin", "http://127.0.0.1:8018")],
        );
        assert!(
            ![403, 421].contains(&own.status),
            "{m} {path}: {}",
            own.status
        );
        for resp in [&own, &call(&rt, m, &path, LAN, &[host, key])] {
            for name in [
                "Access-Control-Allow-Origin",
                "Access-Control-Allow-Private-Network",
                "Access-Control-Allow-Credentials",
            ] {
                assert!(resp.header(name).is_none(), "{m} {path}: {name}");
            }
        }
        let preflight = call(
            &rt,
            "OPTIONS",
            &path,
            LAN,
            &[
                host,
                key,
                ("Origin", "https://evil.example"),
                ("Access-Control-Request-Method", m),
                ("Access-Control-Request-Private-Network", "true"),
            ],
        );
        assert_eq!(preflight.status, 403, "preflight {path}");
        assert!(preflight
            .header("Access-Control-Allow-Private-Network")
            .is_none());
        assert!(preflight.header("Access-Control-Allow-Origin").is_none());
    }
    // Other routes keep the plugin's CORS: the configured origins only, also in local mode.
    let health = |origin| call(&rt, "GET", "/health", LAN, &[("Origin", origin)]);
    let foreign = health("https://x.example");
    assert!(foreign.header("Access-Control-Allow-Origin").is_none());
    assert!(foreign
        .header("Access-Control-Allow-Private-Network")
        .is_none());
    let listed = health("https://cml-relab.org");
    assert_eq!(
        listed.header("Access-Control-Allow-Origin"),
        Some("https://cml-relab.org")
    );
}

#[test]
fn local_routes_refuse_a_foreign_host() {
    let rt = runtime();
    let key = ("X-API-Key", KEY);
    for route in ROUTES.iter().filter(|r| r.guard != Guard::Open) {
        let path = concrete(route.pattern);
        for host in [
            "evil.example",
            "evil.example:8018",
            "8.8.8.8:8018",
            "localhost.evil.example",
        ] {
            let resp = call(&rt, route.method, &path, LAN, &[("Host", host), key]);
            assert_eq!(resp.status, 421, "{} {path} Host {host}", route.method);
            assert!(detail(&resp).contains("DNS rebinding"));
        }
        for host in ["localhost:8018", "127.0.0.1", "[::1]:8018"] {
            let resp = call(&rt, route.method, &path, LAN, &[("Host", host), key]);
            assert_ne!(resp.status, 421, "{} {path} Host {host}", route.method);
        }
    }
}

#[test]
fn wrong_api_keys_on_any_route_are_rate_limited() {
    let rt = runtime();
    let camera = |peer: &str, key: &str| call(&rt, "GET", "/camera", peer, &[("X-API-Key", key)]);
    for path in [
        "/camera",
        "/frame",
        "/system/telemetry",
        "/captures",
        "/timelapse",
    ] {
        let resp = call(&rt, "GET", path, PUBLIC, &[("X-API-Key", "guess")]);
        assert_eq!(resp.status, 403, "{path}");
    }
    let blocked = camera(PUBLIC, KEY);
    assert_eq!(blocked.status, 429, "blocked even with the right key");
    assert_eq!(
        detail(&blocked),
        "Too many failed login attempts. Try again later."
    );
    assert!(blocked.header("Retry-After").is_some());
    assert_eq!(
        camera(LAN, KEY).status,
        200,
        "other addresses are not affected"
    );
    // The login form shares the count.
    let mut login = Request::new("POST", "/auth/login").unwrap();
    login.peer = Some(PUBLIC.parse().unwrap());
    login.body = format!("api_key={KEY}").into_bytes();
    assert_eq!(handle(&rt, &login).status, 429);

    // IPv6: one /64 is one client.
    for i in 1..=5 {
        let peer = format!("[2001:db8:aa:bb::{i}]:1");
        assert_eq!(camera(&peer, "guess").status, 403);
    }
    assert_eq!(camera("[2001:db8:aa:bb:ffff::1]:1", KEY).status, 429);
    assert_eq!(camera("[2001:db8:aa:bc::1]:1", KEY).status, 200);

    // Relayed commands come "from" 127.0.0.1 but are neither counted nor blocked.
    for _ in 0..5 {
        assert_eq!(camera("127.0.0.1:5000", "guess").status, 403);
    }
    assert_eq!(camera("127.0.0.1:5000", KEY).status, 429);
    let mut relayed = Request::new("GET", "/camera").unwrap();
    relayed.peer = Some("127.0.0.1:0".parse().unwrap());
    relayed.relayed = true;
    relayed.headers = vec![("X-API-Key".into(), KEY.into())];
    assert_eq!(handle(&rt, &relayed).status, 200);
}

/// Plugin 0.4+ sessions: a write the browser authenticates with its cookie alone must come
/// from the camera's own pages (CSRF), and a `Secure` cookie is a `__Host-` cookie.
#[test]
fn cookie_writes_need_a_same_origin_page_and_secure_cookies_are_host_cookies() {
    let log_in = |rt: &Runtime| {
        let mut login = Request::new("POST", "/auth/login").unwrap();
        login.peer = Some(LAN.parse().unwrap());
        login.body = format!("api_key={KEY}").into_bytes();
        let resp = handle(rt, &login);
        assert_eq!(resp.status, 303);
        let cookie = resp.header("Set-Cookie").expect("cookie").to_string();
        (
            cookie.clone(),
            cookie.split(';').next().unwrap().to_string(),
        )
    };
    let rt = runtime();
    let (_, session) = log_in(&rt);
    let host = ("Host", "127.0.0.1:8018");
    let write = |headers: &[(&str, &str)]| call(&rt, "POST", "/preview/start", LAN, headers);
    for foreign in [
        vec![host, ("Cookie", session.as_str())],
        vec![
            host,
            ("Cookie", session.as_str()),
            ("Origin", "http://127.0.0.1:9999"),
        ],
        vec![
            host,
            ("Cookie", session.as_str()),
            ("Referer", "http://other.example/"),
        ],
    ] {
        let resp = write(&foreign);
        assert_eq!(resp.status, 403, "{foreign:?}");
        assert_eq!(detail(&resp), "Same-origin browser request required");
    }
    for own in [
        vec![
            host,
            ("Cookie", session.as_str()),
            ("Origin", "http://127.0.0.1:8018"),
        ],
        vec![
            host,
            ("Cookie", session.as_str()),
            ("Referer", "http://127.0.0.1:8018/docs"),
        ],
        vec![host, ("X-API-Key", KEY)],
    ] {
        let status = write(&own).status;
        assert!(![401, 403, 421].contains(&status), "{own:?}: {status}");
    }
    let read = call(
        &rt,
        "GET",
        "/camera",
        LAN,
        &[host, ("Cookie", session.as_str())],
    );
    assert_eq!(read.status, 200, "reads need no Origin");

    let secure = runtime_with(&[("AUTH_COOKIE_SECURE", "true")]);
    let (cookie, session) = log_in(&secure);
    assert!(cookie.starts_with("__Host-relab_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let resp = call(
        &secure,
        "GET",
        "/camera",
        LAN,
        &[("Cookie", session.as_str())],
    );
    assert_eq!(resp.status, 200);
    let plain = session.replacen("__Host-", "", 1);
    let resp = call(
        &secure,
        "GET",
        "/camera",
        LAN,
        &[("Cookie", plain.as_str())],
    );
    assert_eq!(
        resp.status, 401,
        "the unprefixed name is not the session cookie"
    );
}

/// Plugin 0.4+ action limits: a client (its key, else its session, else its address) gets
/// `RATE_LIMIT_<GROUP>` requests per window on each action group, then 429; relayed commands
/// are not limited.
#[test]
fn action_routes_are_rate_limited_per_client_but_not_through_the_relay() {
    let rt = runtime_with(&[("RATE_LIMIT_PREVIEW", "3"), ("RATE_LIMIT_CAPTURES", "0")]);
    let host = ("Host", "127.0.0.1:8018");
    let stop = |peer: &str, headers: &[(&str, &str)]| {
        let mut all = vec![host];
        all.extend_from_slice(headers);
        call(&rt, "POST", "/preview/stop", peer, &all)
    };
    let key = ("X-API-Key", KEY);
    for _ in 0..3 {
        assert_ne!(stop(LAN, &[key]).status, 429);
    }
    let limited = stop(LAN, &[key]);
    assert_eq!(limited.status, 429);
    assert_eq!(detail(&limited), "Too many requests. Try again later.");
    let retry: u64 = limited.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    let start = call(&rt, "POST", "/preview/start", LAN, &[host, key]);
    assert_eq!(start.status, 429, "start and stop share the preview group");
    // A browser session is another client than the key.
    let mut login = Request::new("POST", "/auth/login").unwrap();
    login.peer = Some(LAN.parse().unwrap());
    login.body = format!("api_key={KEY}").into_bytes();
    let cookie = handle(&rt, &login)
        .header("Set-Cookie")
        .unwrap()
        .to_string();
    let session = cookie.split(';').next().unwrap().to_string();
    let by_session = stop(
        LAN,
        &[("Cookie", &session), ("Origin", "http://127.0.0.1:8018")],
    );
    assert_ne!(by_session.status, 429);
    // Another client (by address, without a key it is refused before it counts).
    assert_eq!(stop("192.168.1.21:1", &[]).status, 401);
    // The group set to 0 has no limit.
    for _ in 0..30 {
        assert_ne!(call(&rt, "POST", "/captures", LAN, &[key]).status, 429);
    }
    // Through the relay: never limited.
    for _ in 0..10 {
        let mut relayed = Request::new("POST", "/preview/stop").unwrap();
        relayed.peer = Some("127.0.0.1:0".parse().unwrap());
        relayed.relayed = true;
        relayed.headers = vec![("X-API-Key".into(), KEY.into())];
        assert_ne!(handle(&rt, &relayed).status, 429);
    }
}

#[test]
fn starting_youtube_streams_is_rate_limited_like_the_plugin() {
    let rt = runtime_with(&[("RATE_LIMIT_STREAMS", "2")]);
    let key = ("X-API-Key", KEY);
    // Bodies that fail validation still count: the limit is on requests, as the plugin's.
    for _ in 0..2 {
        assert_ne!(
            call(&rt, "POST", "/streams/youtube", LAN, &[key]).status,
            429
        );
    }
    let limited = call(&rt, "POST", "/streams/youtube", LAN, &[key]);
    assert_eq!(limited.status, 429);
    assert_eq!(detail(&limited), "Too many requests. Try again later.");
    assert_ne!(
        call(&rt, "GET", "/streams/youtube", LAN, &[key]).status,
        429,
        "reading the state is not an action"
    );
}
