//! Keeps the media clock and the frame numbers growing when the camera is stopped and
//! started again (`POST /camera/stop|start`). A new run of a source counts from zero, but the
//! encoder's key-frame grid, the muxer's timeline and the `/frame` cache all assume both only
//! grow: so each run is shifted to continue where the last one ended, plus the time it was off
//! (as a sensor's clock would). Sans-IO: the caller passes the time in.

use std::time::Instant;

use crate::media::TIMESCALE;

/// How far one run's timestamps and frame numbers are moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shift {
    ticks: i128,
    sequence: i128,
}

impl Shift {
    pub fn ticks(self, value: u64) -> u64 {
        shifted(value, self.ticks)
    }

    pub fn sequence(self, value: u64) -> u64 {
        shifted(value, self.sequence)
    }
}

fn shifted(value: u64, by: i128) -> u64 {
    (i128::from(value) + by).clamp(0, i128::from(u64::MAX)) as u64
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    ticks: u64,
    sequence: u64,
    at: Instant,
}

/// The timeline across runs.
#[derive(Debug, Default)]
pub struct Continuity {
    /// The newest output so far (already shifted).
    last: Option<Mark>,
    /// This run's shift, fixed by its first output.
    current: Option<Shift>,
}

impl Continuity {
    /// A new run of the source begins: its first output fixes its shift.
    pub fn new_run(&mut self) {
        self.current = None;
    }

    /// The shift for an output of the current run stamped `ticks` (90 kHz) and numbered
    /// `sequence` (0 when the output has none), produced at `now`.
    pub fn shift(&mut self, ticks: u64, sequence: u64, now: Instant) -> Shift {
        let shift = *self.current.get_or_insert_with(|| match self.last {
            None => Shift::default(),
            Some(last) => {
                let off_ticks = (now.saturating_duration_since(last.at).as_secs_f64()
                    * f64::from(TIMESCALE)) as u64;
                Shift {
                    ticks: i128::from(last.ticks) + i128::from(off_ticks.max(1))
                        - i128::from(ticks),
                    sequence: i128::from(last.sequence) + 1 - i128::from(sequence),
                }
            }
        });
        self.last = Some(Mark {
            ticks: shift.ticks(ticks),
            sequence: shift.sequence(sequence),
            at: now,
        });
        shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_first_run_is_left_as_it_is() {
        let mut c = Continuity::default();
        let now = Instant::now();
        let s = c.shift(3000, 1, now);
        assert_eq!((s.ticks(3000), s.sequence(1)), (3000, 1));
        let s = c.shift(6000, 2, now);
        assert_eq!((s.ticks(6000), s.sequence(2)), (6000, 2));
    }

    #[test]
    fn a_new_run_continues_after_the_last_plus_the_time_it_was_off() {
        let mut c = Continuity::default();
        let t0 = Instant::now();
        c.shift(900_000, 300, t0);
        c.new_run();
        // Two seconds off; the new run counts from zero again.
        let s = c.shift(0, 0, t0 + Duration::from_secs(2));
        assert_eq!(s.ticks(0), 900_000 + 2 * u64::from(TIMESCALE));
        assert_eq!(s.sequence(0), 301);
        let later = c.shift(3000, 1, t0 + Duration::from_secs(3));
        assert_eq!(later.ticks(3000), 900_000 + 2 * u64::from(TIMESCALE) + 3000);
        assert_eq!(later.sequence(1), 302);
    }

    #[test]
    fn time_never_stands_still_or_goes_back_across_runs() {
        let mut c = Continuity::default();
        let t0 = Instant::now();
        c.shift(5_000_000, 10, t0);
        c.new_run();
        // A new run whose own clock starts ahead, restarted at the very same instant.
        let s = c.shift(9_000_000, 0, t0);
        assert!(s.ticks(9_000_000) > 5_000_000);
        assert_eq!(s.sequence(0), 11);
    }
}
