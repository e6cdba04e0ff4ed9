//! Request validation with FastAPI's 422 shape:
//! `{"detail": [{"type", "loc", "msg", "input"}, ...]}`, so clients of the Python plugin can
//! read our errors the same way.

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};

#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
}

impl FieldError {
    pub fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>, input: Value) -> Self {
        FieldError {
            kind,
            loc: loc.iter().map(|s| json!(s)).collect(),
            msg: msg.into(),
            input,
        }
    }

    fn to_json(&self) -> Value {
        json!({ "type": self.kind, "loc": self.loc, "msg": self.msg, "input": self.input })
    }
}

/// 422 with the detail list.
pub fn unprocessable(errors: &[FieldError]) -> Response {
    let detail: Vec<Value> = errors.iter().map(FieldError::to_json).collect();
    Response::json(422, &json!({ "detail": detail }))
}

/// The JSON body: `Ok(None)` when there is none (or it is `null`). A body of whitespace
/// only is not "none" but invalid JSON, as FastAPI has it (422 `json_invalid`).
pub fn json_body(req: &Request) -> Result<Option<Value>, Response> {
    if req.body.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(unprocessable(&[FieldError {
            kind: "json_invalid",
            loc: vec![json!("body"), json!(e.column())],
            msg: "JSON decode error".into(),
            input: json!({}),
        }])),
    }
}

