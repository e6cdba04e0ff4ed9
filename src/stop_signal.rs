//! A stop request a worker thread can sleep on: sleeping ends early when the stop comes.

use crate::sync::{CondvarExt, LockExt};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    pub fn stop(&self) {
        *self.stopped.lock_unpoisoned() = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock_unpoisoned()
    }

    /// Sleeps for `duration` or until a stop; true when the whole time passed without one.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut stopped = self.stopped.lock_unpoisoned();
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopped = self.wake.wait_timeout_unpoisoned(stopped, deadline - now).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn sleeps_the_full_time_without_a_stop() {
        let signal = StopSignal::new();
        let start = Instant::now();
        assert!(signal.sleep(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(signal.sleep(Duration::ZERO));
        assert!(!signal.is_stopped());
    }

    #[test]
    fn a_stop_ends_the_sleep_at_once_and_for_good() {
        let signal = Arc::new(StopSignal::new());
        let stopper = Arc::clone(&signal);
        let start = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            stopper.stop();
        });
        assert!(!signal.sleep(Duration::from_secs(30)));
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
        assert!(signal.is_stopped());
        assert!(!signal.sleep(Duration::from_secs(30)));
    }
}
