//! The live LL-HLS state shared between the muxer thread and HTTP workers.
//!
//! The muxer renders the playlists once per change, so answering a hundred viewers costs a
//! hundred `Arc` clones and nothing else. Requests that must wait (blocking playlist reloads,
//! preload-hinted parts) are either polled (`poll_playlist`, `poll_part`) by a caller that
//! parks them itself and listens for changes (`on_change`: the HTTP responder), or wait on a
//! condition variable in their own thread (`playlist`, `part`: the relay, and HTTP requests
//! beyond the responder's cap).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::directives::Directives;
use super::playlist;
use super::timeline::{Part, Timeline, TimelineConfig};
use crate::sync::LockExt;

/// Why an LL-HLS request cannot be answered; `api::preview` maps it to HTTP once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlsError {
    /// The request can never be satisfied as asked (HTTP 400).
    BadRequest(String),
    /// No such resource on the live timeline (HTTP 404).
    NotFound,
    /// Blocked longer than the spec allows, or the stream is not running (HTTP 503).
    Unavailable(String),
}

/// The playlist URL's timeline and its rendered playlists.
struct Live {
    timeline: Timeline,
    full: Arc<str>,
    delta: Arc<str>,
}

#[derive(Default)]
struct State {
    live: Option<Live>,
    /// The lowest MSN a new timeline may start at: above everything published so far.
    msn_floor: u64,
}

impl State {
    fn floor(&self) -> u64 {
        let live = self
            .live
            .as_ref()
            .map_or(0, |l| l.timeline.current_msn() + 1);
        live.max(self.msn_floor)
    }
}

pub struct HlsStore {
    state: Mutex<State>,
    changed: Condvar,
    /// How long a request waits for a stream that has not produced its first segment yet.
    startup_wait: Duration,
    blocked: AtomicUsize,
    /// Requests parked in the HTTP responder (see [`HlsStore::park`]).
    parked: AtomicUsize,
    /// Requests the HTTP responder read and answered on its own thread.
    on_responder: AtomicU64,
    listeners: Mutex<Vec<Arc<dyn Fn() + Send + Sync>>>,
}

/// Counts a request parked outside the store until it is dropped (answered or abandoned).
pub struct ParkedElsewhere(Arc<HlsStore>);

impl Drop for ParkedElsewhere {
    fn drop(&mut self) {
        self.0.parked.fetch_sub(1, Ordering::Relaxed);
    }
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
            parked: AtomicUsize::new(0),
            on_responder: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// Requests currently waiting for media: in their own thread or parked elsewhere.
    pub fn blocked_requests(&self) -> usize {
        self.blocked.load(Ordering::Relaxed) + self.parked.load(Ordering::Relaxed)
    }

    /// Starts an encoder session with `init`. It continues the live timeline (behind a
    /// discontinuity) when there is one with the same part and segment targets; otherwise a
    /// new timeline is made from `config`, which gets the lowest MSN it may start at (at
    /// start-up, or when the frame rate changed: a playlist's targets must never change).
    pub fn start_session(
        &self,
        init: Arc<[u8]>,
        codec: String,
        config: impl FnOnce(u64) -> TimelineConfig,
    ) {
        let mut state = self.state.lock_unpoisoned();
        let floor = state.floor();
        let cfg = config(floor);
        match state.live.as_mut() {
            Some(live) if timeline_targets(live.timeline.config()) == timeline_targets(&cfg) => {
                live.timeline.start_session(init, codec);
                (live.full, live.delta) = render(&live.timeline);
            }
            _ => {
                state.msn_floor = floor;
                let timeline = Timeline::new(cfg, init, codec);
                let (full, delta) = render(&timeline);
                state.live = Some(Live {
                    timeline,
                    full,
                    delta,
                });
            }
        }
        drop(state);
        self.announce();
    }

    /// The lowest media sequence number a new timeline may use (sequence numbers never go
    /// back on the same playlist URL).
    pub fn msn_floor(&self) -> u64 {
        self.state.lock_unpoisoned().floor()
    }

    /// Ends the encoder session (the source stopped). The timeline stays: its segments remain
    /// listed and downloadable, and the next session continues it. Waiting requests get 503
    /// at their deadline unless a new session answers them first.
    pub fn stop_session(&self) {
        self.update(|tl| tl.end_session());
    }

