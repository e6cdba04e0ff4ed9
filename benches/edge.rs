//! Many viewers, direct and through the shipped Varnish edge, side by side in one run.
//!
//!     cargo bench --bench edge [-- --clients 50,200,1000 --seconds 10 --paths direct,varnish
//!         --picamd-args "--max-parked 0"]
//!
//! One picamd (synthetic camera, 1280x720 30 fps, 200 ms parts) and one Varnish with
//! `deploy/varnish/picamd.vcl`. For each client count, N LL-HLS followers (blocking part
//! request, then blocking playlist reload: tests/edge/follower.rs) read the stream directly,
//! then through Varnish, while one reference follower reads picamd directly. Printed per
//! row: parts each viewer got, parts missed, errors, the CPU picamd and Varnish used (% of
//! one core), and the delay added to each part against the reference follower, from the
//! kernel's receive times (SO_TIMESTAMPNS), so it leaves out the followers' own wait for a
//! CPU. Also per row: picamd's most threads and most resident memory seen while the
//! viewers ran (sampled every 50 ms). `--picamd-args` passes flags to picamd (`--max-parked 0`:
//! the responder off, the control). Followers run
//! at nice 19, so that their own CPU use, which a real audience spends on its own devices,
//! disturbs the servers as little as two cores allow.

mod common;
#[path = "../tests/edge/mod.rs"]
mod edge;

use std::time::{Duration, Instant};

use common::{arg, machine_load, Daemon};
use edge::{compare, follow_many, Plain, PlainClient, Varnish};

fn main() {
    let clients: String = arg("--clients", "50,200,1000".to_string());
    let seconds: u64 = arg("--seconds", 10);
    let paths: String = arg("--paths", "direct,varnish".to_string());
    let picamd_args: String = arg("--picamd-args", String::new());
    if std::process::Command::new("varnishd")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("varnishd is not installed (apt install varnish)");
        std::process::exit(1);
    }
    let mut flags = vec![
        "--max-connections",
        "4096",
        "--max-connections-per-address",
        "4096",
    ];
    flags.extend(picamd_args.split_whitespace());
    println!("picamd flags: {}", flags.join(" "));
    let cam = Daemon::start("edge", &flags, &[]);
    let varnish = Varnish::start(cam.port);
    let direct = format!("127.0.0.1:{}", cam.port);
    println!(
        "{:<8} {:>7} {:>11} {:>7} {:>7} {:>11} {:>11} {:>26} {:>8} {:>8}",
        "path",
        "viewers",
        "parts/view",
        "missed",
        "errors",
        "picamd CPU",
        "edge CPU",
        "added delay p50/p90/p99 ms",
        "threads",
        "RSS MiB"
    );
    let mut json = Vec::new();
    for n in clients
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
    {
        for (path, base) in [("direct", direct.clone()), ("varnish", varnish.addr())] {
            if !paths.split(',').any(|p| p.trim() == path) {
                continue;
            }
            let peak = Peak::watch(cam.pid());
            let cpu_before = (process_tree_cpu(cam.pid()), process_tree_cpu(varnish.pid()));
            let started = Instant::now();
            let reference_base = direct.clone();
            let run = Duration::from_secs(seconds);
            let reference = std::thread::spawn(move || {
                let plain = || Plain(PlainClient::new(&reference_base));
                follow_many(1, run + Duration::from_secs(2), plain).remove(0)
            });
            std::thread::sleep(Duration::from_secs(1));
            let viewers = follow_many(n, run, || Plain(PlainClient::new(&base)));
            let (threads, rss_kib) = peak.stop();
            let reference = reference.join().expect("reference follower");
            let wall = started.elapsed().as_secs_f64();
            let picamd_cpu = (process_tree_cpu(cam.pid()) - cpu_before.0) / wall * 100.0;
            let edge_cpu = (process_tree_cpu(varnish.pid()) - cpu_before.1) / wall * 100.0;
            let cmp = compare(&reference, &viewers);
            let per_viewer = cmp.received as f64 / n as f64;
            let (p50, p90, p99) = (
                cmp.delay_quantile(0.5),
                cmp.delay_quantile(0.9),
                cmp.delay_quantile(0.99),
            );
            println!(
                "{path:<8} {n:>7} {per_viewer:>11.1} {:>7} {:>7} {picamd_cpu:>10.0}% {:>11} {:>26} {threads:>8} {:>8.1}",
                cmp.missed,
                cmp.errors,
                if path == "direct" {
                    "-".to_string()
                } else {
                    format!("{edge_cpu:.0}%")
                },
                format!("{p50:.1} / {p90:.1} / {p99:.1}"),
                rss_kib as f64 / 1024.0,
            );
            json.push(serde_json::json!({
                "path": path, "viewers": n, "parts_per_viewer": per_viewer,
                "missed": cmp.missed, "errors": cmp.errors,
                "picamd_cpu_pct": picamd_cpu.round(), "edge_cpu_pct": edge_cpu.round(),
                "added_p50_ms": p50, "added_p90_ms": p90, "added_p99_ms": p99,
                "picamd_threads_max": threads, "picamd_rss_kib_max": rss_kib,
            }));
        }
    }
    let (load, cpus) = machine_load();
    println!("machine: {cpus} CPUs, load average {load:.2} at the end");
    println!("{}", serde_json::json!({ "bench": "edge", "rows": json }));
}

/// The most threads and resident memory a process had while watched.
struct Peak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl Peak {
    fn watch(pid: u32) -> Peak {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut threads, mut rss) = (0, 0);
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let field = |name: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                threads = threads.max(field("Threads:"));
                rss = rss.max(field("VmRSS:"));
                std::thread::sleep(Duration::from_millis(50));
            }
            (threads, rss)
        });
        Peak { stop, thread }
    }

    fn stop(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("sampler")
    }
}

/// CPU seconds used so far by `pid` and its direct children (Varnish's worker process).
fn process_tree_cpu(pid: u32) -> f64 {
    let mut total = cpu_seconds(pid);
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if parent(child) == Some(pid) {
                total += cpu_seconds(child);
            }
        }
    }
    total
}

fn stat_fields(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.to_string()))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid).get(1)?.parse().ok()
}

fn cpu_seconds(pid: u32) -> f64 {
    let f = stat_fields(pid);
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}
