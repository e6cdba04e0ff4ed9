//! The router: every route, for local HTTP and the relay alike, behind the same middleware
//! (request id, CORS and Private Network Access, auth, security headers).

pub mod action_limits;
pub mod camera;
pub mod camera_power;
pub mod captures;
pub mod guards;
pub mod health;
pub mod hub;
pub mod login;
pub mod openapi;
pub mod pairing;
pub mod preview;
pub mod recordings;
pub mod routes;
pub mod setup_page;
pub mod stills;
pub mod streams;
pub mod system;
pub mod timelapse;
pub mod upload_metadata;
pub mod validation;
pub mod web;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use routes::{Auth, Guard, LocalTier, Match, Route};

use crate::auth::login_limiter::too_many_attempts;
use crate::auth::{self, Access};
use crate::http::server::{Admission, Handler, DEFAULT_MAX_BODY};
use crate::http::{request_id, security_headers, site_guard, Request, Response};
use crate::runtime::Runtime;

/// The methods some route answers, for a `TRACE` to a path no route serves.
const SERVED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Every route picamd serves. `GET` routes answer `HEAD` too.
pub const ROUTES: &[Route] = &[
    route("GET", "/", Auth::None, web::landing),
    guarded(
        "GET",
        "/setup",
        Auth::Local(web::SETUP_LOCAL_ONLY),
        Guard::SameSite(web::SETUP_CROSS_SITE),
        web::setup,
    ),
    route("GET", "/docs", Auth::None, web::docs),
    route("GET", "/openapi.json", Auth::None, openapi::document),
    route("GET", "/favicon.ico", Auth::None, web::favicon),
    route("GET", "/static/{file:path}", Auth::None, web::static_file),
    route("GET", "/time", Auth::None, system::time),
    route("GET", "/health", Auth::None, health::health),
    route(
        "GET",
        "/healthz",
        Auth::Local(health::LIVENESS_LOCAL_ONLY),
        health::healthz,
    ),
    route("GET", "/metrics", Auth::Key, system::metrics),
    guarded(
        "POST",
        "/auth/login",
        Auth::None,
        Guard::SameSite(login::CROSS_SITE),
        login::login,
    ),
    route("POST", "/auth/logout", Auth::None, login::logout),
    route("GET", "/auth/session", Auth::None, login::session_state),
    route("GET", "/pairing/state", Auth::None, pairing::state),
    guarded(
        "POST",
        "/pairing/code",
        Auth::Key,
        Guard::SameSite(pairing::CROSS_SITE),
        pairing::new_code,
    ),
    guarded(
        "DELETE",
        "/pairing",
        Auth::Key,
        Guard::SameSite(pairing::CROSS_SITE),
        pairing::unpair,
    ),
    guarded(
        "GET",
        "/local-key",
        Auth::Local(system::KEY_LOCAL_ONLY),
        Guard::SameSite(system::KEY_CROSS_SITE),
        system::local_key,
    ),
    guarded(
        "GET",
        "/preview-thumbnail.jpg",
        Auth::Local(stills::THUMBNAIL_LOCAL_ONLY),
        Guard::SameSite(stills::THUMBNAIL_CROSS_SITE),
        stills::thumbnail,
    ),
    guarded(
        "POST",
        "/preview/start",
        Auth::Key,
        Guard::SameSite(preview::CONTROL_CROSS_SITE),
        preview::start,
    ),
    guarded(
        "POST",
        "/preview/stop",
        Auth::Key,
        Guard::SameSite(preview::CONTROL_CROSS_SITE),
        preview::stop,
    ),
    guarded(
        "GET",
        "/preview/hls/{hls_path:path}",
        Auth::LocalOrCdn(preview::LOCAL_ONLY),
        Guard::OwnHost,
        preview::hls,
    ),
    guarded(
        "GET",
        "/preview/live.mp4",
        Auth::Local(preview::LOCAL_ONLY),
        Guard::OwnHost,
        preview::live,
    ),
    route("GET", "/camera", Auth::Key, camera::status),
    route("GET", "/camera/controls", Auth::Key, camera::controls),
    route(
        "PATCH",
        "/camera/controls",
        Auth::Key,
        camera::patch_controls,
    ),
    route("PUT", "/camera/focus", Auth::Key, camera::focus),
    route("GET", "/camera/status", VIEW, camera_power::status),
    route("POST", "/camera/start", CONTROL, camera_power::start),
    route("POST", "/camera/stop", CONTROL, camera_power::stop),
    route("POST", "/captures", Auth::Key, captures::create),
    route("GET", "/captures", Auth::Key, captures::list),
    route("GET", "/captures/{image_id}", Auth::Key, captures::image),
    route("GET", "/frame", VIEW, stills::frame),
    route("GET", "/stream.mjpg", VIEW, stills::mjpeg),
    route("POST", "/streams/youtube", Auth::Key, streams::start),
    route("GET", "/streams/youtube", Auth::Key, streams::status),
    route("DELETE", "/streams/youtube", Auth::Key, streams::stop),
    route("POST", "/record/start", CONTROL, recordings::seed_start),
    route("POST", "/record/stop", CONTROL, recordings::seed_stop),
    route("GET", "/recordings", Auth::Key, recordings::list),
    route("GET", "/recorder", VIEW, recordings::state),
    route("POST", "/recorder/start", CONTROL, recordings::start),
    route("POST", "/recorder/stop", CONTROL, recordings::stop),
    route("GET", "/recordings/{name}", Auth::Key, recordings::download),
    route(
        "DELETE",
        "/recordings/{name}",
        Auth::Key,
        recordings::delete,
    ),
    route("GET", "/timelapse", Auth::Key, timelapse::status),
    route("PUT", "/timelapse", Auth::Key, timelapse::update),
    route("GET", "/timelapse/images", Auth::Key, timelapse::images),
    route(
        "GET",
        "/timelapse/images/{name}",
        Auth::Key,
        timelapse::image,
    ),
    route("GET", "/system/telemetry", Auth::Key, system::telemetry),
    route(
        "GET",
        "/system/local-access",
        Auth::Key,
        system::local_access,
    ),
    // The seed-004 camera hub (404 unless HUB_ENABLED); cameras authenticate by token.
    route("GET", "/camera/hello", Auth::None, hub::hello),
    route("GET", "/camera/list", Auth::None, hub::list),
    route("GET", "/camera/get-image", Auth::None, hub::get_image),
    Route {
        max_body: hub::MAX_UPLOAD_BODY,
        ..route(
            "POST",
            "/camera/update-image",
            Auth::None,
            hub::update_image,
        )
    },
    route("POST", "/camera/update", Auth::None, hub::update),
    route("GET", "/camera/stream-image", Auth::None, hub::stream_image),
    route("GET", "/video-input-stream", Auth::None, hub::input_stream),
    route(
        "GET",
        "/video-output-stream",
        Auth::None,
        hub::output_stream,
    ),
    route("GET", "/hub", Auth::None, hub::page),
    route("GET", "/hub/state", Auth::None, hub::state),
];

