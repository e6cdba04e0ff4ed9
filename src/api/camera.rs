//! `GET /camera`, `GET`/`PATCH /camera/controls`, `PUT /camera/focus`.

use serde_json::{json, Value};

use super::routes::Params;
use super::validation::{object_body, Fields};
use crate::camera::controls::{ControlError, FocusMode};
use crate::http::{Request, Response};
use crate::runtime::Runtime;

/// `CameraStatusView`. The camera always runs in video mode (stills come from the running
/// stream); `stream` is the running YouTube stream's `StreamView`, else null.
pub fn status(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let mode = rt.media.source.last_output_us().map(|_| "video");
    let stream = rt
        .stream
        .current()
        .map_or(Value::Null, |info| super::streams::stream_view(rt, &info));
    Response::json(200, &json!({ "current_mode": mode, "stream": stream }))
}

pub fn controls(rt: &Runtime, _: &Request, _: &Params) -> Response {
    Response::json(200, &rt.media.camera.controls_view())
}

pub fn patch_controls(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let body = match object_body(req) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut fields = Fields::new(&body, "body");
    let controls = fields.object("controls");
    if let Err(resp) = fields.finish() {
        return resp;
    }
    answer(rt.media.camera.patch(controls.expect("validated")))
}

pub fn focus(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let body = match object_body(req) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut fields = Fields::new(&body, "body");
    let mode = fields.enumeration("mode", &["continuous", "auto", "manual"]);
    let lens_position = fields.number_at_least("lens_position", 0.0);
    let trigger_cycle = fields.boolean("trigger_cycle", false);
    if let Err(resp) = fields.finish() {
        return resp;
    }
    let mode = mode.and_then(FocusMode::parse).expect("validated");
    answer(rt.media.camera.focus(mode, lens_position, trigger_cycle))
}

fn answer(result: Result<Value, ControlError>) -> Response {
    match result {
        Ok(view) => Response::json(200, &view),
        Err(e) => Response::detail(422, &e.to_string()),
    }
}
