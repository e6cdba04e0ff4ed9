//! Helpers shared by the benches: synthetic H.264 access units, statistics, machine load.
//! Not a bench itself (Cargo only discovers `benches/*.rs` and `benches/*/main.rs`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use picamd::media::h264;

use picamd::media::test_vectors as tv;

/// Real parameter sets (picamd::media::test_vectors): x264 High 1920x1080 and OpenH264
/// Constrained Baseline 1280x720 (what picamd's own encoder produces).
pub const SPS_1080P_HIGH: &str = tv::X264_1080P_SPS;
pub const PPS_1080P_HIGH: &str = tv::X264_1080P_PPS;
pub const SPS_720P: &str = tv::OPENH264_720P_SPS;
pub const PPS_720P: &str = tv::OPENH264_720P_PPS;

pub use tv::hex;

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// A slice NAL unit (header byte `nal_header`) of about `size` bytes of pseudo-random entropy
/// coded data, made valid with emulation prevention and ending in rbsp_trailing_bits.
pub fn slice_nal(rng: &mut Rng, nal_header: u8, size: usize) -> Vec<u8> {
    let mut rbsp = vec![0u8; size.saturating_sub(2)];
    rng.fill(&mut rbsp);
    rbsp.push(0x80);
    let mut nal = Vec::with_capacity(size + size / 64);
    nal.push(nal_header);
    nal.extend_from_slice(&h264::add_emulation_prevention(&rbsp));
    nal
}

/// The parts of one synthetic access unit, so the SEI can be stamped per frame cheaply.
pub struct AuTemplate {
    pub keyframe: bool,
    /// SPS + PPS with start codes (IDR only), goes before the SEI.
    pub head: Vec<u8>,
    /// The slice NAL with its start code, goes after the SEI.
    pub tail: Vec<u8>,
}

impl AuTemplate {
    /// The Annex B access unit with a capture-time SEI for `capture_unix_us`.
    pub fn build(&self, capture_unix_us: u64) -> Vec<u8> {
        let sei = h264::timestamp_sei_nal(capture_unix_us);
        let mut out = Vec::with_capacity(self.head.len() + sei.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(&sei);
        out.extend_from_slice(&self.tail);
        out
    }
}

/// A GOP-structured sequence of access unit templates: an IDR (with SPS/PPS) every `gop`
/// frames, sizes varying ±10 % around `idr_bytes` / `p_bytes`.
pub fn templates(
    count: usize,
    gop: usize,
    sps: &[u8],
    pps: &[u8],
    idr_bytes: usize,
    p_bytes: usize,
    seed: u64,
) -> Vec<AuTemplate> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let keyframe = i % gop == 0;
            let mut head = Vec::new();
            let (header, nominal) = if keyframe {
                (0x65, idr_bytes)
            } else {
                (0x41, p_bytes)
            };
            if keyframe {
                for nal in [sps, pps] {
                    head.extend_from_slice(&[0, 0, 0, 1]);
                    head.extend_from_slice(nal);
                }
            }
            let size = rng.range(nominal * 9 / 10, nominal * 11 / 10);
            let mut tail = vec![0, 0, 0, 1];
            tail.extend_from_slice(&slice_nal(&mut rng, header, size));
            AuTemplate {
                keyframe,
                head,
                tail,
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50 / p90 / p99 / max of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub min: f64,
}

impl Summary {
    pub fn of_ms(values: &mut [f64]) -> Summary {
        values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        Summary {
            count: values.len(),
            p50: percentile(values, 50.0).unwrap_or(f64::NAN),
            p90: percentile(values, 90.0).unwrap_or(f64::NAN),
            p99: percentile(values, 99.0).unwrap_or(f64::NAN),
            max: values.last().copied().unwrap_or(f64::NAN),
            min: values.first().copied().unwrap_or(f64::NAN),
        }
    }

    pub fn of_durations(values: &[Duration]) -> Summary {
        let mut ms: Vec<f64> = values.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Summary::of_ms(&mut ms)
    }

    pub fn row(&self, name: &str) -> String {
        format!(
            "{name:<44} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            self.count, self.p50, self.p90, self.p99, self.max
        )
    }

    pub fn header() -> String {
        format!(
            "{:<44} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "(milliseconds)", "n", "p50", "p90", "p99", "max"
        )
    }

