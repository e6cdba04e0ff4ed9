//! Connection slots, sans-IO: who holds them, a cap per peer address, and which connection
//! gives its slot up when all are taken (the oldest that has not sent a request yet). The
//! server keeps one of these behind a mutex; `C` is what closes an evicted connection.

use std::net::IpAddr;
use std::time::Instant;

/// Why a new connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds its share.
    PerAddress,
    /// Every slot is taken by a connection that has sent a request.
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
    ip: IpAddr,
    since: Instant,
    requested: bool,
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

    /// Gives a slot to a connection from `ip`, evicting the oldest silent one when full.
    pub fn admit(&mut self, ip: IpAddr, now: Instant, closer: C) -> Result<Granted<C>, Refusal> {
        let ip = ip.to_canonical();
        if self.entries.iter().filter(|e| e.ip == ip).count() >= self.per_address {
            return Err(Refusal::PerAddress);
        }
        let mut evicted = Vec::new();
        if self.entries.len() >= self.max {
            let oldest_silent = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.requested)
                .min_by_key(|(_, e)| e.since)
                .map(|(i, _)| i)
                .ok_or(Refusal::Full)?;
            evicted.push(self.entries.swap_remove(oldest_silent).closer);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            ip,
            since: now,
            requested: false,
            closer,
        });
        Ok(Granted {
            id,
            evicted,
            crowded: self.entries.len() * 4 > self.max * 3,
        })
    }

    /// The connection has sent a whole request head: it is no longer evicted for others.
    pub fn mark_requested(&mut self, id: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.id == id) {
            e.requested = true;
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
    fn caps_each_address() {
        let now = Instant::now();
        let mut slots = Slots::new(10, 2);
        slots.admit(ip("10.0.0.1"), now, ()).unwrap();
        slots.admit(ip("::ffff:10.0.0.1"), now, ()).unwrap();
        assert_eq!(
            slots.admit(ip("10.0.0.1"), now, ()).unwrap_err(),
            Refusal::PerAddress,
            "IPv4-mapped addresses count as the same peer"
        );
        slots.admit(ip("10.0.0.2"), now, ()).unwrap();
    }

    #[test]
    fn when_full_the_oldest_silent_connection_goes() {
        let t0 = Instant::now();
        let mut slots = Slots::new(3, 10);
        let busy = slots.admit(ip("10.0.0.1"), t0, "busy").unwrap().id;
        slots.mark_requested(busy);
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
        all_busy.mark_requested(id);
        assert_eq!(
            all_busy.admit(ip("10.0.0.2"), t0, ()).unwrap_err(),
            Refusal::Full
        );
    }
}