/// A JSON object body that must be present.
pub fn object_body(req: &Request) -> Result<Map<String, Value>, Response> {
    match json_body(req)? {
        Some(Value::Object(map)) => Ok(map),
        None => Err(unprocessable(&[FieldError::new(
            "missing",
            &["body"],
            "Field required",
            Value::Null,
        )])),
        Some(other) => Err(unprocessable(&[FieldError::new(
            "dict_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )])),
    }
}

/// Reads typed fields out of a body object, collecting every error before answering.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    root: &'static str,
    pub errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, root: &'static str) -> Fields<'a> {
        Fields {
            map,
            root,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, kind: &'static str, name: &str, msg: String, input: &Value) {
        self.errors.push(FieldError::new(
            kind,
            &[self.root, name],
            msg,
            input.clone(),
        ));
    }

    fn get(&mut self, name: &str, required: bool) -> Option<&'a Value> {
        match self.map.get(name) {
            None if required => {
                self.errors.push(FieldError::new(
                    "missing",
                    &[self.root, name],
                    "Field required",
                    Value::Object(self.map.clone()),
                ));
                None
            }
            other => other,
        }
    }

    pub fn enumeration(&mut self, name: &str, options: &[&'static str]) -> Option<&'static str> {
        let v = self.get(name, true)?;
        let found = v
            .as_str()
            .and_then(|s| options.iter().copied().find(|o| *o == s));
        if found.is_none() {
            let quoted: Vec<String> = options.iter().map(|o| format!("'{o}'")).collect();
            let (last, first) = quoted.split_last().expect("options are not empty");
            let msg = if first.is_empty() {
                format!("Input should be {last}")
            } else {
                format!("Input should be {} or {last}", first.join(", "))
            };
            self.error("enum", name, msg, v);
        }
        found
    }

    /// An optional number (null allowed) no smaller than `min`.
    pub fn number_at_least(&mut self, name: &str, min: f64) -> Option<f64> {
        let v = self.get(name, false)?;
        if v.is_null() {
            return None;
        }
        match v.as_f64() {
            Some(x) if x >= min => Some(x),
            Some(_) => {
                self.error(
                    "greater_than_equal",
                    name,
                    format!("Input should be greater than or equal to {min}"),
                    v,
                );
                None
            }
            None => {
                self.error(
                    "float_type",
                    name,
                    "Input should be a valid number".into(),
                    v,
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.get(name, false) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.error(
                    "bool_type",
                    name,
                    "Input should be a valid boolean".into(),
                    v,
                );
                default
            }
        }
    }

    /// A required integer within `min..=max`. As in JSON Schema (and pydantic), a number
    /// with a zero fractional part such as `60.0` is an integer too.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.get(name, true)?;
        if v.as_f64().is_some_and(|x| x.fract() != 0.0) {
            self.error(
                "int_from_float",
                name,
                "Input should be a valid integer, got a number with a fractional part".into(),
                v,
            );
            return None;
        }
        // `as` saturates, so a huge whole float still fails the range check below.
        let whole = v.as_i64().or_else(|| v.as_f64().map(|x| x as i64));
        match whole {
            Some(n) if n < min => {
                let msg = format!("Input should be greater than or equal to {min}");
                self.error("greater_than_equal", name, msg, v);
                None
            }
            Some(n) if n > max => {
                let msg = format!("Input should be less than or equal to {max}");
                self.error("less_than_equal", name, msg, v);
                None
            }
            Some(n) => Some(n),
            None => {
                self.error(
                    "int_type",
                    name,
                    "Input should be a valid integer".into(),
                    v,
                );
                None
            }
        }
    }

    pub fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        let v = self.get(name, true)?;
        let obj = v.as_object();
        if obj.is_none() {
            self.error(
                "dict_type",
                name,
                "Input should be a valid dictionary".into(),
                v,
            );
        }
        obj
    }

    /// `Err(422)` when anything went wrong.
    pub fn finish(self) -> Result<(), Response> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(unprocessable(&self.errors))
        }
    }
}

/// A query parameter's raw (percent-decoded) value.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_byte) {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// A query parameter as a number in a range: `Ok(None)` when absent, 422 when malformed.
pub fn query_number(
    req: &Request,
    name: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, Response> {
    let Some(raw) = query_param(req, name) else {
        return Ok(None);
    };
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= min && x <= max => Ok(Some(x)),
        Ok(_) => Err(unprocessable(&[FieldError::new(
            "value_error",
            &["query", name],
            format!("Input should be between {min} and {max}"),
            json!(raw),
        )])),
        Err(_) => Err(unprocessable(&[FieldError::new(
            "float_parsing",
            &["query", name],
            "Input should be a valid number, unable to parse string as a number",
            json!(raw),
        )])),
    }
}

/// A query parameter as an integer in a range: `Ok(None)` when absent, 422 when malformed.
pub fn query_integer(
    req: &Request,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Response> {
    let Some(raw) = query_param(req, name) else {
        return Ok(None);
    };
    let error = |kind, msg: String| {
        unprocessable(&[FieldError::new(kind, &["query", name], msg, json!(raw))])
    };
    match raw.parse::<i64>() {
        Ok(n) if n < min => Err(error(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        )),
        Ok(n) if n > max => Err(error(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        )),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(error(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str, query: &str) -> Request {
        let mut r = Request::new("POST", &format!("/x?{query}")).unwrap();
        r.body = body.as_bytes().to_vec();
        r
    }

    fn detail(resp: &Response) -> Value {
        assert_eq!(resp.status, 422);
        serde_json::from_slice::<Value>(&resp.body.to_vec()).unwrap()["detail"].clone()
    }

    #[test]
    fn bodies() {
        assert_eq!(json_body(&req("", "")).unwrap(), None);
        assert_eq!(json_body(&req(" null ", "")).unwrap(), None);
        let d = detail(&json_body(&req("{bad", "")).unwrap_err());
        assert_eq!(d[0]["type"], "json_invalid");
        assert_eq!(d[0]["loc"][0], "body");
        for blank in [" ", "\n", " \r\n\t "] {
            let d = detail(&json_body(&req(blank, "")).unwrap_err());
            assert_eq!(d[0]["type"], "json_invalid", "{blank:?}");
            assert_eq!(d[0]["msg"], "JSON decode error");
        }
        let d = detail(&object_body(&req("[1]", "")).unwrap_err());
        assert_eq!(d[0]["type"], "dict_type");
        assert_eq!(
            detail(&object_body(&req("", "")).unwrap_err())[0]["type"],
            "missing"
        );
    }

    #[test]
    fn fields_collect_every_error() {
        let map = serde_json::from_str::<Map<String, Value>>(
            r#"{"mode":"sideways","lens_position":-1,"trigger_cycle":"yes"}"#,
        )
        .unwrap();
        let mut f = Fields::new(&map, "body");
        assert_eq!(
            f.enumeration("mode", &["continuous", "auto", "manual"]),
            None
        );
        assert_eq!(f.number_at_least("lens_position", 0.0), None);
        assert!(!f.boolean("trigger_cycle", false));
        assert_eq!(f.integer("keep", 1, 10), None);
        let d = detail(&f.finish().unwrap_err());
        assert_eq!(d.as_array().unwrap().len(), 4);
        assert_eq!(
            d[0]["msg"],
            "Input should be 'continuous', 'auto' or 'manual'"
        );
        assert_eq!(d[1]["type"], "greater_than_equal");
        assert_eq!(d[3]["loc"], json!(["body", "keep"]));
    }

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        let map = serde_json::from_str::<Map<String, Value>>(
            r#"{"a":60.0,"b":2.5,"c":1e300,"d":-0.0,"e":"7","f":true,"g":18446744073709551615}"#,
        )
        .unwrap();
        let mut f = Fields::new(&map, "body");
        assert_eq!(f.integer("a", 0, 100), Some(60));
        assert_eq!(f.integer("b", 0, 100), None);
        assert_eq!(f.integer("c", 0, 100), None);
        assert_eq!(f.integer("d", 0, 100), Some(0));
        assert_eq!(f.integer("e", 0, 100), None);
        assert_eq!(f.integer("f", 0, 100), None);
        assert_eq!(f.integer("g", 0, 100), None);
        let d = detail(&f.finish().unwrap_err());
        let kinds: Vec<&str> = d
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "int_from_float",
                "less_than_equal",
                "int_type",
                "int_type",
                "less_than_equal"
            ]
        );
    }

    #[test]
    fn query_parameters() {
        let r = req("", "fps=12.5&x=a%20b+c&limit=abc&bad=%zz");
        assert_eq!(query_param(&r, "x").as_deref(), Some("a b c"));
        assert_eq!(query_param(&r, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_number(&r, "fps", 0.1, 60.0).unwrap(), Some(12.5));
        assert_eq!(query_number(&r, "none", 0.1, 60.0).unwrap(), None);
        assert!(query_number(&r, "limit", 1.0, 5.0).is_err());
        assert!(query_number(&req("", "fps=100"), "fps", 0.1, 60.0).is_err());
        assert!(query_number(&req("", "fps=NaN"), "fps", 0.1, 60.0).is_err());
        assert_eq!(
            query_integer(&req("", "limit=5"), "limit", 1, 9).unwrap(),
            Some(5)
        );
        for bad in ["limit=0", "limit=10", "limit=2.5", "limit="] {
            assert!(
                query_integer(&req("", bad), "limit", 1, 9).is_err(),
                "{bad}"
            );
        }
    }
}
