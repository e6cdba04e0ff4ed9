//! Counts work under way (captures being taken, HTTP answers being written), so a stop can let
//! it finish.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sync::{CondvarExt, LockExt};

#[derive(Debug, Default)]
pub struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

/// One piece of work under way; it ends when this is dropped.
pub struct Running<'a>(&'a InFlight);

impl InFlight {
    pub fn begin(&self) -> Running<'_> {
        *self.count.lock_unpoisoned() += 1;
        Running(self)
    }

    /// Waits until nothing is under way or `limit` has passed; returns how many are left.
    pub fn wait_idle(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let mut count = self.count.lock_unpoisoned();
        while *count > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            count = self.idle.wait_timeout_unpoisoned(count, deadline - now).0;
        }
        *count
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut count = self.0.count.lock_unpoisoned();
        *count -= 1;
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn waits_for_work_under_way_within_a_limit() {
        let work = Arc::new(InFlight::default());
        assert_eq!(work.wait_idle(Duration::ZERO), 0);
        let held = work.begin();
        assert_eq!(
            work.wait_idle(Duration::from_millis(20)),
            1,
            "the limit holds"
        );
        let other = Arc::clone(&work);
        let t = std::thread::spawn(move || {
            let _running = other.begin();
            std::thread::sleep(Duration::from_millis(50));
        });
        drop(held);
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(work.wait_idle(Duration::from_secs(10)), 0);
        t.join().unwrap();
    }
}
