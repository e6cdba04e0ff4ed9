//! `GET /health`: 200 while frames flow from the camera, 503 with the reason when not; and
//! `GET /healthz`, the plugin's liveness probe (the process answers), for the local network.

use serde_json::json;

use super::routes::Params;
use crate::camera::Power;
use crate::http::{Request, Response};
use crate::runtime::Runtime;

pub const LIVENESS_LOCAL_ONLY: &str = "Liveness is only available from the local network";

/// The plugin's liveness answer (what the RELab app probes LAN candidates with before it
/// holds a key): only that the daemon answers, not whether the camera delivers.
pub fn healthz(_: &Runtime, _: &Request, _: &Params) -> Response {
    Response::json(200, &json!({"status": "ok", "service": "relab-rpi-cam"}))
        .with_header("Cache-Control", "no-store")
}

/// Frames older than this mean the camera has stalled (a few frame intervals, at least 2 s).
fn stall_ms(fps: f64) -> u64 {
    ((5000.0 / fps) as u64).max(2000)
}

pub fn health(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let now_us = crate::clock::unix_us();
    let source = rt.media.source.name();
    match rt.media.power.power() {
        Power::Disabled => return camera_off(rt, "disabled", &source),
        Power::Off => return camera_off(rt, "stopped", &source),
        Power::On | Power::Starting => {}
    }
    if let Some(reason) = rt.media.source.down_reason() {
        return unavailable(format!("The camera ({source}) is down: {reason}"));
    }
    let Some(last_us) = rt.media.source.last_output_us() else {
        return unavailable(format!(
            "The camera ({source}) has not delivered a frame yet"
        ));
    };
    let age_ms = now_us.saturating_sub(last_us) / 1000;
    if age_ms > stall_ms(rt.media.camera.fps) {
        return unavailable(format!(
            "No frames from the camera ({source}) for {:.1} s",
            age_ms as f64 / 1000.0
        ));
    }
    let preview = if rt.media.preview.is_running() {
        "running"
    } else {
        "stopped"
    };
    Response::json(
        200,
        &json!({
            "ok": true,
            "status": "ok",
            "camera": source,
            "last_frame_age_ms": age_ms,
            "fps": rt.media.stats.capture_fps(),
            "uptime_s": rt.media.started.elapsed().as_secs(),
            "preview": preview,
            "youtube": youtube_detail(rt),
        }),
    )
    .with_header("Cache-Control", "no-store")
}

/// The YouTube stream's state, counters and last error (the running stream, else the one
/// that ended last, with why; null when none ran). Never the key.
pub fn youtube_detail(rt: &Runtime) -> serde_json::Value {
    let snapshot = match rt.stream.current() {
        Some(info) => Some(info.status),
        None => rt.stream.last_ended(),
    };
    snapshot.map_or(serde_json::Value::Null, |s| json!(s))
}

/// The camera is off on purpose (`CAMERA_ENABLED=0`, `POST /camera/stop`): the daemon is
/// healthy, so 200, but `ok` is false, as in the Pi Camera Streaming Pipeline.
fn camera_off(rt: &Runtime, status: &str, source: &str) -> Response {
    Response::json(
        200,
        &json!({
            "ok": false,
            "status": status,
            "camera": source,
            "detail": rt.media.no_frame_detail(),
            "uptime_s": rt.media.started.elapsed().as_secs(),
        }),
    )
    .with_header("Cache-Control", "no-store")
}

fn unavailable(detail: String) -> Response {
    Response::json(503, &json!({"detail": detail, "ok": false}))
        .with_header("Cache-Control", "no-store")
        .with_header("Retry-After", "1")
}
