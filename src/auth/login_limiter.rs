//! Brute-force protection for `POST /auth/login` (§1.3), per client IP: any response with
//! status ≥ 400 is a failure, and once 5 failures have fallen inside a 300 s window the IP is
//! refused with 429 until 300 s have passed since its last failure. Time is passed in.
//!
//! The caller asks [`LoginLimiter::check`] before running the login route and, only when the
//! route ran, reports its status with [`LoginLimiter::record`]; the 429s the limiter causes are
//! not recorded, so a blocked client cannot extend its own block by retrying.
//!
//! At most `max_ips` addresses are remembered. An address whose last failure is older than the
//! window can no longer contribute to a block and is swept; if the table is still full, the
//! address whose last failure is oldest is dropped.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::http::Response;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);
pub const MAX_TRACKED_IPS: usize = 1000;
pub const TOO_MANY_ATTEMPTS: &str = "Too many failed login attempts. Try again later.";

#[derive(Debug)]
pub struct LoginLimiter {
    max_ips: usize,
    /// The most recent failures per IP, oldest first, at most `MAX_FAILURES` of them.
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Default for LoginLimiter {
    fn default() -> LoginLimiter {
        LoginLimiter::new(MAX_TRACKED_IPS)
    }
}

impl LoginLimiter {
    pub fn new(max_ips: usize) -> LoginLimiter {
        LoginLimiter {
            max_ips: max_ips.max(1),
            failures: HashMap::new(),
        }
    }

    /// `Err(retry_after)` while `ip` is blocked.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let ip = ip.to_canonical();
        let Some(failures) = self.failures.get(&ip) else {
            return Ok(());
        };
        let (Some(&first), Some(&last)) = (failures.front(), failures.back()) else {
            self.failures.remove(&ip);
            return Ok(());
        };
        let since_last = now.saturating_duration_since(last);
        if since_last >= WINDOW {
            self.failures.remove(&ip);
            return Ok(());
        }
        if failures.len() >= MAX_FAILURES && last.saturating_duration_since(first) < WINDOW {
            return Err(WINDOW - since_last);
        }
        Ok(())
    }

    /// Notes the status the login route answered `ip` with.
    pub fn record(&mut self, ip: IpAddr, status: u16, now: Instant) {
        if status < 400 {
            return;
        }
        let ip = ip.to_canonical();
        if !self.failures.contains_key(&ip) && self.failures.len() >= self.max_ips {
            self.make_room(now);
        }
        let failures = self.failures.entry(ip).or_default();
        if failures.len() >= MAX_FAILURES {
            failures.pop_front();
        }
        failures.push_back(now);
    }

    /// How many addresses are being remembered.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }

    fn make_room(&mut self, now: Instant) {
        let last_failure = |f: &VecDeque<Instant>| f.back().copied();
        self.failures.retain(|_, f| {
            last_failure(f).is_some_and(|last| now.saturating_duration_since(last) < WINDOW)
        });
        while self.failures.len() >= self.max_ips {
            let oldest = self
                .failures
                .iter()
                .min_by_key(|(_, f)| last_failure(f))
                .map(|(ip, _)| *ip);
            match oldest {
                Some(ip) => self.failures.remove(&ip),
                None => break,
            };
        }
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
        let mut limiter = LoginLimiter::new(3);
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
        let mut limiter = LoginLimiter::new(3);
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
    fn stale_entries_are_swept_first() {
        let mut limiter = LoginLimiter::new(2);
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
