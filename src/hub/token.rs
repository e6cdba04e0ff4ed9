//! Camera tokens as the hub makes them (contract A.3): lowercase hex SHA-256 over the decimal
//! camera id immediately followed by the secret, with no separator.

use ring::digest::{digest, SHA256};

pub fn derive(camera_id: u32, secret: &str) -> String {
    let input = format!("{camera_id}{secret}");
    let hash = digest(&SHA256, input.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a presented token with the expected one in time that does not depend on where
/// they differ (the hub compares exactly, case-sensitively).
pub fn matches(presented: &[u8], expected: &str) -> bool {
    crate::auth::keys::constant_time_eq(presented, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_test_vector() {
        assert_eq!(
            derive(1, "NOTsoSECRETsecretUsedFORtESTS1234908"),
            "b5b9aea262709ebde6a9452a790216100c9724a830fec86f4cd242720c6add7e"
        );
    }

    #[test]
    fn exact_comparison() {
        let t = derive(2, "s");
        assert!(matches(t.as_bytes(), &t));
        assert!(!matches(t.to_uppercase().as_bytes(), &t));
        assert!(!matches(&t.as_bytes()[..63], &t));
        assert!(!matches(b"", &t));
    }
}
