//! CORS as the plugin's Starlette `CORSMiddleware` does it (§2), plus Private Network Access.
//!
//! As plugin 0.4 and later: only the configured origins (`ALLOWED_CORS_ORIGINS` and
//! `LOCAL_ALLOWED_ORIGINS`; `*` among them allows all) are echoed back, with
//! `Access-Control-Allow-Credentials: true` only when local mode is off; in local mode a
//! preflight asking `Access-Control-Request-Private-Network: true` from an allowed origin is
//! granted Private Network Access (the plugin's `allow_private_network`). No page from any
//! other origin can read an answer.

use super::{Body, Request, Response};

pub const ALLOWED_METHODS: [&str; 5] = ["GET", "POST", "DELETE", "PATCH", "PUT"];
pub const MAX_AGE_SECS: u32 = 600;
/// The headers a preflight may ask for besides the API key header.
const BASE_HEADERS: [&str; 4] = ["Content-Type", "Authorization", "Accept", "X-Request-ID"];
/// Starlette always adds the CORS-safelisted request headers.
const SAFELISTED_HEADERS: [&str; 4] = [
    "Accept",
    "Accept-Language",
    "Content-Language",
    "Content-Type",
];
const PNA_ALLOW: &str = "Access-Control-Allow-Private-Network";

#[derive(Debug, Clone)]
pub struct CorsPolicy {
    pub local_mode: bool,
    /// Exact origins (trailing `/` stripped); `*` allows every origin.
    pub allowed_origins: Vec<String>,
    /// The API key header's name (`AUTH_KEY_NAME`), which preflights may ask for.
    pub key_header: String,
}

impl CorsPolicy {
    /// Strips trailing `/` from each origin, as the plugin does with its settings.
    pub fn new(local_mode: bool, allowed_origins: Vec<String>, key_header: &str) -> CorsPolicy {
        CorsPolicy {
            local_mode,
            allowed_origins: allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
            key_header: key_header.to_string(),
        }
    }

    /// The `Access-Control-Allow-Headers` list: sorted byte-wise, duplicates removed.
    pub fn allowed_headers(&self) -> Vec<&str> {
        let mut headers: Vec<&str> = SAFELISTED_HEADERS
            .iter()
            .chain(&BASE_HEADERS)
            .copied()
            .chain(std::iter::once(self.key_header.as_str()))
            .collect();
        headers.sort_unstable();
        headers.dedup();
        headers
    }

    /// The answer to a CORS preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`); `None` for any other request.
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        if req.method != "OPTIONS" {
            return None;
        }
        let origin = req.header("Origin")?;
        let method = req.header("Access-Control-Request-Method")?;

        let mut headers: Vec<(String, String)> = Vec::new();
        let mut push = |name: &str, value: &str| headers.push((name.into(), value.into()));
        let explicit_origin = !self.allows_all_origins() || self.allows_credentials();
        if explicit_origin {
            push("Vary", "Origin");
        } else {
            push("Access-Control-Allow-Origin", "*");
        }
        push("Access-Control-Allow-Methods", &ALLOWED_METHODS.join(", "));
        push("Access-Control-Max-Age", &MAX_AGE_SECS.to_string());
        push(
            "Access-Control-Allow-Headers",
            &self.allowed_headers().join(", "),
        );
        if self.allows_credentials() {
            push("Access-Control-Allow-Credentials", "true");
        }

        let mut failures = Vec::new();
        if !self.is_allowed_origin(origin) {
            failures.push("origin");
        } else if explicit_origin {
            push("Access-Control-Allow-Origin", origin);
        }
        if !ALLOWED_METHODS.contains(&method) {
            failures.push("method");
        }
        if let Some(requested) = req.header("Access-Control-Request-Headers") {
            if !self.allows_requested_headers(requested) {
                failures.push("headers");
            }
        }
        let wants_private_network = req
            .header("Access-Control-Request-Private-Network")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if self.local_mode && wants_private_network && failures.is_empty() {
            push(PNA_ALLOW, "true");
        }

