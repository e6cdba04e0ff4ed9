//! Connection slots, sans-IO: who holds them, a cap per peer (an IPv4 address, or an IPv6
//! /64, which one host usually holds whole), and which connection gives its slot up when all
//! are taken: the one that has waited longest without a request in progress, whether it never
//! sent one or is kept alive between requests. The server keeps one of these behind a mutex;
//! `C` is what closes an evicted connection.

use std::net::IpAddr;

use super::client_address::client_of;
use std::time::Instant;

/// Why a new connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds its share.
    PerAddress,
    /// Every slot is taken by a connection with a request in progress.
    Full,
}

/// A new connection's slot.
#[derive(Debug)]
pub struct Granted<C> {
    pub id: u64,
    /// Connections closed to make room, for the caller to shut down.
    pub evicted: Vec<C>,
    /// More than three quarters of the slots are taken: the newcomer gets less time to
    /// send its first request.
    pub crowded: bool,
}

struct Entry<C> {
    id: u64,
    peer: IpAddr,
    /// When it was admitted, or last finished an answer.
    waiting_since: Instant,
    busy: bool,
    closer: C,
}

pub struct Slots<C> {
    max: usize,
    per_address: usize,
    next_id: u64,
    entries: Vec<Entry<C>>,
}

impl<C> Slots<C> {
    pub fn new(max: usize, per_address: usize) -> Slots<C> {
        Slots {
            max: max.max(1),
            per_address: per_address.max(1),
            next_id: 0,
            entries: Vec::new(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Gives a slot to a connection from `ip`, evicting the longest-waiting idle one when
    /// full (the peer's own first when it is at its cap).
    pub fn admit(&mut self, ip: IpAddr, now: Instant, closer: C) -> Result<Granted<C>, Refusal> {
        let peer = client_of(ip);
        let mut evicted = Vec::new();
        if self.entries.iter().filter(|e| e.peer == peer).count() >= self.per_address {
            let own = self
                .longest_idle(|e| e.peer == peer)
                .ok_or(Refusal::PerAddress)?;
            evicted.push(self.entries.swap_remove(own).closer);
        } else if self.entries.len() >= self.max {
            let any = self.longest_idle(|_| true).ok_or(Refusal::Full)?;
            evicted.push(self.entries.swap_remove(any).closer);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            peer,
            waiting_since: now,
            busy: false,
            closer,
        });
        Ok(Granted {
            id,
            evicted,
            crowded: self.entries.len() * 4 > self.max * 3,
        })
    }

    fn longest_idle(&self, which: impl Fn(&Entry<C>) -> bool) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.busy && which(e))
            .min_by_key(|(_, e)| e.waiting_since)
            .map(|(i, _)| i)
    }

    /// The connection has sent a whole request head: it is not evicted until answered.
    pub fn mark_busy(&mut self, id: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.busy = true;
        }
    }

    /// The connection answered and waits for its next request: it may be evicted again.
    pub fn mark_idle(&mut self, id: u64, now: Instant) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.busy = false;
            e.waiting_since = now;
        }
    }

    /// The connection ended (or was evicted already, then this does nothing).
    pub fn release(&mut self, id: u64) {
        self.entries.retain(|e| e.id != id);
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
    fn caps_each_peer() {
        let now = Instant::now();
        let mut slots = Slots::new(10, 2);
        for a in ["10.0.0.1", "::ffff:10.0.0.1"] {
            let id = slots.admit(ip(a), now, ()).unwrap().id;
            slots.mark_busy(id);
        }
        assert_eq!(
            slots.admit(ip("10.0.0.1"), now, ()).unwrap_err(),
            Refusal::PerAddress,
            "IPv4-mapped addresses count as the same peer"
        );
        slots.admit(ip("10.0.0.2"), now, ()).unwrap();
        for a in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"] {
            let id = slots.admit(ip(a), now, ()).unwrap().id;
            slots.mark_busy(id);
        }
        assert_eq!(
            slots.admit(ip("2001:db8:1:2::77"), now, ()).unwrap_err(),
            Refusal::PerAddress,
            "an IPv6 /64 is one peer"
        );
        slots.admit(ip("2001:db8:1:3::1"), now, ()).unwrap();
    }

    #[test]
    fn a_peer_at_its_cap_gives_up_its_own_idle_connection() {
        let t0 = Instant::now();
        let mut slots = Slots::new(10, 2);
        let first = slots.admit(ip("10.0.0.1"), t0, "first").unwrap().id;
        let second = slots.admit(ip("10.0.0.1"), t0, "second").unwrap().id;
        slots.admit(ip("10.0.0.2"), t0, "other").unwrap();
        slots.mark_busy(first);
        slots.mark_busy(second);
        slots.mark_idle(first, t0 + Duration::from_secs(5));
        let third = slots.admit(ip("10.0.0.1"), t0 + Duration::from_secs(6), "third");
        assert_eq!(third.unwrap().evicted, vec!["first"], "not another peer's");
    }

    #[test]
    fn kept_alive_connections_between_requests_make_room() {
        let t0 = Instant::now();
        let mut slots = Slots::new(2, 10);
        let a = slots.admit(ip("10.0.0.1"), t0, "a").unwrap().id;
        let b = slots.admit(ip("10.0.0.2"), t0, "b").unwrap().id;
        slots.mark_busy(a);
        slots.mark_busy(b);
        slots.mark_idle(b, t0 + Duration::from_secs(1));
        slots.mark_idle(a, t0 + Duration::from_secs(2));
        let c = slots.admit(ip("10.0.0.3"), t0 + Duration::from_secs(3), "c");
        assert_eq!(c.unwrap().evicted, vec!["b"], "idle the longest");
    }

    #[test]
    fn when_full_the_oldest_silent_connection_goes() {
        let t0 = Instant::now();
        let mut slots = Slots::new(3, 10);
        let busy = slots.admit(ip("10.0.0.1"), t0, "busy").unwrap().id;
        slots.mark_busy(busy);
        slots
            .admit(ip("10.0.0.2"), t0 + Duration::from_secs(1), "old")
            .unwrap();
        let young = slots.admit(ip("10.0.0.3"), t0 + Duration::from_secs(2), "young");
        assert!(young.unwrap().crowded, "3 of 3 taken");
        let late = slots
            .admit(ip("10.0.0.4"), t0 + Duration::from_secs(3), "late")
            .unwrap();
        assert_eq!(late.evicted, vec!["old"]);
        assert_eq!(slots.len(), 3);
        for id in [1, late.id] {
            slots.release(id);
        }
        assert_eq!(slots.len(), 2, "releasing an evicted slot changes nothing");
        slots.admit(ip("10.0.0.5"), t0, "x").unwrap();
        let mut all_busy = Slots::<()>::new(1, 1);
        let id = all_busy.admit(ip("10.0.0.1"), t0, ()).unwrap().id;
        all_busy.mark_busy(id);
        assert_eq!(
            all_busy.admit(ip("10.0.0.2"), t0, ()).unwrap_err(),
            Refusal::Full
        );
    }
}
