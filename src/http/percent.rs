//! Percent-encoding for query strings and path segments we build (RFC 3986).

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(super::encode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
    }
}
