//! picamd behind the shipped edge configs (`deploy/`), with Debian's Varnish and nginx on
//! loopback: 200 LL-HLS followers read through Varnish, then through nginx (TLS) in front of
//! Varnish, while one follower reads picamd directly at the same time. Varnish must fetch each
//! part and each playlist update from picamd at most twice, no follower may miss a part, and
//! the edge may add at most 50 ms (p99) to when a part arrives.
//! Skipped, with a message, where varnishd or nginx is not installed (scripts/test.sh
//! installs both).

mod common;
mod edge;

use std::collections::HashMap;
use std::time::Duration;

use common::Picamd;
use edge::{compare, follow_many, Agent, Fetch, Nginx, Plain, PlainClient, Trace, Varnish};

const FOLLOWERS: usize = 200;
/// Through Varnish the delay is read from the kernel's receive times (SO_TIMESTAMPNS), which
/// leave out how long the followers' threads waited for one of the two cores.
const VARNISH_P99_MS: f64 = 50.0;
/// Through nginx the followers speak TLS through an HTTP agent, so their delay includes their
/// own threads' wait for a CPU, shared with 200 TLS sessions, nginx and Varnish on two cores.
const NGINX_P99_MS: f64 = 300.0;
const RUN: Duration = Duration::from_secs(20);

#[test]
fn one_origin_fetch_per_part_for_200_followers_through_varnish_and_nginx() {
    for program in ["varnishd", "varnishncsa", "varnishstat", "nginx", "openssl"] {
        if !common::have(program) {
            eprintln!("SKIPPED: {program} is not installed");
            return;
        }
    }
    let cam = Picamd::start(&["--resolution", "320x180"]);
    let varnish = Varnish::start(cam.port);
    let edge = varnish.addr();
    let through_varnish = run_through(&cam, &varnish, || Plain(PlainClient::new(&edge)));
    through_varnish.check("Varnish", VARNISH_P99_MS);

    let nginx = Nginx::start(varnish.port);
    let through_nginx = run_through(&cam, &varnish, || Agent {
        agent: nginx.agent(),
        base: nginx.base(),
    });
    through_nginx.check("nginx (TLS) in front of Varnish", NGINX_P99_MS);
}

struct Run {
    direct: Trace,
    proxied: Vec<Trace>,
    /// Requests Varnish sent to picamd, by URL (`<status> <url>`).
    origin: HashMap<String, usize>,
    backend_req: u64,
}

fn run_through<F: Fetch + 'static>(cam: &Picamd, varnish: &Varnish, fetch: impl Fn() -> F) -> Run {
    let log = varnish.log_backend_requests();
    let before = varnish.stat("MAIN.backend_req");
    let origin = format!("127.0.0.1:{}", cam.port);
    // The direct follower starts first and ends last, so it saw every part the others did.
    let direct = std::thread::spawn(move || {
        let plain = || Plain(PlainClient::new(&origin));
        follow_many(1, RUN + Duration::from_secs(3), plain).remove(0)
    });
    std::thread::sleep(Duration::from_secs(1));
    let proxied = follow_many(FOLLOWERS, RUN, fetch);
    let direct = direct.join().expect("direct follower");
    let backend_req = varnish.stat("MAIN.backend_req") - before;
    let mut origin = HashMap::new();
    for line in log.finish() {
        *origin.entry(line).or_insert(0) += 1;
    }
    Run {
        direct,
        proxied,
        origin,
        backend_req,
    }
}

impl Run {
    fn check(&self, edge: &str, p99_bound_ms: f64) {
        let cmp = compare(&self.direct, &self.proxied);
        let parts = self.direct.parts.len();
        let most_fetched = |pattern: fn(&str) -> bool| {
            self.origin
                .iter()
                .filter(|(line, _)| pattern(line))
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0)
        };
        let part_fetches = most_fetched(|l| l.ends_with(".m4s"));
        let update_fetches = most_fetched(|l| l.contains("_HLS_msn="));
        eprintln!(
            "{edge}: {} followers, {} parts received ({parts} published to the direct \
             follower), {} missed, {} errors; origin requests {} in all ({:.2} per part), at \
             most {part_fetches} per part and {update_fetches} per playlist update; added \
             delay p50 {:.1} / p90 {:.1} / p99 {:.1} / max {:.1} ms",
            self.proxied.len(),
            cmp.received,
            cmp.missed,
            cmp.errors,
            self.backend_req,
            self.backend_req as f64 / parts.max(1) as f64,
            cmp.delay_quantile(0.5),
            cmp.delay_quantile(0.9),
            cmp.delay_quantile(0.99),
            cmp.delay_quantile(1.0),
        );
        let errors: Vec<&String> = self.proxied.iter().flat_map(|t| &t.errors).collect();
        assert!(
            errors.is_empty(),
            "{edge}: {} errors, the first: {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        );
        assert!(
            parts >= 80,
            "{edge}: the direct follower got only {parts} parts"
        );
        assert_eq!(cmp.missed, 0, "{edge}: parts missed");
        // Every follower followed for (nearly) the whole run.
        assert!(
            cmp.received >= self.proxied.len() * (parts - 25),
            "{edge}: {} parts for {} followers",
            cmp.received,
            self.proxied.len()
        );
        assert!((1..=2).contains(&part_fetches), "{edge}: {part_fetches}");
        assert!(
            update_fetches <= 2,
            "{edge}: playlist update fetched {update_fetches} times"
        );
        let p99 = cmp.delay_quantile(0.99);
        assert!(
            p99 <= p99_bound_ms,
            "{edge}: p99 added delay {p99:.1} ms (bound {p99_bound_ms} ms)"
        );
    }
}
