//! The WebSocket relay against the real daemon: the optimised `picamd`, paired with our
//! backend test peer (tests/backend_peer) on loopback, compared with the same calls made
//! directly over local HTTP in the same run.
//!
//!     cargo bench --bench relay [-- --requests 2000 --warmup 100 --in-flight 50 --rounds 5]
//!
//! 1. `GET /camera` round trips, one at a time: local HTTP on a keep-alive connection with the
//!    API key, then through the relay (peer → WebSocket → router → WebSocket → peer). Target:
//!    the relay adds ≤ 2 ms (p50 and p99 compared).
//! 2. `--in-flight` relayed HLS part requests at once, `--rounds` times: every answer must be
//!    byte-identical to the part fetched locally. Target: all complete.
//!
//! The round trip through the peer includes the peer's own work (envelope JSON, id matching,
//! a channel hand-off to the asking thread), as it would on the real backend.

#[path = "../tests/backend_peer/mod.rs"]
mod backend_peer;
mod common;

use std::time::{Duration, Instant};

use backend_peer::{BackendPeer, PeerConfig};
use common::{Daemon, HttpConn, Summary};

const TARGET_ADDED_MS: f64 = 2.0;
const PARTS_DIR: &str = "/preview/hls/cam-preview/";

fn main() {
    let requests: usize = common::arg("--requests", 2000);
    let warmup: usize = common::arg("--warmup", 100);
    let in_flight: usize = common::arg("--in-flight", 50);
    let rounds: usize = common::arg("--rounds", 5);
    let (load, cpus) = common::machine_load();
    println!("relay bench: {cpus} CPUs, load average {load:.2} before start");

    let peer = BackendPeer::start(PeerConfig::default());
    let daemon = Daemon::start(
        "relay",
        &["--resolution", "1280x720"],
        &[
            ("PAIRING_BACKEND_URL", &peer.base_url()),
            ("PAIRING_POLL_INTERVAL_S", "1"),
            ("ALLOW_PLAINTEXT_RELAY", "true"),
        ],
    );
    let code = peer
        .wait_for_code(Duration::from_secs(30))
        .expect("the daemon registers a pairing code");
    let camera = peer.claim(&code).expect("claim");
    assert!(
        peer.wait_connected(&camera, Duration::from_secs(30)),
        "the relay connects"
    );
    let key = daemon.local_key();

    // 1. GET /camera, local and relayed.
    let mut conn = HttpConn::connect(daemon.addr(), Duration::from_secs(10)).expect("connect");
    let headers = [("X-API-Key", key.as_str())];
    let mut local = Vec::with_capacity(requests);
    for i in 0..warmup + requests {
        let start = Instant::now();
        let answer = conn
            .request("GET", "/camera", &headers, b"")
            .expect("local GET /camera");
        assert_eq!(answer.status, 200);
        if i >= warmup {
            local.push(start.elapsed());
        }
    }
    let mut relayed = Vec::with_capacity(requests);
    for i in 0..warmup + requests {
        let start = Instant::now();
        let reply = peer
            .request(&camera, "GET", "/camera", None, Duration::from_secs(30))
            .expect("relayed GET /camera");
        assert_eq!(reply.status, 200);
        if i >= warmup {
            relayed.push(start.elapsed());
        }
    }
    let local = Summary::of_durations(&local);
    let relayed = Summary::of_durations(&relayed);
    println!("\nGET /camera, {requests} sequential round trips after {warmup} warm-up");
    println!("{}", Summary::header());
    println!("{}", local.row("local HTTP"));
    println!("{}", relayed.row("relayed"));
    let added_p50 = relayed.p50 - local.p50;
    let added_p99 = relayed.p99 - local.p99;
    println!(
        "relay adds p50 {added_p50:.3} ms, p99 {added_p99:.3} ms (target ≤ {TARGET_ADDED_MS} ms): {}",
        if added_p50 <= TARGET_ADDED_MS && added_p99 <= TARGET_ADDED_MS { "met" } else { "NOT met" }
    );

    // 2. Many HLS parts in flight at once, byte-exact.
    let playlist = {
        let answer = conn
            .request("GET", &format!("{PARTS_DIR}index.m3u8"), &[], b"")
            .expect("playlist");
        String::from_utf8_lossy(&conn.buf[answer.body]).into_owned()
    };
    let parts: Vec<String> = playlist
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .filter_map(|l| l.split("URI=\"").nth(1))
        .filter_map(|u| u.split('"').next())
        .map(str::to_string)
        .collect();
    assert!(!parts.is_empty(), "the playlist lists parts");
    let expected: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| {
            let answer = conn
                .request("GET", &format!("{PARTS_DIR}{p}"), &[], b"")
                .expect("local part");
            conn.buf[answer.body].to_vec()
        })
        .collect();
    let part_bytes: usize = expected.iter().map(Vec::len).sum::<usize>() / expected.len();
    let mut latencies = Vec::new();
    let mut failures = 0usize;
    let mut wall = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let results: Vec<Result<Duration, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..in_flight)
                .map(|i| {
                    let (peer, camera, parts, expected) = (&peer, &camera, &parts, &expected);
                    s.spawn(move || {
                        let k = i % parts.len();
                        let t = Instant::now();
                        let reply = peer
                            .request(
                                camera,
                                "GET",
                                &format!("{PARTS_DIR}{}", parts[k]),
                                None,
                                Duration::from_secs(60),
                            )
                            .map_err(|e| format!("{e:?}"))?;
                        if reply.status != 200
                            || reply.binary.as_deref() != Some(expected[k].as_slice())
                        {
                            return Err(format!(
                                "part {k}: status {} or bytes differ",
                                reply.status
                            ));
                        }
                        Ok(t.elapsed())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("client thread"))
                .collect()
        });
        wall.push(start.elapsed());
        for r in results {
            match r {
                Ok(d) => latencies.push(d),
                Err(e) => {
                    failures += 1;
                    eprintln!("{e}");
                }
            }
        }
    }
    let parts_summary = Summary::of_durations(&latencies);
    let wall_summary = Summary::of_durations(&wall);
    println!(
        "\n{in_flight} relayed HLS part requests in flight at once, {rounds} rounds, parts of ~{} KiB",
        part_bytes / 1024
    );
    println!("{}", Summary::header());
    println!("{}", parts_summary.row("per request"));
    println!("{}", wall_summary.row("whole round"));
    println!(
        "{} of {} complete and byte-exact: {}",
        latencies.len(),
        in_flight * rounds,
        if failures == 0 { "met" } else { "NOT met" }
    );
    let stats = peer.stats(&camera);
    println!(
        "peer: {} protocol violations, at most {} connection(s) at once",
        stats.violations.len(),
        stats.max_concurrent_connections
    );

    println!(
        "{}",
        serde_json::json!({
            "bench": "relay",
            "camera_local": local.json(),
            "camera_relayed": relayed.json(),
            "added_p50_ms": added_p50,
            "added_p99_ms": added_p99,
            "parts_in_flight": in_flight,
            "parts_complete": latencies.len(),
            "parts_failed": failures,
            "part_latency": parts_summary.json(),
            "violations": stats.violations.len(),
        })
    );
}
