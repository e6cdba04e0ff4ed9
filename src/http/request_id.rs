//! The request id (§2): echoed from `X-Request-ID` or generated, and set on every normal
//! response so a client can match its request to our log lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

use super::Request;

pub const HEADER: &str = "X-Request-ID";
const MAX_LEN: usize = 128;

/// The incoming `X-Request-ID` when it matches `[A-Za-z0-9._:-]{1,128}` (as plugin 0.4+), else
/// a new id: 32 lowercase hex digits, a random UUID v4 like the plugin's `uuid4().hex`.
pub fn request_id(req: &Request) -> String {
    match req.header(HEADER) {
        Some(id) if is_acceptable(id) => id.to_string(),
        _ => generate(),
    }
}

fn is_acceptable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn generate() -> String {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = fallback_bytes();
    }
    uuid4_hex(bytes)
}

/// An id only has to be unique, not secret, so if the system's random source ever fails the
/// clock and a counter will do.
fn fallback_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..].copy_from_slice(&count.to_be_bytes());
    bytes
}

/// Stamps the UUID version (4) and variant (RFC 4122) bits, then writes lowercase hex.
fn uuid4_hex(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: Option<&str>) -> Request {
        let mut req = Request::new("GET", "/camera").unwrap();
        if let Some(id) = id {
            req.headers.push(("x-request-id".into(), id.into()));
        }
        req
    }

    fn looks_generated(id: &str) -> bool {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && id.as_bytes()[12] == b'4'
            && matches!(id.as_bytes()[16], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn incoming_ids_are_echoed_unchanged() {
        let long = "x".repeat(128);
        for id in ["abc", "Req-42.x_y:z", &long] {
            assert_eq!(request_id(&with_id(Some(id))), id);
        }
    }

    #[test]
    fn bad_or_missing_ids_are_replaced() {
        let too_long = "x".repeat(129);
        for id in [
            None,
            Some(""),
            Some("has space"),
            Some("tab\t"),
            Some("é"),
            Some("Req-42/x"),
            Some("{weird}=id!"),
            Some(&too_long),
        ] {
            let got = request_id(&with_id(id));
            assert!(looks_generated(&got), "{id:?} → {got}");
        }
    }

    #[test]
    fn generated_ids_are_uuid4_hex_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(looks_generated(&a) && looks_generated(&b), "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn uuid_bits_are_stamped() {
        assert_eq!(uuid4_hex([0xff; 16]), "ffffffffffff4fffbfffffffffffffff");
        assert_eq!(uuid4_hex([0; 16]), "00000000000040008000000000000000");
    }

    #[test]
    fn the_fallback_is_unique_too() {
        let a = uuid4_hex(fallback_bytes());
        let b = uuid4_hex(fallback_bytes());
        assert!(looks_generated(&a));
        assert_ne!(a, b);
    }
}
