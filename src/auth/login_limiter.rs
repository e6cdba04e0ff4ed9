//! Brute-force protection for API keys, per client: `POST /auth/login` (§1.3) and a wrong
//! `X-API-Key` on any route alike. Any failure (for the login route, any status ≥ 400) is
//! noted, and once 5 failures (`LOGIN_MAX_FAILURES`) have fallen inside a 300 s window the client is refused with 429
//! until 300 s have passed since its last failure. Time is passed in.
//!
//! The caller asks [`LoginLimiter::check`] before checking a key and, only when it did check
//! one, reports the status with [`LoginLimiter::record`]; the 429s the limiter causes are not
//! recorded, so a blocked client cannot extend its own block by retrying.
//!
//! A client is an IPv4 address, or an IPv6 /64 (one host usually holds a whole /64, so
//! counting single IPv6 addresses would give it 2^64 fresh starts). IPv4-mapped IPv6 is the
//! IPv4 address it carries.
//!
//! At most `max_ips` clients are remembered. When the table is full, clients whose last
//! failure is older than the window (they can no longer contribute to a block) are swept, then
//! the unblocked client whose last failure is oldest is dropped. A blocked client is never
//! dropped: when every remembered client is blocked, the failures of the clients that do not
//! fit are counted together in one overflow entry, which blocks all of them as one client. So
//! memory stays bounded and no number of other addresses can release a block. Local-network
//! peers are never put in the overflow: otherwise strangers who fill the table with blocked
//! addresses could lock the LAN out; a local peer that does not fit is not limited until there
//! is room again.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::local_ip::is_local_peer;
use crate::http::client_address::client_of;
use crate::http::Response;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);
pub const MAX_TRACKED_IPS: usize = 1000;
pub const TOO_MANY_ATTEMPTS: &str = "Too many failed login attempts. Try again later.";

/// The most recent failures of one client, oldest first, at most `max_failures` of them.
type Failures = VecDeque<Instant>;

#[derive(Debug)]
pub struct LoginLimiter {
    max_ips: usize,
    max_failures: usize,
    failures: HashMap<IpAddr, Failures>,
    /// The clients that found the table full of blocked clients, counted as one.
    overflow: Failures,
}

impl Default for LoginLimiter {
    fn default() -> LoginLimiter {
        LoginLimiter::new(MAX_TRACKED_IPS, MAX_FAILURES)
    }
}

/// How long `failures` still blocks at `now` (`max` failures block); `None` when they do not.
fn blocked_for(failures: &Failures, max: usize, now: Instant) -> Option<Duration> {
    let (&first, &last) = (failures.front()?, failures.back()?);
    let since_last = now.saturating_duration_since(last);
    let blocked = failures.len() >= max
        && last.saturating_duration_since(first) < WINDOW
        && since_last < WINDOW;
    blocked.then(|| WINDOW - since_last)
}

/// Whether `failures` can still contribute to a block.
fn is_live(failures: &Failures, now: Instant) -> bool {
    failures
        .back()
        .is_some_and(|&last| now.saturating_duration_since(last) < WINDOW)
}

fn push(failures: &mut Failures, max: usize, now: Instant) {
    if failures.len() >= max {
        failures.pop_front();
    }
    failures.push_back(now);
}

impl LoginLimiter {
    /// Remembers at most `max_ips` clients; `max_failures` within the window block one.
    pub fn new(max_ips: usize, max_failures: usize) -> LoginLimiter {
        LoginLimiter {
            max_ips: max_ips.max(1),
            max_failures: max_failures.max(1),
            failures: HashMap::new(),
            overflow: Failures::new(),
        }
    }

    /// `Err(retry_after)` while `ip`'s client is blocked.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = client_of(ip);
        let Some(failures) = self.failures.get(&client) else {
            if is_local_peer(Some(ip)) {
                return Ok(());
            }
            return blocked_for(&self.overflow, self.max_failures, now).map_or(Ok(()), Err);
        };
        if !is_live(failures, now) {
            self.failures.remove(&client);
            return Ok(());
        }
        blocked_for(failures, self.max_failures, now).map_or(Ok(()), Err)
    }

    /// Notes the status a key check answered `ip` with (≥ 400 is a failure).
    pub fn record(&mut self, ip: IpAddr, status: u16, now: Instant) {
        if status < 400 {
            return;
        }
        let client = client_of(ip);
        if !self.failures.contains_key(&client)
            && self.failures.len() >= self.max_ips
            && !self.make_room(now)
        {
            if !is_local_peer(Some(ip)) {
                push(&mut self.overflow, self.max_failures, now);
            }
            return;
        }
        let max = self.max_failures;
        push(self.failures.entry(client).or_default(), max, now);
    }

    /// How many clients are being remembered.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }

    /// Sweeps stale clients, then drops unblocked ones (oldest last failure first) until there
    /// is room; false when every remembered client is blocked.
    fn make_room(&mut self, now: Instant) -> bool {
        self.failures.retain(|_, f| is_live(f, now));
        let max = self.max_failures;
        while self.failures.len() >= self.max_ips {
            let oldest_unblocked = self
                .failures
                .iter()
                .filter(|(_, f)| blocked_for(f, max, now).is_none())
                .min_by_key(|(_, f)| f.back().copied())
                .map(|(ip, _)| *ip);
            match oldest_unblocked {
                Some(ip) => self.failures.remove(&ip),
                None => return false,
            };
        }
        true
    }
}

