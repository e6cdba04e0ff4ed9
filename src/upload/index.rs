//! The upload queue's policy, sans IO: which capture goes next (the oldest that is due), when
//! to retry, when to give up, whether a new capture still fits (a full queue refuses the new
//! capture and never drops a queued one), and whether the sink itself is down. Times are microseconds on the monotonic clock (`clock::mono_us`), passed in, so a
//! step of the wall clock neither strands nor bursts retries. Due times kept on disk are wall
//! clock (they must survive a restart); [`due_from_persisted`] and [`persisted_from_due`]
//! convert at the boundary.
//!
//! Two kinds of failure are told apart. When the sink is unreachable or refuses everyone
//! (network, 5xx, credentials) no capture is to blame: the sink backs off along the retry
//! schedule, repeating its last step for as long as the outage lasts, and no capture uses up
//! an attempt, so an outage of any length loses nothing. When the sink refuses one capture,
//! that capture alone backs off and, after the schedule's last step, is given up.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::config::retry::RetrySchedule;

const US_PER_S: u64 = 1_000_000;

/// What the queue knows of one capture waiting for upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub bytes: u64,
    /// Failed attempts charged to this capture.
    pub attempts: u32,
    /// Monotonic µs.
    pub next_attempt_us: u64,
}

/// The monotonic due time of a retry persisted as wall-clock `persisted_unix_us`: the wait
/// left at `now_unix_us` (none if past), counted from `now_mono_us`. A wait longer than the
/// schedule's longest means the wall clock went back since it was planned (before a restart):
/// the retry is due now rather than stranded for as long as the clock stepped.
pub fn due_from_persisted(
    persisted_unix_us: u64,
    now_unix_us: u64,
    now_mono_us: u64,
    longest_s: u64,
) -> u64 {
    let left = persisted_unix_us.saturating_sub(now_unix_us);
    let left = if left > longest_s.saturating_mul(US_PER_S) {
        0
    } else {
        left
    };
    now_mono_us.saturating_add(left)
}

/// The wall-clock time to persist (and show) for the monotonic `due_mono_us`.
pub fn persisted_from_due(due_mono_us: u64, now_mono_us: u64, now_unix_us: u64) -> u64 {
    now_unix_us.saturating_add(due_mono_us.saturating_sub(now_mono_us))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Upload this capture now (it is marked in flight until the outcome is reported).
    Upload(String),
    /// Nothing is due before this time.
    WaitUntil(u64),
    /// The queue is empty (or its only entry is in flight).
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The sink is unreachable or refuses every capture: it backs off, the capture does not
    /// use up an attempt.
    Sink,
    /// The sink refused this capture: it uses up an attempt.
    Capture,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The sink is down; nothing is sent before `retry_at_us`. `consecutive` counts the sink's
    /// failures in a row.
    SinkBackoff { retry_at_us: u64, consecutive: u32 },
    /// This capture is retried at `retry_at_us`, having failed `attempts` times.
    Retry { retry_at_us: u64, attempts: u32 },
    /// This capture failed for the last time allowed and left the queue.
    GaveUp { attempts: u32 },
}

/// How much the queue may hold (`UPLOAD_QUEUE_MAX_PENDING_ENTRIES`, `…_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: u64,
    /// JPEG bytes.
    pub max_bytes: u64,
}

/// Why a new capture does not fit; the texts are the plugin's `UploadQueueFullError`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFull {
    Entries { pending: u64 },
    Bytes { would_hold: u64 },
}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueFull::Entries { pending } => {
                write!(f, "Upload queue is full: {pending} pending entries")
            }
            QueueFull::Bytes { would_hold } => write!(
                f,
                "Upload queue is full: {would_hold} bytes would exceed limit"
            ),
        }
    }
}

