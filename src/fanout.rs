//! One producer, many consumers, each behind its own bounded channel. A slow consumer loses
//! items (counted) and never slows the producer or the other consumers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sync::LockExt;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

/// Where a consumer that lost items can pick the stream up again (an IDR for H.264).
pub trait SyncPoint {
    fn is_sync_point(&self) -> bool;
}

struct Subscriber<T> {
    name: &'static str,
    tx: Sender<T>,
    dropped: Arc<AtomicU64>,
    /// Lost an item: skip until the next sync point.
    resync: bool,
    last_warning: Option<Instant>,
}

/// A consumer that keeps falling behind is reported at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

pub struct Fanout<T> {
    subscribers: Mutex<Vec<Subscriber<T>>>,
}

impl<T> Default for Fanout<T> {
    fn default() -> Self {
        Fanout {
            subscribers: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Clone + SyncPoint> Fanout<T> {
    /// Adds a consumer; items it loses are counted in `dropped`.
    pub fn subscribe(
        &self,
        name: &'static str,
        capacity: usize,
        dropped: Arc<AtomicU64>,
    ) -> Receiver<T> {
        let (tx, rx) = bounded(capacity);
        let sub = Subscriber {
            name,
            tx,
            dropped,
            resync: true,
            last_warning: None,
        };
        self.subscribers.lock_unpoisoned().push(sub);
        rx
    }

    /// Offers `item` to every consumer without blocking. Consumers that went away are removed.
    pub fn send(&self, item: &T) {
        let mut subs = self.subscribers.lock_unpoisoned();
        subs.retain_mut(|sub| {
            if sub.resync && !item.is_sync_point() {
                sub.dropped.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            match sub.tx.try_send(item.clone()) {
                Ok(()) => {
                    sub.resync = false;
                    true
                }
                Err(TrySendError::Full(_)) => {
                    if sub.last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        sub.last_warning = Some(Instant::now());
                        log::warn!(
                            "{} is not keeping up: {} items dropped so far",
                            sub.name,
                            sub.dropped.load(Ordering::Relaxed) + 1
                        );
                    }
                    sub.resync = true;
                    sub.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    }

    #[cfg(test)]
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.lock_unpoisoned().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Item(u32, bool);

    impl SyncPoint for Item {
        fn is_sync_point(&self) -> bool {
            self.1
        }
    }

    #[test]
    fn slow_consumer_resyncs_without_hurting_others() {
        let fan = Fanout::default();
        let fast = fan.subscribe("fast", 100, Arc::default());
        let slow_dropped = Arc::new(AtomicU64::new(0));
        let slow = fan.subscribe("slow", 2, Arc::clone(&slow_dropped));
        for i in 0..10 {
            fan.send(&Item(i, i % 5 == 0));
        }
        assert_eq!(fast.try_iter().count(), 10);
        let got: Vec<u32> = slow.try_iter().map(|i| i.0).collect();
        assert_eq!(
            got,
            vec![0, 1],
            "then full; 5 is a sync point but the queue is still full"
        );
        fan.send(&Item(10, false));
        assert!(
            slow.try_recv().is_err(),
            "waits for a sync point after losing items"
        );
        fan.send(&Item(11, true));
        assert_eq!(slow.try_recv().unwrap().0, 11);
        assert_eq!(slow_dropped.load(Ordering::Relaxed), 9);
        drop(fast);
        fan.send(&Item(12, true));
        assert_eq!(fan.subscriber_count(), 1);
    }
}
