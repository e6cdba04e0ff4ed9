//! The preview encoder's bitrate, changed at run time: the thermal governor asks for the
//! throttled or the normal rate, the encoder thread applies it between two frames (no new
//! encoder, no new stream), and `/metrics` and `/system/telemetry` read what is in effect.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The throttled rate as a share of the normal one: the plugin's 200 kbit/s of 500.
pub const THROTTLED_NUMERATOR: u32 = 2;
pub const THROTTLED_DENOMINATOR: u32 = 5;

#[derive(Debug)]
pub struct BitrateControl {
    normal: u32,
    throttled: u32,
    requested: AtomicU32,
    /// What the encoder runs at; 0 while no encoder runs (a pipe source encodes itself).
    applied: AtomicU32,
    throttles: AtomicU64,
}

impl BitrateControl {
    /// `normal`: the configured `--bitrate`, in bit/s.
    pub fn new(normal: u32) -> BitrateControl {
        BitrateControl {
            normal,
            throttled: throttled_bitrate(normal),
            requested: AtomicU32::new(normal),
            applied: AtomicU32::new(0),
            throttles: AtomicU64::new(0),
        }
    }

    pub fn normal(&self) -> u32 {
        self.normal
    }

    /// Asks for the throttled rate; counts a throttle when it was not throttled.
    pub fn throttle(&self) {
        if self.requested.swap(self.throttled, Ordering::Relaxed) != self.throttled {
            self.throttles.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Asks for the normal rate again.
    pub fn restore(&self) {
        self.requested.store(self.normal, Ordering::Relaxed);
    }

    /// The rate the encoder should run at.
    pub fn requested(&self) -> u32 {
        self.requested.load(Ordering::Relaxed)
    }

    pub fn is_throttled(&self) -> bool {
        self.requested() != self.normal
    }

    /// Times the preview was throttled since start-up.
    pub fn throttles(&self) -> u64 {
        self.throttles.load(Ordering::Relaxed)
    }

    /// Called by the encoder thread once the encoder runs at `bps`.
    pub fn set_applied(&self, bps: u32) {
        self.applied.store(bps, Ordering::Relaxed);
    }

    /// The rate the preview encoder runs at (0: none runs).
    pub fn applied(&self) -> u32 {
        self.applied.load(Ordering::Relaxed)
    }
}

/// `normal` × 2/5, never 0.
pub fn throttled_bitrate(normal: u32) -> u32 {
    let bps = u64::from(normal) * u64::from(THROTTLED_NUMERATOR) / u64::from(THROTTLED_DENOMINATOR);
    (bps as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugins_ratio() {
        assert_eq!(throttled_bitrate(500_000), 200_000);
        assert_eq!(throttled_bitrate(2_000_000), 800_000);
        assert_eq!(throttled_bitrate(50_000_000), 20_000_000);
        assert_eq!(throttled_bitrate(1), 1);
    }

    #[test]
    fn throttle_and_restore() {
        let c = BitrateControl::new(2_000_000);
        assert_eq!(
            (c.requested(), c.applied(), c.throttles()),
            (2_000_000, 0, 0)
        );
        assert!(!c.is_throttled());
        c.throttle();
        c.throttle();
        assert_eq!(c.requested(), 800_000);
        assert!(c.is_throttled());
        assert_eq!(c.throttles(), 1, "a repeated ask is one throttle");
        c.restore();
        assert_eq!(c.requested(), 2_000_000);
        assert!(!c.is_throttled());
        c.throttle();
        assert_eq!(c.throttles(), 2);
        c.set_applied(800_000);
        assert_eq!(c.applied(), 800_000);
    }
}