    /// Changes the live timeline, re-renders the playlists and wakes every waiter.
    pub fn update<R>(&self, change: impl FnOnce(&mut Timeline) -> R) -> Option<R> {
        let mut state = self.state.lock_unpoisoned();
        let live = state.live.as_mut()?;
        let result = change(&mut live.timeline);
        (live.full, live.delta) = render(&live.timeline);
        drop(state);
        self.announce();
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
        let mut parked = None;
        loop {
            let limit = match playlist_step(&state, d, self.startup_wait) {
                Polled::Ready(result) => return result,
                Polled::Wait { limit } => limit,
            };
            let waited = started.elapsed();
            parked.get_or_insert_with(|| Parked::new(&self.blocked));
            if waited >= limit {
                return Err(playlist_timeout(&state, waited));
            }
            state = self.wait(state, limit - waited);
        }
    }

    /// The playlist if the directives are satisfied now (or can never be); otherwise how
    /// long a request may be held in all, for a caller that waits elsewhere (the responder).
    pub fn poll_playlist(&self, d: &Directives) -> Polled<Arc<str>> {
        playlist_step(&self.state.lock_unpoisoned(), d, self.startup_wait)
    }

    /// The answer to a playlist request held `waited` without being satisfied.
    pub fn playlist_expired(&self, waited: Duration) -> HlsError {
        playlist_timeout(&self.state.lock_unpoisoned(), waited)
    }

    /// Counts a request parked elsewhere (the HTTP responder) for as long as the guard lives.
    pub fn park(self: &Arc<Self>) -> ParkedElsewhere {
        self.parked.fetch_add(1, Ordering::Relaxed);
        ParkedElsewhere(Arc::clone(self))
    }

    /// Requests parked in the HTTP responder, waiting for media.
    pub fn parked_requests(&self) -> usize {
        self.parked.load(Ordering::Relaxed)
    }

    /// Counts a request the HTTP responder read and answered with no connection thread.
    pub fn count_on_responder(&self) {
        self.on_responder.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests the HTTP responder read and answered with no connection thread, in all.
    pub fn on_responder_requests(&self) -> u64 {
        self.on_responder.load(Ordering::Relaxed)
    }

    /// Calls `listener` (with no lock held) after every change that may answer a waiter.
    pub fn on_change(&self, listener: Arc<dyn Fn() + Send + Sync>) {
        self.listeners.lock_unpoisoned().push(listener);
    }

    fn announce(&self) {
        self.changed.notify_all();
        let listeners = self.listeners.lock_unpoisoned().clone();
        for listener in listeners {
            listener();
        }
    }

    /// The init segment of encoder session `session`, while any of its segments is retained.
    pub fn init(&self, prefix: &str, session: u64) -> Result<Arc<[u8]>, HlsError> {
        let state = self.state.lock_unpoisoned();
        live_timeline(&state, prefix)?
            .timeline
            .session_init(session)
            .cloned()
            .ok_or(HlsError::NotFound)
    }

    /// A complete segment, as its parts' bytes in order.
    pub fn segment(&self, prefix: &str, msn: u64) -> Result<Vec<Arc<[u8]>>, HlsError> {
        let state = self.state.lock_unpoisoned();
        live_timeline(&state, prefix)?
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
            let limit = match part_step(&state, prefix, msn, index) {
                Polled::Ready(result) => return result,
                Polled::Wait { limit } => limit,
            };
            let waited = started.elapsed();
            parked.get_or_insert_with(|| Parked::new(&self.blocked));
            if waited >= limit {
                return Err(part_timeout(waited));
            }
            state = self.wait(state, limit - waited);
        }
    }

    /// The part if it is complete now (or will never be the next one); otherwise how long a
    /// request may be held in all.
    pub fn poll_part(&self, prefix: &str, msn: u64, index: u32) -> Polled<Arc<Part>> {
        part_step(&self.state.lock_unpoisoned(), prefix, msn, index)
    }