/// Watching the camera: the local network without a key unless `LOCAL_VIEW_WITHOUT_KEY=0`.
const VIEW: Auth = Auth::LocalOrKey(LocalTier::View);
/// Switching the camera or a recording: the local network without a key only with
/// `LOCAL_CONTROL_WITHOUT_KEY=1`.
const CONTROL: Auth = Auth::LocalOrKey(LocalTier::Control);

const fn route(
    method: &'static str,
    pattern: &'static str,
    auth: Auth,
    handler: routes::Handler,
) -> Route {
    guarded(method, pattern, auth, Guard::Open, handler)
}

const fn guarded(
    method: &'static str,
    pattern: &'static str,
    auth: Auth,
    guard: Guard,
    handler: routes::Handler,
) -> Route {
    Route {
        method,
        pattern,
        auth,
        guard,
        handler,
        max_body: DEFAULT_MAX_BODY,
    }
}

pub struct Api {
    rt: Arc<Runtime>,
}

impl Api {
    pub fn new(rt: Arc<Runtime>) -> Api {
        Api { rt }
    }
}

impl Handler for Api {
    fn admit(&self, req: &Request) -> Admission {
        admit(&self.rt, req)
    }

    fn handle(&self, req: &Request) -> Response {
        handle(&self.rt, req)
    }

    /// Parked LL-HLS requests wait for the store's changes.
    fn attach_waker(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        self.rt.media.hls.on_change(wake);
    }

    /// The LL-HLS routes: with `may_park` set they answer from the store at once or park;
    /// their guard and auth checks (local network, CDN secret) do not block either.
    fn never_blocks(&self, req: &Request) -> bool {
        matches!(req.method.as_str(), "GET" | "HEAD") && req.path.starts_with(preview::HLS_ROOT)
    }
}

