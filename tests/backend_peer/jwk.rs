//! The Pi's public key as a JWK: the 0.5.2 register-model rules, and the uncompressed P-256
//! point that signatures are verified against.

use ring::agreement;
use ring::rand::SystemRandom;
use serde_json::{Map, Value};

use super::encoding::base64url_decode;
use super::validation::Errors;

const JWK_KEYS: [&str; 6] = ["kty", "crv", "x", "y", "use", "kid"];

/// Validates `public_key_jwk` of a register body, recording pydantic-style errors at `loc`.
pub fn check_registered(value: Option<&Value>, loc: &[&str], errors: &mut Errors) {
    let Some(value) = value else { return };
    let Value::Object(jwk) = value else {
        errors.push(
            "model_type",
            loc,
            "Input should be a valid dictionary or instance of PublicKeyJWK",
            value,
        );
        return;
    };
    let at = |key: &'static str| -> Vec<&str> {
        let mut l = loc.to_vec();
        l.push(key);
        l
    };
    errors.check_keys(jwk, loc, &["kty", "crv", "x", "y"], &JWK_KEYS);
    for (key, expected) in [("kty", "EC"), ("crv", "P-256")] {
        if let Some(v) = jwk.get(key) {
            if v.as_str() != Some(expected) {
                errors.push(
                    "literal_error",
                    &at(key),
                    &format!("Input should be '{expected}'"),
                    v,
                );
            }
        }
    }
    let mut coordinates_ok = true;
    for key in ["x", "y"] {
        if let Some(v) = jwk.get(key) {
            if coordinate(v).is_none() {
                coordinates_ok = false;
                errors.push(
                    "value_error",
                    &at(key),
                    "Value error, must be 43 characters of unpadded base64url encoding 32 bytes",
                    v,
                );
            }
        } else {
            coordinates_ok = false;
        }
    }
    for key in ["use", "kid"] {
        match jwk.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.chars().count() <= 64 => {}
            Some(v @ Value::String(_)) => errors.push(
                "string_too_long",
                &at(key),
                "String should have at most 64 characters",
                v,
            ),
            Some(v) => errors.push("string_type", &at(key), "Input should be a valid string", v),
        }
    }
    if coordinates_ok && public_point(value).is_none() {
        errors.push(
            "value_error",
            loc,
            "Value error, x and y are not a point on P-256",
            value,
        );
    }
}

fn coordinate(value: &Value) -> Option<Vec<u8>> {
    let text = value.as_str()?;
    if text.len() != 43 {
        return None;
    }
    base64url_decode(text).filter(|bytes| bytes.len() == 32)
}

/// `0x04 || x || y` when the JWK holds a valid P-256 point.
pub fn public_point(jwk: &Value) -> Option<Vec<u8>> {
    if jwk.get("kty")?.as_str()? != "EC" || jwk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let mut point = vec![0x04];
    point.extend(coordinate(jwk.get("x")?)?);
    point.extend(coordinate(jwk.get("y")?)?);
    is_on_curve(&point).then_some(point)
}

/// ring validates a peer's ECDH public key (on the curve, not the identity), which makes an
/// ephemeral key agreement a point-validity check.
fn is_on_curve(point: &[u8]) -> bool {
    let rng = SystemRandom::new();
    let Ok(private) = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng) else {
        return false;
    };
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, point);
    agreement::agree_ephemeral(private, &peer, |_| ()).is_ok()
}

/// The JWK as the claim stores it on the camera row: null members dropped.
pub fn stored_form(jwk: &Value) -> Value {
    match jwk {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}
