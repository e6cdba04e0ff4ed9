//! The peer's own wall clock: the system clock plus an adjustable offset. JWT time checks and
//! every `Date` header use it, so a test can put the "backend" ahead of or behind the Pi.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct PeerClock {
    offset_s: AtomicI64,
}

impl PeerClock {
    pub fn new(offset_s: i64) -> PeerClock {
        PeerClock {
            offset_s: AtomicI64::new(offset_s),
        }
    }

    pub fn set_offset(&self, secs: i64) {
        self.offset_s.store(secs, Ordering::SeqCst);
    }

    /// Seconds since the Unix epoch, fractional like Python's `datetime.now().timestamp()`.
    pub fn now(&self) -> f64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("system clock after 1970")
            .as_secs_f64();
        system + self.offset_s.load(Ordering::SeqCst) as f64
    }

    /// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn http_date(&self) -> String {
        imf_fixdate(self.now().floor() as i64)
    }
}

pub fn imf_fixdate(unix_secs: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
