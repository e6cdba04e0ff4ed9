//! The upload retry schedule (`UPLOAD_RETRY_SCHEDULE_S`): how long to wait after each
//! failure, and when to give up.

use std::fmt;

/// Waits after the 1st, 2nd, … failure of one capture. After as many failures as there are
/// waits, the next failure gives up (the contract's `30, 300, 1800, 7200`: five attempts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays_s: Vec<u64>,
}

/// The contract's schedule (plugin.md §8.4, without its unused first slot).
pub const DEFAULT_SCHEDULE_S: &[u64] = &[30, 300, 1800, 7200];

/// A schedule text that is not whole seconds above 0 separated by commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// The text as given.
    pub text: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected whole seconds above 0 separated by commas, like \"30,300,1800,7200\", got {:?}",
            self.text
        )
    }
}

impl std::error::Error for ScheduleError {}

impl RetrySchedule {
    /// Panics on an empty list or a zero wait; see [`RetrySchedule::parse`] for user input.
    pub fn new(delays_s: Vec<u64>) -> RetrySchedule {
        assert!(
            !delays_s.is_empty() && delays_s.iter().all(|&d| d > 0),
            "a retry schedule needs at least one wait, each above 0 s"
        );
        RetrySchedule { delays_s }
    }

    /// Parses `"30,300,1800,7200"`: whole seconds above 0, comma separated.
    pub fn parse(text: &str) -> Result<RetrySchedule, ScheduleError> {
        let delays: Option<Vec<u64>> = text
            .split(',')
            .map(|s| s.trim().parse::<u64>().ok().filter(|&d| d > 0))
            .collect();
        match delays {
            Some(d) if !d.is_empty() => Ok(RetrySchedule::new(d)),
            _ => Err(ScheduleError {
                text: text.to_string(),
            }),
        }
    }

    pub fn delays_s(&self) -> &[u64] {
        &self.delays_s
    }

    /// The wait after failure number `failures` (1-based) of one capture, or `None` when
    /// that failure was the last one allowed.
    pub fn retry_after_s(&self, failures: u32) -> Option<u64> {
        let i = usize::try_from(failures).ok()?.checked_sub(1)?;
        self.delays_s.get(i).copied()
    }

    /// The wait after `failures` consecutive failures of the sink itself: the same steps,
    /// then the last one again for as long as it stays down.
    pub fn sink_retry_after_s(&self, failures: u32) -> u64 {
        let last = *self.delays_s.last().expect("schedule is never empty");
        self.retry_after_s(failures.max(1)).unwrap_or(last)
    }

    /// Attempts one capture gets: the first plus one per wait.
    pub fn max_attempts(&self) -> u32 {
        self.delays_s.len() as u32 + 1
    }

    /// The longest wait; a planned retry further away than this is a clock jump.
    pub fn longest_s(&self) -> u64 {
        self.delays_s.iter().copied().max().unwrap_or(0)
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule::new(DEFAULT_SCHEDULE_S.to_vec())
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.delays_s.iter().map(|d| format!("{d} s")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_schedule_gives_five_attempts() {
        let s = RetrySchedule::default();
        let waits: Vec<Option<u64>> = (1..=5).map(|n| s.retry_after_s(n)).collect();
        assert_eq!(waits, [Some(30), Some(300), Some(1800), Some(7200), None]);
        assert_eq!(s.max_attempts(), 5);
        assert_eq!(s.retry_after_s(0), None);
        assert_eq!(s.longest_s(), 7200);
        assert_eq!(s.to_string(), "30 s, 300 s, 1800 s, 7200 s");
    }

    #[test]
    fn the_sink_keeps_retrying_at_the_last_step() {
        let s = RetrySchedule::default();
        let waits: Vec<u64> = (0..=7).map(|n| s.sink_retry_after_s(n)).collect();
        assert_eq!(waits, [30, 30, 300, 1800, 7200, 7200, 7200, 7200]);
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            RetrySchedule::parse(" 1, 2 ,3").unwrap().delays_s(),
            [1, 2, 3]
        );
        assert_eq!(RetrySchedule::parse("5").unwrap().max_attempts(), 2);
        for bad in ["", ",", "1,,2", "0", "1,0", "-1", "1.5", "a", "30;300"] {
            let err = RetrySchedule::parse(bad).unwrap_err();
            assert!(err.to_string().contains("30,300,1800,7200"), "{bad}: {err}");
        }
    }
}
