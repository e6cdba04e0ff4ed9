//! Clock skew against the backend, read from the `Date` header of its answers. Device JWTs
//! carry `iat`/`nbf`/`exp` from our clock, so a Pi without NTP (no RTC, no network time yet)
//! mints tokens the backend refuses; saying so plainly saves a long hunt.

use crate::http::date::parse_imf_fixdate;

/// Differences up to this many seconds are normal: `Date` has one-second resolution and the
/// answer spends time in flight.
pub const SKEW_TOLERANCE_S: i64 = 30;

/// Our clock is off from the backend's by more than [`SKEW_TOLERANCE_S`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSkew {
    /// Backend clock minus ours, in seconds: positive when this device is behind.
    pub backend_minus_local_s: i64,
    /// The `Date` header it was read from.
    pub backend_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkewReading {
    /// No `Date` header, or not an IMF-fixdate.
    Unknown,
    InSync,
    Skewed(ClockSkew),
}

/// Compares an answer's `Date` header with our clock at receipt.
pub fn read(date_header: Option<&str>, now_unix: i64) -> SkewReading {
    let Some(backend) = date_header.and_then(parse_imf_fixdate) else {
        return SkewReading::Unknown;
    };
    let offset = backend - now_unix;
    if offset.abs() <= SKEW_TOLERANCE_S {
        return SkewReading::InSync;
    }
    SkewReading::Skewed(ClockSkew {
        backend_minus_local_s: offset,
        backend_date: date_header.unwrap_or_default().trim().to_string(),
    })
}

impl ClockSkew {
    /// `600 s behind` / `42 s ahead of`.
    fn how_far(&self) -> String {
        let s = self.backend_minus_local_s;
        if s > 0 {
            format!("{s} s behind")
        } else {
            format!("{} s ahead of", -s)
        }
    }

    /// The log line.
    pub fn warning(&self) -> String {
        format!(
            "clock skew: this device's clock is {} the backend (backend Date: {}); the backend \
             may refuse device tokens until NTP fixes the clock",
            self.how_far(),
            self.backend_date
        )
    }

    /// For the setup page.
    pub fn summary(&self) -> String {
        format!(
            "This camera's clock is {} the backend's. The backend may refuse the camera's \
             tokens until the clock is set right (is NTP running?).",
            self.how_far()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "Sat, 21 Nov 2026 14:36:34 GMT";
    const DATE_UNIX: i64 = 1_795_271_794;

    #[test]
    fn small_differences_are_in_sync() {
        for now in [DATE_UNIX, DATE_UNIX - 30, DATE_UNIX + 30] {
            assert_eq!(read(Some(DATE), now), SkewReading::InSync);
        }
        assert_eq!(read(None, DATE_UNIX), SkewReading::Unknown);
        assert_eq!(read(Some("yesterday"), DATE_UNIX), SkewReading::Unknown);
    }

    #[test]
    fn a_device_behind_or_ahead_is_reported() {
        let SkewReading::Skewed(behind) = read(Some(DATE), DATE_UNIX - 600) else {
            panic!("600 s behind is skew");
        };
        assert_eq!(behind.backend_minus_local_s, 600);
        assert_eq!(
            behind.warning(),
            "clock skew: this device's clock is 600 s behind the backend (backend Date: \
             Sat, 21 Nov 2026 14:36:34 GMT); the backend may refuse device tokens until NTP \
             fixes the clock"
        );
        assert!(behind.summary().contains("600 s behind the backend's"));
        let SkewReading::Skewed(ahead) = read(Some(DATE), DATE_UNIX + 31) else {
            panic!("31 s ahead is skew");
        };
        assert_eq!(ahead.backend_minus_local_s, -31);
        assert!(ahead.warning().contains("is 31 s ahead of the backend"));
    }
}
