//! A secret setting (a key, a password, a private key): kept whole for the code that uses it,
//! shown as `"<redacted>"` in every `Debug` output so a logged configuration never leaks it.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the code that has to send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

/// `"<redacted>"` for a set secret, `""` for an unset one.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(redacted(&self.0), f)
    }
}

/// `"<redacted>"` for a set secret, `""` for an unset one.
pub fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "<redacted>"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_but_not_whether_it_is_set() {
        assert_eq!(format!("{:?}", Secret::new("topsecret")), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        assert_eq!(Secret::from("k").expose(), "k");
    }
}
