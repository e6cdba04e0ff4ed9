//! Parked requests, sans-IO: what a request that waits for media hands over ([`Pending`]),
//! the cap on how many may wait ([`Quota`]) and the responder's book of waiters
//! ([`Registry`]): grouped by key, so that one answer is rendered for every waiter asking the
//! same, with the deadline of each. The responder (`responder/`) is the IO shell around it.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Instant;

use super::client_address::client_of;
use super::Response;

/// A request whose answer does not exist yet. Waiters with equal keys get equal answers
/// (the body and the route's own headers: the middleware's headers are each waiter's own).
/// An answer must set `Content-Type` and `Cache-Control` itself: the middleware ran on a
/// placeholder that had both.
pub trait Pending: Send {
    fn key(&self) -> &str;
    /// The answer, when what the request waits for is there (or can never come);
    /// otherwise the end of its hold.
    fn poll(&self) -> Result<Response, Instant>;
    /// The answer when the hold ended first.
    fn expire(&self, now: Instant) -> Response;
}

/// How many requests may be parked at once, in all and per peer (an IPv4 address or an IPv6
/// /64, as for connection slots).
#[derive(Debug)]
pub struct Quota {
    max: usize,
    per_peer: usize,
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

impl Quota {
    pub fn new(max: usize, per_peer: usize) -> Quota {
        Quota {
            max,
            per_peer: per_peer.max(1),
            total: 0,
            by_peer: HashMap::new(),
        }
    }

    /// Takes a place for a request from `ip`; `false` when there is none.
    pub fn take(&mut self, ip: IpAddr) -> bool {
        let peer = client_of(ip);
        let held = self.by_peer.get(&peer).copied().unwrap_or(0);
        if self.total >= self.max || held >= self.per_peer {
            return false;
        }
        self.total += 1;
        self.by_peer.insert(peer, held + 1);
        true
    }

    /// Gives back a place taken for `ip`.
    pub fn give_back(&mut self, ip: IpAddr) {
        let peer = client_of(ip);
        if let Some(held) = self.by_peer.get_mut(&peer) {
            *held -= 1;
            self.total -= 1;
            if *held == 0 {
                self.by_peer.remove(&peer);
            }
        }
    }

    #[cfg(test)]
    fn taken(&self) -> usize {
        self.total
    }
}

struct Entry<W> {
    key: String,
    deadline: Instant,
    waiter: W,
}

/// The waiters, by id (the responder's epoll token), grouped by key, ordered by deadline.
pub struct Registry<W> {
    next_id: u64,
    entries: HashMap<u64, Entry<W>>,
    by_key: HashMap<String, Vec<u64>>,
    deadlines: BTreeSet<(Instant, u64)>,
}

impl<W> Default for Registry<W> {
    fn default() -> Self {
        Registry {
            next_id: 0,
            entries: HashMap::new(),
            by_key: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }
}

impl<W> Registry<W> {
    /// An id no waiter has, for a request answered without being parked.
    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// Parks `waiter` under `key` until `deadline`; returns its id.
    pub fn park(&mut self, key: &str, deadline: Instant, waiter: W) -> u64 {
        let id = self.fresh_id();
        self.by_key.entry(key.to_string()).or_default().push(id);
        self.deadlines.insert((deadline, id));
        self.entries.insert(
            id,
            Entry {
                key: key.to_string(),
                deadline,
                waiter,
            },
        );
        id
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, id: u64) -> Option<&W> {
        self.entries.get(&id).map(|e| &e.waiter)
    }

    /// The distinct keys waited on, each with one of its waiters (to ask whether the answer
    /// exists: it is the same for all of them).
    pub fn keys(&self) -> Vec<(String, u64)> {
        self.by_key
            .iter()
            .filter_map(|(k, ids)| ids.first().map(|&id| (k.clone(), id)))
            .collect()
    }

    /// Takes every waiter of `key` out, oldest first.
    pub fn take_key(&mut self, key: &str) -> Vec<(u64, W)> {
        let ids = self.by_key.remove(key).unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| {
                let e = self.entries.remove(&id)?;
                self.deadlines.remove(&(e.deadline, id));
                Some((id, e.waiter))
            })
            .collect()
    }

