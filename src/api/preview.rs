//! `GET /preview/hls/cam-preview/...`: the LL-HLS playlist, init, parts and segments.

use super::only_get;
use crate::http::{Body, Request, Response};
use crate::media::llhls::{Directives, HlsFile, StoreError};
use crate::runtime::Runtime;

pub const HLS_ROOT: &str = "/preview/hls/";
const STREAM: &str = "cam-preview/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn hls(rt: &Runtime, req: &Request, path: &str) -> Response {
    if let Some(resp) = only_get(req) {
        return resp;
    }
    let Some(file) = path.strip_prefix(STREAM).and_then(HlsFile::parse) else {
        return error(StoreError::NotFound);
    };
    match file {
        HlsFile::Playlist => match Directives::parse(&req.query) {
            Err(e) => error(StoreError::BadRequest(e.0)),
            Ok(d) => match rt.hls.playlist(&d) {
                Ok(text) => Response::new(200, "application/vnd.apple.mpegurl", Body::Text(text))
                    .with_header("Cache-Control", "no-cache"),
                Err(e) => error(e),
            },
        },
        HlsFile::Init { prefix } => media(rt.hls.init(&prefix).map(Body::Shared)),
        HlsFile::Segment { prefix, msn } => media(rt.hls.segment(&prefix, msn).map(Body::Chunks)),
        HlsFile::Part { prefix, msn, index } => media(
            rt.hls
                .part(&prefix, msn, index)
                .map(|p| Body::Shared(p.data.clone())),
        ),
    }
}

fn media(result: Result<Body, StoreError>) -> Response {
    match result {
        Ok(body) => Response::new(200, "video/mp4", body).with_header("Cache-Control", IMMUTABLE),
        Err(e) => error(e),
    }
}

/// Errors must not be cached: a 404 for a part that is about to exist, pinned by a cache to
/// an immutable name, would break playback for everyone behind that cache.
fn error(e: StoreError) -> Response {
    let resp = match e {
        StoreError::BadRequest(detail) => Response::detail(400, &detail),
        StoreError::NotFound => Response::detail(404, "HLS path not found"),
        StoreError::Unavailable(detail) => {
            Response::detail(503, &detail).with_header("Retry-After", "1")
        }
    };
    resp.with_header("Cache-Control", "no-store")
}
