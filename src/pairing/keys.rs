//! The device's P-256 key pair: made on the device, kept as a PKCS#8 PEM document in the
//! credentials file (`relay_private_key_pem`), and published to the backend as a JWK.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::base64;

const PKCS8_LABEL: &str = "PRIVATE KEY";
const SEC1_LABEL: &str = "EC PRIVATE KEY";
/// AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, DER, as PKCS#8 wraps a P-256 key.
const P256_ALGORITHM_ID: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    NotPem(&'static str),
    Rejected(String),
    Generate,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPem(why) => write!(f, "the relay private key is not a PEM key: {why}"),
            KeyError::Rejected(why) => write!(
                f,
                "the relay private key is not a usable P-256 key with its public key ({why})"
            ),
            KeyError::Generate => f.write_str("could not generate a P-256 key pair"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A P-256 signing key with the PKCS#8 document it came from.
pub struct DeviceKey {
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
}

impl DeviceKey {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Result<DeviceKey, KeyError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        DeviceKey::from_pkcs8(document.as_ref().to_vec())
    }

    /// Reads `-----BEGIN PRIVATE KEY-----` (PKCS#8, as the Python plugin writes) or
    /// `-----BEGIN EC PRIVATE KEY-----` (SEC1, as `openssl ecparam -genkey` writes). The key
    /// must carry its public half, which OpenSSL and `cryptography` always include.
    pub fn from_pem(pem: &str) -> Result<DeviceKey, KeyError> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            PKCS8_LABEL => DeviceKey::from_pkcs8(der),
            SEC1_LABEL => DeviceKey::from_pkcs8(sec1_to_pkcs8(&der)),
            _ => Err(KeyError::NotPem(
                "expected a PRIVATE KEY or EC PRIVATE KEY block",
            )),
        }
    }

    fn from_pkcs8(pkcs8: Vec<u8>) -> Result<DeviceKey, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(DeviceKey { pkcs8, pair })
    }

    /// The PKCS#8 document as PEM, 64-character lines, as the credentials file stores it.
    pub fn to_pem(&self) -> String {
        let body = base64::encode_standard(&self.pkcs8);
        let mut out = format!("-----BEGIN {PKCS8_LABEL}-----\n");
        for line in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&format!("-----END {PKCS8_LABEL}-----\n"));
        out
    }

    /// The public key as the backend registers it: `kty`, `crv`, `x`, `y` (32-byte big-endian
    /// coordinates, 43 characters of unpadded base64url) and `kid`. No private member.
    pub fn public_jwk(&self, kid: &str) -> Value {
        let (x, y) = self.coordinates();
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": base64::encode_url(x),
            "y": base64::encode_url(y),
            "kid": kid,
        })
    }

    fn coordinates(&self) -> (&[u8], &[u8]) {
        // ring gives the uncompressed point: 0x04 || x || y.
        let point = self.pair.public_key().as_ref();
        (&point[1..33], &point[33..65])
    }

    /// An ES256 signature (raw 64-byte r || s, as JWS wants).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| KeyError::Rejected("signing failed".to_string()))
    }

    /// The 65-byte uncompressed public point, for verifying in tests.
    #[cfg(test)]
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceKey(P-256, private part hidden)")
    }
}

fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    // Keys pasted into an env variable often have literal `\n` instead of line breaks.
    let text = pem.trim().replace("\\n", "\n");
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(KeyError::NotPem("no -----BEGIN line"))?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    for line in lines.by_ref() {
        if line == end {
            let der = base64::decode(&body).map_err(|_| KeyError::NotPem("bad base64"))?;
            return Ok((label, der));
        }
        if line.contains(':') {
            return Err(KeyError::NotPem("encrypted PEM keys are not supported"));
        }
        body.push_str(line);
    }
    Err(KeyError::NotPem("no matching -----END line"))
}

