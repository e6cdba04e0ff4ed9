//! `GET`/`PUT /timelapse`: the periodic capture's settings and state; `GET /timelapse/images`
//! and `/timelapse/images/{name}`: its newest pictures (for the web console).

use serde_json::json;

use super::routes::Params;
use super::validation::{object_body, query_integer, Fields};
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::stills::timelapse::{TimelapseError, TimelapseSettings};

pub fn status(rt: &Runtime, _: &Request, _: &Params) -> Response {
    json(&rt.stills.timelapse.status())
}

pub fn update(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let body = match object_body(req) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut fields = Fields::new(&body, "body");
    let interval_s = fields.integer("interval_s", 0, 86_400);
    let keep = fields.integer("keep", 1, 100_000);
    let max_age_s = fields.integer("max_age_s", 60, 31_536_000);
    if let Err(resp) = fields.finish() {
        return resp;
    }
    let settings = TimelapseSettings {
        interval_s: interval_s.expect("validated") as u64,
        keep: keep.expect("validated") as u32,
        max_age_s: max_age_s.expect("validated") as u64,
    };
    match rt.stills.timelapse.update(settings) {
        Ok(status) => json(&status),
        Err(e) => error_response(&e),
    }
}

/// Pictures listed when the request names no `limit`.
const DEFAULT_IMAGES: usize = 12;

pub fn images(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let limit = match query_integer(req, "limit", 1, 100) {
        Ok(l) => l.map_or(DEFAULT_IMAGES, |l| l as usize),
        Err(resp) => return resp,
    };
    let pictures = match rt.stills.timelapse.newest_pictures(limit) {
        Ok(p) => p,
        Err(e) => return Response::detail(500, &format!("Cannot list the timelapse: {e}")),
    };
    let images: Vec<_> = pictures
        .into_iter()
        .map(|p| {
            json!({
                "url": format!("/timelapse/images/{}", p.name),
                "name": p.name,
                "taken_at": crate::clock::rfc3339_s(p.taken_unix_s.saturating_mul(1_000_000)),
                "bytes": p.bytes,
            })
        })
        .collect();
    Response::json(200, &json!({ "images": images }))
}

pub fn image(rt: &Runtime, _: &Request, params: &Params) -> Response {
    let Some(path) = rt.stills.timelapse.picture_path(params.get("name")) else {
        return Response::detail(404, "Not Found");
    };
    match std::fs::read(&path) {
        // A name is never reused for other content (a clash gets `-N`): cacheable.
        Ok(bytes) => Response::new(200, "image/jpeg", Body::Bytes(bytes))
            .with_header("Cache-Control", "private, max-age=31536000, immutable"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Response::detail(404, "Not Found"),
        Err(e) => Response::detail(500, &format!("Cannot read the picture: {e}")),
    }
}

fn error_response(e: &TimelapseError) -> Response {
    match e {
        TimelapseError::Invalid(_) => Response::detail(422, &e.to_string()),
        TimelapseError::Save { source, .. } if is_disk_full(source) => Response::detail(
            507,
            &format!("Not enough storage space to save the timelapse settings: {e}"),
        ),
        TimelapseError::Save { .. } => {
            Response::detail(500, &format!("Cannot save the timelapse settings: {e}"))
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_value(value) {
        Ok(v) => Response::json(200, &v),
        Err(e) => Response::detail(500, &e.to_string()),
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}
