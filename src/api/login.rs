//! `POST /auth/login` and `POST /auth/logout`: browser sessions backed by the API key.

use std::time::Instant;

use serde_json::json;

use super::routes::Params;
use super::validation::{unprocessable, FieldError};
use crate::auth::login::{clear_cookie, parse_form, safe_redirect, session_cookie};
use crate::auth::login_limiter::too_many_attempts;
use crate::auth::{cookie_value, Access};
use crate::http::{Request, Response};
use crate::runtime::Runtime;

/// Logging in is for the camera's own pages: another site's form cannot post keys here.
pub const CROSS_SITE: &str = "Cross-site login requests are not allowed.";

pub fn login(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let now = Instant::now();
    let ip = req.peer.map(|p| p.ip());
    if let Some(ip) = ip {
        let mut limiter = rt.auth.login_limiter();
        if let Err(retry_after) = limiter.check(ip, now) {
            return too_many_attempts(retry_after);
        }
    }
    let resp = attempt(rt, req, now);
    // Only a key that was checked and refused counts: a malformed form (422) says nothing
    // about guessing, and counting it would let any page lock its visitor out.
    if let Some(ip) = ip.filter(|_| matches!(resp.status, 401 | 403)) {
        let mut limiter = rt.auth.login_limiter();
        limiter.record(ip, resp.status, now);
    }
    resp
}

fn attempt(rt: &Runtime, req: &Request, now: Instant) -> Response {
    let form = parse_form(&req.body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(key) = field("api_key").filter(|k| !k.is_empty()) else {
        return unprocessable(&[FieldError::new(
            "missing",
            &["body", "api_key"],
            "Field required",
            json!(null),
        )]);
    };
    let valid = rt.auth.is_authorized(key);
    if !valid {
        return Access::Invalid.into_error().expect("invalid has an error");
    }
    let created = rt.auth.sessions().create(now);
    let Ok(token) = created else {
        return Response::detail(500, "Cannot create a session: no system randomness");
    };
    let relab = &rt.config.relab;
    Response::empty(303)
        .with_header(
            "Location",
            &safe_redirect(field("redirect_url").unwrap_or("/")),
        )
        .with_header(
            "Set-Cookie",
            &session_cookie(&relab.session_cookie_name(), &token, relab.cookie_secure()),
        )
}

pub fn logout(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let relab = &rt.config.relab;
    let name = relab.session_cookie_name();
    if let Some(token) = cookie_value(req, &name) {
        rt.auth.sessions().remove(token);
    }
    Response::empty(303)
        .with_header("Location", "/")
        .with_header("Set-Cookie", &clear_cookie(&name, relab.cookie_secure()))
}

/// `GET /auth/session`: whether this browser's session cookie names a live session. Keys
/// are not looked at: an open route that checked them would be a guessing oracle outside
/// the login limiter. Asking counts as using the session (its idle time restarts).
pub fn session_state(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let name = rt.config.relab.session_cookie_name();
    let authenticated = cookie_value(req, &name)
        .is_some_and(|token| rt.auth.sessions().is_valid(token, Instant::now()));
    Response::json(200, &json!({ "authenticated": authenticated }))
        .with_header("Cache-Control", "no-store")
}
