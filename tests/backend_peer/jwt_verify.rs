//! Device-assertion verification (backend §2.2, plus the [WB]/current rules: `iss` = `sub`,
//! lifetime ≤ 300 s). One verifier for the WebSocket handshake and the HTTP device routes, with
//! one jti namespace, checked against the peer's clock with zero leeway.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde_json::{Map, Value};

use super::encoding::base64url_decode;
use super::state::Shared;

pub const AUDIENCE: &str = "relab-rpi-cam-relay";
pub const MAX_LIFETIME_S: i64 = 300;

pub enum AuthError {
    /// No or empty `Authorization` header.
    MissingHeader,
    /// Anything else the Pi got wrong, with the reason (the Pi only ever sees 401/403).
    Failed(String),
    /// The stored JWK is unusable; the backend fails with 500 here.
    BadStoredKey,
}

/// `rpi_cam:relay_assertion_jti:<camera_id>:<jti>` keys with their TTLs.
#[derive(Default)]
pub struct ReplayStore {
    seen: HashMap<(String, String), Instant>,
}

impl ReplayStore {
    /// SET NX: true when the jti was not seen (and is now remembered for `ttl`).
    fn insert_new(&mut self, camera_id: &str, jti: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        self.seen.retain(|_, expires| *expires > now);
        let key = (camera_id.to_string(), jti.to_string());
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key, now + ttl);
        true
    }
}

pub fn authenticate(
    shared: &Shared,
    camera_id: &str,
    authorization: Option<&str>,
) -> Result<(), AuthError> {
    let header = authorization.unwrap_or("");
    if header.is_empty() {
        return Err(AuthError::MissingHeader);
    }
    let Some(token) = header.strip_prefix("Bearer ") else {
        return Err(AuthError::Failed(
            "Authorization does not start with exactly \"Bearer \"".into(),
        ));
    };
    let (key_id, point) = {
        let cameras = shared.cameras.lock().unwrap();
        let camera = cameras
            .get(camera_id)
            .ok_or_else(|| AuthError::Failed("unknown camera".into()))?;
        if camera.revoked {
            return Err(AuthError::Failed("camera credential revoked".into()));
        }
        let point = camera.point.clone().ok_or(AuthError::BadStoredKey)?;
        (camera.key_id.clone(), point)
    };
    let now = shared.clock.now();
    let claims = verify_token(token, &key_id, &point, camera_id, now).map_err(AuthError::Failed)?;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let ttl = ((exp as f64 - now).clamp(1.0, 300.0)) as u64;
    let jti = claims["jti"].as_str().unwrap_or("");
    if !shared
        .replay
        .lock()
        .unwrap()
        .insert_new(camera_id, jti, Duration::from_secs(ttl))
    {
        return Err(AuthError::Failed(format!("replayed jti {jti:?}")));
    }
    Ok(())
}

fn decode_json_segment(segment: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = base64url_decode(segment).ok_or(format!("{what} is not strict base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!("{what} is not a JSON object")),
    }
}

/// Signature and claims; returns the claims when the token is acceptable (replay aside).
pub fn verify_token(
    token: &str,
    key_id: &str,
    point: &[u8],
    camera_id: &str,
    now: f64,
) -> Result<Map<String, Value>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts[..] else {
        return Err("token is not three dot-separated parts".into());
    };
    let header = decode_json_segment(header_b64, "JOSE header")?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(format!(
            "alg {} is not ES256",
            header.get("alg").unwrap_or(&Value::Null)
        ));
    }
    if header.get("kid").and_then(Value::as_str) != Some(key_id) {
        return Err(format!(
            "kid {} does not match the camera's key id",
            header.get("kid").unwrap_or(&Value::Null)
        ));
    }
    let signature = base64url_decode(signature_b64).ok_or("signature is not strict base64url")?;
    if signature.len() != 64 {
        return Err(format!(
            "signature is {} bytes, not the 64 of R||S",
            signature.len()
        ));
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| "bad signature".to_string())?;
    let claims = decode_json_segment(payload_b64, "claims")?;
    check_claims(&claims, camera_id, now)?;
    Ok(claims)
}

fn check_claims(claims: &Map<String, Value>, camera_id: &str, now: f64) -> Result<(), String> {
    for name in ["exp", "iat", "nbf", "jti", "sub", "aud", "iss"] {
        if claims.get(name).is_none_or(Value::is_null) {
            return Err(format!("claim {name} missing"));
        }
    }
    let int = |name: &str| {
        claims[name]
            .as_i64()
            .ok_or(format!("claim {name} is not an integer"))
    };
    let (exp, iat, nbf) = (int("exp")?, int("iat")?, int("nbf")?);
    if (exp as f64) <= now {
        return Err(format!("expired: exp {exp} <= now {now:.0}"));
    }
    if (iat as f64) > now {
        return Err(format!("iat {iat} is in the future (now {now:.0})"));
    }
    if (nbf as f64) > now {
        return Err(format!("not yet valid: nbf {nbf} > now {now:.0}"));
    }
    if exp - iat > MAX_LIFETIME_S {
        return Err(format!(
            "lifetime exp - iat = {} s is over 300 s",
            exp - iat
        ));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == AUDIENCE,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !audience_ok {
        return Err(format!("wrong aud {}", claims["aud"]));
    }
    let subject = format!("camera:{camera_id}");
    if claims["sub"].as_str() != Some(subject.as_str()) {
        return Err(format!("wrong sub {}", claims["sub"]));
    }
    if claims["iss"].as_str() != Some(subject.as_str()) {
        return Err(format!("wrong iss {} (must equal sub)", claims["iss"]));
    }
    match claims["jti"].as_str() {
        Some(jti) if !jti.is_empty() => Ok(()),
        _ => Err("jti is not a non-empty string".into()),
    }
}
