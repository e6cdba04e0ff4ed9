//! The live preview routes: `GET /preview/hls/cam-preview/...` (the LL-HLS playlist, init,
//! parts and segments), `GET /preview/live.mp4` (the per-frame live view) and
//! `POST /preview/start|stop`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::routes::Params;
use super::validation::{unprocessable, FieldError};
use crate::http::parking::Pending;
use crate::http::{Body, Request, Response};
use crate::media::llhls::store::ParkedElsewhere;
use crate::media::llhls::timeline::Part;
use crate::media::llhls::{Directives, HlsError, HlsFile, HlsStore, Polled};
use crate::preview::live::{self, LiveViewer};
use crate::runtime::Runtime;

pub const HLS_ROOT: &str = "/preview/hls/";
pub const LOCAL_ONLY: &str = "HLS preview is only available from the local network";
pub const CONTROL_CROSS_SITE: &str = "Preview control is not allowed from another site";
const STREAM: &str = "cam-preview/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The contract's path rule (checked before anything else, 422 on failure).
pub fn validate_path(path: &str) -> Result<(), Response> {
    let charset_ok = !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.".contains(&b));
    let error = if !charset_ok {
        Some((
            "string_pattern_mismatch",
            "String should match pattern '^[a-zA-Z0-9_\\-/\\.]+$'",
        ))
    } else if path.split('/').any(|seg| seg == "." || seg == "..") {
        Some(("value_error", "Value error, Path traversal not allowed"))
    } else {
        None
    };
    match error {
        Some((kind, msg)) => Err(unprocessable(&[FieldError::new(
            kind,
            &["path", "hls_path"],
            msg,
            json!(path),
        )])),
        None => Ok(()),
    }
}

pub fn hls(rt: &Runtime, req: &Request, params: &Params) -> Response {
    let path = params.get("hls_path");
    if let Err(resp) = validate_path(path) {
        return resp.with_header("Cache-Control", "no-store");
    }
    if path.starts_with(STREAM) {
        rt.media.preview.touch(Instant::now());
    }
    if req.on_responder {
        rt.media.hls.count_on_responder();
    }
    let Some(file) = path.strip_prefix(STREAM).and_then(HlsFile::parse) else {
        return error(HlsError::NotFound);
    };
    let hls = &rt.media.hls;
    match file {
        HlsFile::Playlist => match Directives::parse(&req.query) {
            Err(e) => error(HlsError::BadRequest(e.to_string())),
            Ok(d) if req.may_park => match hls.poll_playlist(&d) {
                Polled::Ready(result) => playlist_answer(result, &d, rt.config.segment_ms),
                Polled::Wait { .. } => park(rt, Waited::Playlist(d)),
            },
            Ok(d) => playlist_answer(hls.playlist(&d), &d, rt.config.segment_ms),
        },
        HlsFile::Init { prefix, session } => media(hls.init(&prefix, session).map(Body::Shared)),
        HlsFile::Segment { prefix, msn } => media(hls.segment(&prefix, msn).map(Body::Chunks)),
        HlsFile::Part { prefix, msn, index } if req.may_park => {
            match hls.poll_part(&prefix, msn, index) {
                Polled::Ready(result) => part_answer(result),
                Polled::Wait { .. } => park(rt, Waited::Part { prefix, msn, index }),
            }
        }
        HlsFile::Part { prefix, msn, index } => part_answer(hls.part(&prefix, msn, index)),
    }
}

fn playlist_answer(
    result: Result<Arc<str>, HlsError>,
    d: &Directives,
    segment_ms: u32,
) -> Response {
    match result {
        Ok(text) => Response::new(200, "application/vnd.apple.mpegurl", Body::Text(text))
            .with_header("Cache-Control", &playlist_cache_control(d, segment_ms)),
        Err(e) => error(e),
    }
}

fn part_answer(result: Result<Arc<Part>, HlsError>) -> Response {
    media(result.map(|p| Body::Shared(p.data.clone())))
}

/// What a parked LL-HLS request waits for.
enum Waited {
    Playlist(Directives),
    Part {
        prefix: String,
        msn: u64,
        index: u32,
    },
}

/// A blocking playlist reload or a hinted part, parked in the HTTP responder: it asks the
/// store again whenever the store announces a change, and answers as the blocking path
/// would (the same headers, the same timeout answer).
struct HlsWait {
    store: Arc<HlsStore>,
    waited: Waited,
    key: String,
    since: Instant,
    segment_ms: u32,
    _counted: ParkedElsewhere,
}

fn park(rt: &Runtime, waited: Waited) -> Response {
    let key = match &waited {
        Waited::Playlist(d) => format!("playlist {:?} {:?} {}", d.msn, d.part, d.skip),
        Waited::Part { prefix, msn, index } => format!("part {prefix} {msn} {index}"),
    };
    let store = &rt.media.hls;
    Response::parked(Box::new(HlsWait {
        store: Arc::clone(store),
        waited,
        key,
        since: Instant::now(),
        segment_ms: rt.config.segment_ms,
        _counted: store.park(),
    }))
}

