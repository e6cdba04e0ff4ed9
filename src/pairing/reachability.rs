//! "Reachable" / "Not reachable" on the setup page: a GET to the pairing backend's base URL,
//! following redirects, 1.5 s per phase (contract/plugin.md §1.3). Any HTTP answer counts as
//! reachable. The result is kept for a few seconds so page loads (and the page's reloads)
//! stay fast and the backend is not asked on every one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::Agent;

use crate::config::url::is_loopback_url;
use crate::sync::LockExt;

const PHASE_TIMEOUT: Duration = Duration::from_millis(1500);
const FRESH_FOR: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Reachability {
    last: Mutex<Option<Probe>>,
}

struct Probe {
    base: String,
    at: Instant,
    reachable: bool,
}

impl Reachability {
    pub fn new() -> Reachability {
        Reachability::default()
    }

    /// Whether `base` answers, from a probe at most a few seconds old. Concurrent callers
    /// wait for one probe rather than each making their own.
    pub fn check(&self, base: &str) -> bool {
        let mut last = self.last.lock_unpoisoned();
        if let Some(p) = last.as_ref() {
            if p.base == base && p.at.elapsed() < FRESH_FOR {
                return p.reachable;
            }
        }
        let reachable = probe(base);
        *last = Some(Probe {
            base: base.to_string(),
            at: Instant::now(),
            reachable,
        });
        reachable
    }
}

fn probe(base: &str) -> bool {
    let mut config = Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(format!("picamd/{}", env!("CARGO_PKG_VERSION")))
        .timeout_resolve(Some(PHASE_TIMEOUT))
        .timeout_connect(Some(PHASE_TIMEOUT))
        .timeout_send_request(Some(PHASE_TIMEOUT))
        .timeout_recv_response(Some(PHASE_TIMEOUT))
        .timeout_recv_body(Some(PHASE_TIMEOUT));
    if is_loopback_url(base) {
        config = config.proxy(None);
    }
    let agent = Agent::new_with_config(config.build());
    match agent.get(base).call() {
        // Each redirect step was an answer too.
        Ok(_) | Err(ureq::Error::TooManyRedirects) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::test_backend::{Canned, TestBackend};

    #[test]
    fn any_answer_is_reachable_and_the_result_is_kept_a_while() {
        let backend = TestBackend::start(|req| {
            if req.target == "/" {
                Canned::json(302, "").with_header("Location", "/docs")
            } else {
                Canned::json(500, "oops")
            }
        });
        let reach = Reachability::new();
        assert!(reach.check(&backend.url()));
        assert!(reach.check(&backend.url()));
        let targets: Vec<String> = backend.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, ["/", "/docs"], "the redirect was followed, once");
    }

    #[test]
    fn a_closed_port_is_not_reachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let start = Instant::now();
        assert!(!Reachability::new().check(&format!("http://127.0.0.1:{port}")));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