/// The 429 answer for a blocked client, with a `Retry-After` in whole seconds (rounded up).
pub fn too_many_attempts(retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    Response::detail(429, TOO_MANY_ATTEMPTS).with_header("Retry-After", &seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SEC: Duration = Duration::from_secs(1);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, last))
    }

    #[test]
    fn five_failures_block_until_300s_after_the_last() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(limiter.check(ip(1), t0 + i * SEC), Ok(()), "attempt {i}");
            limiter.record(ip(1), 403, t0 + i * SEC);
        }
        assert_eq!(limiter.check(ip(1), t0 + 4 * SEC), Err(300 * SEC));
        assert_eq!(limiter.check(ip(1), t0 + 100 * SEC), Err(204 * SEC));
        // Still blocked after the first failure has left the window: the block runs from the last.
        assert_eq!(limiter.check(ip(1), t0 + 303 * SEC), Err(SEC));
        assert_eq!(limiter.check(ip(1), t0 + 304 * SEC), Ok(()));
        assert_eq!(limiter.tracked(), 0, "the stale entry was dropped");
    }

    #[test]
    fn four_failures_do_not_block() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..4 {
            limiter.record(ip(1), 422, t0 + i * SEC);
        }
        assert_eq!(limiter.check(ip(1), t0 + 5 * SEC), Ok(()));
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_block() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            limiter.record(ip(1), 403, t0 + i * 75 * SEC); // 0, 75, …, 300 s
        }
        assert_eq!(limiter.check(ip(1), t0 + 300 * SEC), Ok(()));
        // A sixth failure makes the last five (75 … 375 s) fit inside 300 s.
        limiter.record(ip(1), 403, t0 + 374 * SEC);
        assert_eq!(limiter.check(ip(1), t0 + 374 * SEC), Err(300 * SEC));
    }

    #[test]
    fn only_error_statuses_count() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for status in [200, 303, 399, 303, 204, 303] {
            limiter.record(ip(1), status, t0);
        }
        assert_eq!(limiter.tracked(), 0);
        for status in [400, 401, 403, 422, 500] {
            limiter.record(ip(1), status, t0);
        }
        assert!(limiter.check(ip(1), t0).is_err());
    }

    #[test]
    fn ips_are_independent_and_mapped_v6_is_the_same_client() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let mapped: IpAddr = "::ffff:192.168.1.1".parse().unwrap();
        for i in 0..5 {
            let who = if i % 2 == 0 { ip(1) } else { mapped };
            limiter.record(who, 403, t0);
        }
        assert!(limiter.check(ip(1), t0).is_err());
        assert!(limiter.check(mapped, t0).is_err());
        assert_eq!(limiter.check(ip(2), t0), Ok(()));
    }

    #[test]
    fn the_table_never_grows_beyond_its_capacity() {
        let mut limiter = LoginLimiter::new(3, MAX_FAILURES);
        let t0 = Instant::now();
        for last in 1..=3 {
            limiter.record(ip(last), 403, t0 + u32::from(last) * SEC);
        }
        limiter.record(ip(4), 403, t0 + 10 * SEC);
        assert_eq!(limiter.tracked(), 3);
        assert!(
            !limiter.failures.contains_key(&ip(1)),
            "the oldest went first"
        );
        for i in 5..=200 {
            limiter.record(ip(i), 403, t0 + 20 * SEC);
            assert!(limiter.tracked() <= 3);
        }
    }

    #[test]
    fn a_blocked_ip_survives_when_the_table_fills() {
        let mut limiter = LoginLimiter::new(3, MAX_FAILURES);
        let t0 = Instant::now();
        for _ in 0..5 {
            limiter.record(ip(1), 403, t0 + 100 * SEC);
        }
        limiter.record(ip(2), 403, t0);
        limiter.record(ip(3), 403, t0 + SEC);
        limiter.record(ip(4), 403, t0 + 2 * SEC);
        assert!(limiter.check(ip(1), t0 + 101 * SEC).is_err());
        assert!(!limiter.failures.contains_key(&ip(2)));
    }

    #[test]
    fn a_thousand_and_one_other_addresses_do_not_release_a_block() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let victim: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            limiter.record(victim, 403, t0);
        }
        for i in 0..=MAX_TRACKED_IPS as u32 {
            let other = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            limiter.record(other, 403, t0 + SEC);
        }
        assert!(
            limiter.check(victim, t0 + 2 * SEC).is_err(),
            "still blocked"
        );
        assert!(limiter.tracked() <= MAX_TRACKED_IPS);
    }

    #[test]
    fn a_table_full_of_blocked_clients_blocks_the_rest_as_one() {
        // Strangers: addresses that are not on the local network (CGNAT space).
        let stranger = |last: u8| IpAddr::V4(Ipv4Addr::new(100, 64, 1, last));
        let mut limiter = LoginLimiter::new(2, MAX_FAILURES);
        let t0 = Instant::now();
        for last in 1..=2 {
            for _ in 0..MAX_FAILURES {
                limiter.record(stranger(last), 403, t0);
            }
        }
        // Five more addresses, one failure each: none fits, all count together.
        for last in 3..=7 {
            assert_eq!(limiter.check(stranger(last), t0), Ok(()), "{last}");
            limiter.record(stranger(last), 403, t0);
        }
        assert_eq!(limiter.tracked(), 2);
        assert!(limiter.check(stranger(1), t0).is_err() && limiter.check(stranger(2), t0).is_err());
        assert_eq!(limiter.check(stranger(99), t0 + SEC), Err(299 * SEC));
        assert_eq!(limiter.check(stranger(99), t0 + 300 * SEC), Ok(()));
    }

    #[test]
    fn strangers_filling_the_table_cannot_lock_out_the_lan() {
        let mut limiter = LoginLimiter::new(2, MAX_FAILURES);
        let t0 = Instant::now();
        for last in 1..=7u8 {
            for _ in 0..MAX_FAILURES {
                limiter.record(IpAddr::V4(Ipv4Addr::new(100, 64, 2, last)), 403, t0);
            }
        }
        let outsider = IpAddr::V4(Ipv4Addr::new(100, 64, 3, 1));
        assert!(
            limiter.check(outsider, t0).is_err(),
            "strangers share the overflow"
        );
        for lan in [ip(10), IpAddr::V4(Ipv4Addr::LOCALHOST)] {
            assert_eq!(limiter.check(lan, t0), Ok(()), "{lan}");
            limiter.record(lan, 403, t0);
            assert_eq!(
                limiter.check(lan, t0),
                Ok(()),
                "{lan} is not counted with them"
            );
        }
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 1..=5u16 {
            let addr = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, i, i, i));
            limiter.record(addr, 403, t0);
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(same_64, t0).is_err());
        assert_eq!(limiter.check(next_64, t0), Ok(()));
        assert_eq!(limiter.tracked(), 1);
        assert_eq!(client_of(ip(1)), ip(1), "IPv4 addresses stay whole");
    }

    #[test]
    fn the_failure_count_is_a_setting() {
        let mut limiter = LoginLimiter::new(10, 2);
        let t0 = Instant::now();
        limiter.record(ip(1), 403, t0);
        assert_eq!(limiter.check(ip(1), t0), Ok(()));
        limiter.record(ip(1), 403, t0);
        assert_eq!(limiter.check(ip(1), t0), Err(300 * SEC));
    }

    #[test]
    fn stale_entries_are_swept_first() {
        let mut limiter = LoginLimiter::new(2, MAX_FAILURES);
        let t0 = Instant::now();
        limiter.record(ip(1), 403, t0 + 10 * SEC);
        limiter.record(ip(2), 403, t0);
        limiter.record(ip(3), 403, t0 + 305 * SEC);
        // ip(2) is stale at 305 s; ip(1) (last failure 295 s ago) is not.
        assert!(limiter.failures.contains_key(&ip(1)));
        assert!(!limiter.failures.contains_key(&ip(2)));
        assert_eq!(limiter.tracked(), 2);
    }

    #[test]
    fn the_refusal_carries_the_contract_detail_and_retry_after() {
        let resp = too_many_attempts(Duration::from_millis(4500));
        assert_eq!(resp.status, 429);
        assert_eq!(resp.header("Retry-After"), Some("5"));
        assert_eq!(
            resp.body.to_vec(),
            br#"{"detail":"Too many failed login attempts. Try again later."}"#
        );
        assert_eq!(
            too_many_attempts(300 * SEC).header("Retry-After"),
            Some("300")
        );
    }
}