        let (status, text) = if failures.is_empty() {
            (200, "OK".to_string())
        } else {
            (400, format!("Disallowed CORS {}", failures.join(", ")))
        };
        let mut resp = Response::new(
            status,
            "text/plain; charset=utf-8",
            Body::Bytes(text.into_bytes()),
        );
        resp.headers.extend(headers);
        Some(resp)
    }

    /// Adds the CORS headers of a simple (non-preflight) response.
    pub fn decorate(&self, req: &Request, resp: &mut Response) {
        let Some(origin) = req.header("Origin") else {
            return;
        };
        let allow_all = self.allows_all_origins();
        if allow_all {
            set_header(resp, "Access-Control-Allow-Origin", "*");
        }
        if self.allows_credentials() {
            set_header(resp, "Access-Control-Allow-Credentials", "true");
        }
        // A request with cookies may not be answered with `*`; the origin is named instead.
        let echo = if allow_all {
            req.header("Cookie").is_some()
        } else {
            self.is_allowed_origin(origin)
        };
        if echo {
            set_header(resp, "Access-Control-Allow-Origin", origin);
            add_vary_origin(resp);
        }
    }

    fn allows_all_origins(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }

    fn allows_credentials(&self) -> bool {
        !self.local_mode
    }

    fn is_allowed_origin(&self, origin: &str) -> bool {
        self.allows_all_origins() || self.allowed_origins.iter().any(|o| o == origin)
    }

    /// Whether a page of an allowed origin asked for this answer to embed it (`<img>` sends
    /// no `Origin`, only a `Referer`, which browsers cut to the origin across origins). Such
    /// an answer may carry `Cross-Origin-Resource-Policy: cross-origin`; without a `Referer`
    /// it stays `same-origin`.
    pub fn embedding_allowed(&self, req: &Request) -> bool {
        req.header("Referer")
            .and_then(origin_of)
            .is_some_and(|origin| self.is_allowed_origin(origin))
    }

    /// Header names compare lowercased; empty items (`a,,b`) are ignored.
    fn allows_requested_headers(&self, requested: &str) -> bool {
        let allowed = self.allowed_headers();
        requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (end > 0).then(|| &url[..url.len() - rest.len() + end])
}

fn set_header(resp: &mut Response, name: &str, value: &str) {
    resp.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    resp.headers.push((name.into(), value.into()));
}

