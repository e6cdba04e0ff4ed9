//! Pictures from the live camera: `GET /frame`, `GET /stream.mjpg` and the cached
//! `GET /preview-thumbnail.jpg`.

use super::routes::Params;
use super::validation::query_number;
use crate::camera::status::Delivers;
use crate::camera::Power;
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::stills::mjpeg;

pub const THUMBNAIL_LOCAL_ONLY: &str = "Preview thumbnail is only available from the local network";
pub const THUMBNAIL_CROSS_SITE: &str = "Preview thumbnail is not available to another site";

/// The newest frame, full resolution, as a JPEG.
pub fn frame(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let Some(frame) = rt.media.latest_frame() else {
        return Response::detail(503, rt.media.no_frame_detail());
    };
    match rt.stills.latest_jpeg.get(&frame) {
        Ok(jpeg) => embeddable(
            rt,
            req,
            Response::new(200, "image/jpeg", Body::Shared(jpeg.data)),
        )
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
    // With no picture yet (start-up, a stopped camera) the stream waits for the first one,
    // as the pipeline's does; only a source that can never give one is a 503.
    let never =
        rt.media.power.power() == Power::Disabled || rt.media.source.delivers() == Delivers::H264;
    if never && rt.media.latest_frame().is_none() {
        return Response::detail(503, rt.media.no_frame_detail());
    }
    embeddable(
        rt,
        req,
        mjpeg::stream_response(std::sync::Arc::clone(&rt.stills.mjpeg), fps),
    )
}

/// Lets a page of an allowed CORS origin show the picture in an `<img>` (the pipeline's page
/// does; a camera stream is made to be embedded). Everyone else gets the default
/// `Cross-Origin-Resource-Policy: same-origin`.
fn embeddable(rt: &Runtime, req: &Request, resp: Response) -> Response {
    if rt.site.cors.embedding_allowed(req) {
        resp.with_header("Cross-Origin-Resource-Policy", "cross-origin")
    } else {
        resp
    }
}

/// The cached thumbnail. Right after start-up, before the housekeeping tick has cached one,
/// it is made from the newest frame on the spot (the plugin primes it at start), so a page
/// opened at once gets a picture rather than a 404.
pub fn thumbnail(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let path = rt
        .stills
        .thumbnail_dir()
        .join(crate::stills::thumbnail::FILE_NAME);
    if !path.exists() {
        if let Some(frame) = rt.media.latest_frame() {
            rt.stills.refresh_thumbnail(&frame);
        }
    }
    match std::fs::read(&path) {
        Ok(bytes) => Response::new(200, "image/jpeg", Body::Bytes(bytes))
            .with_header("Cache-Control", "no-store"),
        Err(_) => Response::detail(404, "No preview thumbnail cached yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Frame;
    use crate::runtime::test_runtime;

    #[test]
    fn the_first_thumbnail_is_made_on_demand_from_the_newest_frame() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        let req = Request::new("GET", "/preview-thumbnail.jpg").unwrap();
        let params = Params::default();
        assert_eq!(thumbnail(&rt, &req, &params).status, 404, "no frame yet");
        let (w, h) = (64, 48);
        rt.media.latest.set(Frame {
            width: w,
            height: h,
            data: vec![128u8; Frame::i420_len(w, h)].into(),
            pts: 0,
            capture_unix_us: 1,
            sequence: 0,
        });
        let resp = thumbnail(&rt, &req, &params);
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body.to_vec()[..2], [0xff, 0xd8]);
    }
}
