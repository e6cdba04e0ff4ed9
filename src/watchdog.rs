//! The systemd watchdog (`WatchdogSec=` in the unit): `WATCHDOG=1` every half interval, but
//! only while every thread that must never hang has beaten its heartbeat recently enough (the
//! HTTP accept loop, the encoder and the LL-HLS muxer). One that stopped makes the pings stop,
//! and systemd restarts picamd. A camera that is unplugged is not a reason: the pipeline's
//! threads keep beating while picamd recovers the camera on its own.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::heartbeat::Heartbeats;
use crate::system::sd_notify::Notifier;

/// Starts the watchdog thread for `interval` (from `WATCHDOG_USEC`).
pub fn spawn(
    notifier: Arc<Notifier>,
    interval: Duration,
    heartbeats: Arc<Heartbeats>,
) -> std::io::Result<()> {
    let every = interval / 2;
    thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut was_silent = false;
            loop {
                let silent = heartbeats.silent(Instant::now());
                if silent.is_empty() {
                    notifier.notify("WATCHDOG=1");
                    if was_silent {
                        log::info!("watchdog: every thread answers again");
                    }
                } else if !was_silent {
                    log::error!("watchdog: not pinging systemd: {}", describe(&silent));
                }
                was_silent = !silent.is_empty();
                thread::sleep(every);
            }
        })?;
    Ok(())
}

fn describe(silent: &[(&'static str, Duration)]) -> String {
    silent
        .iter()
        .map(|(name, age)| format!("{name} silent for {} ms", age.as_millis()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_silent_thread() {
        let text = describe(&[
            ("http-accept", Duration::from_millis(2500)),
            ("llhls-muxer", Duration::from_secs(9)),
        ]);
        assert_eq!(
            text,
            "http-accept silent for 2500 ms, llhls-muxer silent for 9000 ms"
        );
    }
}
