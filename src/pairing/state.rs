//! The pairing state the setup page, `GET /pairing/state` and the banner show.

use super::clock_skew::ClockSkew;

/// The plugin's five states (contract/plugin.md §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PairingStatus {
    #[default]
    Idle,
    Registering,
    Waiting,
    Paired,
    Error,
}

impl PairingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PairingStatus::Idle => "idle",
            PairingStatus::Registering => "registering",
            PairingStatus::Waiting => "waiting",
            PairingStatus::Paired => "paired",
            PairingStatus::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairingView {
    pub status: PairingStatus,
    /// The code to enter in the RELab app, while one is registered or being registered.
    pub code: Option<String>,
    /// When the code expires, in Unix seconds (for the countdown; the backend's TTL rules).
    pub expires_at_unix: Option<i64>,
    /// What went wrong, in the plugin's words (`Pairing backend unreachable — retrying…`).
    pub error: Option<String>,
    /// The cause behind `error`, e.g. `HTTP 503` or `connection refused`.
    pub error_detail: Option<String>,
    /// Set while the backend's clock and ours disagree.
    pub clock_skew: Option<ClockSkew>,
}

impl PairingView {
    pub fn idle() -> PairingView {
        PairingView::default()
    }

    pub fn paired() -> PairingView {
        PairingView {
            status: PairingStatus::Paired,
            ..PairingView::default()
        }
    }

    /// `error` and its cause in one line, for people.
    pub fn error_text(&self) -> Option<String> {
        let error = self.error.as_deref()?;
        Some(match self.error_detail.as_deref() {
            Some(detail) if !detail.is_empty() => format!("{error} ({detail})"),
            _ => error.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_error_text() {
        let names: Vec<&str> = [
            PairingStatus::Idle,
            PairingStatus::Registering,
            PairingStatus::Waiting,
            PairingStatus::Paired,
            PairingStatus::Error,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["idle", "registering", "waiting", "paired", "error"]);
        assert_eq!(PairingView::idle().error_text(), None);
        let view = PairingView {
            error: Some("Pairing failed — retrying…".into()),
            error_detail: Some("HTTP 503".into()),
            ..PairingView::idle()
        };
        assert_eq!(
            view.error_text().as_deref(),
            Some("Pairing failed — retrying… (HTTP 503)")
        );
        let view = PairingView {
            error_detail: None,
            ..view
        };
        assert_eq!(
            view.error_text().as_deref(),
            Some("Pairing failed — retrying…")
        );
        assert_eq!(PairingView::paired().status, PairingStatus::Paired);
    }
}
