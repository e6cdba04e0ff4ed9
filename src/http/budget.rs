//! The bytes of request bodies that may be in memory at once, across all connections, so
//! many clients each sending a body cannot exhaust memory together.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Budget {
    total: usize,
    used: Arc<AtomicUsize>,
}

/// Bytes taken from a [`Budget`], given back on drop.
#[derive(Debug)]
pub struct Reservation {
    bytes: usize,
    used: Arc<AtomicUsize>,
}

impl Budget {
    pub fn new(total: usize) -> Budget {
        Budget {
            total,
            used: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Takes `bytes`, or `None` when that would exceed the budget.
    pub fn reserve(&self, bytes: usize) -> Option<Reservation> {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&n| n <= self.total)
            })
            .ok()?;
        Some(Reservation {
            bytes,
            used: Arc::clone(&self.used),
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_total_and_give_it_back() {
        let budget = Budget::new(100);
        let a = budget.reserve(60).unwrap();
        assert!(budget.reserve(41).is_none());
        let b = budget.reserve(40).unwrap();
        drop(a);
        assert!(budget.reserve(60).is_some());
        drop(b);
        assert!(budget.reserve(100).is_some());
        assert!(budget.reserve(usize::MAX).is_none());
    }
}
