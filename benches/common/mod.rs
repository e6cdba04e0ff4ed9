//! Helpers shared by the benches: synthetic H.264 access units, statistics, machine load.
//! Not a bench itself (Cargo only discovers `benches/*.rs` and `benches/*/main.rs`).

#![allow(dead_code)]

use std::time::Duration;

use picamd::media::h264;

/// x264 (ffmpeg -profile:v high -level 4.0) at 1920x1080: High, level 4.0 (from h264.rs tests).
pub const SPS_1080P_HIGH: &str = "67640028acd940780227e5ffc000c00104000003000400000300f03c60c658";
pub const PPS_1080P_HIGH: &str = "68ebe3cb22c0";
/// OpenH264 (openh264 crate 0.9, defaults) at 1280x720: Constrained Baseline, level 3.1 — what
/// picamd's own encoder produces (from h264.rs tests).
pub const SPS_720P: &str = "6742c01f8c6805005ba01e1108d4";
pub const PPS_720P: &str = "68ce3c80";

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

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

    pub fn len(&self) -> usize {
        self.head.len() + 5 + 27 + 2 + self.tail.len()
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
            let (header, nominal) = if keyframe { (0x65, idr_bytes) } else { (0x41, p_bytes) };
            if keyframe {
                for nal in [sps, pps] {
                    head.extend_from_slice(&[0, 0, 0, 1]);
                    head.extend_from_slice(nal);
                }
            }
            let size = rng.range(nominal * 9 / 10, nominal * 11 / 10);
            let mut tail = vec![0, 0, 0, 1];
            tail.extend_from_slice(&slice_nal(&mut rng, header, size));
            AuTemplate { keyframe, head, tail }
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
        let r = |v: f64| if v.is_finite() { serde_json::json!((v * 1000.0).round() / 1000.0) } else { serde_json::Value::Null };
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
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
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
        .map(|v| v.parse().unwrap_or_else(|_| panic!("invalid value for {name}: {v}")))
        .unwrap_or(default)
}

pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}
