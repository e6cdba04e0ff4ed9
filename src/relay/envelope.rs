//! The relay's JSON envelopes (contract/backend.md §2.4, models 0.5.2), sans-IO: frames from
//! the backend parsed into [`Incoming`], responses written with exactly their six keys in the
//! models' order (`id`, `type`, `status`, `content_type`, `has_binary`, `data`).
//!
//! Unknown keys in a request are ignored rather than refused: the backend on main sends none,
//! and a newer backend adding one should not make every command fail.

use serde_json::{Map, Value};

/// The backend closes the socket (1009) on a bigger text frame.
pub const TEXT_FRAME_LIMIT: usize = 65_536;
pub const PING: &str = r#"{"type":"ping"}"#;
pub const PONG: &str = r#"{"type":"pong"}"#;
pub const FORBIDDEN_DETAIL: &str = "Relay command is not allowed.";
pub const MALFORMED_DETAIL: &str = "Malformed relay command.";
pub const OVERLOADED_DETAIL: &str = "Too many pending relay commands.";

const MAX_ID_LEN: usize = 64;
const MAX_METHOD_LEN: usize = 16;
const MAX_PATH_LEN: usize = 2048;
const MAX_PARAMS: usize = 16;
const MAX_HEADERS: usize = 16;
const MAX_CONTENT_TYPE_LEN: usize = 255;

/// A relayed request, validated: `method` is upper case, `params` are rendered as strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub id: String,
    pub method: String,
    /// As sent: not yet normalised or checked against the allow-list.
    pub path: String,
    pub params: Vec<(String, String)>,
    /// A JSON object, when the backend sent one.
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Ping,
    Pong,
    Request(Command),
    /// A request that fails validation; answered (400) only when its id can be echoed.
    Malformed {
        id: Option<String>,
        reason: String,
    },
    /// Invalid JSON, non-objects and unknown types: logged and dropped.
    Ignored(&'static str),
}

/// Reads one text frame from the backend.
pub fn parse(text: &str) -> Incoming {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Incoming::Ignored("invalid JSON");
    };
    let Value::Object(msg) = value else {
        return Incoming::Ignored("JSON that is not an object");
    };
    match msg.get("type").and_then(Value::as_str) {
        Some("ping") => Incoming::Ping,
        Some("pong") => Incoming::Pong,
        Some("request") => match command(&msg) {
            Ok(cmd) => Incoming::Request(cmd),
            Err(reason) => Incoming::Malformed {
                id: msg
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|id| is_safe_id(id))
                    .map(str::to_string),
                reason,
            },
        },
        _ => Incoming::Ignored("a message of unknown type"),
    }
}

fn command(msg: &Map<String, Value>) -> Result<Command, String> {
    let id = string_field(msg, "id")?;
    if !is_safe_id(id) {
        return Err("id must be 1-64 characters of [A-Za-z0-9._~-]".into());
    }
    let method = string_field(msg, "method")?;
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err("method must be 1-16 letters".into());
    }
    let path = string_field(msg, "path")?;
    if path.is_empty() || path.len() > MAX_PATH_LEN || !path.bytes().all(is_printable) {
        return Err("path must be 1-2048 printable ASCII characters".into());
    }
    let params = match msg.get("params") {
        None => Vec::new(),
        Some(Value::Object(map)) if map.len() <= MAX_PARAMS => map
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    param_value(v).ok_or("params values must be strings, numbers or booleans")?,
                ))
            })
            .collect::<Result<_, &str>>()?,
        Some(_) => return Err("params must be an object of at most 16 entries".into()),
    };
    let body = match msg.get("body") {
        None | Some(Value::Null) => None,
        Some(body @ Value::Object(_)) => Some(body.clone()),
        Some(_) => return Err("body must be an object or null".into()),
    };
    let headers = match msg.get("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) if map.len() <= MAX_HEADERS => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) if v.bytes().all(is_printable) => Ok((k.clone(), v.to_string())),
                _ => Err("header values must be printable strings"),
            })
            .collect::<Result<_, &str>>()?,
        Some(_) => return Err("headers must be an object of at most 16 entries".into()),
    };
    Ok(Command {
        id: id.to_string(),
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        params,
        body,
        headers,
    })
}

fn string_field<'a>(msg: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    msg.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{key} must be a string"))
}

/// A query value as httpx renders it: strings as they are, numbers in JSON form, booleans
/// as `true`/`false`.
fn param_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// The models' id pattern, `^[A-Za-z0-9._~-]{1,64}$`.
pub fn is_safe_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

/// A response envelope. `content_type` is dropped (sent as null) when it is empty or longer
/// than the models allow; `data` should be null when `has_binary` is true.
pub fn response(
    id: &str,
    status: u16,
    content_type: Option<&str>,
    has_binary: bool,
    data: Value,
) -> String {
    let content_type = content_type
        .filter(|ct| (1..=MAX_CONTENT_TYPE_LEN).contains(&ct.len()))
        .map_or(Value::Null, |ct| Value::String(ct.to_string()));
    let mut map = Map::with_capacity(6);
    map.insert("id".into(), Value::String(id.to_string()));
    map.insert("type".into(), Value::String("response".into()));
    map.insert("status".into(), Value::from(status));
    map.insert("content_type".into(), content_type);
    map.insert("has_binary".into(), Value::Bool(has_binary));
    map.insert("data".into(), data);
    Value::Object(map).to_string()
}

