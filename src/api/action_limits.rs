//! Which routes the per-route action limits cover (plugin 0.4+), and the check itself.
//! Relayed commands are exempt: the backend limits its users itself, and a capture rig driven
//! through the relay must not stop at 20 captures per 5 minutes.

use std::time::Instant;

use crate::auth::action_limiter::TOO_MANY_REQUESTS;
use crate::auth::check::{cookie_value, presented_key};
use crate::config::action_limits::ActionGroup;
use crate::http::{Request, Response};
use crate::runtime::Runtime;

/// The group of the route `method pattern`, if it is an action route.
pub fn group_of(method: &str, pattern: &str) -> Option<ActionGroup> {
    match (method, pattern) {
        ("POST", "/captures") => Some(ActionGroup::Captures),
        ("PATCH", "/camera/controls") => Some(ActionGroup::Controls),
        ("PUT", "/camera/focus") => Some(ActionGroup::Focus),
        ("POST", "/preview/start" | "/preview/stop") => Some(ActionGroup::Preview),
        ("POST", "/pairing/code") | ("DELETE", "/pairing") => Some(ActionGroup::Pairing),
        ("POST", "/streams/youtube") => Some(ActionGroup::Streams),
        _ => None,
    }
}

/// Counts a request to an action route: `429` with `Retry-After` when its client is over
/// the group's limit.
pub fn check(rt: &Runtime, req: &Request, method: &str, pattern: &str) -> Result<(), Response> {
    let Some(group) = group_of(method, pattern) else {
        return Ok(());
    };
    if req.relayed {
        return Ok(());
    }
    let auth = &rt.config.relab.auth;
    let cookie = rt.config.relab.session_cookie_name();
    let mut limiter = rt.auth.action_limiter();
    let client = limiter.client(
        presented_key(req, &auth.key_name),
        cookie_value(req, &cookie),
        req.peer.map(|p| p.ip()),
    );
    limiter
        .check(group, client, Instant::now())
        .map_err(|wait| {
            let seconds = wait.as_secs().max(1).to_string();
            Response::detail(429, TOO_MANY_REQUESTS).with_header("Retry-After", &seconds)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ROUTES;

    #[test]
    fn the_plugins_action_routes_and_only_they_are_limited() {
        let limited: Vec<String> = ROUTES
            .iter()
            .filter(|r| group_of(r.method, r.pattern).is_some())
            .map(|r| format!("{} {}", r.method, r.pattern))
            .collect();
        assert_eq!(
            limited,
            [
                "POST /pairing/code",
                "DELETE /pairing",
                "POST /preview/start",
                "POST /preview/stop",
                "PATCH /camera/controls",
                "PUT /camera/focus",
                "POST /captures",
                "POST /streams/youtube",
            ]
        );
    }
}
