//! When the next timelapse picture is due, sans IO. Intervals run on the monotonic clock
//! (`Instant`), so a step of the wall clock (NTP, fake-hwclock on a Pi without an RTC) neither
//! stops the timelapse nor makes it burst. The wall clock only enters once, at start-up or
//! after new settings, to count the rest of an interval from the newest picture on disk
//! (whose name is all that survives a restart), and even then at most one interval.

use std::time::{Duration, Instant};

/// The first picture's due time: one interval after the newest picture, taken at
/// `last_wall_ms` (wall clock, ms since the epoch), counted against `now_wall_ms`; now when
/// there is none or it is older than an interval; one interval away when it lies in the
/// future (the wall clock went back since).
pub(super) fn first_due(
    last_wall_ms: Option<u64>,
    interval_s: u64,
    now_wall_ms: u64,
    now: Instant,
) -> Instant {
    let Some(last) = last_wall_ms else {
        return now;
    };
    let interval = Duration::from_secs(interval_s);
    let since_last = Duration::from_millis(now_wall_ms.saturating_sub(last));
    if last > now_wall_ms {
        return now + interval;
    }
    now + interval.saturating_sub(since_last)
}

/// The due time after the picture that was due at `due`: one interval later, or now if
/// that has passed already (a slow capture, a suspended machine): never a burst to catch up.
pub(super) fn next_due(due: Instant, interval_s: u64, now: Instant) -> Instant {
    let interval = Duration::from_secs(interval_s);
    (due + interval).clamp(now, now + interval)
}

/// After a failed picture: try again this soon, or at the interval if that is shorter.
pub(super) fn retry_due(interval_s: u64, retry_s: u64, now: Instant) -> Instant {
    now + Duration::from_secs(interval_s.min(retry_s))
}

/// Whole seconds from `now` to `due`, rounded up (0 when due).
pub(super) fn seconds_until(due: Instant, now: Instant) -> u64 {
    let left = due.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const WALL: u64 = 1_763_725_552_000;

    #[test]
    fn the_first_picture_counts_from_the_newest_on_disk() {
        let now = Instant::now();
        assert_eq!(first_due(None, 60, WALL, now), now, "none yet: now");
        assert_eq!(first_due(Some(WALL - 20_000), 60, WALL, now), now + 40 * S);
        assert_eq!(
            first_due(Some(WALL - 3_600_000), 60, WALL, now),
            now,
            "long ago: now, once"
        );
        assert_eq!(
            first_due(Some(WALL + 3_600_000), 60, WALL, now),
            now + 60 * S,
            "newest picture in the future (the clock went back): one interval, not an hour"
        );
    }

    #[test]
    fn the_next_picture_is_one_interval_on_the_monotonic_clock() {
        let t0 = Instant::now();
        assert_eq!(next_due(t0, 5, t0 + S), t0 + 5 * S);
        assert_eq!(
            next_due(t0, 5, t0 + 40 * S),
            t0 + 40 * S,
            "late: now, no burst"
        );
        assert_eq!(retry_due(5, 10, t0), t0 + 5 * S);
        assert_eq!(retry_due(60, 10, t0), t0 + 10 * S);
    }

    #[test]
    fn seconds_until_rounds_up() {
        let t0 = Instant::now();
        assert_eq!(seconds_until(t0, t0 + S), 0);
        assert_eq!(seconds_until(t0 + S / 2, t0), 1);
        assert_eq!(seconds_until(t0 + 3 * S, t0), 3);
    }
}
