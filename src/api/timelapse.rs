//! `GET`/`PUT /timelapse`: the periodic capture's settings and state.

use super::routes::Params;
use super::validation::{object_body, Fields};
use crate::http::{Request, Response};
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
