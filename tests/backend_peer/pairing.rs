//! Pairing (backend §1.2–§1.4, with the 0.5.2 model rules): register, poll (GET with a query
//! on main, POST with JSON on the current backend), and the user's claim.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::encoding::uuid4;
use super::http::Request;
use super::jwk;
use super::response::Response;
use super::state::{Camera, Shared};
use super::validation::{safe_id, Errors};
use super::PollStyle;

pub const CODE_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_PATTERN: &str = "^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$";
const FINGERPRINT_PATTERN: &str = "^[A-Za-z0-9._~-]{8,64}$";
const KEY_ID_PATTERN: &str = "^[A-Za-z0-9._~-]{8,64}$";

pub fn is_pairing_code(text: &str) -> bool {
    text.len() == 6 && text.chars().all(|c| CODE_ALPHABET.contains(c))
}

fn is_fingerprint(text: &str) -> bool {
    safe_id(text, 8, 64)
}

struct PairingRecord {
    fingerprint: String,
    jwk: Value,
    key_id: String,
    /// Set by the claim.
    camera_id: Option<String>,
    expires: Instant,
}

/// The Redis side of pairing: `rpi_cam:pairing:<code>` records with their TTLs.
#[derive(Default)]
pub struct PairingBook {
    records: HashMap<String, PairingRecord>,
    pub history: Vec<String>,
}

impl PairingBook {
    fn live(&mut self, code: &str) -> Option<&mut PairingRecord> {
        if self
            .records
            .get(code)
            .is_some_and(|r| r.expires <= Instant::now())
        {
            self.records.remove(code);
        }
        self.records.get_mut(code)
    }

    pub fn newest_waiting_code(&mut self) -> Option<String> {
        let codes: Vec<String> = self.history.iter().rev().cloned().collect();
        codes
            .into_iter()
            .find(|code| self.live(code).is_some_and(|r| r.camera_id.is_none()))
    }
}

fn code_not_found(request_id: &str) -> Response {
    Response::problem(
        404,
        "Invalid or expired pairing code.",
        "PairingCodeNotFoundError",
        request_id,
    )
}

pub fn register(shared: &Shared, request: &Request, request_id: &str) -> Response {
    let mut errors = Errors::default();
    let Some(body) = errors.body_object(&request.body, request.media_type().as_deref()) else {
        return errors.into_response();
    };
    errors.check_keys(
        &body,
        &["body"],
        &["code", "rpi_fingerprint", "public_key_jwk", "key_id"],
        &["code", "rpi_fingerprint", "public_key_jwk", "key_id"],
    );
    let code = errors.pattern_string(
        body.get("code"),
        &["body", "code"],
        CODE_PATTERN,
        is_pairing_code,
    );
    let fingerprint = errors.pattern_string(
        body.get("rpi_fingerprint"),
        &["body", "rpi_fingerprint"],
        FINGERPRINT_PATTERN,
        is_fingerprint,
    );
    jwk::check_registered(
        body.get("public_key_jwk"),
        &["body", "public_key_jwk"],
        &mut errors,
    );
    let key_id = errors.pattern_string(
        body.get("key_id"),
        &["body", "key_id"],
        KEY_ID_PATTERN,
        |s| safe_id(s, 8, 64),
    );
    if !errors.is_empty() {
        shared.event("pairing register rejected with 422".to_string());
        return errors.into_response();
    }
    let (code, fingerprint, key_id) = (code.unwrap(), fingerprint.unwrap(), key_id.unwrap());
    let mut book = shared.pairing.lock().unwrap();
    if book.live(code).is_some() {
        drop(book);
        shared.event(format!("pairing register {code}: 409, code already in use"));
        return Response::problem(
            409,
            "Pairing code already in use. Generate a new one.",
            "PairingCodeCollisionError",
            request_id,
        );
    }
    book.records.insert(
        code.to_string(),
        PairingRecord {
            fingerprint: fingerprint.to_string(),
            jwk: body["public_key_jwk"].clone(),
            key_id: key_id.to_string(),
            camera_id: None,
            expires: Instant::now() + shared.config.code_ttl,
        },
    );
    book.history.push(code.to_string());
    drop(book);
    shared.pairing_changed.notify_all();
    shared.event(format!("pairing code {code} registered"));
    Response::json(
        201,
        &json!({ "code": code, "expires_in": shared.config.code_ttl.as_secs() }),
    )
}

