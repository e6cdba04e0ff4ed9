//! The live LL-HLS state shared between the muxer thread and HTTP workers.
//!
//! Requests that must wait (blocking playlist reloads, preload-hinted parts) park on a
//! condition variable in their own thread; the muxer renders the playlists once per change,
//! so waking a hundred viewers costs a hundred `Arc` clones and nothing else.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::directives::Directives;
use super::playlist;
use super::timeline::{Part, Timeline};
use crate::sync::LockExt;

/// Why an LL-HLS request cannot be answered; `api::preview` maps it to HTTP once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlsError {
    /// The request can never be satisfied as asked (HTTP 400).
    BadRequest(String),
    /// No such resource in the current session (HTTP 404).
    NotFound,
    /// Blocked longer than the spec allows, or the stream is not running (HTTP 503).
    Unavailable(String),
}

struct Live {
    session: u64,
    timeline: Timeline,
    full: Arc<str>,
    delta: Arc<str>,
}

#[derive(Default)]
struct State {
    live: Option<Live>,
    sessions: u64,
    /// The lowest MSN a new session may start at: above everything published so far.
    msn_floor: u64,
}

pub struct HlsStore {
    state: Mutex<State>,
    changed: Condvar,
    /// How long a request waits for a stream that has not produced its first segment yet.
    startup_wait: Duration,
    blocked: AtomicUsize,
}

/// Counts a parked request for as long as it waits.
struct Parked<'a>(&'a AtomicUsize);

