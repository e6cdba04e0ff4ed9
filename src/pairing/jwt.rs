//! The device assertion (contract/plugin.md §6, backend.md §2.2): an ES256 JWT the device
//! signs for every WebSocket handshake and every backend HTTP call. Sans-IO: the caller passes
//! the time and the `jti`.

use serde_json::json;

use super::keys::{DeviceKey, KeyError};
use crate::base64;

pub const AUDIENCE: &str = "relab-rpi-cam-relay";
/// The backend allows no skew at all (`iat`/`nbf` must not be in its future), so the token
/// claims to be a little older than it is.
pub const BACKDATE_S: i64 = 5;
/// `exp - iat`; the backend's replay window caps useful lifetimes at 300 s.
pub const LIFETIME_S: i64 = 120;

/// The claims that vary per token.
pub struct Assertion<'a> {
    pub camera_id: &'a str,
    pub key_id: &'a str,
    pub now_unix: i64,
    pub jti: &'a str,
}

/// `header.claims.signature`, each part base64url.
pub fn sign(key: &DeviceKey, assertion: &Assertion<'_>) -> Result<String, KeyError> {
    let header = json!({"alg": "ES256", "kid": assertion.key_id, "typ": "JWT"});
    let subject = format!("camera:{}", assertion.camera_id);
    let issued = assertion.now_unix - BACKDATE_S;
    let claims = json!({
        "iss": subject,
        "sub": subject,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + LIFETIME_S,
        "jti": assertion.jti,
    });
    let signing_input = format!(
        "{}.{}",
        base64::encode_url(header.to_string().as_bytes()),
        base64::encode_url(claims.to_string().as_bytes())
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        base64::encode_url(&signature)
    ))
}

/// A fresh `jti`: 24 random bytes, like the plugin's `token_urlsafe(24)`.
pub fn new_jti() -> String {
    crate::random::token_urlsafe(24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    use serde_json::Value;

    fn part(token: &str, index: usize) -> Vec<u8> {
        base64::decode(token.split('.').nth(index).unwrap()).unwrap()
    }

    #[test]
    fn token_has_the_contract_header_and_claims() {
        let key = DeviceKey::generate().unwrap();
        let token = sign(
            &key,
            &Assertion {
                camera_id: "0b8f6a5e-2d7c-4f3e-9a1b-123456789abc",
                key_id: "key-id-0123",
                now_unix: 1_800_000_000,
                jti: "jti-1",
            },
        )
        .unwrap();
        assert_eq!(token.split('.').count(), 3);
        let header: Value = serde_json::from_slice(&part(&token, 0)).unwrap();
        assert_eq!(
            header,
            json!({"alg": "ES256", "kid": "key-id-0123", "typ": "JWT"})
        );
        let claims: Value = serde_json::from_slice(&part(&token, 1)).unwrap();
        let subject = "camera:0b8f6a5e-2d7c-4f3e-9a1b-123456789abc";
        assert_eq!(claims["iss"], subject);
        assert_eq!(claims["sub"], subject);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iat"], 1_800_000_000 - BACKDATE_S);
        assert_eq!(claims["nbf"], claims["iat"]);
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!(lifetime > 0 && lifetime <= 120, "{lifetime}");
        assert!(claims["exp"].as_i64().unwrap() > 1_800_000_000 + 60);
        assert_eq!(claims["jti"], "jti-1");
    }

    #[test]
    fn signature_verifies_over_the_signing_input() {
        let key = DeviceKey::generate().unwrap();
        let assertion = Assertion {
            camera_id: "c",
            key_id: "k",
            now_unix: 1,
            jti: &new_jti(),
        };
        let token = sign(&key, &assertion).unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        let signature = base64::decode(signature).unwrap();
        assert_eq!(signature.len(), 64, "raw r || s, not DER");
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_point());
        assert!(public.verify(input.as_bytes(), &signature).is_ok());
        let other = DeviceKey::generate().unwrap();
        let wrong = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, other.public_point());
        assert!(wrong.verify(input.as_bytes(), &signature).is_err());
    }

    #[test]
    fn jtis_are_fresh_and_url_safe() {
        let a = new_jti();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_jti());
    }
}
