//! Relay envelopes (backend §2.4) under the strict 0.5.2 rules: the request we send and the
//! response shape we accept.

use serde_json::{json, Map, Value};

use super::validation::safe_id;

const RESPONSE_KEYS: [&str; 6] = ["id", "type", "status", "content_type", "has_binary", "data"];

/// The backend's `RelayCommandEnvelope`, all seven keys in the backend's order.
pub fn request(id: &str, method: &str, path: &str, body: Option<Value>) -> String {
    json!({
        "id": id,
        "type": "request",
        "method": method.to_ascii_uppercase(),
        "path": path,
        "params": {},
        "body": body.unwrap_or(Value::Null),
        "headers": {},
    })
    .to_string()
}

pub struct ResponseEnvelope {
    pub id: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub has_binary: bool,
    pub data: Value,
}

/// Validates a `{"type":"response",…}` object; every problem is listed.
pub fn parse_response(object: &Map<String, Value>) -> Result<ResponseEnvelope, Vec<String>> {
    let mut problems = Vec::new();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = RESPONSE_KEYS.to_vec();
    expected.sort_unstable();
    if keys != expected {
        problems.push(format!(
            "response keys {keys:?} are not exactly {RESPONSE_KEYS:?}"
        ));
    }
    let id = match object.get("id") {
        Some(Value::String(id)) if safe_id(id, 1, 64) => id.clone(),
        other => {
            problems.push(format!(
                "id {} is not a string matching ^[A-Za-z0-9._~-]{{1,64}}$",
                other.unwrap_or(&Value::Null)
            ));
            String::new()
        }
    };
    let status = match object.get("status").and_then(Value::as_u64) {
        Some(s @ 100..=599) => s as u16,
        _ => {
            problems.push(format!(
                "status {} is not an integer in 100..=599",
                object.get("status").unwrap_or(&Value::Null)
            ));
            0
        }
    };
    let content_type = match object.get("content_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(ct)) if !ct.is_empty() && ct.chars().count() <= 255 => Some(ct.clone()),
        Some(other) => {
            problems.push(format!(
                "content_type {other} is not null or a string of 1..=255 characters"
            ));
            None
        }
    };
    let has_binary = match object.get("has_binary") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            problems.push(format!("has_binary {other} is not a boolean"));
            false
        }
    };
    let data = object.get("data").cloned().unwrap_or(Value::Null);
    if matches!(data, Value::Bool(_) | Value::Number(_)) {
        problems.push(format!(
            "data {data} is not an object, array, string or null"
        ));
    }
    if problems.is_empty() {
        Ok(ResponseEnvelope {
            id,
            status,
            content_type,
            has_binary,
            data,
        })
    } else {
        Err(problems)
    }
}

/// `{"type":"ping"}` / `{"type":"pong"}` must carry nothing else.
pub fn is_bare_heartbeat(object: &Map<String, Value>) -> bool {
    object.len() == 1
}
