//! A log line that repeats at most once per interval, with how often it happened meanwhile.

use std::time::{Duration, Instant};

pub struct Throttle {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Counts one occurrence; `Some(n)` when it should be logged now, `n` being the
    /// occurrences since the last line (this one included).
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.suppressed += 1;
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < self.interval)
        {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_once_per_interval_with_a_count() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(5));
        assert_eq!(t.hit(t0), Some(1));
        for i in 1..=20 {
            assert_eq!(t.hit(t0 + Duration::from_millis(100 * i)), None);
        }
        assert_eq!(t.hit(t0 + Duration::from_secs(5)), Some(21));
        assert_eq!(t.hit(t0 + Duration::from_secs(6)), None);
    }
}