impl std::error::Error for QueueFull {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SinkHealth {
    consecutive_failures: u32,
    retry_at_us: u64,
}

#[derive(Debug)]
pub struct QueueIndex {
    /// Keyed by (the capture's order, id): iteration is oldest first.
    entries: BTreeMap<(u128, String), Pending>,
    /// The order of each id, to find its key.
    created: HashMap<String, u128>,
    bytes: u64,
    /// Room promised to captures being saved, not yet inserted: (entries, bytes).
    reserved: (u64, u64),
    in_flight: Option<String>,
    schedule: RetrySchedule,
    limits: Limits,
    sink: SinkHealth,
}

impl QueueIndex {
    pub fn new(schedule: RetrySchedule, limits: Limits) -> QueueIndex {
        QueueIndex {
            entries: BTreeMap::new(),
            created: HashMap::new(),
            bytes: 0,
            reserved: (0, 0),
            in_flight: None,
            schedule,
            limits,
            sink: SinkHealth {
                consecutive_failures: 0,
                retry_at_us: 0,
            },
        }
    }

    pub fn schedule(&self) -> &RetrySchedule {
        &self.schedule
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Adds a capture (new, or found on disk at start-up). Replaces one with the same id.
    /// `order` is the capture record's (by sequence number, so a wall-clock step does not
    /// put newer captures first).
    pub fn insert(&mut self, id: &str, order: u128, pending: Pending) {
        self.remove(id);
        self.bytes += pending.bytes;
        self.created.insert(id.to_owned(), order);
        self.entries.insert((order, id.to_owned()), pending);
    }

    /// Takes a capture out of the queue; false if it was not in it.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(created) = self.created.remove(id) else {
            return false;
        };
        if let Some(p) = self.entries.remove(&(created, id.to_owned())) {
            self.bytes -= p.bytes;
        }
        if self.in_flight.as_deref() == Some(id) {
            self.in_flight = None;
        }
        true
    }

    #[cfg(test)]
    pub fn contains(&self, id: &str) -> bool {
        self.created.contains_key(id)
    }

