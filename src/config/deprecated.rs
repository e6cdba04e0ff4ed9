//! Deprecated variables still honoured, and the warnings start-up logs for them.

/// What was set under a deprecated name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deprecated {
    /// `ALLOW_PLAINTEXT_RELAY`, which plugin 0.6 replaced with `APP_ENV=development`.
    pub allow_plaintext_relay: Option<bool>,
    /// `UPLOAD_QUEUE_MAX_MB`, picamd's former quota.
    pub upload_queue_max_mb: Option<u64>,
}

impl Deprecated {
    /// One line per deprecated variable set, naming what replaces it.
    pub fn warnings(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(allow) = self.allow_plaintext_relay {
            lines.push(format!(
                "ALLOW_PLAINTEXT_RELAY={allow} is deprecated: plugin 0.6 replaced it with APP_ENV=development; picamd still honours it for ws:// relay URLs"
            ));
        }
        if let Some(mb) = self.upload_queue_max_mb {
            lines.push(format!(
                "UPLOAD_QUEUE_MAX_MB={mb} is deprecated: use UPLOAD_QUEUE_MAX_PENDING_BYTES (and UPLOAD_QUEUE_MAX_PENDING_ENTRIES); until then it caps the queue's bytes, and a full queue refuses new captures instead of dropping old ones"
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_per_deprecated_variable_set() {
        assert!(Deprecated::default().warnings().is_empty());
        let w = Deprecated {
            allow_plaintext_relay: Some(true),
            upload_queue_max_mb: Some(5),
        }
        .warnings();
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("ALLOW_PLAINTEXT_RELAY=true is deprecated"));
        assert!(w[1].starts_with("UPLOAD_QUEUE_MAX_MB=5 is deprecated"));
    }
}
