//! Wall-clock helpers. The media timeline uses the monotonic clock; wall-clock time is only
//! carried alongside, for PROGRAM-DATE-TIME, burnt-in clocks and latency measurement.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Now, in µs since the Unix epoch (0 if the clock is set before 1970).
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Now on the monotonic clock, in µs since the first call in this process: for due times
/// that must not follow steps of the wall clock (upload retries). Never goes back.
pub fn mono_us() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_micros() as u64
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
    let t = UtcFields::from_unix_us(unix_us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        (unix_us / 1000) % 1000
    )
}

/// `2026-11-21T11:45:52.123456Z` (Pydantic's form for aware datetimes) from µs.
pub fn rfc3339_us(unix_us: u64) -> String {
    let t = UtcFields::from_unix_us(unix_us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        unix_us % 1_000_000
    )
}

/// `2026-11-21T11:45:52Z` (seconds precision, truncated) from µs since the epoch.
pub fn rfc3339_s(unix_us: u64) -> String {
    let t = UtcFields::from_unix_us(unix_us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// EXIF DateTime, `2026:11:21 11:45:52` (UTC), from µs since the epoch.
pub fn exif_datetime(unix_us: u64) -> String {
    let t = UtcFields::from_unix_us(unix_us);
    format!(
        "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// µs since the epoch from `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)`, the forms we write and
/// Python's UTC `isoformat()`. Other offsets, times before 1970 and bad fields give `None`.
pub fn parse_rfc3339_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut micros = 0u64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        for (i, c) in fraction.bytes().take(digits).enumerate() {
            if i < 6 {
                micros = micros * 10 + u64::from(c - b'0');
            }
        }
        micros *= 10u64.pow(6u32.saturating_sub(digits as u32));
        rest = &fraction[digits..];
    }
    if rest != "Z" && rest != "+00:00" {
        return None;
    }
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(i64::from(year), month)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let secs = u64::try_from(secs).ok()?;
    Some(secs * 1_000_000 + micros)
}

/// Calendar fields of an instant, UTC.
struct UtcFields {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
}

impl UtcFields {
    fn from_unix_us(unix_us: u64) -> UtcFields {
        let secs = unix_us / 1_000_000;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        UtcFields {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: (rem / 60) % 60,
            second: rem % 60,
        }
    }
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, the inverse of `civil_from_days`.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn seconds_and_exif_forms() {
        assert_eq!(super::rfc3339_s(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339_us(951_782_400_000_042),
            "2000-02-29T00:00:00.000042Z"
        );
        assert_eq!(
            super::rfc3339_s(1_776_852_000_999_999),
            "2026-04-22T10:00:00Z"
        );
        assert_eq!(
            super::exif_datetime(951_782_400_123_456),
            "2000:02:29 00:00:00"
        );
    }

    #[test]
    fn parses_what_it_writes() {
        for us in [
            0,
            951_782_400_000_000,
            1_776_852_000_000_000,
            4_102_444_799_000_000,
        ] {
            assert_eq!(super::parse_rfc3339_utc(&super::rfc3339_s(us)), Some(us));
        }
        assert_eq!(
            super::parse_rfc3339_utc("2026-04-22T10:00:00.123456+00:00"),
            Some(1_776_852_000_123_456)
        );
        assert_eq!(
            super::parse_rfc3339_utc("2026-04-22T10:00:00.5Z"),
            Some(1_776_852_000_500_000)
        );
    }

    #[test]
    fn rejects_bad_times() {
        for bad in [
            "",
            "2026-04-22",
            "2026-04-22T10:00:00",
            "2026-04-22T10:00:00+02:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-04-22T24:00:00Z",
            "2026-04-22T10:00:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-04-22T1a:00:00Z",
            "+026-04-22T10:00:00Z",
            "2026-04-22T10:00:00Zjunk",
            "2026-04-22T10:00:00\u{e9}Z",
        ] {
            assert_eq!(super::parse_rfc3339_utc(bad), None, "{bad}");
        }
    }
}
