//! The bounds plugin 0.6 puts on the body of `POST /captures` (`CaptureUploadMetadata`): at
//! most 16 keys, keys of at most 64 characters, strings of at most 1024, arrays of at most 16
//! items, objects nested at most 4 levels below the body, and 4 KiB serialized. The sinks
//! store and forward this body, so it must not grow without bound. Non-finite numbers cannot
//! occur: JSON has none and the body parser refuses them.

use std::fmt;

use serde_json::{Map, Value};

pub const MAX_KEYS: usize = 16;
pub const MAX_KEY_CHARS: usize = 64;
pub const MAX_STRING_CHARS: usize = 1024;
pub const MAX_ITEMS: usize = 16;
pub const MAX_DEPTH: usize = 4;
pub const MAX_BYTES: usize = 4 * 1024;

/// The first bound the body breaks, in the plugin's order of checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataError {
    /// The body itself has more than [`MAX_KEYS`] keys (pydantic's `too_long`).
    TooManyTopKeys(usize),
    TooDeep,
    StringTooLong,
    TooManyItems,
    TooManyKeys,
    KeyTooLong,
    TooLarge,
}

impl MetadataError {
    /// The 422's `type`.
    pub fn kind(self) -> &'static str {
        match self {
            MetadataError::TooManyTopKeys(_) => "too_long",
            _ => "value_error",
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = "upload_metadata";
        match self {
            MetadataError::TooManyTopKeys(n) => write!(
                f,
                "Dictionary should have at most {MAX_KEYS} items after validation, not {n}"
            ),
            MetadataError::TooDeep => write!(
                f,
                "Value error, {field} may be nested at most {MAX_DEPTH} levels"
            ),
            MetadataError::StringTooLong => write!(
                f,
                "Value error, {field} strings may be at most {MAX_STRING_CHARS} characters"
            ),
            MetadataError::TooManyItems => write!(
                f,
                "Value error, {field} arrays may include at most {MAX_ITEMS} items"
            ),
            MetadataError::TooManyKeys => write!(
                f,
                "Value error, {field} objects may include at most {MAX_KEYS} keys"
            ),
            MetadataError::KeyTooLong => write!(
                f,
                "Value error, {field} keys may be at most {MAX_KEY_CHARS} characters"
            ),
            MetadataError::TooLarge => write!(
                f,
                "Value error, {field} must serialize to at most {MAX_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Checks the body of `POST /captures` against the plugin's bounds.
pub fn check(metadata: &Map<String, Value>) -> Result<(), MetadataError> {
    if metadata.len() > MAX_KEYS {
        return Err(MetadataError::TooManyTopKeys(metadata.len()));
    }
    check_object(metadata, 0)?;
    // Compact, non-ASCII kept, as the plugin's `json.dumps(separators=(",", ":"),
    // ensure_ascii=False)`.
    let size = serde_json::to_vec(metadata).map_or(usize::MAX, |v| v.len());
    if size > MAX_BYTES {
        return Err(MetadataError::TooLarge);
    }
    Ok(())
}

fn check_value(value: &Value, depth: usize) -> Result<(), MetadataError> {
    if depth > MAX_DEPTH {
        return Err(MetadataError::TooDeep);
    }
    match value {
        Value::String(s) if s.chars().count() > MAX_STRING_CHARS => {
            Err(MetadataError::StringTooLong)
        }
        Value::Array(items) => {
            if items.len() > MAX_ITEMS {
                return Err(MetadataError::TooManyItems);
            }
            items.iter().try_for_each(|v| check_value(v, depth + 1))
        }
        Value::Object(map) => check_object(map, depth),
        _ => Ok(()),
    }
}

fn check_object(map: &Map<String, Value>, depth: usize) -> Result<(), MetadataError> {
    if map.len() > MAX_KEYS {
        return Err(MetadataError::TooManyKeys);
    }
    for (key, value) in map {
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(MetadataError::KeyTooLong);
        }
        check_value(value, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_json(v: Value) -> Result<(), MetadataError> {
        let Value::Object(map) = v else { panic!() };
        check(&map)
    }

    /// `{"a": {"a": … value}}` with `levels` objects below the body.
    fn nested(levels: usize, value: Value) -> Value {
        (0..levels).fold(value, |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn ordinary_metadata_passes() {
        assert_eq!(
            check_json(json!({"product_id": 42, "description": "a chair", "tags": ["x"]})),
            Ok(())
        );
        assert_eq!(check_json(json!({})), Ok(()));
    }

    #[test]
    fn each_bound_at_and_beyond_its_limit() {
        let keys = |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), json!(1))).collect());
        assert_eq!(check_json(keys(16)), Ok(()));
        assert_eq!(check_json(keys(17)), Err(MetadataError::TooManyTopKeys(17)));
        assert_eq!(
            check_json(json!({ "o": keys(17) })),
            Err(MetadataError::TooManyKeys)
        );
        assert_eq!(check_json(json!({ "k".repeat(64): 1 })), Ok(()));
        assert_eq!(
            check_json(json!({ "é".repeat(65): 1 })),
            Err(MetadataError::KeyTooLong),
            "characters, not bytes"
        );
        assert_eq!(check_json(json!({ "s": "é".repeat(1024) })), Ok(()));
        assert_eq!(
            check_json(json!({ "s": "x".repeat(1025) })),
            Err(MetadataError::StringTooLong)
        );
        assert_eq!(check_json(json!({ "l": vec![1; 16] })), Ok(()));
        assert_eq!(
            check_json(json!({ "l": vec![1; 17] })),
            Err(MetadataError::TooManyItems)
        );
        // The body is level 0; a scalar may sit at level 4, not 5.
        assert_eq!(check_json(nested(4, json!(1))), Ok(()));
        assert_eq!(check_json(nested(5, json!(1))), Err(MetadataError::TooDeep));
        assert_eq!(
            check_json(nested(4, json!([1]))),
            Err(MetadataError::TooDeep),
            "array items count as a level"
        );
        // Strings of 1000 characters fit every other bound; four fit in 4 KiB, five do not.
        let strings = |n: usize| {
            Value::Object(
                (0..n)
                    .map(|i| (format!("k{i}"), json!("x".repeat(1000))))
                    .collect(),
            )
        };
        assert_eq!(check_json(strings(4)), Ok(()));
        assert_eq!(check_json(strings(5)), Err(MetadataError::TooLarge));
    }

    #[test]
    fn messages_are_the_plugins() {
        assert_eq!(
            MetadataError::StringTooLong.to_string(),
            "Value error, upload_metadata strings may be at most 1024 characters"
        );
        assert_eq!(MetadataError::TooLarge.kind(), "value_error");
        assert_eq!(MetadataError::TooManyTopKeys(17).kind(), "too_long");
    }
}
