//! The web UI routes: the landing page with the live preview, the setup page, the API
//! reference, the favicon and the static files under `/static/`.

use super::routes::Params;
use super::setup_page::{render_setup, SetupView};
use crate::clock;
use crate::config::backend::DEFAULT_PAIRING_BACKEND_URL;
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::system::interfaces;

pub const SETUP_LOCAL_ONLY: &str = "The setup page is only available from the local network";
pub const SETUP_CROSS_SITE: &str =
    "The setup page cannot be opened from another site; type its address into the browser";

/// Files under `www/` that are not served as they are.
const TEMPLATES: &[&str] = &["setup.html"];

fn page(rt: &Runtime, name: &str) -> Response {
    rt.site
        .static_files
        .file(name)
        .unwrap_or_else(|| Response::detail(500, &format!("The web UI file {name} is missing")))
}

pub fn landing(rt: &Runtime, _: &Request, _: &Params) -> Response {
    page(rt, "index.html")
}

pub fn docs(rt: &Runtime, _: &Request, _: &Params) -> Response {
    page(rt, "docs.html")
}

pub fn favicon(rt: &Runtime, _: &Request, _: &Params) -> Response {
    page(rt, "favicon.svg")
}

pub fn static_file(rt: &Runtime, _: &Request, params: &Params) -> Response {
    let name = params.get("file");
    if TEMPLATES.contains(&name) {
        return Response::not_found();
    }
    rt.site
        .static_files
        .file(name)
        .unwrap_or_else(Response::not_found)
}

pub fn setup(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let template = match rt.site.static_files.file("setup.html") {
        Some(resp) => resp.body.to_vec(),
        None => return Response::detail(500, "The web UI file setup.html is missing"),
    };
    let relab = &rt.config.relab;
    let relay = rt.auth.relay();
    let pairing = rt.link.pairing_view();
    let port = rt.config.listen.port();
    let backend = relab.backend.url.trim_end_matches('/').to_string();
    // As the plugin: the probe runs only while unpaired, where it helps find what is wrong.
    let backend_reachable =
        (relay.is_none() && !backend.is_empty()).then(|| rt.link.reachability.check(&backend));
    let view = SetupView {
        status: pairing.status,
        relay_enabled: relay.is_some(),
        pairing_code: pairing.code.clone(),
        code_expires_at: pairing
            .expires_at_unix
            .and_then(|t| u64::try_from(t).ok())
            .map(|t| clock::rfc3339_s(t * 1_000_000)),
        pairing_error: pairing.error_text(),
        backend_is_default: backend == DEFAULT_PAIRING_BACKEND_URL.trim_end_matches('/'),
        pairing_backend_url: backend,
        backend_reachable,
        relay_backend_url: relay.as_ref().map(|r| r.backend_url.clone()),
        camera_id: relay.as_ref().map(|r| r.camera_id.clone()),
        relay_connected: rt.link.relay_connected(),
        clock_skew: pairing.clock_skew.as_ref().map(|s| s.summary()),
        local_api_key: Some(rt.auth.local_api_key().to_string()).filter(|k| !k.is_empty()),
        lan_urls: interfaces::candidate_urls(port),
        port,
        version: env!("CARGO_PKG_VERSION"),
    };
    let html = render_setup(&String::from_utf8_lossy(&template), &view);
    Response::new(200, "text/html; charset=utf-8", Body::Text(html.into()))
        .with_header("Cache-Control", "no-store")
}