/// Decides on a request's head alone: a request that is answered without its handler
/// (404, 405, a redirect, 401/403) is answered now, before its body is read; one that
/// will run gets its route's body limit. Every route's JSON body is under 4 KiB, so the
/// default limit (16 KiB) serves them all.
pub fn admit(rt: &Runtime, req: &Request) -> Admission {
    let accept = |max_body| Admission::Accept { max_body };
    if rt.site.cors.preflight(req).is_some() {
        return accept(DEFAULT_MAX_BODY);
    }
    match routes::find(ROUTES, &req.method, &req.path) {
        // The hub's upload takes megabytes: none is read while the hub is off.
        Match::Found(route, _) if route.pattern == hub::UPLOAD && rt.hub.is_none() => {
            Admission::Refuse(finish(rt, req, Response::not_found()))
        }
        Match::Found(route, _) => match authorize(rt, req, route.auth)
            .and_then(|()| guards::check(rt, req, route.guard))
        {
            Ok(()) => accept(route.max_body),
            Err(resp) => Admission::Refuse(finish(rt, req, resp)),
        },
        Match::WrongMethod(_) | Match::NotFound => Admission::Refuse(handle(rt, req)),
    }
}

/// Answers one request, from the network or from the relay.
pub fn handle(rt: &Runtime, req: &Request) -> Response {
    // Preflights are answered by the CORS layer alone, as the plugin does.
    let guard = routes::guard_at(ROUTES, &req.path);
    if let Some(resp) = guards::refuse_preflight(req, guard) {
        return resp;
    }
    if let Some(resp) = rt.site.cors.preflight(req) {
        return resp;
    }
    let answer = panic::catch_unwind(AssertUnwindSafe(|| route_request(rt, req)));
    finish(rt, req, answer.unwrap_or_else(|_| internal_error(req)))
}

/// A handler panicked: plugin 0.4+'s 500 body, with the request id to find the log line by.
fn internal_error(req: &Request) -> Response {
    let id = request_id::request_id(req);
    log::error!(
        "handler panicked on {} {} (request {id})",
        req.method,
        req.path
    );
    let body = serde_json::json!({
        "detail": {"message": "Internal server error", "request_id": id}
    });
    Response::json(500, &body).with_header(request_id::HEADER, &id)
}

/// The middleware every answer passes on its way out.
fn finish(rt: &Runtime, req: &Request, mut resp: Response) -> Response {
    security_headers::apply(
        &req.path,
        rt.config.relab.http.base_url_is_https(),
        &mut resp,
    );
    if resp.header(request_id::HEADER).is_none() {
        resp = resp.with_header(request_id::HEADER, &request_id::request_id(req));
    }
    // Same-site routes answer no one else: no CORS or Private Network Access grants.
    if !matches!(routes::guard_at(ROUTES, &req.path), Guard::SameSite(_)) {
        rt.site.cors.decorate(req, &mut resp);
    }
    resp
}

fn route_request(rt: &Runtime, req: &Request) -> Response {
    match routes::find(ROUTES, &req.method, &req.path) {
        Match::Found(route, params) => match authorize(rt, req, route.auth)
            .and_then(|()| guards::check(rt, req, route.guard))
            .and_then(|()| action_limits::check(rt, req, route.method, route.pattern))
        {
            Ok(()) => (route.handler)(rt, req, &params),
            Err(resp) => resp,
        },
        Match::WrongMethod(allow) => Response::method_not_allowed(&allow),
        // Plugin 0.4+ refuses TRACE everywhere.
        Match::NotFound if req.method == "TRACE" => Response::method_not_allowed(SERVED_METHODS),
        Match::NotFound => redirect_slash(req).unwrap_or_else(Response::not_found),
    }
}

/// `/camera/` → 307 to `/camera` when that route exists (Starlette's `redirect_slashes`).
fn redirect_slash(req: &Request) -> Option<Response> {
    let trimmed = req.path.strip_suffix('/').filter(|p| !p.is_empty())?;
    if matches!(routes::find(ROUTES, &req.method, trimmed), Match::NotFound) {
        return None;
    }
    let location = if req.query.is_empty() {
        trimmed.to_string()
    } else {
        format!("{trimmed}?{}", req.query)
    };
    Some(Response::empty(307).with_header("Location", &location))
}

