//! The thermal governor thread (contract §9.5): reads the SoC temperature every poll period
//! and lowers the preview encoder's bitrate when hot, restoring it when cool again. The
//! decisions are `system::thermal_governor`'s; the encoder thread applies the rate.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::encode::BitrateControl;
use crate::system::thermal_governor::{Action, Governor, GovernorTiming};

/// Where temperatures come from: °C, or None when unknown.
pub type TemperatureSource = Box<dyn FnMut() -> Option<f64> + Send>;

/// Runs the governor for the life of the process.
pub fn spawn(
    mut read_temp: TemperatureSource,
    timing: GovernorTiming,
    bitrate: Arc<BitrateControl>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("thermal-governor".into())
        .spawn(move || {
            let mut governor = Governor::new(timing);
            loop {
                let temp = read_temp();
                match governor.observe(temp, Instant::now()) {
                    Some(Action::Throttle) => {
                        bitrate.throttle();
                        log::warn!(
                            "thermal governor: {:.1} °C for {:?}; preview bitrate lowered to {} kbit/s",
                            temp.unwrap_or_default(),
                            timing.throttle_hold,
                            bitrate.requested() / 1000
                        );
                    }
                    Some(Action::Restore) => {
                        bitrate.restore();
                        log::info!(
                            "thermal governor: {:.1} °C for {:?}; preview bitrate restored to {} kbit/s",
                            temp.unwrap_or_default(),
                            timing.restore_hold,
                            bitrate.requested() / 1000
                        );
                    }
                    None => {}
                }
                thread::sleep(timing.poll);
            }
        })
}
