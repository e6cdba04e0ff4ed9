//! The HTTP `Date` header's preferred form, IMF-fixdate (RFC 9110 §5.6.7):
//! `Sun, 06 Nov 1994 08:49:37 GMT`. Used to compare our clock with a server's.

use crate::clock::{days_from_civil, days_in_month};

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the Unix epoch of an IMF-fixdate, or `None` when the text is not one (the
/// obsolete RFC 850 and asctime forms included). The day name must be the date's own.
pub fn parse_imf_fixdate(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if !b.is_ascii() {
        return None;
    }
    // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
        return None;
    }
    if b[19] != b':' || b[22] != b':' || &b[25..] != b" GMT" {
        return None;
    }
    let text = std::str::from_utf8(b).ok()?;
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &text[range];
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let weekday = DAYS.iter().position(|d| *d == &text[0..3])?;
    let month = MONTHS.iter().position(|m| *m == &text[8..11])? as u32 + 1;
    let (day, year) = (num(5..7)?, num(12..16)?);
    let (hour, minute, second) = (num(17..19)?, num(20..22)?, num(23..25)?);
    // 60 is a leap second, which the Unix clock folds into the next minute.
    let valid = day >= 1
        && day <= days_in_month(i64::from(year), month)
        && hour < 24
        && minute < 60
        && second <= 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    // 1970-01-01 was a Thursday (index 3).
    if (days + 3).rem_euclid(7) as usize != weekday {
        return None;
    }
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imf_fixdates() {
        assert_eq!(
            parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_imf_fixdate(" Tue, 29 Feb 2028 23:59:59 GMT "),
            Some(1_835_481_599)
        );
        assert_eq!(
            parse_imf_fixdate("Sat, 21 Nov 2026 14:36:34 GMT"),
            Some(1_795_271_794)
        );
        // Before 1970 is representable too.
        assert_eq!(parse_imf_fixdate("Wed, 31 Dec 1969 23:59:59 GMT"), Some(-1));
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Fri, 29 Feb 2030 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Nov 1994 08:4x:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMTX",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
            "Sün, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_imf_fixdate(bad), None, "{bad:?}");
        }
    }
}