    /// Takes one waiter out (answered alone, or gone).
    pub fn take(&mut self, id: u64) -> Option<W> {
        let e = self.entries.remove(&id)?;
        self.deadlines.remove(&(e.deadline, id));
        if let Some(ids) = self.by_key.get_mut(&e.key) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.by_key.remove(&e.key);
            }
        }
        Some(e.waiter)
    }

    /// Moves a waiter's deadline (its hold changed while it waited).
    pub fn set_deadline(&mut self, id: u64, deadline: Instant) {
        if let Some(e) = self.entries.get_mut(&id) {
            self.deadlines.remove(&(e.deadline, id));
            e.deadline = deadline;
            self.deadlines.insert((deadline, id));
        }
    }

    /// The waiters whose deadline is at or before `now`.
    pub fn due(&self, now: Instant) -> Vec<u64> {
        self.deadlines
            .iter()
            .take_while(|(d, _)| *d <= now)
            .map(|&(_, id)| id)
            .collect()
    }

    /// The earliest deadline, for the responder's wait.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    /// Takes every waiter out (the server stops).
    pub fn drain(&mut self) -> Vec<(u64, W)> {
        self.by_key.clear();
        self.deadlines.clear();
        self.entries.drain().map(|(id, e)| (id, e.waiter)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_quota_caps_in_all_and_per_peer() {
        let mut q = Quota::new(3, 2);
        assert!(q.take(ip("10.0.0.1")));
        assert!(q.take(ip("::ffff:10.0.0.1")));
        assert!(!q.take(ip("10.0.0.1")), "the peer's share is taken");
        assert!(q.take(ip("10.0.0.2")));
        assert!(!q.take(ip("10.0.0.3")), "all are taken");
        q.give_back(ip("10.0.0.1"));
        assert!(q.take(ip("10.0.0.3")), "a place given back is free again");
        assert_eq!(q.taken(), 3);
        q.give_back(ip("10.0.0.2"));
        q.give_back(ip("10.0.0.1"));
        q.give_back(ip("10.0.0.3"));
        q.give_back(ip("10.0.0.9"));
        assert_eq!(
            q.taken(),
            0,
            "giving back what was never taken changes nothing"
        );
    }

    #[test]
    fn waiters_are_grouped_by_key_and_taken_together() {
        let t0 = Instant::now();
        let mut r = Registry::default();
        let a = r.park("pl:7:2", t0 + Duration::from_secs(3), "a");
        let b = r.park("pl:7:2", t0 + Duration::from_secs(4), "b");
        let c = r.park("part:p:7:2", t0 + Duration::from_secs(3), "c");
        let mut keys = r.keys();
        keys.sort();
        assert_eq!(
            keys,
            vec![("part:p:7:2".to_string(), c), ("pl:7:2".to_string(), a)]
        );
        assert_eq!(r.take_key("pl:7:2"), vec![(a, "a"), (b, "b")]);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.due(t0 + Duration::from_secs(10)),
            vec![c],
            "b's deadline left"
        );
        assert!(r.take_key("pl:7:2").is_empty());
    }

    #[test]
    fn deadlines_come_due_in_order_and_follow_changes() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut r = Registry::default();
        let late = r.park("k", t0 + s(5), ());
        let early = r.park("k", t0 + s(1), ());
        assert_eq!(r.next_deadline(), Some(t0 + s(1)));
        assert_eq!(r.due(t0), Vec::<u64>::new());
        assert_eq!(r.due(t0 + s(1)), vec![early]);
        r.set_deadline(early, t0 + s(9));
        assert_eq!(r.due(t0 + s(6)), vec![late]);
        assert_eq!(r.take(late), Some(()));
        assert_eq!(r.keys(), vec![("k".to_string(), early)]);
        assert_eq!(r.take(early), Some(()));
        assert!(r.is_empty() && r.keys().is_empty() && r.next_deadline().is_none());
        assert_eq!(r.take(early), None);
    }

    #[test]
    fn drain_empties_everything() {
        let t0 = Instant::now();
        let mut r = Registry::default();
        for k in ["a", "b", "a"] {
            r.park(k, t0, k);
        }
        assert_eq!(r.drain().len(), 3);
        assert!(r.is_empty() && r.keys().is_empty() && r.due(t0).is_empty());
    }
}
