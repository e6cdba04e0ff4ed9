//! Host telemetry read straight from /proc, sysfs and libc (no psutil): CPU, memory and disk
//! use, SoC temperature and thermal band, the LAN addresses a client can reach us on, and the
//! Prometheus text of `GET /metrics`; and the service manager's side: sd_notify and socket
//! activation.

pub mod cpu;
pub mod disk;
pub mod fd_limit;
pub mod interfaces;
pub mod memory;
pub mod prometheus;
pub mod round;
pub mod sd_notify;
pub mod snapshot;
pub mod socket_activation;
pub mod thermal;
pub mod thermal_governor;

pub use snapshot::{SystemProbe, SystemSnapshot};
