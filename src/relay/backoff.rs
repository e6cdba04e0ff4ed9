//! How long to wait before redialling (sans-IO: the caller passes the random number).
//!
//! The nominal delay starts at `RELAY_RECONNECT_MIN_S` and doubles up to
//! `RELAY_RECONNECT_MAX_S`, like the plugin; each wait is shortened by up to a quarter at
//! random (never below the minimum), so cameras that lost the backend together do not all
//! come back in the same second. A refused handshake (HTTP 403) waits at least a minute and
//! doubles up to five: the backend locks a camera out after 5 failures in 300 s, and the
//! causes (deleted, revoked, clock skew) need a person or NTP, not a quick retry.

use std::time::Duration;

pub const REFUSED_MIN: Duration = Duration::from_secs(60);
pub const REFUSED_MAX: Duration = Duration::from_secs(300);
/// The largest share of a delay the jitter takes off.
const JITTER: f64 = 0.25;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    nominal: Duration,
    refused_nominal: Duration,
}

impl Backoff {
    /// `min_s` and `max_s` come validated from the settings (0 < min ≤ max, finite).
    pub fn new(min_s: f64, max_s: f64) -> Backoff {
        let min = Duration::from_secs_f64(min_s);
        let max = Duration::from_secs_f64(max_s).max(min);
        Backoff {
            min,
            max,
            nominal: min,
            refused_nominal: REFUSED_MIN,
        }
    }

    /// After a successful handshake: the next loss waits the minimum again.
    pub fn reset(&mut self) {
        self.nominal = self.min;
        self.refused_nominal = REFUSED_MIN;
    }

    /// The wait after a failed dial or a lost connection. `unit` is uniform in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let delay = shorten(self.nominal, unit).max(self.min);
        self.nominal = (self.nominal * 2).min(self.max);
        delay
    }

    /// The wait after the backend refused the handshake (HTTP 403).
    pub fn refused_delay(&mut self, unit: f64) -> Duration {
        let delay = shorten(self.refused_nominal, unit).max(REFUSED_MIN);
        self.refused_nominal = (self.refused_nominal * 2).min(REFUSED_MAX);
        self.nominal = self.nominal.max(self.max);
        delay
    }
}

fn shorten(nominal: Duration, unit: f64) -> Duration {
    nominal.mul_f64(1.0 - JITTER * unit.clamp(0.0, 1.0))
}

/// A uniform random number in [0, 1) from the system's secure source.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    crate::random::fill(&mut bytes);
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn doubles_from_min_to_max_without_jitter() {
        let mut b = Backoff::new(2.0, 60.0);
        let delays: Vec<f64> = (0..8).map(|_| secs(b.next_delay(0.0))).collect();
        assert_eq!(delays, [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]);
    }

    #[test]
    fn jitter_stays_within_a_quarter_and_above_the_minimum() {
        let mut b = Backoff::new(2.0, 60.0);
        assert_eq!(secs(b.next_delay(0.999)), 2.0, "never below the minimum");
        let d = secs(b.next_delay(0.999));
        assert!((3.0..4.0).contains(&d), "{d}");
        for _ in 0..10 {
            b.next_delay(0.5);
        }
        for unit in [0.0, 0.3, 0.7, 0.999_999] {
            let d = secs(b.clone().next_delay(unit));
            assert!((45.0..=60.0).contains(&d), "{unit}: {d}");
        }
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn reset_after_a_handshake_starts_over() {
        let mut b = Backoff::new(2.0, 60.0);
        for _ in 0..6 {
            b.next_delay(0.0);
        }
        b.reset();
        assert_eq!(secs(b.next_delay(0.0)), 2.0);
    }

    #[test]
    fn refusals_wait_at_least_a_minute_and_grow_to_five() {
        let mut b = Backoff::new(2.0, 60.0);
        let delays: Vec<f64> = (0..5).map(|_| secs(b.refused_delay(0.0))).collect();
        assert_eq!(delays, [60.0, 120.0, 240.0, 300.0, 300.0]);
        let jittered = secs(b.clone().refused_delay(0.999));
        assert!((225.0..300.0).contains(&jittered), "{jittered}");
        assert_eq!(
            secs(b.next_delay(0.0)),
            60.0,
            "a refusal also lifts the plain backoff"
        );
        b.reset();
        assert_eq!(
            secs(b.refused_delay(0.9)),
            60.0,
            "the first refusal never goes below 60 s"
        );
        let mut small = Backoff::new(0.5, 1.0);
        assert!(secs(small.refused_delay(0.5)) >= 60.0);
    }
}