    #[cfg(test)]
    pub fn get(&self, id: &str) -> Option<Pending> {
        let created = *self.created.get(id)?;
        self.entries.get(&(created, id.to_owned())).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the last attempt failed because of the sink (and none has succeeded since).
    pub fn sink_down(&self) -> bool {
        self.sink.consecutive_failures > 0
    }

    /// Promises room for one more capture of `incoming` bytes, or says why there is none:
    /// the queue holds its most entries already (the plugin's `len(pending) >= max`), or the
    /// bytes would go over. Entries found on disk beyond the limits are kept; only new ones
    /// are refused. [`QueueIndex::release`] gives the room back when the capture is inserted
    /// or abandoned.
    pub fn reserve(&mut self, incoming: u64) -> Result<(), QueueFull> {
        let pending = self.entries.len() as u64 + self.reserved.0;
        if pending >= self.limits.max_entries {
            return Err(QueueFull::Entries { pending });
        }
        let would_hold = self
            .bytes
            .saturating_add(self.reserved.1)
            .saturating_add(incoming);
        if would_hold > self.limits.max_bytes {
            return Err(QueueFull::Bytes { would_hold });
        }
        self.reserved = (self.reserved.0 + 1, self.reserved.1 + incoming);
        Ok(())
    }

    /// Gives back what [`QueueIndex::reserve`] promised for `incoming` bytes.
    pub fn release(&mut self, incoming: u64) {
        self.reserved = (
            self.reserved.0.saturating_sub(1),
            self.reserved.1.saturating_sub(incoming),
        );
    }

    /// The next thing to do at `now_us`. While the sink backs off nothing is due; otherwise
    /// the oldest capture whose retry time has come goes, and is marked in flight.
    pub fn next(&mut self, now_us: u64) -> Next {
        if self.in_flight.is_some() {
            return Next::Idle;
        }
        if self.sink_down() && now_us < self.sink.retry_at_us {
            return if self.entries.is_empty() {
                Next::Idle
            } else {
                Next::WaitUntil(self.sink.retry_at_us)
            };
        }
        let mut earliest: Option<u64> = None;
        for ((_, id), p) in &self.entries {
            if p.next_attempt_us <= now_us {
                self.in_flight = Some(id.clone());
                return Next::Upload(id.clone());
            }
            earliest = Some(earliest.map_or(p.next_attempt_us, |e| e.min(p.next_attempt_us)));
        }
        earliest.map_or(Next::Idle, Next::WaitUntil)
    }

    /// The upload of `id` succeeded: it leaves the queue. Returns true when this ends an
    /// outage of the sink; everything that waited on the sink is then due at once.
    pub fn succeeded(&mut self, id: &str) -> bool {
        self.remove(id);
        let recovered = self.sink_down();
        self.sink = SinkHealth {
            consecutive_failures: 0,
            retry_at_us: 0,
        };
        recovered
    }

    /// The upload of `id` failed at `now_us`, blamed on `blame`.
    pub fn failed(&mut self, id: &str, now_us: u64, blame: Blame) -> Failed {
        if self.in_flight.as_deref() == Some(id) {
            self.in_flight = None;
        }
        match blame {
            Blame::Sink => {
                let consecutive = self.sink.consecutive_failures + 1;
                let wait = self.schedule.sink_retry_after_s(consecutive);
                let retry_at_us = now_us.saturating_add(wait * US_PER_S);
                self.sink = SinkHealth {
                    consecutive_failures: consecutive,
                    retry_at_us,
                };
                Failed::SinkBackoff {
                    retry_at_us,
                    consecutive,
                }
            }
            Blame::Capture => {
                // The sink answered, so it is up.
                self.sink = SinkHealth {
                    consecutive_failures: 0,
                    retry_at_us: 0,
                };
                let Some(created) = self.created.get(id).copied() else {
                    return Failed::GaveUp { attempts: 0 };
                };
                let key = (created, id.to_owned());
                let Some(p) = self.entries.get_mut(&key) else {
                    return Failed::GaveUp { attempts: 0 };
                };
                p.attempts += 1;
                let attempts = p.attempts;
                match self.schedule.retry_after_s(attempts) {
                    Some(wait) => {
                        let retry_at_us = now_us.saturating_add(wait * US_PER_S);
                        p.next_attempt_us = retry_at_us;
                        Failed::Retry {
                            retry_at_us,
                            attempts,
                        }
                    }
                    None => {
                        self.remove(id);
                        Failed::GaveUp { attempts }
                    }
                }
            }
        }
    }

    /// The upload of `id` was abandoned without an outcome (its entry was unreadable, say):
    /// it leaves the queue.
    pub fn abandon(&mut self, id: &str) {
        self.remove(id);
    }

    /// Connectivity may be back: a sink that backs off is tried again at once.
    pub fn nudge(&mut self, now_us: u64) {
        if self.sink_down() {
            self.sink.retry_at_us = now_us;
        }
    }

    /// When the sink is next tried, while it is down.
    pub fn sink_retry_at_us(&self) -> Option<u64> {
        self.sink_down().then_some(self.sink.retry_at_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = US_PER_S;
    const T0: u64 = 1_776_852_000 * S;

    fn pending(bytes: u64) -> Pending {
        Pending {
            bytes,
            attempts: 0,
            next_attempt_us: T0,
        }
    }

    fn index() -> QueueIndex {
        let mut q = QueueIndex::new(
            RetrySchedule::new(vec![30, 300, 1800, 7200]),
            Limits {
                max_entries: 5,
                max_bytes: 1000,
            },
        );
        q.insert("b", 20, pending(100));
        q.insert("a", 10, pending(100));
        q.insert("c", 30, pending(100));
        q
    }

    fn upload(q: &mut QueueIndex, now: u64) -> String {
        match q.next(now) {
            Next::Upload(id) => id,
            other => panic!("expected an upload at {now}, got {other:?}"),
        }
    }

    #[test]
    fn drains_oldest_first_one_at_a_time() {
        let mut q = index();
        assert_eq!((q.len(), q.bytes()), (3, 300));
        assert_eq!(upload(&mut q, T0), "a");
        assert_eq!(q.next(T0), Next::Idle, "one upload in flight at a time");
        assert!(!q.succeeded("a"));
        assert_eq!(upload(&mut q, T0), "b");
        q.succeeded("b");
        assert_eq!(upload(&mut q, T0), "c");
        q.succeeded("c");
        assert_eq!(q.next(T0), Next::Idle);
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn a_refused_capture_backs_off_alone_then_is_given_up() {
        let mut q = index();
        let mut now = T0;
        let mut waits = Vec::new();
        loop {
            assert_eq!(upload(&mut q, now), "a");
            match q.failed("a", now, Blame::Capture) {
                Failed::Retry {
                    retry_at_us,
                    attempts,
                } => {
                    waits.push((retry_at_us - now) / S);
                    assert_eq!(q.get("a").unwrap().attempts, attempts);
                    // The others are not held up meanwhile.
                    assert_eq!(upload(&mut q, now), "b");
                    q.failed("b", now, Blame::Capture);
                    assert_eq!(upload(&mut q, now), "c");
                    q.failed("c", now, Blame::Capture);
                    now = retry_at_us;
                    assert_eq!(q.next(now - 1), Next::WaitUntil(retry_at_us));
                }
                Failed::GaveUp { attempts } => {
                    assert_eq!(attempts, 5);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, [30, 300, 1800, 7200]);
        assert!(!q.contains("a"));
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn a_down_sink_costs_no_attempts_however_long_it_lasts() {
        let mut q = index();
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert_eq!(upload(&mut q, now), "a", "the oldest probes the sink");
            let Failed::SinkBackoff {
                retry_at_us,
                consecutive,
            } = q.failed("a", now, Blame::Sink)
            else {
                panic!("expected a sink backoff");
            };
            assert_eq!(consecutive as usize, waits.len() + 1);
            waits.push((retry_at_us - now) / S);
            assert!(q.sink_down());
            assert_eq!(
                q.next(now),
                Next::WaitUntil(retry_at_us),
                "nothing else is tried"
            );
            now = retry_at_us;
        }
        assert_eq!(waits, [30, 300, 1800, 7200, 7200, 7200, 7200, 7200]);
        assert_eq!(q.get("a").unwrap().attempts, 0);
        assert_eq!(q.len(), 3);

        assert_eq!(upload(&mut q, now), "a");
        assert!(q.succeeded("a"), "the first success ends the outage");
        assert!(!q.sink_down());
        assert_eq!(upload(&mut q, now), "b", "the rest go at once");
        assert!(!q.succeeded("b"));
    }

    #[test]
    fn a_nudge_retries_a_down_sink_at_once() {
        let mut q = index();
        assert_eq!(upload(&mut q, T0), "a");
        q.failed("a", T0, Blame::Sink);
        assert_eq!(q.sink_retry_at_us(), Some(T0 + 30 * S));
        assert!(matches!(q.next(T0 + S), Next::WaitUntil(_)));
        q.nudge(T0 + S);
        assert_eq!(upload(&mut q, T0 + S), "a");
        // A nudge while the sink is up changes nothing.
        let mut up = index();
        up.nudge(T0);
        assert_eq!(up.sink_retry_at_us(), None);
    }

    #[test]
    fn a_refusal_means_the_sink_is_up() {
        let mut q = index();
        upload(&mut q, T0);
        q.failed("a", T0, Blame::Sink);
        assert!(q.sink_down());
        let later = T0 + 30 * S;
        assert_eq!(upload(&mut q, later), "a");
        assert!(matches!(
            q.failed("a", later, Blame::Capture),
            Failed::Retry { attempts: 1, .. }
        ));
        assert!(!q.sink_down());
        assert_eq!(upload(&mut q, later), "b");
    }

    #[test]
    fn persisted_retries_resume_with_the_wait_left() {
        const MONO: u64 = 5 * S;
        assert_eq!(due_from_persisted(T0 + 20 * S, T0, MONO, 30), MONO + 20 * S);
        assert_eq!(
            due_from_persisted(T0 - 20 * S, T0, MONO, 30),
            MONO,
            "past: now"
        );
        assert_eq!(
            due_from_persisted(T0 + 3600 * S, T0, MONO, 30),
            MONO,
            "beyond the longest wait, the clock went back: now, not in an hour"
        );
        let due = due_from_persisted(T0 + 20 * S, T0, MONO, 30);
        assert_eq!(persisted_from_due(due, MONO, T0), T0 + 20 * S);
        assert_eq!(persisted_from_due(MONO, MONO + S, T0), T0, "past: now");
    }

    /// Retries and the sink's backoff run on the monotonic clock the worker passes in; what
    /// the wall clock does meanwhile (stepped back an hour, forward a day) changes nothing.
    #[test]
    fn retry_waits_are_monotonic_intervals() {
        let mut q = QueueIndex::new(
            RetrySchedule::new(vec![30, 300]),
            Limits {
                max_entries: 5,
                max_bytes: 1000,
            },
        );
        let mono = 7 * S;
        q.insert(
            "x",
            1,
            Pending {
                bytes: 1,
                attempts: 0,
                next_attempt_us: mono,
            },
        );
        assert_eq!(upload(&mut q, mono), "x");
        let Failed::Retry { retry_at_us, .. } = q.failed("x", mono, Blame::Capture) else {
            panic!("a retry")
        };
        assert_eq!(retry_at_us, mono + 30 * S);
        assert_eq!(q.next(mono + 29 * S), Next::WaitUntil(mono + 30 * S));
        assert_eq!(upload(&mut q, mono + 30 * S), "x");
        let Failed::SinkBackoff { retry_at_us, .. } = q.failed("x", mono + 30 * S, Blame::Sink)
        else {
            panic!("a backoff")
        };
        assert_eq!(retry_at_us, mono + 60 * S);
    }

    #[test]
    fn a_full_queue_refuses_the_new_capture_and_keeps_every_queued_one() {
        // Three queued of 100 bytes; at most 5 entries and 1000 bytes.
        let mut q = index();
        assert_eq!(q.reserve(701), Err(QueueFull::Bytes { would_hold: 1001 }));
        assert_eq!(q.reserve(700), Ok(()), "exactly full fits");
        q.release(700);
        q.reserve(100).unwrap();
        q.reserve(100).unwrap();
        assert_eq!(
            q.reserve(1),
            Err(QueueFull::Entries { pending: 5 }),
            "reserved room counts"
        );
        assert_eq!((q.len(), q.bytes()), (3, 300), "nothing was dropped");
        q.insert("d", 40, pending(100));
        q.release(100);
        assert_eq!(q.reserve(1), Err(QueueFull::Entries { pending: 5 }));
        q.release(100);
        q.reserve(1).unwrap();
        assert_eq!(
            QueueFull::Entries { pending: 500 }.to_string(),
            "Upload queue is full: 500 pending entries"
        );
        assert_eq!(
            QueueFull::Bytes { would_hold: 9 }.to_string(),
            "Upload queue is full: 9 bytes would exceed limit"
        );
    }

    #[test]
    fn entries_beyond_the_limits_are_kept_and_zero_refuses_everything() {
        let mut q = QueueIndex::new(
            RetrySchedule::new(vec![30]),
            Limits {
                max_entries: 0,
                max_bytes: 0,
            },
        );
        q.insert("found-on-disk", 1, pending(100));
        assert_eq!(q.len(), 1);
        assert_eq!(q.reserve(0), Err(QueueFull::Entries { pending: 1 }));
    }

    #[test]
    fn insert_replaces_and_remove_is_idempotent() {
        let mut q = index();
        q.insert("a", 10, pending(50));
        assert_eq!((q.len(), q.bytes()), (3, 250));
        assert!(q.remove("a"));
        assert!(!q.remove("a"));
        q.abandon("zz");
        assert_eq!((q.len(), q.bytes()), (2, 200));
        assert_eq!(
            q.failed("zz", T0, Blame::Capture),
            Failed::GaveUp { attempts: 0 }
        );
    }
}
