//! S3 object keys and public URLs, as the plugin names them (contract §8.3, and the product
//! folder sanitised as plugin 0.6 does it, drift §2.7).

use serde_json::{Map, Value};

/// The folder every capture lives under.
pub const PREFIX: &str = "rpi-cam";
/// Used when the capture names no product.
pub const UNSORTED: &str = "unsorted";
/// Longest product folder kept.
const MAX_FOLDER_CHARS: usize = 64;

/// `rpi-cam/<product folder>/<image_id>.jpg`.
pub fn object_key(image_id: &str, upload_metadata: &Map<String, Value>) -> String {
    format!(
        "{PREFIX}/{}/{image_id}.jpg",
        product_folder(upload_metadata.get("product_id"))
    )
}

/// One safe key segment from `str(product_id)` as Python spells it: path parts (split on `/`
/// and `\`, without empty, `.` and `..` parts) joined with `-`, every run of characters other
/// than letters, digits, `_`, `.` and `-` made one `-`, runs of `-` collapsed, `-` and `.`
/// trimmed from both ends, at most 64 characters. Only a missing (or null) id, or one that
/// leaves nothing, is `unsorted`; `0`, `false` and `""`… are ids like any other.
fn product_folder(product_id: Option<&Value>) -> String {
    let raw = match product_id {
        None | Some(Value::Null) => return UNSORTED.into(),
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::Bool(false)) => "False".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let joined = raw
        .replace('\\', "/")
        .split('/')
        .filter(|part| !matches!(*part, "" | "." | ".."))
        .collect::<Vec<_>>()
        .join("-");
    let mut dashed = String::with_capacity(joined.len());
    for c in joined.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            c
        } else {
            '-'
        };
        if !(c == '-' && dashed.ends_with('-')) {
            dashed.push(c);
        }
    }
    let trim = |s: &str| s.trim_matches(|c| c == '-' || c == '.').to_string();
    let bounded: String = trim(&dashed).chars().take(MAX_FOLDER_CHARS).collect();
    let folder = trim(&bounded);
    if folder.is_empty() {
        UNSORTED.into()
    } else {
        folder
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

    fn folder(v: Value) -> String {
        key(json!({ "product_id": v }))
            .split('/')
            .nth(1)
            .unwrap()
            .to_string()
    }

    #[test]
    fn keys_as_the_plugin_makes_them() {
        assert_eq!(
            key(json!({"product_id": 42, "description": "x"})),
            "rpi-cam/42/0123456789abcdef0123456789abcdef.jpg"
        );
        assert_eq!(folder(json!("abc-7")), "abc-7");
        assert_eq!(folder(json!(1.5)), "1.5");
        assert_eq!(folder(json!(true)), "True");
        assert_eq!(folder(json!(false)), "False");
        assert_eq!(folder(json!(0)), "0", "0 is an id, not a missing one");
        for unsorted in [json!({}), json!({"product_id": null})] {
            assert_eq!(key(unsorted.clone()).split('/').nth(1), Some("unsorted"));
        }
        for nothing_left in [json!(""), json!([]), json!("../.."), json!("-.-")] {
            assert_eq!(folder(nothing_left.clone()), "unsorted", "{nothing_left}");
        }
    }

    #[test]
    fn product_folders_are_sanitised_as_the_plugin_does() {
        assert_eq!(folder(json!("../../etc")), "etc");
        assert_eq!(folder(json!("a b?c#d/e")), "a-b-c-d-e");
        assert_eq!(folder(json!("a\\b//c/./d")), "a-b-c-d");
        assert_eq!(folder(json!("caf\u{e9}")), "caf");
        assert_eq!(
            folder(json!("--a   b--")),
            "a-b",
            "runs collapsed, ends trimmed"
        );
        assert_eq!(folder(json!(".hidden.")), "hidden");
        assert_eq!(folder(json!([1, 2])), "1-2");
        assert_eq!(folder(json!("x".repeat(100))), "x".repeat(64));
        // Cut at 64, then trimmed again: no trailing dash survives the cut.
        let cut = format!("{}-b", "a".repeat(63));
        assert_eq!(folder(json!(cut)), "a".repeat(63));
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
