//! Browser sessions created by `POST /auth/login` (§1.3): random tokens held in memory, valid
//! for 12 hours and for 30 minutes without use (plugin 0.4+), lost on restart. The store is bounded; beyond its capacity the oldest session
//! is evicted. Time is passed in.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

/// How long a browser session lasts (the cookie's `Max-Age` says the same).
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// How long a session may go unused before it ends.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// The operating system's random number generator failed, so no token could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomUnavailable;

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator is unavailable")
    }
}

impl std::error::Error for RandomUnavailable {}

pub struct SessionStore {
    ttl: Duration,
    idle: Duration,
    max_sessions: usize,
    /// token → its key in `by_age`, and when it was last used
    sessions: HashMap<String, ((Instant, u64), Instant)>,
    /// (created, sequence) → token, oldest first; the sequence breaks ties between equal times.
    by_age: BTreeMap<(Instant, u64), String>,
    next_seq: u64,
}

impl SessionStore {
    /// A store keeping at most `max_sessions` (at least one) sessions, each valid for `ttl`.
    pub fn new(ttl: Duration, max_sessions: usize) -> SessionStore {
        SessionStore {
            ttl,
            idle: SESSION_IDLE,
            max_sessions: max_sessions.max(1),
            sessions: HashMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Starts a session and returns its token: 32 random bytes as 43 characters of unpadded
    /// base64url, like Python's `secrets.token_urlsafe(32)`.
    pub fn create(&mut self, now: Instant) -> Result<String, RandomUnavailable> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| RandomUnavailable)?;
        let token = crate::random::base64url(&bytes);
        self.insert(token.clone(), now);
        Ok(token)
    }

    /// Whether `token` names a live session; using it restarts its idle time. An expired or
    /// idle one is forgotten on the way.
    pub fn is_valid(&mut self, token: &str, now: Instant) -> bool {
        let Some(&(key, last_used)) = self.sessions.get(token) else {
            return false;
        };
        if self.expired(key.0, now) || now.saturating_duration_since(last_used) >= self.idle {
            self.sessions.remove(token);
            self.by_age.remove(&key);
            return false;
        }
        if let Some(entry) = self.sessions.get_mut(token) {
            entry.1 = now;
        }
        true
    }

