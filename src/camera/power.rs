//! Whether the camera runs: `CAMERA_ENABLED=0` keeps it off for good, and
//! `POST /camera/stop|start` stops and starts its source thread (which releases and reopens
//! the device or the rpicam process). The pipeline installs how to start a run.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use crate::sync::LockExt;

/// Starts one run of the source, which ends when the flag it is given is set.
pub type Starter = Box<dyn Fn(Arc<AtomicBool>) -> io::Result<JoinHandle<()>> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// `CAMERA_ENABLED=0`: no camera, whatever is asked.
    Disabled,
    /// Not started yet: the pipeline is starting.
    Starting,
    On,
    /// Stopped on request (or its thread ended).
    Off,
}

#[derive(Debug)]
pub enum SwitchError {
    Disabled,
    /// The pipeline has not installed its starter yet (start-up is under way).
    NotReady,
    Thread(io::Error),
}

impl fmt::Display for SwitchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchError::Disabled => f.write_str("The camera is disabled (CAMERA_ENABLED=0)"),
            SwitchError::NotReady => f.write_str("The camera pipeline is still starting"),
            SwitchError::Thread(e) => write!(f, "Cannot start the camera thread: {e}"),
        }
    }
}

impl std::error::Error for SwitchError {}

struct Run {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

enum State {
    Fresh,
    Running(Run),
    Stopped,
}

pub struct CameraSwitch {
    enabled: bool,
    starter: OnceLock<Starter>,
    /// Held by a start or stop for all its length (a stop waits for the thread), so that
    /// one never overlaps the other; `run` is held only briefly, so readers never wait.
    switching: Mutex<()>,
    run: Mutex<State>,
}

impl CameraSwitch {
    pub fn new(enabled: bool) -> CameraSwitch {
        CameraSwitch {
            enabled,
            starter: OnceLock::new(),
            switching: Mutex::new(()),
            run: Mutex::new(State::Fresh),
        }
    }

    /// Called once by the pipeline; later calls are ignored.
    pub fn install(&self, starter: Starter) {
        let _ = self.starter.set(starter);
    }

    pub fn power(&self) -> Power {
        if !self.enabled {
            return Power::Disabled;
        }
        match &*self.run.lock_unpoisoned() {
            State::Fresh => Power::Starting,
            State::Running(run) if !run.thread.is_finished() => Power::On,
            State::Running(_) | State::Stopped => Power::Off,
        }
    }

    /// Starts the source unless it runs; `Ok(false)` when it already did.
    pub fn start(&self) -> Result<bool, SwitchError> {
        if !self.enabled {
            return Err(SwitchError::Disabled);
        }
        let starter = self.starter.get().ok_or(SwitchError::NotReady)?;
        let _switching = self.switching.lock_unpoisoned();
        if matches!(&*self.run.lock_unpoisoned(), State::Running(r) if !r.thread.is_finished()) {
            return Ok(false);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = starter(Arc::clone(&stop)).map_err(SwitchError::Thread)?;
        *self.run.lock_unpoisoned() = State::Running(Run { stop, thread });
        Ok(true)
    }

    /// Stops the source and waits for its thread; `false` when it was not running.
    pub fn stop(&self) -> bool {
        let _switching = self.switching.lock_unpoisoned();
        let previous = std::mem::replace(&mut *self.run.lock_unpoisoned(), State::Stopped);
        let State::Running(Run { stop, thread }) = previous else {
            return false;
        };
        stop.store(true, Ordering::Relaxed);
        let was_running = !thread.is_finished();
        if thread.join().is_err() {
            log::error!("the camera source thread panicked");
        }
        was_running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    fn looping(stop: Arc<AtomicBool>) -> io::Result<JoinHandle<()>> {
        thread::Builder::new().spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(2));
            }
        })
    }

    #[test]
    fn starts_stops_and_starts_again() {
        let switch = CameraSwitch::new(true);
        assert!(matches!(switch.start(), Err(SwitchError::NotReady)));
        switch.install(Box::new(looping));
        assert_eq!(switch.power(), Power::Starting);
        assert!(switch.start().unwrap());
        assert!(!switch.start().unwrap(), "a second start is a no-op");
        assert_eq!(switch.power(), Power::On);
        assert!(switch.stop());
        assert_eq!(switch.power(), Power::Off);
        assert!(!switch.stop(), "a second stop is a no-op");
        assert!(switch.start().unwrap());
        assert_eq!(switch.power(), Power::On);
        switch.stop();
    }

    #[test]
    fn the_state_is_readable_while_a_stop_waits_for_a_slow_thread() {
        const LETTING_GO: Duration = Duration::from_millis(1500);
        let switch = Arc::new(CameraSwitch::new(true));
        switch.install(Box::new(|stop: Arc<AtomicBool>| {
            thread::Builder::new().spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(2));
                }
                // A source that takes its time to let go (an rpicam process ending).
                thread::sleep(LETTING_GO);
            })
        }));
        switch.start().unwrap();
        let stopping = {
            let switch = Arc::clone(&switch);
            thread::spawn(move || switch.stop())
        };
        // Every read answers at once, before and after the stop took effect (a read that
        // waited for the thread would take about LETTING_GO).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let asked = std::time::Instant::now();
            let power = switch.power();
            assert!(asked.elapsed() < LETTING_GO / 2, "power() waited");
            if power == Power::Off {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the stop never took effect"
            );
            thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !stopping.is_finished(),
            "the stop is still waiting for the thread"
        );
        assert!(stopping.join().unwrap());
    }

    #[test]
    fn a_disabled_camera_never_starts() {
        let switch = CameraSwitch::new(false);
        switch.install(Box::new(looping));
        assert!(matches!(switch.start(), Err(SwitchError::Disabled)));
        assert_eq!(switch.power(), Power::Disabled);
    }

    #[test]
    fn a_source_that_ended_on_its_own_counts_as_off_and_can_be_started() {
        let switch = CameraSwitch::new(true);
        switch.install(Box::new(|_| thread::Builder::new().spawn(|| {})));
        switch.start().unwrap();
        thread::sleep(Duration::from_millis(50));
        assert_eq!(switch.power(), Power::Off);
        assert!(switch.start().unwrap());
    }
}