impl Pending for HlsWait {
    fn key(&self) -> &str {
        &self.key
    }

    fn poll(&self) -> Result<Response, Instant> {
        let limit = match &self.waited {
            Waited::Playlist(d) => match self.store.poll_playlist(d) {
                Polled::Ready(result) => return Ok(playlist_answer(result, d, self.segment_ms)),
                Polled::Wait { limit } => limit,
            },
            Waited::Part { prefix, msn, index } => {
                match self.store.poll_part(prefix, *msn, *index) {
                    Polled::Ready(result) => return Ok(part_answer(result)),
                    Polled::Wait { limit } => limit,
                }
            }
        };
        Err(self.since + limit)
    }

    fn expire(&self, now: Instant) -> Response {
        let waited = now.saturating_duration_since(self.since);
        error(match self.waited {
            Waited::Playlist(_) => self.store.playlist_expired(waited),
            Waited::Part { .. } => self.store.part_expired(waited),
        })
    }
}

/// A playlist answer to `_HLS_msn` (with or without `_HLS_part`, `_HLS_skip`) holds at least
/// what it named, so it stays a valid answer to that URL: an edge may serve it to every
/// viewer asking the same, for a few target durations (the playlist's own minimum length,
/// RFC 8216 §6.2.2, so its newest parts are still served). A plain request (or a skip alone)
/// asks for "now": browsers revalidate it every time, while an edge may share it for one
/// second (as AWS recommends for LL-HLS), which turns a crowd polling it into one request
/// a second and costs a new viewer at most a second before its first blocking reload.
fn playlist_cache_control(d: &Directives, segment_ms: u32) -> String {
    if d.msn.is_some() {
        let target_s = segment_ms.div_ceil(1000).max(1);
        format!("public, max-age={}", 3 * target_s)
    } else {
        "public, max-age=0, s-maxage=1".to_string()
    }
}

fn media(result: Result<Body, HlsError>) -> Response {
    match result {
        Ok(body) => Response::new(200, "video/mp4", body).with_header("Cache-Control", IMMUTABLE),
        Err(e) => error(e),
    }
}

/// Errors must not be cached: a 404 for a part that is about to exist, pinned by a cache to
/// an immutable name, would break playback for everyone behind that cache.
fn error(e: HlsError) -> Response {
    let resp = match e {
        HlsError::BadRequest(detail) => Response::detail(400, &detail),
        HlsError::NotFound => Response::detail(404, "HLS path not found"),
        HlsError::Unavailable(detail) => {
            Response::detail(503, &detail).with_header("Retry-After", "1")
        }
    };
    resp.with_header("Cache-Control", "no-store")
}

/// `GET /preview/live.mp4`: the per-frame fMP4 stream for one viewer.
pub fn live(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let media = &rt.media;
    live::stream_response(LiveViewer {
        units: Arc::clone(&media.units),
        counters: Arc::clone(&media.stats.live),
        frame_duration: rt.config.frame_ticks(),
        hold: media.preview.hold(Instant::now(), "live viewer"),
    })
}

/// `POST /preview/start`: runs the preview encoder (idempotent).
pub fn start(rt: &Runtime, _: &Request, _: &Params) -> Response {
    if rt.media.source.last_output_us().is_none() {
        return Response::detail(503, "Camera not ready");
    }
    rt.media.preview.start(Instant::now());
    Response::empty(204)
}

/// `POST /preview/stop`: stops the preview encoder; the camera keeps running. While a YouTube
/// stream runs it needs the encoder, so the stop is refused (409) and nothing changes.
pub fn stop(rt: &Runtime, _: &Request, _: &Params) -> Response {
    if rt.stream.is_active() {
        return Response::detail(409, super::streams::PREVIEW_IN_USE);
    }
    if rt.recorder.is_recording() {
        return Response::detail(409, super::recordings::PREVIEW_IN_USE);
    }
    rt.media.preview.stop();
    if let Some(frame) = rt.media.latest_frame() {
        rt.stills.refresh_thumbnail(&frame);
    }
    Response::empty(204)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_with_msn_are_cacheable_for_three_target_durations() {
        let at = |msn, part, skip| Directives { msn, part, skip };
        assert_eq!(
            playlist_cache_control(&at(Some(7), Some(2), false), 1000),
            "public, max-age=3"
        );
        assert_eq!(
            playlist_cache_control(&at(Some(7), None, true), 1500),
            "public, max-age=6"
        );
        for now in [at(None, None, false), at(None, None, true)] {
            assert_eq!(
                playlist_cache_control(&now, 1000),
                "public, max-age=0, s-maxage=1"
            );
        }
    }

    #[test]
    fn path_rules() {
        for ok in ["cam-preview/index.m3u8", "cam-preview/abc-1.2.m4s", "x"] {
            assert!(validate_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "cam-preview/../x", "./x", "a b", "a/./b", "%2e", "a?b"] {
            let resp = validate_path(bad).unwrap_err();
            assert_eq!(resp.status, 422, "{bad}");
        }
    }
}