/// The answer the relay itself gives (403, 400, 429, 503): `{"detail": ...}` without a
/// content type, like the plugin's.
pub fn error_response(id: &str, status: u16, detail: &str) -> String {
    response(
        id,
        status,
        None,
        false,
        serde_json::json!({ "detail": detail }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(extra: Value) -> String {
        let mut msg = json!({
            "id": "6f1c2d3e-0000-4000-8000-000000000001",
            "type": "request",
            "method": "post",
            "path": "/captures",
            "params": {},
            "body": {"product_id": 42},
            "headers": {}
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() && k != "body" {
                msg.as_object_mut().unwrap().remove(k);
            } else {
                msg[k] = v.clone();
            }
        }
        msg.to_string()
    }

    fn malformed(extra: Value) -> (Option<String>, String) {
        match parse(&request(extra)) {
            Incoming::Malformed { id, reason } => (id, reason),
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_contracts_example() {
        let Incoming::Request(cmd) = parse(&request(json!({}))) else {
            panic!("not a request");
        };
        assert_eq!(cmd.id, "6f1c2d3e-0000-4000-8000-000000000001");
        assert_eq!(cmd.method, "POST");
        assert_eq!(cmd.path, "/captures");
        assert!(cmd.params.is_empty() && cmd.headers.is_empty());
        assert_eq!(cmd.body, Some(json!({"product_id": 42})));
    }

    #[test]
    fn optional_fields_default_and_params_render_like_httpx() {
        let Incoming::Request(cmd) = parse(&request(json!({
            "params": {"s": "a b", "i": 3, "f": 1.5, "t": true, "n": false},
            "headers": {"traceparent": "00-abc-def-01"},
            "body": null,
            "extra": "ignored"
        }))) else {
            panic!("not a request");
        };
        let params: Vec<_> = cmd
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("s", "a b"),
                ("i", "3"),
                ("f", "1.5"),
                ("t", "true"),
                ("n", "false")
            ]
        );
        assert_eq!(
            cmd.headers,
            [("traceparent".into(), "00-abc-def-01".into())]
        );
        assert_eq!(cmd.body, None);
        let minimal = r#"{"type":"request","id":"a","method":"GET","path":"/camera"}"#;
        assert!(matches!(parse(minimal), Incoming::Request(c) if c.params.is_empty()));
    }

    #[test]
    fn malformed_requests_keep_a_usable_id_only() {
        let id = Some("6f1c2d3e-0000-4000-8000-000000000001".to_string());
        for bad in [
            json!({"method": null}),
            json!({"method": 7}),
            json!({"method": "GETTTTTTTTTTTTTTT"}),
            json!({"method": "GE T"}),
            json!({"path": null}),
            json!({"path": ""}),
            json!({"path": "/a\u{7}"}),
            json!({"path": "/é"}),
            json!({"path": format!("/{}", "a".repeat(2048))}),
            json!({"params": []}),
            json!({"params": {"a": null}}),
            json!({"params": {"a": {"b": 1}}}),
            json!({"params": (0..17).map(|i| (i.to_string(), json!(i))).collect::<Map<_, _>>()}),
            json!({"body": [1]}),
            json!({"body": "text"}),
            json!({"headers": {"a": 1}}),
            json!({"headers": {"a": "line\nbreak"}}),
            json!({"headers": "x"}),
        ] {
            assert_eq!(malformed(bad.clone()).0, id, "{bad}");
        }
        for bad_id in [
            json!(null),
            json!(""),
            json!(5),
            json!("has space"),
            json!("x".repeat(65)),
        ] {
            assert_eq!(malformed(json!({"id": bad_id, "method": 1})).0, None);
            assert_eq!(malformed(json!({"id": bad_id})).0, None);
        }
    }

    #[test]
    fn heartbeats_and_noise() {
        assert_eq!(parse(PING), Incoming::Ping);
        assert_eq!(parse(r#"{"type": "pong"}"#), Incoming::Pong);
        assert!(matches!(parse("not json"), Incoming::Ignored(_)));
        assert!(matches!(parse("[1,2]"), Incoming::Ignored(_)));
        assert!(matches!(parse(r#""ping""#), Incoming::Ignored(_)));
        assert!(matches!(
            parse(r#"{"type":"response","id":"x"}"#),
            Incoming::Ignored(_)
        ));
        assert!(matches!(parse(r#"{"id":"x"}"#), Incoming::Ignored(_)));
    }

    #[test]
    fn responses_have_exactly_six_keys_in_order() {
        let text = response("abc", 200, Some("application/json"), false, json!({"a": 1}));
        assert_eq!(
            text,
            r#"{"id":"abc","type":"response","status":200,"content_type":"application/json","has_binary":false,"data":{"a":1}}"#
        );
        let text = response("abc", 204, Some(""), false, json!(""));
        assert_eq!(
            text,
            r#"{"id":"abc","type":"response","status":204,"content_type":null,"has_binary":false,"data":""}"#
        );
        let long = "x".repeat(256);
        assert!(
            response("a", 200, Some(&long), true, Value::Null).contains(r#""content_type":null"#)
        );
        assert_eq!(
            error_response("abc", 403, FORBIDDEN_DETAIL),
            r#"{"id":"abc","type":"response","status":403,"content_type":null,"has_binary":false,"data":{"detail":"Relay command is not allowed."}}"#
        );
    }
}
