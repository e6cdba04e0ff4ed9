//! Base64 (RFC 4648): the standard alphabet with padding for PEM, the URL-safe alphabet
//! without padding for JWTs, JWKs and tokens.

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard base64 with `=` padding (PEM bodies).
pub fn encode_standard(bytes: &[u8]) -> String {
    let mut out = encode(bytes, STANDARD);
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Unpadded base64url (§5), as used by JWTs, JWKs and `token_urlsafe`.
pub fn encode_url(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        // A chunk of k bytes carries k + 1 six-bit groups.
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(alphabet[index as usize]));
        }
    }
    out
}

/// Decodes either alphabet, with or without padding. Whitespace is not allowed (strip PEM
/// line breaks first); neither are mixed or trailing garbage bits.
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 {
        return Err(DecodeError);
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return Err(DecodeError),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover character (6 bits) cannot end a valid encoding, and the unused low
    // bits of the last character must be zero.
    if bits >= 6 || acc != 0 {
        return Err(DecodeError);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid base64")
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn standard_matches_rfc4648_vectors() {
        for (input, expected) in VECTORS {
            assert_eq!(encode_standard(input.as_bytes()), expected, "{input:?}");
            assert_eq!(decode(expected).unwrap(), input.as_bytes(), "{expected:?}");
            let unpadded = expected.trim_end_matches('=');
            assert_eq!(encode_url(input.as_bytes()), unpadded);
            assert_eq!(decode(unpadded).unwrap(), input.as_bytes());
        }
    }

    #[test]
    fn alphabets_differ_only_in_two_characters() {
        assert_eq!(encode_standard(&[0xfb, 0xff]), "+/8=");
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            assert_eq!(decode(&encode_url(&all[..len])).unwrap(), &all[..len]);
            assert_eq!(decode(&encode_standard(&all[..len])).unwrap(), &all[..len]);
        }
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "Z", "Zh", "Zm9=", "Zg===", "Zm 9v", "Zm9v\n", "Zm*v", "Zm9vY",
        ] {
            assert_eq!(decode(bad), Err(DecodeError), "{bad:?}");
        }
    }
}