fn authorize(rt: &Runtime, req: &Request, needed: Auth) -> Result<(), Response> {
    match needed {
        Auth::None => Ok(()),
        Auth::Local(detail) => {
            if auth::is_local_peer(req.peer.map(|p| p.ip())) {
                Ok(())
            } else {
                Err(Response::detail(403, detail))
            }
        }
        Auth::LocalOrCdn(detail) => {
            if is_cdn(rt, req) || auth::is_local_peer(req.peer.map(|p| p.ip())) {
                Ok(())
            } else {
                Err(Response::detail(403, detail))
            }
        }
        Auth::Key => check_key(rt, req),
        Auth::LocalOrKey(tier) => {
            let settings = &rt.config.relab.auth;
            let open = match tier {
                LocalTier::View => settings.local_view_without_key,
                LocalTier::Control => settings.local_control_without_key,
            };
            // A key that is sent is checked (and a wrong one counted) even where none is
            // needed, so a misconfigured client learns of it.
            let sends_key = auth::check::presented_key(req, &settings.key_name).is_some();
            if open && !sends_key && auth::is_local_peer(req.peer.map(|p| p.ip())) {
                Ok(())
            } else {
                check_key(rt, req)
            }
        }
    }
}

/// Whether the request comes from an edge or CDN holding `HLS_CDN_SECRET`.
pub fn is_cdn(rt: &Runtime, req: &Request) -> bool {
    auth::cdn::presents_cdn_secret(req, rt.config.relab.auth.hls_cdn_secret.expose())
}

/// Plugin 0.4+'s answer to a cookie-authenticated write from anywhere but the camera's pages.
pub const SAME_ORIGIN_REQUIRED: &str = "Same-origin browser request required";

/// A request authenticated by its session cookie (no key) that may change something: the
/// browser sent the cookie on its own, so the page that asked must be one of ours (CSRF).
fn by_cookie_unsafely(req: &Request, key_name: &str) -> bool {
    !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS")
        && auth::check::presented_key(req, key_name).is_none()
}

/// The `authed` check, with wrong keys counted by the login limiter: a client that sent
/// five wrong keys (here or to `/auth/login`) within 300 s gets 429 for any key it sends,
/// right or wrong, until its block ends. Relayed commands carry picamd's own relay key and
/// are neither counted nor blocked (they come "from" 127.0.0.1, which a local process could
/// otherwise get blocked).
fn check_key(rt: &Runtime, req: &Request) -> Result<(), Response> {
    let relab = &rt.config.relab;
    let now = Instant::now();
    let sends_key = auth::check::presented_key(req, &relab.auth.key_name).is_some();
    let limited_ip = req
        .peer
        .map(|p| p.ip())
        .filter(|_| sends_key && !req.relayed);
    if let Some(ip) = limited_ip {
        if let Err(retry_after) = rt.auth.login_limiter().check(ip, now) {
            return Err(too_many_attempts(retry_after));
        }
    }
    let access = rt
        .auth
        .check(req, &relab.auth.key_name, &relab.session_cookie_name(), now);
    match access {
        Access::Granted if by_cookie_unsafely(req, &relab.auth.key_name) => {
            if site_guard::is_same_origin(req) {
                Ok(())
            } else {
                Err(Response::detail(403, SAME_ORIGIN_REQUIRED))
            }
        }
        Access::Granted => Ok(()),
        denied => {
            let resp = denied.into_error().expect("denied access has an error");
            if let (Some(ip), Access::Invalid) = (limited_ip, denied) {
                rt.auth.login_limiter().record(ip, resp.status, now);
            }
            Err(resp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::test_runtime;

    #[test]
    fn trace_is_refused_everywhere_with_allow() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        for (path, allow) in [("/nope", SERVED_METHODS), ("/time", "GET, HEAD")] {
            let resp = handle(&rt, &Request::new("TRACE", path).unwrap());
            assert_eq!(resp.status, 405, "{path}");
            assert_eq!(resp.header("Allow"), Some(allow), "{path}");
        }
    }

    #[test]
    fn a_panic_is_the_plugins_500_with_the_request_id() {
        let mut req = Request::new("GET", "/camera").unwrap();
        req.headers.push(("X-Request-ID".into(), "trace-7".into()));
        let resp = internal_error(&req);
        assert_eq!(resp.status, 500);
        assert_eq!(resp.header("X-Request-ID"), Some("trace-7"));
        let body: serde_json::Value = serde_json::from_slice(&resp.body.to_vec()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"detail": {"message": "Internal server error", "request_id": "trace-7"}})
        );
    }
}
