//! Wall-clock helpers. The media timeline uses the monotonic clock; wall-clock time is only
//! carried alongside, for PROGRAM-DATE-TIME, burnt-in clocks and latency measurement.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in µs since the Unix epoch (0 if the clock is set before 1970).
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `HH:MM:SS.mmm` (UTC) of a time in µs since the epoch.
pub fn format_hms_ms(unix_us: u64) -> String {
    let ms = unix_us / 1000;
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// `2026-11-21T11:45:52.123Z` from µs since the epoch.
pub fn rfc3339_ms(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let ms = (unix_us / 1000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::format_hms_ms(3_723_004_999), "01:02:03.004");
        assert!(super::unix_us() > 1_600_000_000_000_000);
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339_ms(951_782_400_123_456),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            super::rfc3339_ms(1_763_725_552_123_000),
            "2025-11-21T11:45:52.123Z"
        );
    }
}
