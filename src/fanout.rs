//! One producer, many consumers, each behind its own bounded channel. A slow consumer loses
//! items (counted) and never slows the producer or the other consumers.
//!
//! The fan-out also keeps the items since the last sync point (at most [`BACKLOG_MAX`]), so a
//! consumer that joins can start from the newest sync point at once instead of waiting for the
//! next one ([`Fanout::subscribe_from_last_sync`]).

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

/// Items kept since the last sync point; a longer run without one is not kept (a consumer
/// joining then waits for the next sync point).
pub const BACKLOG_MAX: usize = 600;

struct Inner<T> {
    subscribers: Vec<Subscriber<T>>,
    /// The items since the last sync point, starting with it; empty when there is none, the
    /// run grew past [`BACKLOG_MAX`], or the fan-out keeps none.
    backlog: Vec<T>,
    keep_backlog: bool,
}

pub struct Fanout<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for Fanout<T> {
    fn default() -> Self {
        Fanout::new(false)
    }
}

impl<T> Fanout<T> {
    /// A fan-out that keeps the items since the last sync point for late consumers.
    pub fn with_backlog() -> Self {
        Fanout::new(true)
    }

    fn new(keep_backlog: bool) -> Self {
        Fanout {
            inner: Mutex::new(Inner {
                subscribers: Vec::new(),
                backlog: Vec::new(),
                keep_backlog,
            }),
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
        self.inner
            .lock_unpoisoned()
            .subscribers
            .push(Subscriber::new(name, tx, dropped, true));
        rx
    }

    /// Adds a consumer that starts at the newest sync point: returns the items since it (the
    /// sync point first; empty when there is none) and the receiver for everything after them,
    /// with no gap in between. Without a backlog the receiver starts at the next sync point.
    pub fn subscribe_from_last_sync(
        &self,
        name: &'static str,
        capacity: usize,
        dropped: Arc<AtomicU64>,
    ) -> (Vec<T>, Receiver<T>) {
        let (tx, rx) = bounded(capacity);
        let mut inner = self.inner.lock_unpoisoned();
        let backlog = inner.backlog.clone();
        let resync = backlog.is_empty();
        inner
            .subscribers
            .push(Subscriber::new(name, tx, dropped, resync));
        (backlog, rx)
    }

    /// How many consumers are registered (gone ones are removed at the next send).
    pub fn subscriber_count(&self) -> usize {
        self.inner.lock_unpoisoned().subscribers.len()
    }

    /// Offers `item` to every consumer without blocking. Consumers that went away are removed.
    pub fn send(&self, item: &T) {
        let mut inner = self.inner.lock_unpoisoned();
        let Inner {
            subscribers,
            backlog,
            keep_backlog,
        } = &mut *inner;
        if *keep_backlog {
            if item.is_sync_point() {
                backlog.clear();
                backlog.push(item.clone());
            } else if !backlog.is_empty() && backlog.len() < BACKLOG_MAX {
                backlog.push(item.clone());
            } else {
                backlog.clear();
            }
        }
        subscribers.retain_mut(|sub| {
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

    /// Forgets the items since the last sync point (the stream paused: they are stale).
    pub fn clear_backlog(&self) {
        self.inner.lock_unpoisoned().backlog.clear();
    }
}

impl<T> Subscriber<T> {
    fn new(name: &'static str, tx: Sender<T>, dropped: Arc<AtomicU64>, resync: bool) -> Self {
        Subscriber {
            name,
            tx,
            dropped,
            resync,
            last_warning: None,
        }
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

    #[test]
    fn a_late_subscriber_starts_at_the_last_sync_point_without_a_gap() {
        let fan = Fanout::with_backlog();
        let (backlog, rx) = fan.subscribe_from_last_sync("early", 10, Arc::default());
        assert!(backlog.is_empty());
        fan.send(&Item(0, false));
        assert!(rx.try_recv().is_err(), "no backlog: waits for a sync point");
        for i in 1..5 {
            fan.send(&Item(i, i == 2));
        }
        let (backlog, late) = fan.subscribe_from_last_sync("late", 10, Arc::default());
        assert_eq!(backlog, vec![Item(2, true), Item(3, false), Item(4, false)]);
        fan.send(&Item(5, false));
        assert_eq!(
            late.try_recv().unwrap(),
            Item(5, false),
            "continues at once"
        );
        fan.clear_backlog();
        assert!(fan
            .subscribe_from_last_sync("x", 1, Arc::default())
            .0
            .is_empty());
        let plain = Fanout::default();
        plain.send(&Item(0, true));
        assert!(plain
            .subscribe_from_last_sync("y", 1, Arc::default())
            .0
            .is_empty());
    }

    #[test]
    fn a_long_run_without_sync_point_is_not_kept() {
        let fan = Fanout::with_backlog();
        fan.send(&Item(0, true));
        for i in 1..=BACKLOG_MAX as u32 {
            fan.send(&Item(i, false));
        }
        assert!(fan
            .subscribe_from_last_sync("x", 1, Arc::default())
            .0
            .is_empty());
    }
}
