//! The thermal governor's decisions (contract §9.5), without I/O: readings and the time come
//! in, "throttle" or "restore" comes out. The thread that reads the sensor and applies the
//! bitrate is `crate::governor`.

use std::time::{Duration, Instant};

/// At or above this, held for [`GovernorTiming::throttle_hold`], the preview is throttled.
pub const THROTTLE_AT_C: f64 = 80.0;
/// At or below this, held for [`GovernorTiming::restore_hold`], it is restored.
pub const RESTORE_AT_C: f64 = 70.0;

/// How often the sensor is read and how long a reading must hold (the contract's 5, 10 and
/// 30 s by default; shorter in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GovernorTiming {
    pub poll: Duration,
    pub throttle_hold: Duration,
    pub restore_hold: Duration,
}

impl Default for GovernorTiming {
    fn default() -> Self {
        GovernorTiming {
            poll: Duration::from_secs(5),
            throttle_hold: Duration::from_secs(10),
            restore_hold: Duration::from_secs(30),
        }
    }
}

/// What the governor asks of the preview encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Lower the preview bitrate.
    Throttle,
    /// Put the preview bitrate back.
    Restore,
}

#[derive(Debug)]
pub struct Governor {
    timing: GovernorTiming,
    throttled: bool,
    /// Since when every known reading was ≥ 80 °C.
    hot_since: Option<Instant>,
    /// Since when every known reading was ≤ 70 °C.
    cool_since: Option<Instant>,
}

impl Governor {
    pub fn new(timing: GovernorTiming) -> Governor {
        Governor {
            timing,
            throttled: false,
            hot_since: None,
            cool_since: None,
        }
    }

    /// Takes one reading at `now`; an unknown (or NaN) temperature changes nothing.
    pub fn observe(&mut self, temp_c: Option<f64>, now: Instant) -> Option<Action> {
        let temp = temp_c.filter(|t| !t.is_nan())?;
        if temp >= THROTTLE_AT_C {
            self.cool_since = None;
            let since = *self.hot_since.get_or_insert(now);
            if !self.throttled && now.saturating_duration_since(since) >= self.timing.throttle_hold
            {
                self.throttled = true;
                return Some(Action::Throttle);
            }
        } else if temp <= RESTORE_AT_C {
            self.hot_since = None;
            let since = *self.cool_since.get_or_insert(now);
            if self.throttled && now.saturating_duration_since(since) >= self.timing.restore_hold {
                self.throttled = false;
                return Some(Action::Restore);
            }
        } else {
            self.hot_since = None;
            self.cool_since = None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// Feeds `readings` at the contract's 5 s poll from `t0`; the actions with their second.
    fn run(g: &mut Governor, t0: Instant, readings: &[Option<f64>]) -> Vec<(u32, Action)> {
        readings
            .iter()
            .enumerate()
            .filter_map(|(i, &temp)| {
                let at = 5 * i as u32;
                g.observe(temp, t0 + at * S).map(|a| (at, a))
            })
            .collect()
    }

    fn governor() -> Governor {
        Governor::new(GovernorTiming::default())
    }

    #[test]
    fn throttles_after_80_held_for_10_s() {
        let mut g = governor();
        let t0 = Instant::now();
        let actions = run(
            &mut g,
            t0,
            &[Some(80.0), Some(85.0), Some(81.0), Some(90.0)],
        );
        assert_eq!(actions, [(10, Action::Throttle)], "once, at 10 s");
        assert!(g.throttled);
    }

    #[test]
    fn hot_but_not_long_enough_does_nothing() {
        let mut g = governor();
        let t0 = Instant::now();
        assert_eq!(g.observe(Some(95.0), t0), None);
        assert_eq!(g.observe(Some(95.0), t0 + 9 * S), None);
        assert_eq!(g.observe(Some(95.0), t0 + 10 * S), Some(Action::Throttle));
    }

    #[test]
    fn just_below_80_never_throttles() {
        let mut g = governor();
        let actions = run(&mut g, Instant::now(), &[Some(79.99); 20]);
        assert!(actions.is_empty());
    }

    #[test]
    fn restores_after_70_held_for_30_s() {
        let mut g = governor();
        let t0 = Instant::now();
        let mut readings = vec![Some(85.0); 3];
        readings.extend([Some(70.0), Some(60.0), Some(65.0), Some(50.0), Some(70.0)]);
        readings.extend([Some(69.0), Some(40.0), Some(40.0)]);
        let actions = run(&mut g, t0, &readings);
        // Cool from 15 s on: restored at 45 s.
        assert_eq!(actions, [(10, Action::Throttle), (45, Action::Restore)]);
        assert!(!g.throttled);
    }

    #[test]
    fn cool_while_not_throttled_does_nothing() {
        let mut g = governor();
        assert!(run(&mut g, Instant::now(), &[Some(40.0); 20]).is_empty());
    }

    #[test]
    fn the_band_between_resets_both_timers() {
        let mut g = governor();
        let t0 = Instant::now();
        // Hot 5 s, then 75 °C: the hot timer starts again at 15 s, so throttling is at 25 s.
        let actions = run(
            &mut g,
            t0,
            &[
                Some(85.0),
                Some(85.0),
                Some(75.0),
                Some(85.0),
                Some(85.0),
                Some(85.0),
            ],
        );
        assert_eq!(actions, [(25, Action::Throttle)]);
        // Cool 25 s, then 70.1 °C: the cool timer starts again.
        let t1 = t0 + 30 * S;
        let mut readings = vec![Some(60.0); 6];
        readings.push(Some(70.1));
        readings.extend([Some(60.0); 7]);
        let actions = run(&mut g, t1, &readings);
        // Cool again from t1 + 35 s: restored 30 s later.
        assert_eq!(actions, [(65, Action::Restore)]);
    }

    #[test]
    fn unknown_temperature_is_ignored() {
        let mut g = governor();
        let t0 = Instant::now();
        // Unknown readings neither reset nor count as hot or cool: the hot timer from 0 s
        // still runs, and the first known reading after 10 s throttles.
        let actions = run(&mut g, t0, &[Some(85.0), None, Some(f64::NAN), Some(85.0)]);
        assert_eq!(actions, [(15, Action::Throttle)]);
        // Only unknown readings while throttled: it stays throttled.
        let actions = run(&mut g, t0 + 20 * S, &[None; 20]);
        assert!(actions.is_empty());
        assert!(g.throttled);
        // Unknown from the start: nothing ever happens.
        let mut g = governor();
        assert!(run(&mut g, t0, &[None; 20]).is_empty());
    }

    #[test]
    fn shorter_timing_for_tests() {
        let ms = Duration::from_millis;
        let mut g = Governor::new(GovernorTiming {
            poll: ms(100),
            throttle_hold: ms(300),
            restore_hold: ms(600),
        });
        let t0 = Instant::now();
        assert_eq!(g.observe(Some(80.0), t0), None);
        assert_eq!(g.observe(Some(80.0), t0 + ms(300)), Some(Action::Throttle));
        assert_eq!(g.observe(Some(70.0), t0 + ms(400)), None);
        assert_eq!(g.observe(Some(70.0), t0 + ms(999)), None);
        assert_eq!(g.observe(Some(70.0), t0 + ms(1000)), Some(Action::Restore));
    }

    #[test]
    fn a_clock_that_does_not_move_is_not_a_hold() {
        let mut g = governor();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(g.observe(Some(99.0), t0), None);
        }
    }
}