    /// The answer to a part request held `waited` without the part being completed.
    pub fn part_expired(&self, waited: Duration) -> HlsError {
        part_timeout(waited)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>, timeout: Duration) -> MutexGuard<'a, State> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

/// One look at the store for a request that may have to wait.
#[derive(Debug)]
pub enum Polled<T> {
    /// The answer, now and for good.
    Ready(Result<T, HlsError>),
    /// Not yet: the request may be held this long in all (counted from its arrival).
    Wait { limit: Duration },
}

fn playlist_step(state: &State, d: &Directives, startup_wait: Duration) -> Polled<Arc<str>> {
    // A blocking request waits for what it names; any other waits until the running
    // session has enough segments for every client to start (cold start, or the first
    // request after hibernation).
    let answerable = |tl: &Timeline| {
        if d.blocks() {
            tl.is_playable()
        } else {
            tl.is_ready()
        }
    };
    let Some(live) = state.live.as_ref().filter(|l| answerable(&l.timeline)) else {
        return Polled::Wait {
            limit: startup_wait,
        };
    };
    let tl = &live.timeline;
    if let Some(msn) = d.msn {
        if tl.is_too_far_ahead(msn, d.part) {
            return Polled::Ready(Err(HlsError::BadRequest(format!(
                "_HLS_msn={msn} _HLS_part={} is too far ahead of the live edge",
                d.part.map_or("-".to_string(), |p| p.to_string())
            ))));
        }
    }
    if is_satisfied(tl, d) {
        return Polled::Ready(Ok(Arc::clone(if d.skip {
            &live.delta
        } else {
            &live.full
        })));
    }
    Polled::Wait {
        limit: blocking_limit(tl),
    }
}

fn playlist_timeout(state: &State, waited: Duration) -> HlsError {
    let running = state.live.as_ref().is_some_and(|l| l.timeline.is_running());
    HlsError::Unavailable(if running {
        format!(
            "playlist update not available after {} ms",
            waited.as_millis()
        )
    } else {
        "the preview stream is not running".to_string()
    })
}

fn part_step(state: &State, prefix: &str, msn: u64, index: u32) -> Polled<Arc<Part>> {
    let tl = match live_timeline(state, prefix) {
        Ok(live) => &live.timeline,
        Err(e) => return Polled::Ready(Err(e)),
    };
    if let Some(part) = tl.part(msn, index) {
        return Polled::Ready(Ok(part));
    }
    if tl.next_part() != (msn, index) {
        return Polled::Ready(Err(HlsError::NotFound));
    }
    Polled::Wait {
        limit: blocking_limit(tl),
    }
}

fn part_timeout(waited: Duration) -> HlsError {
    HlsError::Unavailable(format!("part not complete after {} ms", waited.as_millis()))
}

fn live_timeline<'a>(state: &'a State, prefix: &str) -> Result<&'a Live, HlsError> {
    state
        .live
        .as_ref()
        .filter(|l| l.timeline.prefix() == prefix)
        .ok_or(HlsError::NotFound)
}

/// What a playlist URL must never change: its part and segment targets.
fn timeline_targets(cfg: &TimelineConfig) -> (u32, u32) {
    (cfg.part_target, cfg.segment_target)
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
    use crate::media::llhls::timeline::NewPart;
    use std::thread;

    fn config(prefix: &str) -> TimelineConfig {
        TimelineConfig {
            prefix: prefix.into(),
            part_target: 18_000,
            segment_target: 90_000,
            window_segments: 7,
            first_msn: 0,
        }
    }

    fn store_with(segments: usize) -> Arc<HlsStore> {
        let store = Arc::new(HlsStore::new(Duration::from_millis(300)));
        store.start_session(Arc::from(&b"init"[..]), String::new(), |_| config("p"));
        for _ in 0..segments {
            for i in 0..5 {
                push(&store, i == 0);
            }
            store.update(|tl| tl.close_segment());
        }
        store
    }

    fn push(store: &HlsStore, independent: bool) {
        store.update(|tl| tl.push_part(NewPart::at(18_000, independent, Arc::from(&b"x"[..]), 0)));
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
    fn a_restart_continues_the_playlist() {
        let store = store_with(2);
        let waiter = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                store.playlist(&Directives {
                    msn: Some(2),
                    part: None,
                    skip: false,
                })
            })
        };
        thread::sleep(Duration::from_millis(30));
        store.stop_session();
        store.start_session(Arc::from(&b"init2"[..]), String::new(), |_| config("new"));
        for i in 0..5 {
            push(&store, i == 0);
        }
        store.update(|tl| tl.close_segment());
        let text = waiter.join().unwrap().unwrap();
        assert!(!text.contains("new-"), "the playlist keeps its names");
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
        assert!(text.contains("p-1.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"p-init-1.mp4\"\n"));
        assert!(text.contains("p-2.m4s"), "the new session goes on at MSN 2");
        assert_eq!(&store.init("p", 0).unwrap()[..], b"init");
        assert_eq!(&store.init("p", 1).unwrap()[..], b"init2");
        assert_eq!(store.segment("p", 0).unwrap().len(), 5);
    }

    #[test]
    fn a_cold_playlist_waits_for_two_segments() {
        let store = store_with(1);
        let waiter = {
            let store = Arc::clone(&store);
            thread::spawn(move || store.playlist(&Directives::default()))
        };
        thread::sleep(Duration::from_millis(30));
        assert!(
            !waiter.is_finished(),
            "one segment is not enough to start on"
        );
        let blocking = Directives {
            msn: Some(0),
            part: None,
            skip: false,
        };
        assert!(
            store.playlist(&blocking).is_ok(),
            "blocking requests are unchanged"
        );
        for i in 0..5 {
            push(&store, i == 0);
        }
        store.update(|tl| tl.close_segment());
        let text = waiter.join().unwrap().unwrap();
        assert_eq!(text.matches("#EXTINF").count(), 2);
    }
}
