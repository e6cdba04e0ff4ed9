//! The Pi Camera Streaming Pipeline's camera routes: `GET /camera/status`,
//! `POST /camera/start` and `POST /camera/stop` (contract seeds-002-004 §B.1).
//!
//! Stopping ends the camera's source thread, which releases the device (or ends the rpicam
//! process) and forgets the newest frame; the preview, MJPEG, stills and the timelapse then
//! have no picture until `start`. Unlike the pipeline, `/frame` answers 503 rather than the
//! stale picture, and starting a disabled camera is a 409 rather than a silent no-op.

use serde_json::json;

use super::routes::Params;
use crate::camera::power::SwitchError;
use crate::camera::Power;
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::stream::Ended;

/// `{"running", "backend", "recording", "recording_path"}`.
pub fn status(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let power = rt.media.power.power();
    let backend = match power {
        Power::Disabled => "disabled".to_string(),
        _ => rt.media.source.name(),
    };
    Response::json(
        200,
        &json!({
            "running": power == Power::On,
            "backend": backend,
            "recording": rt.recorder.is_recording(),
            "recording_path": rt.recorder.current_path(),
        }),
    )
    .with_header("Cache-Control", "no-store")
}

pub fn start(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match rt.media.start_camera() {
        Ok(_) => ok(),
        Err(e @ SwitchError::Disabled) => Response::detail(409, &e.to_string()),
        Err(e @ SwitchError::NotReady) => {
            Response::detail(503, &e.to_string()).with_header("Retry-After", "1")
        }
        Err(e @ SwitchError::Thread(_)) => Response::detail(500, &e.to_string()),
    }
}

/// Idempotent, as in the pipeline; a recording ends first (its file is finished), and a
/// YouTube stream ends cleanly (`FCUnpublish`, `deleteStream`) rather than starve.
pub fn stop(rt: &Runtime, _: &Request, _: &Params) -> Response {
    if let Ok(path) = rt.recorder.stop() {
        log::info!("recording {} ended: the camera was stopped", path.display());
    }
    if rt.stream.stop(Ended::CameraStopped).is_ok() {
        log::info!("the youtube stream ended: the camera was stopped");
    }
    rt.media.stop_camera();
    ok()
}

fn ok() -> Response {
    Response::json(200, &json!({"ok": true})).with_header("Cache-Control", "no-store")
}
