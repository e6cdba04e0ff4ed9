//! SoC temperature from sysfs and the thermal band the governor and telemetry report.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The SoC sensor on every Raspberry Pi (and the first zone on most other Linux machines).
pub const DEFAULT_CPU_TEMP_PATH: &str = "/sys/class/thermal/thermal_zone0/temp";

/// Temperature in °C from a sysfs `temp` file (millidegrees), or None when the file is
/// missing or unreadable, as on machines without a thermal zone.
pub fn read_cpu_temp(path: &Path) -> Option<f64> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let temp = parse_millidegrees(&text);
            if temp.is_none() {
                log::debug!("unexpected temperature {text:?} in {}", path.display());
            }
            temp
        }
        Err(e) => {
            log::debug!("no CPU temperature from {}: {e}", path.display());
            None
        }
    }
}

/// `"54321\n"` → 54.321. Negative readings are real (cold starts outdoors).
pub fn parse_millidegrees(text: &str) -> Option<f64> {
    let text = text.trim();
    let milli = match text.parse::<i64>() {
        Ok(m) => m as f64,
        Err(_) => text.parse::<f64>().ok().filter(|m| m.is_finite())?,
    };
    Some(milli / 1000.0)
}

/// Thermal band: below 60 °C normal, below 75 warm, below 80 throttle, else critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThermalState {
    Normal,
    Warm,
    Throttle,
    Critical,
}

impl ThermalState {
    /// Every state, coolest first (the order of the Prometheus enum lines).
    pub const ALL: [ThermalState; 4] = [
        ThermalState::Normal,
        ThermalState::Warm,
        ThermalState::Throttle,
        ThermalState::Critical,
    ];

    /// The band of a temperature; an unknown (or NaN) temperature counts as normal.
    pub fn from_temp(temp_c: Option<f64>) -> Self {
        match temp_c {
            Some(t) if t >= 80.0 => Self::Critical,
            Some(t) if t >= 75.0 => Self::Throttle,
            Some(t) if t >= 60.0 => Self::Warm,
            _ => Self::Normal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Warm => "warm",
            Self::Throttle => "throttle",
            Self::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_match_the_contract() {
        let band = |t: f64| ThermalState::from_temp(Some(t));
        assert_eq!(band(59.9), ThermalState::Normal);
        assert_eq!(band(60.0), ThermalState::Warm);
        assert_eq!(band(74.9), ThermalState::Warm);
        assert_eq!(band(75.0), ThermalState::Throttle);
        assert_eq!(band(79.9), ThermalState::Throttle);
        assert_eq!(band(80.0), ThermalState::Critical);
        assert_eq!(band(48.2), ThermalState::Normal);
        assert_eq!(band(-10.0), ThermalState::Normal);
        assert_eq!(band(f64::INFINITY), ThermalState::Critical);
        assert_eq!(band(f64::NAN), ThermalState::Normal);
        assert_eq!(ThermalState::from_temp(None), ThermalState::Normal);
    }

    #[test]
    fn names_and_serde_are_lowercase() {
        for s in ThermalState::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<ThermalState>(&json).unwrap(), s);
        }
        assert_eq!(ThermalState::Throttle.as_str(), "throttle");
        assert!(serde_json::from_str::<ThermalState>("\"Warm\"").is_err());
    }

    #[test]
    fn parses_sysfs_millidegrees() {
        assert_eq!(parse_millidegrees("54321"), Some(54.321));
        assert_eq!(parse_millidegrees("54321\n"), Some(54.321));
        assert_eq!(parse_millidegrees("62000\n"), Some(62.0));
        assert_eq!(parse_millidegrees("-2500\n"), Some(-2.5));
        assert_eq!(parse_millidegrees("48200.0"), Some(48.2));
        assert_eq!(parse_millidegrees(""), None);
        assert_eq!(parse_millidegrees("hot"), None);
        assert_eq!(parse_millidegrees("nan"), None);
        assert_eq!(parse_millidegrees("inf"), None);
    }

    #[test]
    fn reads_a_file_or_none() {
        let dir = std::env::temp_dir().join(format!("picamd-thermal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("temp");
        std::fs::write(&file, "54321\n").unwrap();
        assert_eq!(read_cpu_temp(&file), Some(54.321));
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(read_cpu_temp(&file), None);
        assert_eq!(read_cpu_temp(&dir.join("missing")), None);
        // A directory is not a temperature.
        assert_eq!(read_cpu_temp(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
