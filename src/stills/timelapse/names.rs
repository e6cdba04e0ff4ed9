//! The timelapse's file names: `YYYYMMDD-HHMMSS.jpg` (UTC) for a picture, `-N` added when a
//! name is taken (the clock went back), and the temporaries its writes can leave behind.

use crate::clock;

/// Always the newest picture; never deleted by retention.
pub const CURRENT: &str = "current.jpg";
/// `-1` … `-999` are tried when a name is taken (the clock went back).
pub(super) const MAX_SUFFIX: u64 = 999;
/// The last second of year 9999: names have four-digit years.
const LAST_NAMEABLE_S: u64 = 253_402_300_799;

/// The file name of a picture taken at `unix_s` (UTC): `YYYYMMDD-HHMMSS.jpg`.
pub fn file_name(unix_s: u64) -> String {
    // "YYYY-MM-DDTHH:MM:SS.mmmZ"
    let t = clock::rfc3339_ms(unix_s.min(LAST_NAMEABLE_S) * 1_000_000);
    let digits = |range: std::ops::Range<usize>| t.get(range).unwrap_or("00");
    format!(
        "{}{}{}-{}{}{}.jpg",
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19)
    )
}

/// When a picture with this name was taken, and its clash suffix (0 for none); `None` for
/// any file the timelapse did not name (current.jpg, temporary and foreign files).
pub fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".jpg")?;
    let (stamp, suffix) = match stem.get(15..) {
        Some("") => (stem, 0),
        Some(rest) => {
            let n = rest.strip_prefix('-')?;
            if n.is_empty() || n.len() > 3 || n.starts_with('0') {
                return None;
            }
            (&stem[..15], number(n)?)
        }
        None => return None,
    };
    let (date, time) = stamp.split_once('-')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let unix_s = unix_seconds(
        number(&date[..4])?,
        number(&date[4..6])?,
        number(&date[6..])?,
        number(&time[..2])?,
        number(&time[2..4])?,
        number(&time[4..])?,
    )?;
    Some((unix_s, suffix))
}

/// Whether `name` is a temporary that a crash left behind from writing a picture or
/// current.jpg: `.<name>.<pid>.<n>.tmp` (`stills::atomic`), or `.<name>.tmp` as earlier
/// versions wrote them.
pub(super) fn is_own_temporary(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let is_ours = |target: &str| target == CURRENT || parse_name(target).is_some();
    is_ours(inner)
        || without_number(inner)
            .and_then(without_number)
            .is_some_and(is_ours)
}

/// `text` without a trailing `.<digits>`.
fn without_number(text: &str) -> Option<&str> {
    let (rest, n) = text.rsplit_once('.')?;
    number(n).map(|_| rest)
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Seconds since the epoch of a UTC date and time, `None` if there is no such moment.
fn unix_seconds(y: u64, m: u64, d: u64, hh: u64, mm: u64, ss: u64) -> Option<u64> {
    let year = i64::try_from(y).ok()?;
    let month = u32::try_from(m).ok()?;
    let day = u32::try_from(d).ok()?;
    let valid_day =
        (1..=12).contains(&month) && day >= 1 && day <= clock::days_in_month(year, month);
    if year < 1970 || !valid_day || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = u64::try_from(clock::days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_utc_timestamps() {
        assert_eq!(file_name(0), "19700101-000000.jpg");
        assert_eq!(file_name(951_782_400), "20000229-000000.jpg");
        assert_eq!(file_name(1_763_725_552), "20251121-114552.jpg");
        assert_eq!(file_name(u64::MAX), "99991231-235959.jpg");
        for t in [0, 59, 86_399, 951_782_400, 1_763_725_552, LAST_NAMEABLE_S] {
            assert_eq!(parse_name(&file_name(t)), Some((t, 0)), "{t}");
        }
        assert_eq!(
            parse_name("20251121-114552-7.jpg"),
            Some((1_763_725_552, 7))
        );
        assert_eq!(
            parse_name("20251121-114552-999.jpg"),
            Some((1_763_725_552, 999))
        );
        for foreign in [
            "current.jpg",
            ".20251121-114552.jpg.tmp",
            "20251121-114552.jpeg",
            "20251121-114552.JPG",
            "2025112-114552.jpg",
            "20251121_114552.jpg",
            "20251321-114552.jpg",
            "20250229-114552.jpg",
            "20251121-244552.jpg",
            "20251121-116052.jpg",
            "19691231-235959.jpg",
            "20251121-114552-.jpg",
            "20251121-114552-0.jpg",
            "20251121-114552-07.jpg",
            "20251121-114552-1000.jpg",
            "20251121-114552-x.jpg",
            "2025112é-114552.jpg",
            "+0251121-114552.jpg",
            "",
        ] {
            assert_eq!(parse_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn own_temporaries_are_recognised() {
        for ours in [
            ".current.jpg.tmp",
            ".20251121-114552.jpg.tmp",
            ".current.jpg.4242.0.tmp",
            ".20251121-114552-3.jpg.4242.17.tmp",
        ] {
            assert!(is_own_temporary(ours), "{ours}");
        }
        for foreign in [
            ".mine.tmp",
            ".mine.4242.0.tmp",
            "current.jpg.4242.0.tmp",
            ".current.jpg.4242.tmp.x",
            ".current.jpg.x.0.tmp",
            ".current.jpg..0.tmp",
            ".tmp",
            "20251121-114552.jpg",
        ] {
            assert!(!is_own_temporary(foreign), "{foreign}");
        }
    }
}