impl<'a> Parked<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Parked(counter)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HlsStore {
    pub fn new(startup_wait: Duration) -> HlsStore {
        HlsStore {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            startup_wait,
            blocked: AtomicUsize::new(0),
        }
    }

    /// Requests currently parked waiting for media.
    pub fn blocked_requests(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Starts a new session (new prefix, new init), replacing whatever was live.
    pub fn start_session(&self, timeline: Timeline) {
        let mut state = self.state.lock_unpoisoned();
        state.sessions += 1;
        if let Some(old) = &state.live {
            state.msn_floor = state.msn_floor.max(old.timeline.current_msn() + 1);
        }
        let (full, delta) = render(&timeline);
        state.live = Some(Live {
            session: state.sessions,
            timeline,
            full,
            delta,
        });
        drop(state);
        self.changed.notify_all();
    }

    /// The lowest media sequence number a new session may use (sequence numbers never go
    /// back on the same playlist URL).
    pub fn msn_floor(&self) -> u64 {
        let state = self.state.lock_unpoisoned();
        let live = state
            .live
            .as_ref()
            .map_or(0, |l| l.timeline.current_msn() + 1);
        live.max(state.msn_floor)
    }

    /// Ends the live session (the source stopped): waiting requests get 503 at their deadline.
    pub fn stop_session(&self) {
        let mut state = self.state.lock_unpoisoned();
        if let Some(live) = state.live.take() {
            state.msn_floor = state.msn_floor.max(live.timeline.current_msn() + 1);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Changes the live timeline, re-renders the playlists and wakes every waiter.
    pub fn update<R>(&self, change: impl FnOnce(&mut Timeline) -> R) -> Option<R> {
        let mut state = self.state.lock_unpoisoned();
        let live = state.live.as_mut()?;
        let result = change(&mut live.timeline);
        (live.full, live.delta) = render(&live.timeline);
        drop(state);
        self.changed.notify_all();
        Some(result)
    }

    /// Reads the live timeline (for status and metrics).
    pub fn inspect<R>(&self, read: impl FnOnce(&Timeline) -> R) -> Option<R> {
        self.state
            .lock_unpoisoned()
            .live
            .as_ref()
            .map(|l| read(&l.timeline))
    }

    /// The playlist, after waiting as the directives ask.
    pub fn playlist(&self, d: &Directives) -> Result<Arc<str>, HlsError> {
        let started = Instant::now();
        let mut state = self.state.lock_unpoisoned();
        let entry_session = state.live.as_ref().map(|l| l.session);
        let mut parked = None;
        loop {
            let mut limit = self.startup_wait;
            if let Some(live) = state.live.as_ref().filter(|l| l.timeline.is_playable()) {
                let tl = &live.timeline;
                if entry_session.is_some_and(|s| s != live.session) {
                    // The stream restarted under the client: the new playlist tells it so.
                    return Ok(Arc::clone(&live.full));
                }
                if let Some(msn) = d.msn {
                    if tl.is_too_far_ahead(msn, d.part) {
                        return Err(HlsError::BadRequest(format!(
                            "_HLS_msn={msn} _HLS_part={} is too far ahead of the live edge",
                            d.part.map_or("-".to_string(), |p| p.to_string())
                        )));
                    }
                }
                if is_satisfied(tl, d) {
                    return Ok(Arc::clone(if d.skip { &live.delta } else { &live.full }));
                }
                limit = blocking_limit(tl);
            }
            let waited = started.elapsed();
            parked.get_or_insert_with(|| Parked::new(&self.blocked));
            if waited >= limit {
                return Err(HlsError::Unavailable(if state.live.is_some() {
                    format!(
                        "playlist update not available after {} ms",
                        waited.as_millis()
                    )
                } else {
                    "the preview stream is not running".to_string()
                }));
            }
            state = self.wait(state, limit - waited);
        }
    }

    pub fn init(&self, prefix: &str) -> Result<Arc<[u8]>, HlsError> {
        let state = self.state.lock_unpoisoned();
        let live = live_session(&state, prefix)?;
        Ok(Arc::clone(live.timeline.init()))
    }

    /// A complete segment, as its parts' bytes in order.
    pub fn segment(&self, prefix: &str, msn: u64) -> Result<Vec<Arc<[u8]>>, HlsError> {
        let state = self.state.lock_unpoisoned();
        live_session(&state, prefix)?
            .timeline
            .segment(msn)
            .ok_or(HlsError::NotFound)
    }

    /// A part; the one named by the preload hint is waited for until it is complete.
    pub fn part(&self, prefix: &str, msn: u64, index: u32) -> Result<Arc<Part>, HlsError> {
        let started = Instant::now();
        let mut state = self.state.lock_unpoisoned();
        let mut parked = None;
        loop {
            let tl = &live_session(&state, prefix)?.timeline;
            if let Some(part) = tl.part(msn, index) {
                return Ok(part);
            }
            if tl.next_part() != (msn, index) {
                return Err(HlsError::NotFound);
            }
            let limit = blocking_limit(tl);
            let waited = started.elapsed();
            parked.get_or_insert_with(|| Parked::new(&self.blocked));
            if waited >= limit {
                return Err(HlsError::Unavailable(format!(
                    "part not complete after {} ms",
                    waited.as_millis()
                )));
            }
            state = self.wait(state, limit - waited);
        }
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>, timeout: Duration) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

fn live_session<'a>(state: &'a State, prefix: &str) -> Result<&'a Live, HlsError> {
    state
        .live
        .as_ref()
        .filter(|l| l.timeline.prefix() == prefix)
        .ok_or(HlsError::NotFound)
}

fn render(tl: &Timeline) -> (Arc<str>, Arc<str>) {
    (
        Arc::from(playlist::render(tl, false)),
        Arc::from(playlist::render(tl, true)),
    )
}

fn is_satisfied(tl: &Timeline, d: &Directives) -> bool {
    match (d.msn, d.part) {
        (None, _) => true,
        (Some(msn), Some(part)) => tl.has_part_at_or_after(msn, part),
        (Some(msn), None) => tl.last_complete_msn().is_some_and(|m| m >= msn),
    }
}

/// The spec's limit for a blocked request: three target durations.
fn blocking_limit(tl: &Timeline) -> Duration {
    Duration::from_secs(3 * tl.config().target_duration_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::llhls::timeline::TimelineConfig;
    use std::thread;

    fn store_with(segments: usize) -> Arc<HlsStore> {
        let store = Arc::new(HlsStore::new(Duration::from_millis(300)));
        let cfg = TimelineConfig {
            prefix: "p".into(),
            part_target: 18_000,
            segment_target: 90_000,
            window_segments: 7,
            first_msn: 0,
        };
        store.start_session(Timeline::new(cfg, Arc::from(&b"init"[..]), String::new()));
        for _ in 0..segments {
            for i in 0..5 {
                push(&store, i == 0);
            }
            store.update(|tl| tl.close_segment());
        }
        store
    }

    fn push(store: &HlsStore, independent: bool) {
        store.update(|tl| tl.push_part(18_000, independent, Arc::from(&b"x"[..]), 0));
    }

    #[test]
    fn blocking_reload_waits_for_the_part() {
        let store = store_with(2);
        let waiter = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let d = Directives {
                    msn: Some(2),
                    part: Some(1),
                    skip: false,
                };
                store.playlist(&d).map(|p| p.to_string())
            })
        };
        thread::sleep(Duration::from_millis(50));
        push(&store, true);
        thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished(), "part 2.0 does not satisfy 2.1");
        push(&store, false);
        let text = waiter.join().unwrap().unwrap();
        assert!(text.contains("p-2.1.m4s"));
        assert_eq!(store.blocked_requests(), 0);
    }

    #[test]
    fn answers_400_and_503() {
        let store = store_with(2);
        let far = Directives {
            msn: Some(9),
            part: None,
            skip: false,
        };
        assert!(matches!(store.playlist(&far), Err(HlsError::BadRequest(_))));
        let fresh = Arc::new(HlsStore::new(Duration::from_millis(50)));
        assert!(matches!(
            fresh.playlist(&Directives::default()),
            Err(HlsError::Unavailable(_))
        ));
    }

    #[test]
    fn hinted_part_blocks_until_complete() {
        let store = store_with(1);
        assert_eq!(store.part("p", 0, 7).unwrap_err(), HlsError::NotFound);
        assert_eq!(store.part("q", 0, 0).unwrap_err(), HlsError::NotFound);
        let waiter = {
            let store = Arc::clone(&store);
            thread::spawn(move || store.part("p", 1, 0).map(|p| (p.msn, p.index)))
        };
        thread::sleep(Duration::from_millis(30));
        push(&store, true);
        assert_eq!(waiter.join().unwrap(), Ok((1, 0)));
        assert_eq!(store.segment("p", 0).unwrap().len(), 5);
        assert_eq!(store.segment("p", 1).unwrap_err(), HlsError::NotFound);
    }

    #[test]
    fn restart_answers_waiters_with_the_new_session() {
        let store = store_with(2);
        let waiter = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                store.playlist(&Directives {
                    msn: Some(3),
                    part: None,
                    skip: false,
                })
            })
        };
        thread::sleep(Duration::from_millis(30));
        assert_eq!(store.msn_floor(), 3, "two segments done, the third open");
        let cfg = TimelineConfig {
            prefix: "new".into(),
            part_target: 18_000,
            segment_target: 90_000,
            window_segments: 7,
            first_msn: 0,
        };
        let mut tl = Timeline::new(cfg, Arc::from(&b"init"[..]), String::new());
        tl.push_part(18_000, true, Arc::from(&b"x"[..]), 0);
        tl.close_segment();
        store.start_session(tl);
        let text = waiter.join().unwrap().unwrap();
        assert!(text.contains("new-init.mp4"));
    }
}
