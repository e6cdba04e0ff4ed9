//! S3 object keys and public URLs, as the plugin names them (contract §8.3), except that the
//! product folder is sanitised: the plugin puts `str(product_id)` into the key unchanged, so a
//! `product_id` like `"../x"` or `"a b?"` made keys that are awkward or unsafe in URLs.

use serde_json::{Map, Value};

/// The folder every capture lives under.
pub const PREFIX: &str = "rpi-cam";
/// Used when the capture names no product.
pub const UNSORTED: &str = "unsorted";
/// Longest product folder kept.
const MAX_FOLDER_CHARS: usize = 64;

/// `rpi-cam/<product_id or "unsorted">/<image_id>.jpg`.
pub fn object_key(image_id: &str, upload_metadata: &Map<String, Value>) -> String {
    format!(
        "{PREFIX}/{}/{image_id}.jpg",
        product_folder(upload_metadata.get("product_id"))
    )
}

/// `str(product_id)` as Python spells it, or `unsorted` where Python's `or` would pick it
/// (absent, null, false, 0, "", empty list or object); then only letters, digits, `-`, `_`
/// and `.` are kept, anything else becomes `_`.
fn product_folder(product_id: Option<&Value>) -> String {
    let raw = match product_id {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return UNSORTED.into(),
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => return UNSORTED.into(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.is_empty() => return UNSORTED.into(),
        Some(Value::Object(o)) if o.is_empty() => return UNSORTED.into(),
        Some(other) => other.to_string(),
    };
    let safe: String = raw
        .chars()
        .take(MAX_FOLDER_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.chars().all(|c| c == '.') {
        UNSORTED.into()
    } else {
        safe
    }
}

/// `S3_PUBLIC_URL_TEMPLATE` filled in: `{endpoint}` (without its trailing `/`), `{bucket}`
/// and `{key}`; any other text is kept as it is.
pub fn public_url(template: &str, endpoint: &str, bucket: &str, key: &str) -> String {
    template
        .replace("{endpoint}", endpoint.trim_end_matches('/'))
        .replace("{bucket}", bucket)
        .replace("{key}", key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(body: Value) -> String {
        let Value::Object(map) = body else { panic!() };
        object_key("0123456789abcdef0123456789abcdef", &map)
    }

    #[test]
    fn keys_as_the_plugin_makes_them() {
        assert_eq!(
            key(json!({"product_id": 42, "description": "x"})),
            "rpi-cam/42/0123456789abcdef0123456789abcdef.jpg"
        );
        assert_eq!(
            key(json!({"product_id": "abc-7"})).split('/').nth(1),
            Some("abc-7")
        );
        for unsorted in [
            json!({}),
            json!({"product_id": null}),
            json!({"product_id": 0}),
            json!({"product_id": ""}),
            json!({"product_id": false}),
            json!({"product_id": []}),
        ] {
            assert_eq!(
                key(unsorted.clone()).split('/').nth(1),
                Some("unsorted"),
                "{unsorted}"
            );
        }
        assert_eq!(
            key(json!({"product_id": 1.5})).split('/').nth(1),
            Some("1.5")
        );
        assert_eq!(
            key(json!({"product_id": true})).split('/').nth(1),
            Some("True")
        );
    }

    #[test]
    fn product_folders_are_sanitised() {
        let folder = |v: Value| {
            key(json!({ "product_id": v }))
                .split('/')
                .nth(1)
                .unwrap()
                .to_string()
        };
        assert_eq!(folder(json!("../../etc")), ".._.._etc");
        assert_eq!(folder(json!("..")), "unsorted");
        assert_eq!(folder(json!("a b?c#d/e")), "a_b_c_d_e");
        assert_eq!(folder(json!("caf\u{e9}")), "caf_");
        assert_eq!(folder(json!([1, 2])), "_1_2_");
        assert_eq!(folder(json!("x".repeat(100))).len(), 64);
        let k = key(json!({"product_id": "../../x"}));
        assert_eq!(k.matches('/').count(), 2, "{k}");
    }

    #[test]
    fn public_urls() {
        let key = "rpi-cam/42/abc123.jpg";
        assert_eq!(
            public_url(
                "{endpoint}/{bucket}/{key}",
                "http://minio.local:9000/",
                "rpi-cam",
                key
            ),
            "http://minio.local:9000/rpi-cam/rpi-cam/42/abc123.jpg"
        );
        assert_eq!(
            public_url(
                "https://cdn.example/{key}?b={bucket}&x={other}",
                "http://e",
                "b",
                key
            ),
            "https://cdn.example/rpi-cam/42/abc123.jpg?b=b&x={other}"
        );
    }
}