    /// Ends a session (logout). Unknown tokens are ignored.
    pub fn remove(&mut self, token: &str) {
        if let Some((key, _)) = self.sessions.remove(token) {
            self.by_age.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn insert(&mut self, token: String, now: Instant) {
        self.remove(&token);
        self.sweep_expired(now);
        while self.sessions.len() >= self.max_sessions {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.sessions.remove(&oldest);
        }
        let key = (now, self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.sessions.insert(token.clone(), (key, now));
        self.by_age.insert(key, token);
    }

    fn sweep_expired(&mut self, now: Instant) {
        let ttl = self.ttl;
        while let Some(entry) = self.by_age.first_entry() {
            if now.saturating_duration_since(entry.key().0) < ttl {
                break;
            }
            let token = entry.remove();
            self.sessions.remove(&token);
        }
    }

    fn expired(&self, created: Instant, now: Instant) -> bool {
        now.saturating_duration_since(created) >= self.ttl
    }
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are bearer credentials: never print them.
        f.debug_struct("SessionStore")
            .field("ttl", &self.ttl)
            .field("max_sessions", &self.max_sessions)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn tokens_look_like_token_urlsafe_32() {
        let mut store = SessionStore::new(SESSION_TTL, 10);
        let now = Instant::now();
        let a = store.create(now).unwrap();
        let b = store.create(now).unwrap();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert!(store.is_valid(&a, now) && store.is_valid(&b, now));
    }

    #[test]
    fn sessions_expire_after_the_ttl() {
        let mut store = SessionStore::new(SESSION_TTL, 10);
        let t0 = Instant::now();
        store.insert("tok".into(), t0);
        // Used every 20 minutes, it lives exactly its 12 hours.
        let mut t = t0;
        while t + SESSION_IDLE < t0 + 12 * HOUR {
            t += Duration::from_secs(20 * 60);
            assert!(store.is_valid("tok", t.min(t0 + 12 * HOUR - Duration::from_millis(1))));
        }
        assert!(store.is_valid("tok", t0 + 12 * HOUR - Duration::from_millis(1)));
        assert!(!store.is_valid("tok", t0 + 12 * HOUR));
        assert!(store.is_empty(), "the expired session was removed");
        assert!(
            !store.is_valid("tok", t0),
            "and stays gone even for an earlier clock"
        );
    }

    #[test]
    fn unknown_empty_and_removed_tokens_are_invalid() {
        let mut store = SessionStore::new(SESSION_TTL, 10);
        let now = Instant::now();
        store.insert("tok".into(), now);
        assert!(!store.is_valid("", now));
        assert!(!store.is_valid("tok2", now));
        assert!(!store.is_valid("to", now));
        store.remove("nope");
        assert_eq!(store.len(), 1);
        store.remove("tok");
        assert!(!store.is_valid("tok", now));
        assert!(store.by_age.is_empty());
    }

    #[test]
    fn the_oldest_session_is_evicted_when_full() {
        let mut store = SessionStore::new(SESSION_TTL, 3);
        let t0 = Instant::now();
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            store.insert(name.to_string(), t0 + Duration::from_secs(i as u64));
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(store.len(), 3);
        assert!(!store.is_valid("a", now));
        assert!(store.is_valid("b", now) && store.is_valid("c", now) && store.is_valid("d", now));
        assert_eq!(store.by_age.len(), store.sessions.len());
    }

    #[test]
    fn eviction_order_is_creation_order_even_at_the_same_instant() {
        let mut store = SessionStore::new(SESSION_TTL, 2);
        let now = Instant::now();
        store.insert("first".into(), now);
        store.insert("second".into(), now);
        store.insert("third".into(), now);
        assert!(!store.is_valid("first", now));
        assert!(store.is_valid("second", now) && store.is_valid("third", now));
    }

    #[test]
    fn expired_sessions_are_swept_before_evicting_live_ones() {
        let mut store = SessionStore::new(HOUR, 2);
        let t0 = Instant::now();
        store.insert("old".into(), t0);
        store.insert("live".into(), t0 + 50 * Duration::from_secs(60));
        store.insert("new".into(), t0 + HOUR);
        let now = t0 + HOUR;
        assert!(!store.is_valid("old", now));
        assert!(
            store.is_valid("live", now),
            "not evicted: the expired one made room"
        );
        assert!(store.is_valid("new", now));
    }

    #[test]
    fn zero_capacity_still_holds_the_newest_session() {
        let mut store = SessionStore::new(SESSION_TTL, 0);
        let now = Instant::now();
        let token = store.create(now).unwrap();
        assert!(store.is_valid(&token, now));
        let newer = store.create(now).unwrap();
        assert!(!store.is_valid(&token, now));
        assert!(store.is_valid(&newer, now));
    }

    #[test]
    fn reinserting_a_token_does_not_leave_stale_order_entries() {
        let mut store = SessionStore::new(SESSION_TTL, 5);
        let now = Instant::now();
        store.insert("same".into(), now);
        store.insert("same".into(), now + HOUR);
        assert_eq!((store.sessions.len(), store.by_age.len()), (1, 1));
        assert!(store.is_valid("same", now + HOUR + Duration::from_secs(1)));
        assert_eq!(store.by_age.first_key_value().unwrap().0 .0, now + HOUR);
    }

    #[test]
    fn sessions_end_after_30_minutes_unused() {
        let mut store = SessionStore::new(SESSION_TTL, 10);
        let t0 = Instant::now();
        store.insert("tok".into(), t0);
        let almost = t0 + SESSION_IDLE - Duration::from_millis(1);
        assert!(
            store.is_valid("tok", almost),
            "in time, and the idle clock restarts"
        );
        assert!(store.is_valid("tok", almost + SESSION_IDLE - Duration::from_millis(1)));
        assert!(!store.is_valid("tok", almost + 2 * SESSION_IDLE));
        assert!(store.is_empty(), "the idle session was removed");
    }

    #[test]
    fn debug_hides_tokens() {
        let mut store = SessionStore::new(SESSION_TTL, 5);
        store.insert("bearer-secret".into(), Instant::now());
        assert!(!format!("{store:?}").contains("bearer-secret"));
    }
}
