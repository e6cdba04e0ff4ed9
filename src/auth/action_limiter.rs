//! Per-route action limits (plugin 0.4+), sans-IO: each client may send at most `max`
//! requests to a route group within a sliding window. A client is its API key, else its
//! session, else its address (an IPv6 /64); keys and tokens are kept only as salted digests.
//! Memory is bounded: beyond [`MAX_TRACKED`] clients the one idle longest is forgotten.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ring::digest::{Context, SHA256};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::action_limits::{ActionGroup, ActionLimitSettings};
use crate::http::client_address::client_of;

/// How many (client, group) pairs are remembered at most.
pub const MAX_TRACKED: usize = 4096;
/// The plugin's answer to a client over its limit.
pub const TOO_MANY_REQUESTS: &str = "Too many requests. Try again later.";

/// Who the limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    Key([u8; 32]),
    Session([u8; 32]),
    Peer(IpAddr),
}

pub struct ActionLimiter {
    settings: ActionLimitSettings,
    salt: [u8; 32],
    hits: HashMap<(Client, ActionGroup), VecDeque<Instant>>,
}

impl ActionLimiter {
    pub fn new(settings: ActionLimitSettings) -> ActionLimiter {
        let mut salt = [0u8; 32];
        // Without randomness the digests are merely unsalted; they still hold no key.
        let _ = SystemRandom::new().fill(&mut salt);
        ActionLimiter {
            settings,
            salt,
            hits: HashMap::new(),
        }
    }

    /// The client a request counts against.
    pub fn client(&self, key: Option<&str>, session: Option<&str>, peer: Option<IpAddr>) -> Client {
        match (key, session) {
            (Some(key), _) => Client::Key(self.digest(b"key", key)),
            (None, Some(token)) => Client::Session(self.digest(b"session", token)),
            (None, None) => Client::Peer(peer.map_or(IpAddr::from([0u8; 4]), client_of)),
        }
    }

    /// Counts one request of `client` to `group`; `Err` with how long until one more is
    /// allowed when it is over the limit (a refused request is not counted).
    pub fn check(
        &mut self,
        group: ActionGroup,
        client: Client,
        now: Instant,
    ) -> Result<(), Duration> {
        let max = match client {
            Client::Session(_) => self.settings.session_max(group),
            _ => self.settings.max(group),
        } as usize;
        if max == 0 {
            return Ok(());
        }
        let window = self.settings.window;
        if !self.hits.contains_key(&(client, group)) && self.hits.len() >= MAX_TRACKED {
            self.make_room(now);
        }
        let hits = self.hits.entry((client, group)).or_default();
        while hits
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            hits.pop_front();
        }
        if hits.len() >= max {
            let oldest = hits.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.saturating_duration_since(oldest)));
        }
        hits.push_back(now);
        Ok(())
    }

    fn make_room(&mut self, now: Instant) {
        let window = self.settings.window;
        self.hits.retain(|_, hits| {
            hits.back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
        if self.hits.len() >= MAX_TRACKED {
            let idlest = self
                .hits
                .iter()
                .min_by_key(|(_, hits)| hits.back().copied())
                .map(|(k, _)| *k);
            if let Some(k) = idlest {
                self.hits.remove(&k);
            }
        }
    }

    fn digest(&self, kind: &[u8], value: &str) -> [u8; 32] {
        let mut ctx = Context::new(&SHA256);
        ctx.update(&self.salt);
        ctx.update(kind);
        ctx.update(value.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32) -> ActionLimiter {
        ActionLimiter::new(ActionLimitSettings {
            window: Duration::from_secs(300),
            max: [max; crate::config::action_limits::GROUPS],
            session_controls: max,
        })
    }

    #[test]
    fn twenty_per_window_then_429_until_the_oldest_leaves() {
        let mut l = limiter(20);
        let me = l.client(Some("k"), None, None);
        let t0 = Instant::now();
        for i in 0..20 {
            assert!(l
                .check(ActionGroup::Captures, me, t0 + Duration::from_secs(i))
                .is_ok());
        }
        let wait = l
            .check(ActionGroup::Captures, me, t0 + Duration::from_secs(100))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(200));
        assert!(
            l.check(ActionGroup::Controls, me, t0).is_ok(),
            "groups count apart"
        );
        let other = l.client(Some("other"), None, None);
        assert!(
            l.check(ActionGroup::Captures, other, t0).is_ok(),
            "clients count apart"
        );
        assert!(l
            .check(ActionGroup::Captures, me, t0 + Duration::from_secs(300))
            .is_ok());
    }

    #[test]
    fn a_key_beats_a_session_which_beats_the_address() {
        let l = limiter(1);
        let ip = Some("2001:db8:1:2::5".parse().unwrap());
        assert!(matches!(l.client(Some("k"), Some("s"), ip), Client::Key(_)));
        assert!(matches!(l.client(None, Some("s"), ip), Client::Session(_)));
        assert_eq!(
            l.client(None, None, ip),
            l.client(None, None, Some("2001:db8:1:2::9".parse().unwrap())),
            "an IPv6 /64 is one client"
        );
        assert_ne!(
            l.client(Some("k"), None, None),
            l.client(None, Some("k"), None)
        );
    }

    #[test]
    fn a_browser_session_has_its_own_limit_on_the_slider_routes_only() {
        let mut l = ActionLimiter::new(ActionLimitSettings {
            window: Duration::from_secs(300),
            max: [2; crate::config::action_limits::GROUPS],
            session_controls: 5,
        });
        let t0 = Instant::now();
        let session = l.client(None, Some("cookie"), None);
        let key = l.client(Some("k"), Some("cookie"), None);
        for group in [ActionGroup::Controls, ActionGroup::Focus] {
            for _ in 0..5 {
                assert!(l.check(group, session, t0).is_ok(), "{group:?}");
            }
            assert!(l.check(group, session, t0).is_err(), "{group:?}");
            assert!(l.check(group, key, t0).is_ok());
            assert!(l.check(group, key, t0).is_ok());
            assert!(
                l.check(group, key, t0).is_err(),
                "a key keeps {group:?}'s limit"
            );
        }
        assert!(l.check(ActionGroup::Captures, session, t0).is_ok());
        assert!(l.check(ActionGroup::Captures, session, t0).is_ok());
        assert!(
            l.check(ActionGroup::Captures, session, t0).is_err(),
            "captures keep their limit in a session too"
        );
    }

    #[test]
    fn zero_means_no_limit_and_memory_stays_bounded() {
        let mut off = limiter(0);
        let me = off.client(None, None, None);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(off.check(ActionGroup::Focus, me, t0).is_ok());
        }
        let mut l = limiter(5);
        for i in 0..(MAX_TRACKED as u32 + 100) {
            let c = l.client(None, None, Some(IpAddr::from(i.to_be_bytes())));
            let _ = l.check(
                ActionGroup::Captures,
                c,
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(l.hits.len() <= MAX_TRACKED);
    }
}
