//! What one HTTP exchange with the RELab backend came to, as plain data: the answer (status,
//! body, `Date`) or the transport failure. The pairing flow decides on these without sockets.

use std::fmt;

/// Log snippets longer than this are cut to [`SNIPPET_KEEP`] characters plus `...`.
const SNIPPET_MAX: usize = 160;
const SNIPPET_KEEP: usize = 157;

/// An HTTP answer from the backend, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendReply {
    pub status: u16,
    pub content_type: String,
    /// The body as text (lossy UTF-8, capped by the client).
    pub body: String,
    /// The raw `Date` header, when there was one.
    pub date: Option<String>,
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Connecting, sending or waiting for the answer took too long.
    Timeout(String),
    /// The backend could not be reached: DNS, refused, unreachable, TLS.
    Connect(String),
    /// Anything else (a broken answer, a reset mid-way).
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Timeout(e) | TransportError::Connect(e) | TransportError::Other(e) => {
                f.write_str(e)
            }
        }
    }
}

pub type Exchange = Result<BackendReply, TransportError>;

impl BackendReply {
    #[cfg(test)]
    pub fn new(status: u16, body: &str) -> BackendReply {
        BackendReply {
            status,
            content_type: "application/json".to_string(),
            body: body.to_string(),
            date: None,
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A one-line account of an error answer for the log: the `detail` of a problem+json or
    /// FastAPI body (with the problem's `code`), the validation messages of a 422, or the raw
    /// text; cut to 157 characters plus `...` when longer than 160, `<empty>` when empty.
    pub fn error_snippet(&self) -> String {
        let text = self
            .json()
            .and_then(|v| describe_error_body(&v))
            .unwrap_or_else(|| self.body.clone());
        snippet(&text)
    }
}

fn describe_error_body(body: &serde_json::Value) -> Option<String> {
    let detail = body.get("detail")?;
    let mut text = match detail {
        serde_json::Value::String(s) => s.clone(),
        // FastAPI validation errors: [{"loc": [...], "msg": "..."}, ...].
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| {
                let loc: Vec<String> = item["loc"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let msg = item["msg"].as_str().unwrap_or("invalid");
                if loc.is_empty() {
                    msg.to_string()
                } else {
                    format!("{}: {msg}", loc.join("."))
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    if let Some(code) = body.get("code").and_then(|c| c.as_str()) {
        text = format!("{text} ({code})");
    }
    Some(text)
}

/// Newlines flattened, trimmed, and cut as the plugin cuts response bodies in its logs.
pub fn snippet(text: &str) -> String {
    let flat = text.trim().replace(['\r', '\n'], " ");
    if flat.is_empty() {
        return "<empty>".to_string();
    }
    if flat.chars().count() > SNIPPET_MAX {
        let kept: String = flat.chars().take(SNIPPET_KEEP).collect();
        return format!("{kept}...");
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_and_fastapi_errors_give_their_detail() {
        let problem = BackendReply {
            content_type: "application/problem+json".into(),
            ..BackendReply::new(
                409,
                r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"Pairing code already in use. Generate a new one.","code":"PairingCodeCollisionError"}"#,
            )
        };
        assert_eq!(
            problem.error_snippet(),
            "Pairing code already in use. Generate a new one. (PairingCodeCollisionError)"
        );
        let fastapi = BackendReply::new(401, r#"{"detail":"Authentication failed."}"#);
        assert_eq!(fastapi.error_snippet(), "Authentication failed.");
        let validation = BackendReply::new(
            422,
            r#"{"detail":[{"type":"string_pattern_mismatch","loc":["body","code"],"msg":"String should match pattern","input":"0O"},{"loc":["body",3],"msg":"bad"}]}"#,
        );
        assert_eq!(
            validation.error_snippet(),
            "body.code: String should match pattern; body.3: bad"
        );
        let too_large =
            BackendReply::new(413, r#"{"detail":{"message":"Request body too large."}}"#);
        assert_eq!(
            too_large.error_snippet(),
            r#"{"message":"Request body too large."}"#
        );
    }

    #[test]
    fn other_bodies_are_flattened_and_cut_like_the_plugin() {
        assert_eq!(
            BackendReply::new(403, "  Forbidden\nby proxy\r\n").error_snippet(),
            "Forbidden by proxy"
        );
        assert_eq!(BackendReply::new(400, "").error_snippet(), "<empty>");
        assert_eq!(
            BackendReply::new(400, r#"{"other":1}"#).error_snippet(),
            r#"{"other":1}"#
        );
        let exactly_160 = "x".repeat(160);
        assert_eq!(snippet(&exactly_160), exactly_160);
        let long = "é".repeat(161);
        let cut = snippet(&long);
        assert_eq!(cut.chars().count(), 160);
        assert!(cut.ends_with("é..."));
    }
}
