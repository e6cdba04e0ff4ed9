//! Memory utilisation from /proc/meminfo, as psutil's `virtual_memory().percent`:
//! (total − available) / total × 100, one decimal.

use std::fmt;
use std::io;

use super::round::py_round;

const PROC_MEMINFO: &str = "/proc/meminfo";

/// Memory in use, in percent of MemTotal.
pub fn mem_percent() -> io::Result<f64> {
    let text = std::fs::read_to_string(PROC_MEMINFO)?;
    percent_from_meminfo(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Why /proc/meminfo could not be read as memory figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeminfoError {
    NotANumber { field: &'static str, value: String },
    NoMemTotal,
}

impl fmt::Display for MeminfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeminfoError::NotANumber { field, value } => {
                write!(f, "meminfo {field} is not a number: {value:?}")
            }
            MeminfoError::NoMemTotal => f.write_str("meminfo has no MemTotal"),
        }
    }
}

impl std::error::Error for MeminfoError {}

/// The percentage from the text of /proc/meminfo.
pub fn percent_from_meminfo(text: &str) -> Result<f64, MeminfoError> {
    let field = |name: &'static str| -> Result<Option<u64>, MeminfoError> {
        let Some(value) = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find_map(|(key, value)| (key == name).then_some(value))
        else {
            return Ok(None);
        };
        let number = value.split_whitespace().next().unwrap_or("");
        number
            .parse::<u64>()
            .map(Some)
            .map_err(|_| MeminfoError::NotANumber {
                field: name,
                value: number.to_string(),
            })
    };
    let total = field("MemTotal")?.ok_or(MeminfoError::NoMemTotal)?;
    let free = field("MemFree")?.unwrap_or(0);
    // Kernels before 3.14 have no MemAvailable; free + buffers + cache is the estimate `free`
    // used there (psutil's zoneinfo refinement is not worth it for such kernels).
    let available = match field("MemAvailable")? {
        Some(a) => a,
        None => free
            .saturating_add(field("Buffers")?.unwrap_or(0))
            .saturating_add(field("Cached")?.unwrap_or(0)),
    };
    // psutil's guard against kernels that report more available than total memory.
    let available = if available > total { free } else { available };
    if total == 0 {
        return Ok(0.0);
    }
    let used = total.saturating_sub(available);
    Ok(py_round(used as f64 / total as f64 * 100.0, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_mem_available() {
        let text = "MemTotal:        8000000 kB\n\
                    MemFree:          100000 kB\n\
                    MemAvailable:    6520000 kB\n\
                    Buffers:          200000 kB\n\
                    Cached:          3000000 kB\n";
        assert_eq!(percent_from_meminfo(text), Ok(18.5));
    }

    #[test]
    fn rounds_to_one_decimal() {
        let text = "MemTotal: 3 kB\nMemFree: 0 kB\nMemAvailable: 2 kB\n";
        assert_eq!(percent_from_meminfo(text), Ok(33.3));
    }

    #[test]
    fn old_kernel_falls_back_to_free_buffers_cached() {
        let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n";
        assert_eq!(percent_from_meminfo(text), Ok(60.0));
    }

    #[test]
    fn available_above_total_uses_free() {
        let text = "MemTotal: 1000 kB\nMemFree: 400 kB\nMemAvailable: 5000 kB\n";
        assert_eq!(percent_from_meminfo(text), Ok(60.0));
    }

    #[test]
    fn field_names_match_exactly() {
        // "MemTotalX" must not be mistaken for MemTotal.
        let text = "MemTotalX: 1 kB\nMemTotal: 200 kB\nMemAvailable: 50 kB\n";
        assert_eq!(percent_from_meminfo(text), Ok(75.0));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(percent_from_meminfo("").is_err());
        assert!(percent_from_meminfo("MemTotal: lots kB\n").is_err());
        assert!(percent_from_meminfo("MemTotal: 10 kB\nMemAvailable: -1 kB\n").is_err());
        assert!(percent_from_meminfo("MemTotal:\n").is_err());
        assert_eq!(percent_from_meminfo("MemTotal: 0 kB\n"), Ok(0.0));
    }

    #[test]
    fn reads_this_machine() {
        let p = mem_percent().unwrap();
        assert!(p > 0.0 && p <= 100.0, "{p}");
    }
}
