//! The paired device's identity: which camera it is and the key it proves that with. Built
//! once from the relay credentials; mints a fresh device JWT for every use.

use std::time::{SystemTime, UNIX_EPOCH};

use super::credentials::RelayCredentials;
use super::jwt::{self, Assertion};
use super::keys::{DeviceKey, KeyError};

#[derive(Debug)]
pub struct DeviceIdentity {
    pub camera_id: String,
    pub key_id: String,
    key: DeviceKey,
}

impl DeviceIdentity {
    pub fn new(camera_id: &str, key_id: &str, key: DeviceKey) -> DeviceIdentity {
        DeviceIdentity {
            camera_id: camera_id.to_string(),
            key_id: key_id.to_string(),
            key,
        }
    }

    pub fn from_credentials(relay: &RelayCredentials) -> Result<DeviceIdentity, KeyError> {
        let key = DeviceKey::from_pem(&relay.private_key_pem)?;
        Ok(DeviceIdentity::new(&relay.camera_id, &relay.key_id, key))
    }

    /// A device JWT for `now_unix` with a fresh `jti`: one per handshake and per HTTP call,
    /// retries included, because the backend accepts each `jti` once.
    pub fn assertion_at(&self, now_unix: i64) -> Result<String, KeyError> {
        jwt::sign(
            &self.key,
            &Assertion {
                camera_id: &self.camera_id,
                key_id: &self.key_id,
                now_unix,
                jti: &jwt::new_jti(),
            },
        )
    }

    /// [`DeviceIdentity::assertion_at`] the system clock's now.
    pub fn assertion(&self) -> Result<String, KeyError> {
        self.assertion_at(unix_now())
    }
}

/// Seconds since the epoch by the system clock (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base64;

    #[test]
    fn assertions_from_credentials_carry_the_camera_and_a_new_jti_each_time() {
        let key = DeviceKey::generate().unwrap();
        let relay = RelayCredentials {
            backend_url: "wss://example.invalid/ws".into(),
            camera_id: "cam-1".into(),
            auth_scheme: "device_assertion".into(),
            key_id: "key-1".into(),
            private_key_pem: key.to_pem(),
        };
        let identity = DeviceIdentity::from_credentials(&relay).unwrap();
        let claims = |token: &str| -> serde_json::Value {
            serde_json::from_slice(&base64::decode(token.split('.').nth(1).unwrap()).unwrap())
                .unwrap()
        };
        let a = claims(&identity.assertion().unwrap());
        let b = claims(&identity.assertion().unwrap());
        assert_eq!(a["sub"], "camera:cam-1");
        assert_ne!(a["jti"], b["jti"]);
        let bad = RelayCredentials {
            private_key_pem: "nope".into(),
            ..relay
        };
        assert!(DeviceIdentity::from_credentials(&bad).is_err());
    }
}
