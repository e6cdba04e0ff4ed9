//! Which handler answers a request: pairing, the relay handshake, the device routes. Paths
//! follow the configured layout (main or [WB] `/v1` with `/device`).

use super::encoding::is_uuid;
use super::http::Request;
use super::jwt_verify::{authenticate, AuthError};
use super::pairing;
use super::response::Response;
use super::state::Shared;
use super::uploads;
use super::validation::Errors;
use super::ws_upgrade::{self, Handshake};
use super::PollStyle;

/// The backend's cap on non-multipart bodies.
const BODY_LIMIT: usize = 1024 * 1024;

pub enum Routed {
    Respond(Response),
    Upgrade { camera_id: String, key: String },
}

fn method_not_allowed(allowed: &str) -> Routed {
    Routed::Respond(Response::detail(405, "Method Not Allowed").with_header("allow", allowed))
}

pub fn route(shared: &Shared, request: &Request, request_id: &str) -> Routed {
    let multipart = request.media_type().as_deref() == Some("multipart/form-data");
    if !multipart && request.body.len() > BODY_LIMIT {
        return Routed::Respond(Response::json(
            413,
            &serde_json::json!({ "detail": {
                "message": format!("Request body too large. Maximum size: {BODY_LIMIT} bytes")
            }}),
        ));
    }
    let path = request.path.as_str();
    let method = request.method.as_str();
    if path == shared.pairing_path("register") {
        return match method {
            "POST" => Routed::Respond(pairing::register(shared, request, request_id)),
            _ => method_not_allowed("POST"),
        };
    }
    if path == shared.pairing_path("poll") {
        let expected = match shared.config.poll_style {
            PollStyle::GetQuery => "GET",
            PollStyle::PostJson => "POST",
        };
        return if method == expected {
            Routed::Respond(pairing::poll(shared, request, request_id))
        } else {
            method_not_allowed(expected)
        };
    }
    if path == shared.ws_path() {
        return match ws_upgrade::check(shared, request) {
            Handshake::Accept { camera_id, key } => Routed::Upgrade { camera_id, key },
            Handshake::Reject(response) => Routed::Respond(response),
        };
    }
    if let Some(rest) = path.strip_prefix(&shared.device_cameras_prefix()) {
        if let Some((camera_id, action)) = rest.split_once('/') {
            return device_route(shared, request, request_id, camera_id, action);
        }
    }
    Routed::Respond(Response::detail(404, "Not Found"))
}

fn device_route(
    shared: &Shared,
    request: &Request,
    request_id: &str,
    camera_id: &str,
    action: &str,
) -> Routed {
    let expected = match action {
        "self" => "DELETE",
        "image-upload" | "preview-thumbnail-upload" => "POST",
        _ => return Routed::Respond(Response::detail(404, "Not Found")),
    };
    if request.method != expected {
        return method_not_allowed(expected);
    }
    let camera_id = camera_id.to_ascii_lowercase();
    if !is_uuid(&camera_id) {
        let mut errors = Errors::default();
        errors.push(
            "uuid_parsing",
            &["path", "camera_id"],
            "Input should be a valid UUID",
            &serde_json::Value::String(camera_id),
        );
        return Routed::Respond(errors.into_response());
    }
    if action != "self"
        && shared
            .uploads_down
            .load(std::sync::atomic::Ordering::SeqCst)
    {
        return Routed::Respond(uploads::service_down());
    }
    if let Err(response) = device_auth(shared, request, &camera_id, action) {
        return Routed::Respond(response);
    }
    Routed::Respond(match action {
        "self" => self_unpair(shared, &camera_id),
        "image-upload" => uploads::image_upload(shared, request, &camera_id, request_id),
        _ => uploads::preview_thumbnail_upload(shared, request, &camera_id),
    })
}

fn device_auth(
    shared: &Shared,
    request: &Request,
    camera_id: &str,
    action: &str,
) -> Result<(), Response> {
    match authenticate(shared, camera_id, request.header("authorization")) {
        Ok(()) => Ok(()),
        Err(AuthError::MissingHeader) => {
            shared.event(format!(
                "device route {action} of {camera_id}: no Authorization"
            ));
            Err(Response::detail(401, "Missing Authorization header.")
                .with_header("www-authenticate", "Bearer"))
        }
        Err(AuthError::Failed(reason)) => {
            shared.event(format!(
                "device route {action} of {camera_id} rejected: {reason}"
            ));
            Err(Response::detail(401, "Authentication failed."))
        }
        Err(AuthError::BadStoredKey) => Err(Response::new(
            500,
            "text/plain; charset=utf-8",
            b"Internal Server Error".to_vec(),
        )),
    }
}

/// Route 6: the camera row goes; an open relay socket is left to the Pi to close.
fn self_unpair(shared: &Shared, camera_id: &str) -> Response {
    shared.cameras.lock().unwrap().remove(camera_id);
    shared
        .self_unpaired
        .lock()
        .unwrap()
        .push(camera_id.to_string());
    shared.event(format!(
        "camera {camera_id} unpaired itself (DELETE …/self)"
    ));
    Response::empty(204)
}
