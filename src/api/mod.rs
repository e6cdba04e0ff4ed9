//! The router: every route, for local HTTP and (later) the relay alike.

pub mod pages;
pub mod preview;

use std::sync::Arc;

use crate::http::server::Handler;
use crate::http::{Request, Response};
use crate::runtime::Runtime;

pub struct Api {
    rt: Arc<Runtime>,
}

impl Api {
    pub fn new(rt: Arc<Runtime>) -> Api {
        Api { rt }
    }
}

impl Handler for Api {
    fn handle(&self, req: &Request) -> Response {
        handle(&self.rt, req)
    }
}

pub fn handle(rt: &Runtime, req: &Request) -> Response {
    if let Some(rest) = req.path.strip_prefix(preview::HLS_ROOT) {
        return preview::hls(rt, req, rest);
    }
    match req.path.as_str() {
        "/time" => only_get(req).unwrap_or_else(|| {
            Response::json(
                200,
                &serde_json::json!({ "unix_us": crate::clock::unix_us() }),
            )
            .with_header("Cache-Control", "no-store")
        }),
        _ => match req.method.as_str() {
            "GET" | "HEAD" => rt
                .static_files
                .serve(req)
                .unwrap_or_else(Response::not_found),
            _ => Response::not_found(),
        },
    }
}

/// `Some(405)` unless the method is GET or HEAD.
pub fn only_get(req: &Request) -> Option<Response> {
    (!matches!(req.method.as_str(), "GET" | "HEAD"))
        .then(|| Response::method_not_allowed("GET, HEAD"))
}
