//! The `authed` check of §1.1: an API key header, or else a browser session cookie.

use std::time::Instant;

use super::keys::KeySet;
use super::sessions::SessionStore;
use crate::http::{Request, Response};

pub const MISSING_CREDENTIALS: &str = "API Key header or browser session is missing";
pub const INVALID_API_KEY: &str = "Invalid API Key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    /// Neither a key nor a live session: 401.
    Missing,
    /// A key was given and matched nothing: 403.
    Invalid,
}

impl Access {
    /// The error answer for a refusal; `None` when access is granted.
    pub fn into_error(self) -> Option<Response> {
        match self {
            Access::Granted => None,
            Access::Missing => Some(Response::detail(401, MISSING_CREDENTIALS)),
            Access::Invalid => Some(Response::detail(403, INVALID_API_KEY)),
        }
    }
}

/// A non-empty key header decides alone: a wrong key is refused even when a valid session
/// cookie comes with it. Without a key, a live session grants access.
pub fn check(
    req: &Request,
    key_header_name: &str,
    cookie_name: &str,
    keys: &KeySet,
    sessions: &mut SessionStore,
    now: Instant,
) -> Access {
    if let Some(key) = presented_key(req, key_header_name) {
        return if keys.contains(key) {
            Access::Granted
        } else {
            Access::Invalid
        };
    }
    match cookie_value(req, cookie_name) {
        Some(token) if sessions.is_valid(token, now) => Access::Granted,
        _ => Access::Missing,
    }
}

/// The API key a request presents: the key header, or else `Authorization: Bearer <key>`
/// (what Prometheus sends for a scrape job's `authorization` credentials).
pub fn presented_key<'a>(req: &'a Request, key_header_name: &str) -> Option<&'a str> {
    if let Some(key) = req.header(key_header_name).filter(|k| !k.is_empty()) {
        return Some(key);
    }
    let credentials = req.header("Authorization")?.trim();
    let (scheme, token) = credentials.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name`, looking through every `Cookie` header in order; the first match
/// wins (browsers list the cookie with the most specific path first). Surrounding double quotes
/// are removed. Pairs without `=` are skipped.
pub fn cookie_value<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sessions::SESSION_TTL;

    const KEY_HEADER: &str = "X-API-Key";
    const COOKIE: &str = "relab_session";

    struct Fixture {
        keys: KeySet,
        sessions: SessionStore,
        token: String,
        now: Instant,
    }

    fn fixture() -> Fixture {
        let now = Instant::now();
        let mut sessions = SessionStore::new(SESSION_TTL, 10);
        let token = sessions.create(now).unwrap();
        Fixture {
            keys: KeySet::new(vec!["good-key".into(), "local_other".into()]),
            sessions,
            token,
            now,
        }
    }

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new("GET", "/camera").unwrap();
        req.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        req
    }

    fn run(f: &mut Fixture, headers: &[(&str, &str)]) -> Access {
        check(
            &request(headers),
            KEY_HEADER,
            COOKIE,
            &f.keys,
            &mut f.sessions,
            f.now,
        )
    }

    #[test]
    fn test_auth_cases() {
        let mut f = fixture();
        let session = format!("relab_session={}", f.token);
        assert_eq!(run(&mut f, &[]), Access::Missing);
        assert_eq!(run(&mut f, &[("X-API-Key", "wrong-key")]), Access::Invalid);
        assert_eq!(run(&mut f, &[("X-API-Key", "good-key")]), Access::Granted);
        assert_eq!(
            run(&mut f, &[("x-api-key", "local_other")]),
            Access::Granted
        );
        assert_eq!(run(&mut f, &[("Cookie", &session)]), Access::Granted);
    }

    #[test]
    fn a_wrong_key_is_refused_even_with_a_valid_session() {
        let mut f = fixture();
        let session = format!("relab_session={}", f.token);
        let headers = [("X-API-Key", "wrong"), ("Cookie", session.as_str())];
        assert_eq!(run(&mut f, &headers), Access::Invalid);
    }

    #[test]
    fn an_empty_key_header_falls_back_to_the_cookie() {
        let mut f = fixture();
        let session = format!("relab_session={}", f.token);
        let headers = [("X-API-Key", ""), ("Cookie", session.as_str())];
        assert_eq!(run(&mut f, &headers), Access::Granted);
        assert_eq!(run(&mut f, &[("X-API-Key", "")]), Access::Missing);
    }

    #[test]
    fn unknown_or_expired_sessions_are_missing_credentials() {
        let mut f = fixture();
        let session = format!("relab_session={}", f.token);
        assert_eq!(
            run(&mut f, &[("Cookie", "relab_session=forged")]),
            Access::Missing
        );
        assert_eq!(
            run(&mut f, &[("Cookie", "relab_session=")]),
            Access::Missing
        );
        assert_eq!(
            run(&mut f, &[("Cookie", "other_cookie=x")]),
            Access::Missing
        );
        f.now += SESSION_TTL;
        assert_eq!(run(&mut f, &[("Cookie", &session)]), Access::Missing);
    }

    #[test]
    fn the_key_header_name_is_configurable() {
        let mut f = fixture();
        let req = request(&[("X-Camera-Key", "good-key"), ("X-API-Key", "wrong")]);
        let access = check(
            &req,
            "X-Camera-Key",
            COOKIE,
            &f.keys,
            &mut f.sessions,
            f.now,
        );
        assert_eq!(access, Access::Granted);
    }

    #[test]
    fn cookie_parsing() {
        let req = request(&[
            ("Cookie", "theme=dark; relab_session=abc123 ; junk"),
            ("cookie", "relab_session=later; b=\"quoted\""),
        ]);
        assert_eq!(cookie_value(&req, "relab_session"), Some("abc123"));
        assert_eq!(cookie_value(&req, "theme"), Some("dark"));
        assert_eq!(cookie_value(&req, "b"), Some("quoted"));
        assert_eq!(cookie_value(&req, "junk"), None);
        assert_eq!(cookie_value(&req, "relab"), None);
        assert_eq!(
            cookie_value(&req, "Theme"),
            None,
            "names are case-sensitive"
        );
        let req = request(&[("Cookie", "a=x=y; c=\"; d=;")]);
        assert_eq!(cookie_value(&req, "a"), Some("x=y"));
        assert_eq!(cookie_value(&req, "c"), Some("\""));
        assert_eq!(cookie_value(&req, "d"), Some(""));
        assert_eq!(cookie_value(&request(&[("Cookie", "")]), "a"), None);
    }

    #[test]
    fn errors_have_the_contract_status_and_detail() {
        assert!(Access::Granted.into_error().is_none());
        let missing = Access::Missing.into_error().unwrap();
        assert_eq!(missing.status, 401);
        assert_eq!(
            missing.body.to_vec(),
            br#"{"detail":"API Key header or browser session is missing"}"#
        );
        assert!(missing.header("WWW-Authenticate").is_none());
        let invalid = Access::Invalid.into_error().unwrap();
        assert_eq!(invalid.status, 403);
        assert_eq!(invalid.body.to_vec(), br#"{"detail":"Invalid API Key"}"#);
    }
}
