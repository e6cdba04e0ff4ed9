//! Secure random tokens and ids, shaped like Python's `secrets.token_urlsafe` and
//! `uuid4().hex` so values look the same as the plugin's.

use ring::rand::{SecureRandom, SystemRandom};

/// Fills `buf` from the operating system's secure random source.
///
/// Panics only if the OS random source fails, which never happens on a working Linux
/// system; carrying on with predictable keys would be worse than stopping.
pub fn fill(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the operating system's random number generator failed");
}

/// `nbytes` random bytes as unpadded base64url, like `secrets.token_urlsafe(nbytes)`
/// (32 bytes give 43 characters).
pub fn token_urlsafe(nbytes: usize) -> String {
    let mut bytes = vec![0u8; nbytes];
    fill(&mut bytes);
    base64url(&bytes)
}

/// A random version 4 UUID as 32 lowercase hex digits, like `uuid4().hex`.
pub fn hex_id() -> String {
    let mut bytes = [0u8; 16];
    fill(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpadded base64url (RFC 4648 §5), as used by JWTs, JWKs and `token_urlsafe`.
pub fn base64url(bytes: &[u8]) -> String {
    crate::base64::encode_url(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn base64url_uses_the_url_safe_alphabet() {
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0xff, 0xff, 0xff]), "____");
        assert_eq!(base64url(&[0x00, 0x00, 0x00]), "AAAA");
        // The JWT header {"alg":"ES256","typ":"JWT"} from RFC 7515 examples.
        assert_eq!(
            base64url(br#"{"alg":"ES256","typ":"JWT"}"#),
            "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9"
        );
        let all: Vec<u8> = (0..=255).collect();
        let encoded = base64url(&all);
        assert_eq!(encoded.len(), 342);
        assert!(encoded.starts_with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
        assert!(encoded.ends_with("-_w"));
    }

    #[test]
    fn token_urlsafe_has_python_lengths() {
        for (nbytes, len) in [(0, 0), (1, 2), (16, 22), (32, 43)] {
            let token = token_urlsafe(nbytes);
            assert_eq!(token.len(), len);
            assert!(token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_ne!(token_urlsafe(32), token_urlsafe(32));
    }

    #[test]
    fn hex_id_is_a_uuid4_in_hex() {
        let id = hex_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(&id[12..13], "4", "version nibble");
        assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"), "variant bits");
        assert_ne!(hex_id(), hex_id());
    }

    #[test]
    fn fill_changes_the_buffer() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill(&mut a);
        fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
