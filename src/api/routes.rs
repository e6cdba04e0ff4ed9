//! Route patterns and matching: `/captures/{image_id}` matches one path segment,
//! `/preview/hls/{hls_path:path}` the rest of the path.

use crate::http::{Request, Response};
use crate::runtime::Runtime;

/// Who may call a route (contract §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Loopback, private or link-local peers only; the text is the 403 detail.
    Local(&'static str),
    /// As `Local`, or any peer presenting `HLS_CDN_SECRET` as a bearer token (an edge or
    /// CDN), which also passes the route's `Host` guard.
    LocalOrCdn(&'static str),
    /// `X-API-Key` or a browser session.
    Key,
    /// A local-network peer needs no key when its tier's setting allows it
    /// (`LOCAL_VIEW_WITHOUT_KEY`, `LOCAL_CONTROL_WITHOUT_KEY`); anyone else as [`Auth::Key`].
    LocalOrKey(LocalTier),
}

/// What a [`Auth::LocalOrKey`] route does, which decides the setting that opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalTier {
    /// Watching: `/frame`, `/stream.mjpg`, `/camera/status`.
    View,
    /// Starting and stopping the camera or a recording.
    Control,
}

impl Auth {
    /// The name the OpenAPI document uses (`x-picamd-auth`).
    pub fn name(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Local(_) => "local",
            Auth::LocalOrCdn(_) => "local-or-cdn",
            Auth::Key => "key",
            Auth::LocalOrKey(LocalTier::View) => "local-view-or-key",
            Auth::LocalOrKey(LocalTier::Control) => "local-control-or-key",
        }
    }
}

/// What a route asks of a browser request beyond [`Auth`] (see `http::site_guard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone `auth` lets in.
    Open,
    /// `Host` must name this daemon (DNS rebinding): 421 otherwise.
    OwnHost,
    /// `Host` as [`Guard::OwnHost`], and no cross-site request (403 with this detail); the
    /// answer carries no CORS or Private Network Access grant, and preflights are refused.
    SameSite(&'static str),
}

pub type Handler = fn(&Runtime, &Request, &Params) -> Response;

pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub auth: Auth,
    pub guard: Guard,
    pub handler: Handler,
    /// The longest body the route reads; longer ones get 413 before they are read.
    pub max_body: usize,
}

/// Values captured from the path.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

pub enum Match<'a> {
    Found(&'a Route, Params),
    /// The path exists with other methods (for 405 and its `Allow`).
    WrongMethod(String),
    NotFound,
}

/// The guard of the routes at `path` (any method), the strictest when they differ.
pub fn guard_at(routes: &[Route], path: &str) -> Guard {
    let mut guard = Guard::Open;
    for route in routes {
        if match_pattern(route.pattern, path).is_some() {
            guard = match (guard, route.guard) {
                (_, same @ Guard::SameSite(_)) | (same @ Guard::SameSite(_), _) => same,
                (Guard::OwnHost, _) | (_, Guard::OwnHost) => Guard::OwnHost,
                _ => Guard::Open,
            };
        }
    }
    guard
}

/// Finds the route for a request. HEAD is served by the GET route.
pub fn find<'a>(routes: &'a [Route], method: &str, path: &str) -> Match<'a> {
    let wanted = if method == "HEAD" { "GET" } else { method };
    let mut allowed: Vec<&str> = Vec::new();
    for route in routes {
        if let Some(params) = match_pattern(route.pattern, path) {
            if route.method == wanted {
                return Match::Found(route, params);
            }
            allowed.push(route.method);
            if route.method == "GET" {
                allowed.push("HEAD");
            }
        }
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        allowed.dedup();
        Match::WrongMethod(allowed.join(", "))
    }
}

pub fn match_pattern(pattern: &'static str, path: &str) -> Option<Params> {
    let mut params = Params::default();
    let mut rest = path.strip_prefix('/')?;
    let mut segments = pattern.strip_prefix('/')?.split('/').peekable();
    while let Some(seg) = segments.next() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix(":path}")) {
            if rest.is_empty() {
                return None;
            }
            params.0.push((name, rest.to_string()));
            return Some(params);
        }
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if head.is_empty() {
                return None;
            }
            params.0.push((name, head.to_string()));
        } else if seg != head {
            return None;
        }
        let more_pattern = segments.peek().is_some();
        let more_path = rest.contains('/');
        if more_pattern != more_path {
            return None;
        }
        rest = tail;
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Runtime, _: &Request, _: &Params) -> Response {
        Response::empty(200)
    }

    const ROUTES: &[Route] = &[
        Route {
            method: "GET",
            pattern: "/",
            auth: Auth::None,
            guard: Guard::Open,
            handler: ok,
            max_body: 0,
        },
        Route {
            method: "GET",
            pattern: "/camera/controls",
            auth: Auth::Key,
            guard: Guard::Open,
            handler: ok,
            max_body: 0,
        },
        Route {
            method: "PATCH",
            pattern: "/camera/controls",
            auth: Auth::Key,
            guard: Guard::Open,
            handler: ok,
            max_body: 0,
        },
        Route {
            method: "GET",
            pattern: "/captures/{image_id}",
            auth: Auth::Key,
            guard: Guard::Open,
            handler: ok,
            max_body: 0,
        },
        Route {
            method: "GET",
            pattern: "/preview/hls/{hls_path:path}",
            auth: Auth::Local("x"),
            guard: Guard::OwnHost,
            handler: ok,
            max_body: 0,
        },
    ];

    fn found(method: &str, path: &str) -> Option<(&'static str, Params)> {
        match find(ROUTES, method, path) {
            Match::Found(r, p) => Some((r.pattern, p)),
            _ => None,
        }
    }

    #[test]
    fn matches_literals_and_parameters() {
        assert_eq!(found("GET", "/").unwrap().0, "/");
        assert_eq!(found("HEAD", "/").unwrap().0, "/");
        assert_eq!(
            found("PATCH", "/camera/controls").unwrap().0,
            "/camera/controls"
        );
        let (_, p) = found("GET", "/captures/abc").unwrap();
        assert_eq!(p.get("image_id"), "abc");
        let (_, p) = found("GET", "/preview/hls/cam-preview/index.m3u8").unwrap();
        assert_eq!(p.get("hls_path"), "cam-preview/index.m3u8");
        for miss in [
            "/captures",
            "/captures/",
            "/captures/a/b",
            "/camera",
            "/camera/controls/x",
            "//",
            "/preview/hls/",
            "",
        ] {
            assert!(found("GET", miss).is_none(), "{miss}");
        }
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        match find(ROUTES, "DELETE", "/camera/controls") {
            Match::WrongMethod(allow) => assert_eq!(allow, "GET, HEAD, PATCH"),
            _ => panic!("expected 405"),
        }
        assert!(matches!(find(ROUTES, "GET", "/nope"), Match::NotFound));
    }
}
