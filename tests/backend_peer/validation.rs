//! Request validation that answers like FastAPI/pydantic v2: 422 with
//! `{"detail":[{"type","loc","msg","input",...}]}`, one item per problem.

use serde_json::{json, Map, Value};

use super::response::Response;

pub const SAFE_ID_CHARS: &str = "A-Za-z0-9._~-";

pub fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-')
}

#[derive(Default)]
pub struct Errors(Vec<Value>);

impl Errors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, kind: &str, loc: &[&str], msg: &str, input: &Value) {
        self.0
            .push(json!({ "type": kind, "loc": loc, "msg": msg, "input": input }));
    }

    pub fn missing(&mut self, loc: &[&str], input: &Value) {
        self.push("missing", loc, "Field required", input);
    }

    pub fn extra(&mut self, loc: &[&str], input: &Value) {
        self.push(
            "extra_forbidden",
            loc,
            "Extra inputs are not permitted",
            input,
        );
    }

    pub fn into_response(self) -> Response {
        Response::json(422, &json!({ "detail": self.0 }))
    }

    /// Checks an object's keys: every `required` one present, nothing outside `allowed`.
    pub fn check_keys(
        &mut self,
        object: &Map<String, Value>,
        loc: &[&str],
        required: &[&str],
        allowed: &[&str],
    ) {
        for key in required {
            if !object.contains_key(*key) {
                let mut field_loc = loc.to_vec();
                field_loc.push(key);
                self.missing(&field_loc, &Value::Object(object.clone()));
            }
        }
        for (key, value) in object {
            if !allowed.contains(&key.as_str()) {
                let mut field_loc = loc.to_vec();
                field_loc.push(key);
                self.extra(&field_loc, value);
            }
        }
    }

    /// A string field matching `^[<chars>]{min,max}$` (checked by `ok`). Returns the string
    /// when it is valid.
    pub fn pattern_string<'a>(
        &mut self,
        value: Option<&'a Value>,
        loc: &[&str],
        pattern: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Option<&'a str> {
        match value {
            None => None, // reported by check_keys
            Some(Value::String(s)) if ok(s) => Some(s),
            Some(v @ Value::String(_)) => {
                self.0.push(json!({
                    "type": "string_pattern_mismatch",
                    "loc": loc,
                    "msg": format!("String should match pattern '{pattern}'"),
                    "input": v,
                    "ctx": { "pattern": pattern },
                }));
                None
            }
            Some(v) => {
                self.push("string_type", loc, "Input should be a valid string", v);
                None
            }
        }
    }

    /// A body that must be a JSON object. Records the pydantic error and returns None otherwise.
    pub fn body_object(
        &mut self,
        body: &[u8],
        media_type: Option<&str>,
    ) -> Option<Map<String, Value>> {
        if media_type != Some("application/json") {
            // FastAPI treats a non-JSON content type as raw bytes, which no model accepts.
            self.push(
                "model_attributes_type",
                &["body"],
                "Input should be a valid dictionary or object to extract fields from",
                &Value::String(String::from_utf8_lossy(body).into_owned()),
            );
            return None;
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Some(map),
            Ok(other) => {
                self.push(
                    "model_attributes_type",
                    &["body"],
                    "Input should be a valid dictionary or object to extract fields from",
                    &other,
                );
                None
            }
            Err(e) => {
                self.0.push(json!({
                    "type": "json_invalid",
                    "loc": ["body", e.column()],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": { "error": e.to_string() },
                }));
                None
            }
        }
    }
}

/// `^[A-Za-z0-9._~-]{min,max}$`
pub fn safe_id(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.chars().count()) && text.chars().all(is_safe_char)
}