/// Wraps an RFC 5915 ECPrivateKey in PKCS#8 v1 (RFC 5208): version 0, the P-256 algorithm
/// identifier, and the SEC1 structure as the private key octets.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    let mut inner = vec![0x02, 0x01, 0x00];
    inner.extend_from_slice(P256_ALGORITHM_ID);
    inner.push(0x04);
    der_length(&mut inner, sec1.len());
    inner.extend_from_slice(sec1);
    let mut out = vec![0x30];
    der_length(&mut out, inner.len());
    out.extend_from_slice(&inner);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        _ => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    // Made by `openssl ecparam -name prime256v1 -genkey -noout` (SEC1) and
    // `openssl pkcs8 -topk8 -nocrypt` of the same key (PKCS#8), as Python's `cryptography`
    // writes it; test-only keys.
    const SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIInAGJxnJRctJI/qhuF1ka+uFILoFajGy9mvLWl9t8O9oAoGCCqGSM49
AwEHoUQDQgAEQJHM52vlQFvfLBz+eqcTQTiHRGXTM0/khv3xtdpPVEVftkHKCy7a
yuwY3b+6LxoBLIIUvoHGjjYsbdOr/24DrQ==
-----END EC PRIVATE KEY-----
";
    const PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgicAYnGclFy0kj+qG
4XWRr64UgugVqMbL2a8taX23w72hRANCAARAkczna+VAW98sHP56pxNBOIdEZdMz
T+SG/fG12k9URV+2QcoLLtrK7Bjdv7ovGgEsghS+gcaONixt06v/bgOt
-----END PRIVATE KEY-----
";

    #[test]
    fn generated_keys_round_trip_through_pem() {
        let key = DeviceKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let again = DeviceKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_point(), key.public_point());
        assert_ne!(
            DeviceKey::generate().unwrap().public_point(),
            key.public_point()
        );
    }

    #[test]
    fn openssl_pkcs8_and_sec1_pems_give_the_same_key() {
        let pkcs8 = DeviceKey::from_pem(PKCS8_PEM).unwrap();
        let sec1 = DeviceKey::from_pem(SEC1_PEM).unwrap();
        assert_eq!(pkcs8.public_point(), sec1.public_point());
        // A PEM pasted into .env with literal \n escapes still reads.
        let escaped = PKCS8_PEM.replace('\n', "\\n");
        assert_eq!(
            DeviceKey::from_pem(&escaped).unwrap().public_point(),
            pkcs8.public_point()
        );
    }

    #[test]
    fn jwk_has_exactly_the_public_members_in_contract_form() {
        let key = DeviceKey::from_pem(PKCS8_PEM).unwrap();
        let jwk = key.public_jwk("kid-12345678");
        let members: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(members, ["kty", "crv", "x", "y", "kid"]);
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        let x = jwk["x"].as_str().unwrap();
        let y = jwk["y"].as_str().unwrap();
        assert_eq!((x.len(), y.len()), (43, 43));
        let mut point = vec![4u8];
        point.extend(base64::decode(x).unwrap());
        point.extend(base64::decode(y).unwrap());
        assert_eq!(point, key.public_point());
        assert_eq!(x, "QJHM52vlQFvfLBz-eqcTQTiHRGXTM0_khv3xtdpPVEU");
    }

    #[test]
    fn signatures_verify_with_the_public_point() {
        let key = DeviceKey::generate().unwrap();
        let signature = key.sign(b"message").unwrap();
        assert_eq!(signature.len(), 64);
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_point());
        assert!(public.verify(b"message", &signature).is_ok());
        assert!(public.verify(b"other", &signature).is_err());
    }

    #[test]
    fn bad_pems_are_clear_errors() {
        assert_eq!(
            DeviceKey::from_pem("").unwrap_err(),
            KeyError::NotPem("no -----BEGIN line")
        );
        assert!(matches!(
            DeviceKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap_err(),
            KeyError::NotPem(_)
        ));
        assert!(matches!(
            DeviceKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .unwrap_err(),
            KeyError::Rejected(_)
        ));
        assert!(matches!(
            DeviceKey::from_pem(
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
            )
            .unwrap_err(),
            KeyError::NotPem(_)
        ));
        let message = DeviceKey::from_pem("junk").unwrap_err().to_string();
        assert!(message.contains("not a PEM key"), "{message}");
    }
}