    pub fn json(&self) -> serde_json::Value {
        let r = |v: f64| {
            if v.is_finite() {
                serde_json::json!((v * 1000.0).round() / 1000.0)
            } else {
                serde_json::Value::Null
            }
        };
        serde_json::json!({
            "n": self.count, "p50_ms": r(self.p50), "p90_ms": r(self.p90),
            "p99_ms": r(self.p99), "max_ms": r(self.max),
        })
    }
}

/// The 1-minute load average and the number of CPUs, for the caveats line.
pub fn machine_load() -> (f64, usize) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    (load, cpus)
}

/// CPU time (user + system) this process has used so far.
pub fn process_cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on every Linux configuration that matters.
    Duration::from_millis(ticks * 10)
}

/// `--name value` from the command line (cargo bench also passes `--bench`, ignored).
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("invalid value for {name}: {v}"))
        })
        .unwrap_or(default)
}

pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// (on-CPU ns, run-queue wait ns) of the calling thread, from /proc/thread-self/schedstat.
pub fn thread_schedstat() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut f = s.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0))
}

/// Per-thread scheduler statistics of this process at one instant.
pub struct TaskTimes {
    /// tid → (name, on-CPU ns, run-queue wait ns).
    pub tasks: HashMap<u32, (String, u64, u64)>,
    pub process_cpu: Duration,
}

impl TaskTimes {
    pub fn now() -> TaskTimes {
        let mut tasks = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for entry in dir.flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                    continue;
                };
                let path = entry.path();
                let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                let sched = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
                let mut f = sched
                    .split_whitespace()
                    .map(|v| v.parse::<u64>().unwrap_or(0));
                let (run, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
                tasks.insert(tid, (comm.trim().to_string(), run, wait));
            }
        }
        TaskTimes {
            tasks,
            process_cpu: process_cpu_time(),
        }
    }

    /// CPU and run-queue wait between two snapshots, per category (`classify` maps a thread
    /// name and whether it is the main thread to a category). Threads that ended in between
    /// are reported as "exited threads" (CPU only, from the process total).
    pub fn breakdown(
        start: &TaskTimes,
        end: &TaskTimes,
        classify: impl Fn(&str, bool) -> &'static str,
    ) -> Vec<(&'static str, usize, Duration, Duration)> {
        let main = std::process::id();
        let mut cats: Vec<(&'static str, usize, Duration, Duration)> = Vec::new();
        let mut live_cpu = Duration::ZERO;
        for (tid, (name, run, wait)) in &end.tasks {
            let (r0, w0) = start.tasks.get(tid).map_or((0, 0), |(_, r, w)| (*r, *w));
            let run = Duration::from_nanos(run.saturating_sub(r0));
            let wait = Duration::from_nanos(wait.saturating_sub(w0));
            live_cpu += run;
            let cat = classify(name, *tid == main);
            match cats.iter_mut().find(|c| c.0 == cat) {
                Some(c) => {
                    c.1 += 1;
                    c.2 += run;
                    c.3 += wait;
                }
                None => cats.push((cat, 1, run, wait)),
            }
        }
        // Threads alive at the start but gone at the end, and threads born and gone in
        // between: only the process total knows their CPU.
        let total = end.process_cpu.saturating_sub(start.process_cpu);
        cats.push((
            "exited threads (CPU from process total)",
            0,
            total.saturating_sub(live_cpu),
            Duration::ZERO,
        ));
        cats.sort_by_key(|c| std::cmp::Reverse(c.2));
        cats
    }
}

/// Wall-clock now in ns since the Unix epoch.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Sets the calling thread's nice value (Linux: per thread). Raising it needs no privilege.
/// Returns false where unsupported or refused.
pub fn set_thread_nice(nice: i32) -> bool {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn gettid() -> i32;
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: plain syscalls on the calling thread's own id.
        unsafe { setpriority(PRIO_PROCESS, gettid() as u32, nice) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
        false
    }
}

/// Machine-wide CPU time from /proc/stat (all CPUs): (busy, steal, total) in USER_HZ ticks.
pub fn system_cpu_ticks() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return (0, 0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let idle = get(3) + get(4);
    let steal = get(7);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    (busy, steal, busy + idle + steal)
}

/// Keys for an in-process runtime: nothing read from or written to disk.
#[allow(dead_code)]
pub fn bench_keys(config: &picamd::config::Config) -> picamd::pairing::bootstrap::KeyBootstrap {
    picamd::pairing::bootstrap::bootstrap(&config.relab, None, false, || {
        picamd::random::token_urlsafe(32)
    })
}