fn add_vary_origin(resp: &mut Response) {
    let merged = match resp.header("Vary") {
        Some(v)
            if v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin")) =>
        {
            return
        }
        Some(v) if !v.trim().is_empty() => format!("{v}, Origin"),
        _ => "Origin".to_string(),
    };
    set_header(resp, "Vary", &merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_HEADERS: &str = "Accept, Accept-Language, Authorization, Content-Language, \
                                 Content-Type, X-API-Key, X-Request-ID";
    const APP: &str = "https://app.example";

    fn local() -> CorsPolicy {
        CorsPolicy::new(true, vec!["https://app.example/".into()], "X-API-Key")
    }

    fn remote() -> CorsPolicy {
        CorsPolicy::new(
            false,
            vec!["https://app.example/".into(), "http://pi.local:8018".into()],
            "X-API-Key",
        )
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new(method, path).unwrap();
        req.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        req
    }

    fn preflight(policy: &CorsPolicy, headers: &[(&str, &str)]) -> Option<Response> {
        policy.preflight(&request("OPTIONS", "/camera", headers))
    }

    fn body(resp: &Response) -> String {
        String::from_utf8(resp.body.to_vec()).unwrap()
    }

    #[test]
    fn test_auth_preflight_cases() {
        let resp = preflight(
            &local(),
            &[
                ("Origin", APP),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "X-API-Key, X-Request-ID"),
            ],
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        let allowed = resp.header("Access-Control-Allow-Headers").unwrap();
        assert!(allowed.contains("X-API-Key") && allowed.contains("X-Request-ID"));
    }

    #[test]
    fn local_mode_preflight_headers() {
        let resp = preflight(
            &local(),
            &[
                ("Origin", APP),
                ("Access-Control-Request-Method", "DELETE"),
                (
                    "Access-Control-Request-Headers",
                    "content-type,authorization",
                ),
            ],
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(body(&resp), "OK");
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(APP));
        assert_eq!(resp.header("Vary"), Some("Origin"));
        assert_eq!(
            resp.header("Access-Control-Allow-Methods"),
            Some("GET, POST, DELETE, PATCH, PUT")
        );
        assert_eq!(resp.header("Access-Control-Max-Age"), Some("600"));
        assert_eq!(
            resp.header("Access-Control-Allow-Headers"),
            Some(ALLOW_HEADERS)
        );
        assert!(resp.header(PNA_ALLOW).is_none(), "not asked");
        assert!(resp.header("Access-Control-Allow-Credentials").is_none());
        assert!(resp.header("X-Request-ID").is_none());
    }

    #[test]
    fn local_mode_no_longer_allows_every_origin() {
        for policy in [local(), remote()] {
            let resp = preflight(
                &policy,
                &[
                    ("Origin", "https://anything.example"),
                    ("Access-Control-Request-Method", "GET"),
                    ("Access-Control-Request-Private-Network", "true"),
                ],
            )
            .unwrap();
            assert_eq!(resp.status, 400);
            assert_eq!(body(&resp), "Disallowed CORS origin");
            assert!(resp.header("Access-Control-Allow-Origin").is_none());
            assert!(resp.header(PNA_ALLOW).is_none());
        }
    }

    #[test]
    fn disallowed_methods_and_headers() {
        let ask = |method: &str, headers: &str| {
            let resp = preflight(
                &local(),
                &[
                    ("Origin", APP),
                    ("Access-Control-Request-Method", method),
                    ("Access-Control-Request-Headers", headers),
                ],
            )
            .unwrap();
            (resp.status, body(&resp))
        };
        for method in ["OPTIONS", "HEAD", "TRACE", "get"] {
            assert_eq!(
                ask(method, "accept"),
                (400, "Disallowed CORS method".into()),
                "{method}"
            );
        }
        assert_eq!(
            ask("GET", "X-API-Key, X-Evil"),
            (400, "Disallowed CORS headers".into())
        );
        assert_eq!(
            ask("PUT", "x-evil"),
            (400, "Disallowed CORS headers".into())
        );
        assert_eq!(
            ask("TRACE", "x-evil"),
            (400, "Disallowed CORS method, headers".into())
        );
        assert_eq!(
            ask("PATCH", "ACCEPT-LANGUAGE, x-request-id,"),
            (200, "OK".into())
        );
        assert_eq!(ask("GET", ""), (200, "OK".into()));
    }

    #[test]
    fn remote_mode_echoes_allowed_origins_only() {
        let ask = |origin: &str| {
            preflight(
                &remote(),
                &[("Origin", origin), ("Access-Control-Request-Method", "GET")],
            )
            .unwrap()
        };
        let resp = ask(APP);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(APP));
        assert_eq!(
            resp.header("Access-Control-Allow-Credentials"),
            Some("true")
        );
        assert_eq!(resp.header("Vary"), Some("Origin"));
        assert!(resp.header(PNA_ALLOW).is_none());

        for origin in [
            "https://evil.example",
            "https://app.example/",
            "http://app.example",
        ] {
            let resp = ask(origin);
            assert_eq!(resp.status, 400, "{origin}");
            assert_eq!(body(&resp), "Disallowed CORS origin");
            assert!(resp.header("Access-Control-Allow-Origin").is_none());
        }
    }

    #[test]
    fn private_network_access_only_in_local_mode() {
        let pna = [
            ("Origin", APP),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Private-Network", "true"),
        ];
        let resp = preflight(&local(), &pna).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header(PNA_ALLOW), Some("true"));
        let resp = preflight(&remote(), &pna).unwrap();
        assert!(resp.header(PNA_ALLOW).is_none(), "local mode is off");
    }

    #[test]
    fn only_real_preflights_are_intercepted() {
        let policy = local();
        assert!(preflight(&policy, &[("Origin", APP)]).is_none());
        assert!(preflight(&policy, &[("Access-Control-Request-Method", "GET")]).is_none());
        let get = request(
            "GET",
            "/camera",
            &[("Origin", APP), ("Access-Control-Request-Method", "GET")],
        );
        assert!(policy.preflight(&get).is_none());
    }

    #[test]
    fn allowed_headers_follow_the_key_header_name() {
        let policy = CorsPolicy::new(true, Vec::new(), "X-Camera-Key");
        assert_eq!(
            policy.allowed_headers().join(", "),
            "Accept, Accept-Language, Authorization, Content-Language, Content-Type, \
             X-Camera-Key, X-Request-ID"
        );
        let same = CorsPolicy::new(true, Vec::new(), "Accept");
        assert_eq!(same.allowed_headers().len(), 6, "no duplicate");
    }

    #[test]
    fn embedding_follows_the_referers_origin() {
        let policy = CorsPolicy::new(true, vec!["http://pi.local:3000".into()], "X-API-Key");
        let with = |referer: &str| {
            let mut req = request("GET", "/stream.mjpg", &[]);
            req.headers.push(("Referer".into(), referer.into()));
            policy.embedding_allowed(&req)
        };
        assert!(with("http://pi.local:3000/"));
        assert!(with("http://pi.local:3000/index.html?x=1"));
        assert!(with("http://pi.local:3000"));
        assert!(!with("http://pi.local:3001/"));
        assert!(!with("http://pi.local:3000.evil.example/"));
        assert!(!with("ftp://pi.local:3000/"));
        assert!(!policy.embedding_allowed(&request("GET", "/stream.mjpg", &[])));
    }

    #[test]
    fn origins_lose_trailing_slashes() {
        assert_eq!(
            remote().allowed_origins,
            vec!["https://app.example", "http://pi.local:8018"]
        );
    }

    fn decorated(policy: &CorsPolicy, headers: &[(&str, &str)]) -> Response {
        let mut resp = Response::detail(200, "x");
        policy.decorate(&request("GET", "/camera", headers), &mut resp);
        resp
    }

    #[test]
    fn simple_responses_in_local_mode() {
        let resp = decorated(&local(), &[("Origin", APP)]);
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some(APP));
        assert_eq!(resp.header("Vary"), Some("Origin"));
        assert!(resp.header("Access-Control-Allow-Credentials").is_none());
        assert!(resp.header(PNA_ALLOW).is_none());
        let resp = decorated(&local(), &[("Origin", "http://a.example")]);
        assert_eq!(
            resp.headers.len(),
            1,
            "only Content-Type: {:?}",
            resp.headers
        );
    }

    #[test]
    fn no_origin_means_no_cors_headers() {
        for policy in [local(), remote()] {
            let resp = decorated(&policy, &[]);
            assert_eq!(resp.headers.len(), 1, "only Content-Type");
        }
    }

    #[test]
    fn simple_responses_in_remote_mode() {
        let resp = decorated(&remote(), &[("Origin", "http://pi.local:8018")]);
        assert_eq!(
            resp.header("Access-Control-Allow-Origin"),
            Some("http://pi.local:8018")
        );
        assert_eq!(
            resp.header("Access-Control-Allow-Credentials"),
            Some("true")
        );
        assert_eq!(resp.header("Vary"), Some("Origin"));
        assert!(resp.header(PNA_ALLOW).is_none());

        let resp = decorated(&remote(), &[("Origin", "https://evil.example")]);
        assert!(resp.header("Access-Control-Allow-Origin").is_none());
        assert!(resp.header("Vary").is_none());
    }

    #[test]
    fn vary_is_merged_not_duplicated() {
        let mut resp = Response::detail(200, "x").with_header("Vary", "Accept-Encoding");
        let req = request("GET", "/", &[("Origin", APP)]);
        remote().decorate(&req, &mut resp);
        remote().decorate(&req, &mut resp);
        assert_eq!(resp.header("Vary"), Some("Accept-Encoding, Origin"));
    }

    #[test]
    fn a_wildcard_origin_setting_allows_all() {
        let policy = CorsPolicy::new(false, vec!["*".into()], "X-API-Key");
        let resp = preflight(
            &policy,
            &[
                ("Origin", "http://any"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.header("Access-Control-Allow-Origin"),
            Some("http://any")
        );
        assert_eq!(
            resp.header("Access-Control-Allow-Credentials"),
            Some("true")
        );
        let local_star = CorsPolicy::new(true, vec!["*".into()], "X-API-Key");
        let resp = decorated(&local_star, &[("Origin", "http://any")]);
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
        assert!(resp.header("Access-Control-Allow-Credentials").is_none());
    }
}