/// Reads `code` and `fingerprint` from the query (GET) or the JSON body (POST).
fn poll_inputs(shared: &Shared, request: &Request) -> Result<(String, String), Response> {
    let mut errors = Errors::default();
    let (source, fields): (&str, Map<String, Value>) = match shared.config.poll_style {
        PollStyle::GetQuery => {
            let mut fields = Map::new();
            for name in ["code", "fingerprint"] {
                if let Some(v) = request.query_param(name) {
                    fields.insert(name.to_string(), Value::String(v.to_string()));
                }
            }
            for name in ["code", "fingerprint"] {
                if !fields.contains_key(name) {
                    errors.missing(&["query", name], &Value::Null);
                }
            }
            ("query", fields)
        }
        PollStyle::PostJson => {
            let Some(body) = errors.body_object(&request.body, request.media_type().as_deref())
            else {
                return Err(errors.into_response());
            };
            errors.check_keys(
                &body,
                &["body"],
                &["code", "fingerprint"],
                &["code", "fingerprint"],
            );
            ("body", body)
        }
    };
    let code = errors.pattern_string(
        fields.get("code"),
        &[source, "code"],
        CODE_PATTERN,
        is_pairing_code,
    );
    let fingerprint = errors.pattern_string(
        fields.get("fingerprint"),
        &[source, "fingerprint"],
        FINGERPRINT_PATTERN,
        is_fingerprint,
    );
    if !errors.is_empty() {
        shared.event("pairing poll rejected with 422".to_string());
        return Err(errors.into_response());
    }
    Ok((code.unwrap().to_string(), fingerprint.unwrap().to_string()))
}

pub fn poll(shared: &Shared, request: &Request, request_id: &str) -> Response {
    let (code, fingerprint) = match poll_inputs(shared, request) {
        Ok(inputs) => inputs,
        Err(response) => return response,
    };
    let mut book = shared.pairing.lock().unwrap();
    let Some(record) = book.live(&code) else {
        drop(book);
        shared.event(format!("pairing poll {code}: 404, unknown or expired"));
        return code_not_found(request_id);
    };
    if record.fingerprint != fingerprint {
        drop(book);
        shared.event(format!("pairing poll {code}: 403, fingerprint mismatch"));
        return Response::problem(
            403,
            "Pairing fingerprint does not match.",
            "PairingFingerprintMismatchError",
            request_id,
        );
    }
    let Some(camera_id) = record.camera_id.clone() else {
        return Response::json(
            200,
            &json!({
                "status": "waiting",
                "camera_id": null,
                "ws_url": null,
                "auth_scheme": null,
                "key_id": null,
            }),
        );
    };
    let key_id = record.key_id.clone();
    // One-shot: the paired answer is given once, then the record is gone.
    book.records.remove(&code);
    drop(book);
    shared.pairing_changed.notify_all();
    shared.event(format!(
        "pairing poll {code}: paired answer delivered for camera {camera_id}"
    ));
    Response::json(
        200,
        &json!({
            "status": "paired",
            "camera_id": camera_id,
            "ws_url": shared.ws_url(),
            "auth_scheme": "device_assertion",
            "key_id": key_id,
        }),
    )
}

pub fn claim(shared: &Shared, code: &str) -> Result<String, u16> {
    let mut book = shared.pairing.lock().unwrap();
    let record = book.live(code).ok_or(404u16)?;
    if record.camera_id.is_some() {
        return Err(409);
    }
    let camera_id = uuid4();
    let camera = Camera::new(&record.jwk, &record.key_id);
    record.camera_id = Some(camera_id.clone());
    record.expires = Instant::now() + shared.config.claimed_ttl;
    drop(book);
    shared.pairing_changed.notify_all();
    shared.add_camera(&camera_id, camera);
    shared.event(format!("pairing code {code} claimed as camera {camera_id}"));
    Ok(camera_id)
}
