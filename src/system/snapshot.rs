//! One reading of the host's load, memory, disk and temperature, for `/system/telemetry`
//! and `/metrics`.

use std::path::{Path, PathBuf};

use super::cpu::CpuSampler;
use super::thermal::{read_cpu_temp, ThermalState, DEFAULT_CPU_TEMP_PATH};
use super::{disk, memory};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemSnapshot {
    /// Busy share since the previous snapshot, 0–100, one decimal.
    pub cpu_percent: f64,
    /// Memory in use, 0–100, one decimal.
    pub mem_percent: f64,
    /// Use of the filesystem holding the images, 0–100, two decimals.
    pub disk_percent: f64,
    pub cpu_temp_c: Option<f64>,
    pub thermal_state: ThermalState,
}

/// Reads snapshots. One probe is shared for the life of the daemon, so the CPU figure is
/// the load since the previous request (psutil's `cpu_percent(interval=None)`).
#[derive(Debug)]
pub struct SystemProbe {
    cpu: CpuSampler,
    disk_path: PathBuf,
    temp_path: PathBuf,
}

impl SystemProbe {
    /// A probe measuring the filesystem of `disk_path` (the images directory, which need not
    /// exist yet) and the Raspberry Pi's SoC sensor.
    pub fn new(disk_path: impl Into<PathBuf>) -> Self {
        Self::with_temp_path(disk_path, DEFAULT_CPU_TEMP_PATH)
    }

    /// As [`SystemProbe::new`], reading the temperature from another sysfs file.
    pub fn with_temp_path(disk_path: impl Into<PathBuf>, temp_path: impl Into<PathBuf>) -> Self {
        Self {
            cpu: CpuSampler::new(),
            disk_path: disk_path.into(),
            temp_path: temp_path.into(),
        }
    }

    pub fn disk_path(&self) -> &Path {
        &self.disk_path
    }

    /// Reads everything now. A figure that cannot be read is 0.0 (logged at debug level) and
    /// an unknown temperature is None, so telemetry always answers.
    pub fn snapshot(&self) -> SystemSnapshot {
        let mem_percent = memory::mem_percent().unwrap_or_else(|e| {
            log::debug!("memory percent unavailable: {e}");
            0.0
        });
        let disk_percent = disk::disk_percent(&self.disk_path).unwrap_or_else(|e| {
            log::debug!(
                "disk percent of {} unavailable: {e}",
                self.disk_path.display()
            );
            0.0
        });
        let cpu_temp_c = read_cpu_temp(&self.temp_path);
        SystemSnapshot {
            cpu_percent: self.cpu.percent(),
            mem_percent,
            disk_percent,
            cpu_temp_c,
            thermal_state: ThermalState::from_temp(cpu_temp_c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("picamd-snap-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn snapshot_reads_the_given_temperature_file() {
        let dir = temp_dir("warm");
        let temp = dir.join("temp");
        std::fs::write(&temp, "62000\n").unwrap();
        let probe = SystemProbe::with_temp_path(dir.join("images-not-yet-created"), &temp);
        let first = probe.snapshot();
        assert_eq!(first.cpu_percent, 0.0, "first CPU sample has no reference");
        assert_eq!(first.cpu_temp_c, Some(62.0));
        assert_eq!(first.thermal_state, ThermalState::Warm);
        assert!(first.mem_percent > 0.0 && first.mem_percent <= 100.0);
        assert!((0.0..=100.0).contains(&first.disk_percent));
        let second = probe.snapshot();
        assert!((0.0..=100.0).contains(&second.cpu_percent));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_sensor_is_unknown_and_normal() {
        let dir = temp_dir("nosensor");
        let probe = SystemProbe::with_temp_path(&dir, dir.join("no-such-temp"));
        let s = probe.snapshot();
        assert_eq!(s.cpu_temp_c, None);
        assert_eq!(s.thermal_state, ThermalState::Normal);
        assert_eq!(probe.disk_path(), dir.as_path());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
