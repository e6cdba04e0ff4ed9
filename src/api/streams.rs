//! `POST`/`GET`/`DELETE /streams/youtube` (contract §1.3, §9.7): YouTube live through our own
//! RTMP(S) publisher. The keys are secrets: never echoed, logged or put in errors.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::routes::Params;
use super::validation::{object_body, unprocessable, FieldError};
use crate::http::{Request, Response};
use crate::runtime::Runtime;
use crate::stills::metadata::{CameraProperties, CaptureMetadata};
use crate::stream::{Ended, StreamError, StreamInfo};

/// How long `POST` waits for the ingest server to accept the stream (the backend's relay
/// waits 30 s).
const START_WAIT: Duration = Duration::from_secs(10);
/// The detail `POST /preview/stop` answers while a stream needs the encoder.
pub const PREVIEW_IN_USE: &str =
    "The YouTube stream uses the preview encoder: stop the stream first (DELETE /streams/youtube)";

pub fn start(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let body = match object_body(req) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let keys = match validate(&body) {
        Ok(keys) => keys,
        Err(errors) => return unprocessable(&errors),
    };
    if let Some(info) = rt.stream.current() {
        return error(&StreamError::Active(info.watch_url));
    }
    let hold = rt.media.preview.hold(Instant::now(), "youtube stream");
    match rt.stream.start(&keys.0, &keys.1, hold, START_WAIT) {
        Ok(info) => Response::json(201, &stream_view(rt, &info)),
        Err(e) => error(&e),
    }
}

pub fn status(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match rt.stream.current() {
        Some(info) => Response::json(200, &stream_view(rt, &info)),
        None => error(&StreamError::NotActive),
    }
}

pub fn stop(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match rt.stream.stop(Ended::Deleted) {
        Ok(()) => Response::empty(204),
        Err(e) => error(&e),
    }
}

/// The one place stream errors become statuses.
fn error(e: &StreamError) -> Response {
    let status = match e {
        StreamError::Active(_) => 409,
        StreamError::NotActive => 404,
        // The ingest server said no: its words (key removed), and the stream is torn down.
        StreamError::Failed(Ended::Refused(_)) => 502,
        StreamError::Failed(_) | StreamError::Tls(_) | StreamError::Spawn(_) => 500,
    };
    Response::detail(status, &e.to_string())
}

/// `StreamView`: the watch URL, the start time and the camera's metadata now.
pub fn stream_view(rt: &Runtime, info: &StreamInfo) -> Value {
    let camera = &rt.media.camera;
    let capture: CaptureMetadata =
        serde_json::from_value(Value::Object(camera.metadata())).unwrap_or_default();
    let fps = capture
        .frame_duration
        .filter(|d| *d > 0)
        .map(|d| (1_000_000_000.0 / f64::from(d)).round() / 1000.0);
    let properties = CameraProperties {
        camera_model: Some(camera.model()),
        unit_cell_size: None,
        pixel_array_size: Some([rt.config.width, rt.config.height]),
        sensor_sensitivity: None,
    };
    json!({
        "mode": "youtube",
        "provider": "youtube",
        "url": info.watch_url,
        "started_at": crate::clock::rfc3339_us(info.status.started_unix_us),
        "metadata": {
            "camera_properties": properties,
            "capture_metadata": capture,
            "fps": fps,
        },
    })
}

/// Both keys, each fully `[A-Za-z0-9_-]+` (the plugin's rule and messages). Errors carry no
/// key: the plugin's pydantic would echo the input, we put `"<redacted>"` there.
fn validate(body: &Map<String, Value>) -> Result<(String, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    let redacted: Map<String, Value> = body
        .keys()
        .map(|k| (k.clone(), json!("<redacted>")))
        .collect();
    let mut field = |name: &str, label: &str| -> Option<String> {
        let loc = ["body", name];
        match body.get(name) {
            None => {
                errors.push(FieldError::new(
                    "missing",
                    &loc,
                    "Field required",
                    Value::Object(redacted.clone()),
                ));
                None
            }
            Some(Value::String(s)) if is_url_safe(s) => Some(s.clone()),
            Some(Value::String(_)) => {
                errors.push(FieldError::new(
                    "value_error",
                    &loc,
                    format!("Value error, Invalid {label}: only URL-safe characters allowed"),
                    json!("<redacted>"),
                ));
                None
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "string_type",
                    &loc,
                    "Input should be a valid string",
                    json!("<redacted>"),
                ));
                None
            }
        }
    };
    let stream_key = field("stream_key", "stream key");
    let broadcast_key = field("broadcast_key", "broadcast key");
    match (stream_key, broadcast_key) {
        (Some(s), Some(b)) if errors.is_empty() => Ok((s, b)),
        _ => Err(errors),
    }
}

fn is_url_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn keys_are_validated_without_being_echoed() {
        let ok = validate(&body(json!({"stream_key": "a-B_9", "broadcast_key": "x"})));
        assert_eq!(ok.unwrap(), ("a-B_9".to_string(), "x".to_string()));
        let bad = validate(&body(
            json!({"stream_key": "has space!", "broadcast_key": "ok"}),
        ))
        .unwrap_err();
        assert_eq!(bad.len(), 1);
        assert_eq!(
            bad[0].msg,
            "Value error, Invalid stream key: only URL-safe characters allowed"
        );
        let missing = validate(&body(json!({"stream_key": "secret-one"}))).unwrap_err();
        assert_eq!(missing[0].kind, "missing");
        let all = serde_json::to_string(&json!(missing
            .iter()
            .map(|e| (&e.msg, &e.input))
            .collect::<Vec<_>>()))
        .unwrap();
        assert!(!all.contains("secret-one"), "{all}");
        assert!(validate(&body(json!({"stream_key": "", "broadcast_key": 5}))).is_err());
    }
}
