//! Pictures from the live camera: `GET /frame`, `GET /stream.mjpg` and the cached
//! `GET /preview-thumbnail.jpg`.

use super::routes::Params;
use super::validation::query_number;
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::stills::mjpeg;

pub const THUMBNAIL_LOCAL_ONLY: &str = "Preview thumbnail is only available from the local network";

/// The newest frame, full resolution, as a JPEG.
pub fn frame(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let Some(frame) = rt.latest_frame() else {
        return Response::detail(503, rt.no_frame_detail());
    };
    match rt.latest_jpeg.get(&frame) {
        Ok(jpeg) => Response::new(200, "image/jpeg", Body::Shared(jpeg.data))
            .with_header("Cache-Control", "no-store")
            .with_header(
                "X-Capture-Time",
                &crate::clock::rfc3339_ms(jpeg.capture_unix_us),
            ),
        Err(e) => Response::detail(500, &format!("Cannot encode the frame: {e}")),
    }
}

/// `multipart/x-mixed-replace` MJPEG, optionally capped with `?fps=`.
pub fn mjpeg(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let fps = match query_number(req, "fps", mjpeg::MIN_FPS, mjpeg::FPS_LIMIT) {
        Ok(fps) => fps,
        Err(resp) => return resp,
    };
    if rt.latest_frame().is_none() {
        return Response::detail(503, rt.no_frame_detail());
    }
    mjpeg::stream_response(std::sync::Arc::clone(&rt.mjpeg), fps)
}

pub fn thumbnail(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match std::fs::read(rt.thumbnail_dir().join("current.jpg")) {
        Ok(bytes) => Response::new(200, "image/jpeg", Body::Bytes(bytes))
            .with_header("Cache-Control", "no-store"),
        Err(_) => Response::detail(404, "No preview thumbnail cached yet"),
    }
}
