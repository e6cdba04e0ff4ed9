//! What one pairing cycle registers: a code for the user, a fingerprint only the device knows,
//! and a fresh key pair with its key id (contract/plugin.md §5 step 3).

use super::keys::{DeviceKey, KeyError};
use crate::random;

/// The models' alphabet (0.5.x): no 0/O/1/I, and every code also fits 0.3.1's `[A-Z0-9]{6}`.
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 6;

pub struct PairingMaterial {
    pub code: String,
    pub fingerprint: String,
    pub key_id: String,
    pub key: DeviceKey,
}

impl PairingMaterial {
    pub fn generate() -> Result<PairingMaterial, KeyError> {
        Ok(PairingMaterial {
            code: new_code(),
            // 22 characters of [A-Za-z0-9_-]: inside the backend's ^[A-Za-z0-9._~-]{8,64}$.
            fingerprint: random::token_urlsafe(16),
            key_id: random::token_urlsafe(16),
            key: DeviceKey::generate()?,
        })
    }

    /// The JSON body of `POST …/pairing/register`.
    pub fn register_body(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "rpi_fingerprint": self.fingerprint,
            "public_key_jwk": self.key.public_jwk(&self.key_id),
            "key_id": self.key_id,
        })
    }
}

/// Six characters from [`CODE_ALPHABET`]. 32 divides 256, so masking a random byte is unbiased.
pub fn new_code() -> String {
    let mut bytes = [0u8; CODE_LENGTH];
    random::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_use_only_the_unambiguous_alphabet() {
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
            assert!(!code.contains(['0', 'O', '1', 'I']));
            seen.insert(code);
        }
        assert!(seen.len() > 1990, "codes repeat too often: {}", seen.len());
    }

    #[test]
    fn register_body_matches_the_contract() {
        let material = PairingMaterial::generate().unwrap();
        let body = material.register_body();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            ["code", "rpi_fingerprint", "public_key_jwk", "key_id"]
        );
        let safe = |s: &str| {
            (8..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
        };
        assert!(safe(&material.fingerprint));
        assert!(safe(&material.key_id));
        assert_eq!(body["public_key_jwk"]["kid"], material.key_id.as_str());
        assert!(body["public_key_jwk"].get("d").is_none());
        let other = PairingMaterial::generate().unwrap();
        assert_ne!(other.fingerprint, material.fingerprint);
        assert_ne!(other.key.public_point(), material.key.public_point());
    }
}
