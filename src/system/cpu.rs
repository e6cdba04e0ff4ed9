//! CPU utilisation from the aggregate `cpu` line of /proc/stat, sampled like psutil's
//! non-blocking `cpu_percent(interval=None)`: the busy share of the jiffies that passed since
//! the previous call.

use std::fmt;
use std::sync::Mutex;

use crate::sync::LockExt;

use super::round::py_round;

const PROC_STAT: &str = "/proc/stat";

/// Cumulative jiffies of the aggregate `cpu` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Every column except guest and guest_nice, which the kernel already counts in user
    /// and nice (psutil subtracts them the same way).
    pub total: u64,
    /// idle + iowait: time the CPU had nothing to run.
    pub idle: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatParseError {
    /// No line starts with `cpu ` (the aggregate line).
    NoAggregateLine,
    /// The aggregate line has fewer than the 4 columns every kernel writes.
    TooFewColumns(usize),
    /// A column is not an unsigned integer.
    BadNumber(String),
}

impl fmt::Display for StatParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAggregateLine => write!(f, "/proc/stat has no aggregate cpu line"),
            Self::TooFewColumns(n) => write!(f, "/proc/stat cpu line has {n} columns, need 4"),
            Self::BadNumber(s) => write!(f, "/proc/stat cpu line has a bad number: {s:?}"),
        }
    }
}

impl std::error::Error for StatParseError {}

/// The aggregate CPU times from the text of /proc/stat.
pub fn parse_proc_stat(text: &str) -> Result<CpuTimes, StatParseError> {
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu ") || l.starts_with("cpu\t"))
        .ok_or(StatParseError::NoAggregateLine)?;
    let cols = line
        .split_whitespace()
        .skip(1)
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| StatParseError::BadNumber(c.to_string()))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    if cols.len() < 4 {
        return Err(StatParseError::TooFewColumns(cols.len()));
    }
    // Columns: user nice system idle iowait irq softirq steal guest guest_nice.
    let col = |i: usize| cols.get(i).copied().unwrap_or(0);
    let all = cols.iter().fold(0u64, |acc, &c| acc.saturating_add(c));
    let total = all.saturating_sub(col(8)).saturating_sub(col(9));
    let idle = col(3).saturating_add(col(4));
    Ok(CpuTimes { total, idle })
}

/// Busy percentage between two samples, rounded to one decimal and clamped to 0–100. Like
/// psutil it is 0.0 when no time passed or the busy time did not grow (counters can step
/// back when a CPU goes offline).
pub fn busy_percent(prev: CpuTimes, now: CpuTimes) -> f64 {
    let busy_prev = prev.total.saturating_sub(prev.idle);
    let busy_now = now.total.saturating_sub(now.idle);
    if now.total <= prev.total || busy_now <= busy_prev {
        return 0.0;
    }
    let share = (busy_now - busy_prev) as f64 / (now.total - prev.total) as f64 * 100.0;
    py_round(share, 1).clamp(0.0, 100.0)
}

/// Remembers the previous sample so each call reports the load since the last one. Shared
/// by all request threads; the lock is held only to swap one sample.
#[derive(Debug, Default)]
pub struct CpuSampler {
    last: Mutex<Option<CpuTimes>>,
}

impl CpuSampler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Busy percentage since the previous call (0.0 on the first call, or when /proc/stat
    /// cannot be read). Never blocks on I/O longer than one procfs read.
    pub fn percent(&self) -> f64 {
        let read = std::fs::read_to_string(PROC_STAT)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_proc_stat(&text).map_err(|e| e.to_string()));
        match read {
            Ok(now) => self.record(now),
            Err(e) => {
                log::debug!("cpu percent unavailable: {e}");
                0.0
            }
        }
    }

    /// Stores `now` as the new reference and returns the busy share since the old one.
    pub fn record(&self, now: CpuTimes) -> f64 {
        let mut last = self.last.lock_unpoisoned();
        let prev = last.replace(now);
        prev.map_or(0.0, |prev| busy_percent(prev, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 20 30 800 50 0 0 0 10 5\n\
                        cpu0 50 10 15 400 25 0 0 0 5 2\n\
                        intr 12345\n";

    #[test]
    fn parses_aggregate_line_without_guest_columns() {
        let t = parse_proc_stat(STAT).unwrap();
        // 100+20+30+800+50+10+5 = 1015, minus guest 10 and guest_nice 5.
        assert_eq!(
            t,
            CpuTimes {
                total: 1000,
                idle: 850
            }
        );
    }

    #[test]
    fn parses_old_kernel_with_four_columns() {
        let t = parse_proc_stat("cpu 1 2 3 4\n").unwrap();
        assert_eq!(t, CpuTimes { total: 10, idle: 4 });
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_proc_stat(""), Err(StatParseError::NoAggregateLine));
        assert_eq!(
            parse_proc_stat("cpu0 1 2 3 4\n"),
            Err(StatParseError::NoAggregateLine)
        );
        assert_eq!(
            parse_proc_stat("cpu 1 2 3\n"),
            Err(StatParseError::TooFewColumns(3))
        );
        assert_eq!(
            parse_proc_stat("cpu 1 2 x 4\n"),
            Err(StatParseError::BadNumber("x".into()))
        );
        assert_eq!(
            parse_proc_stat("cpu 1 2 -3 4\n"),
            Err(StatParseError::BadNumber("-3".into()))
        );
    }

    #[test]
    fn huge_counters_do_not_overflow() {
        let t = parse_proc_stat(&format!("cpu {} {} 0 0\n", u64::MAX, u64::MAX)).unwrap();
        assert_eq!(t.total, u64::MAX);
    }

    #[test]
    fn busy_share_between_samples() {
        let a = CpuTimes {
            total: 1000,
            idle: 800,
        };
        let b = CpuTimes {
            total: 1200,
            idle: 963,
        };
        // 37 busy of 200 jiffies.
        assert_eq!(busy_percent(a, b), 18.5);
        let c = CpuTimes {
            total: 1300,
            idle: 963,
        };
        assert_eq!(busy_percent(b, c), 100.0);
        // One third rounds to one decimal.
        let d = CpuTimes {
            total: 1303,
            idle: 965,
        };
        assert_eq!(busy_percent(c, d), 33.3);
    }

    #[test]
    fn no_progress_or_counters_going_back_is_zero() {
        let a = CpuTimes {
            total: 1000,
            idle: 800,
        };
        assert_eq!(busy_percent(a, a), 0.0);
        assert_eq!(
            busy_percent(
                a,
                CpuTimes {
                    total: 900,
                    idle: 700
                }
            ),
            0.0
        );
        assert_eq!(
            busy_percent(
                a,
                CpuTimes {
                    total: 1100,
                    idle: 900
                }
            ),
            0.0
        );
    }

    #[test]
    fn first_call_is_zero_then_reports_since_last_call() {
        let s = CpuSampler::new();
        assert_eq!(
            s.record(CpuTimes {
                total: 1000,
                idle: 800
            }),
            0.0
        );
        assert_eq!(
            s.record(CpuTimes {
                total: 1100,
                idle: 850
            }),
            50.0
        );
        assert_eq!(
            s.record(CpuTimes {
                total: 1200,
                idle: 950
            }),
            0.0
        );
    }

    #[test]
    fn reads_this_machine() {
        let s = CpuSampler::new();
        assert_eq!(s.percent(), 0.0);
        let mut spin = 0u64;
        for i in 0..5_000_000u64 {
            spin = spin.wrapping_add(i * i);
        }
        std::hint::black_box(spin);
        let p = s.percent();
        assert!((0.0..=100.0).contains(&p), "{p}");
    }
}
