//! Helpers shared by the benches: synthetic H.264 access units, statistics, machine load.
//! Not a bench itself (Cargo only discovers `benches/*.rs` and `benches/*/main.rs`).

#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::time::Duration;

use picamd::internal::media::h264;

use picamd::internal::media::test_vectors as tv;

/// Real parameter sets (picamd::internal::media::test_vectors): x264 High 1920x1080 and OpenH264
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
pub fn bench_keys(
    config: &picamd::internal::config::Config,
) -> picamd::internal::pairing::bootstrap::KeyBootstrap {
    picamd::internal::pairing::bootstrap::bootstrap(&config.relab, None, false, || {
        picamd::internal::random::token_urlsafe(32)
    })
}

// ---------------------------------------------------------------------------------------
// The real daemon, spawned isolated on a loopback port
// ---------------------------------------------------------------------------------------

/// A running `picamd` (the optimised binary Cargo built for the bench) on a free loopback
/// port, killed on drop. It runs isolated like the integration tests' daemon: HOME, working
/// directory (so no stray `.env`), credentials file and images live in a fresh temporary
/// directory, the environment is cleared, and pairing is off (`PAIRING_BACKEND_URL=""`), so
/// captures go to the local sink.
pub struct Daemon {
    child: std::process::Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Daemon {
    /// Starts picamd with `args` (after `--listen` and `--data-dir`) and extra environment
    /// variables, and waits until its first playlist is served.
    pub fn start(tag: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("picamd-bench-{tag}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary data directory");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_picamd"));
        cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("RELAB_CREDENTIALS_FILE", dir.join("relay_credentials.json"))
            .env("PAIRING_BACKEND_URL", "")
            .env("RUST_LOG", "warn")
            // Benchmarks drive far more captures than one client's 20 per 300 s.
            .env("RATE_LIMIT_CAPTURES", "0")
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("picamd starts");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = HttpConn::connect(addr, Duration::from_secs(5))
                .and_then(|mut c| c.request("GET", PLAYLIST, &[], b""))
                .is_ok_and(|a| a.status == 200);
            if ready {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("picamd exited during start-up: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "picamd served no playlist within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon { child, port, dir }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The local API key the daemon generated on its first boot.
    pub fn local_key(&self) -> String {
        let path = self.dir.join("relay_credentials.json");
        let text = std::fs::read_to_string(&path).expect("credentials file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("credentials JSON");
        json["local_api_key"]
            .as_str()
            .expect("local_api_key in the credentials file")
            .to_string()
    }

    /// `Err` with the exit status once the daemon has ended (a crash, during a bench).
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("picamd exited: {status}")),
            Err(e) => Err(format!("cannot query picamd: {e}")),
        }
    }

    /// Its counters from `GET /metrics` (name → value; labelled series are skipped).
    pub fn metrics(&self) -> std::io::Result<HashMap<String, f64>> {
        let key = self.local_key();
        let mut conn = HttpConn::connect(self.addr(), Duration::from_secs(10))?;
        let answer = conn.request("GET", "/metrics", &[("X-API-Key", key.as_str())], b"")?;
        if answer.status != 200 {
            return Err(std::io::Error::other(format!(
                "/metrics: HTTP {}",
                answer.status
            )));
        }
        Ok(parse_metrics(&String::from_utf8_lossy(
            &conn.buf[answer.body],
        )))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const PLAYLIST: &str = "/preview/hls/cam-preview/index.m3u8";

/// Prometheus text: `name value` lines, comments and labelled series skipped.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client
// ---------------------------------------------------------------------------------------

/// Status and where the head and body of the last answer are in [`HttpConn::buf`].
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub head: std::ops::Range<usize>,
    pub body: std::ops::Range<usize>,
}

/// One keep-alive connection; each request is written in one `write` call and its answer
/// (which must carry a Content-Length) read whole into `buf`.
pub struct HttpConn {
    pub stream: std::net::TcpStream,
    pub buf: Vec<u8>,
    req: Vec<u8>,
    /// The kernel stamps received data (see [`HttpConn::stamp_receptions`]).
    stamped: bool,
    /// Kernel receive time of the last bytes of the last answer, ns since the epoch.
    pub last_rx_ns: Option<u64>,
}

impl HttpConn {
    pub fn connect(addr: std::net::SocketAddr, timeout: Duration) -> std::io::Result<HttpConn> {
        let stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(HttpConn {
            stream,
            buf: vec![0; 64 * 1024],
            req: Vec::with_capacity(512),
            stamped: false,
            last_rx_ns: None,
        })
    }

    /// Asks the kernel to stamp received data (SO_TIMESTAMPNS), so [`HttpConn::last_rx_ns`]
    /// tells when an answer's last bytes reached the socket, before this thread was
    /// scheduled to read them. Returns whether the kernel agreed.
    pub fn stamp_receptions(&mut self) -> bool {
        self.stamped = rxstamp::enable(&self.stream);
        self.stamped
    }

    fn read_some(&mut self, from: usize) -> std::io::Result<usize> {
        use std::io::Read;
        if self.stamped {
            let (n, ts) = rxstamp::read(&self.stream, &mut self.buf[from..])?;
            if ts.is_some() {
                self.last_rx_ns = ts;
            }
            Ok(n)
        } else {
            self.stream.read(&mut self.buf[from..])
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<HttpAnswer> {
        use std::io::Write;
        self.req.clear();
        self.req.extend_from_slice(method.as_bytes());
        self.req.push(b' ');
        self.req.extend_from_slice(path.as_bytes());
        self.req
            .extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            self.req
                .extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !body.is_empty() || method == "POST" || method == "PUT" || method == "PATCH" {
            self.req
                .extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        self.req.extend_from_slice(b"\r\n");
        self.req.extend_from_slice(body);
        self.stream.write_all(&self.req)?;
        self.last_rx_ns = None;
        let mut filled = 0usize;
        let mut head_end = None;
        let mut want = usize::MAX;
        loop {
            if filled == self.buf.len() {
                let grow = self.buf.len();
                self.buf.resize(grow * 2, 0);
            }
            let n = match self.read_some(filled) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before the answer was complete",
                ));
            }
            let from = filled.saturating_sub(3);
            filled += n;
            if head_end.is_none() {
                if let Some(p) = find_bytes(&self.buf[from..filled], b"\r\n\r\n") {
                    let end = from + p + 4;
                    head_end = Some(end);
                    let len = header_value(&self.buf[..end], "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .ok_or_else(|| {
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "answer without Content-Length",
                            )
                        })?;
                    want = end + len;
                    if self.buf.len() < want {
                        self.buf.resize(want, 0);
                    }
                }
            }
            if filled >= want {
                let end = head_end.expect("head parsed");
                let status = std::str::from_utf8(self.buf.get(9..12).unwrap_or(b""))
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return Ok(HttpAnswer {
                    status,
                    head: 0..end,
                    body: end..want,
                });
            }
        }
    }

    /// A header of the last answer.
    pub fn header(&self, answer: &HttpAnswer, name: &str) -> Option<&str> {
        header_value(&self.buf[answer.head.clone()], name)
    }
}

pub fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (case-insensitive) in a response or part head.
pub fn header_value<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// ---------------------------------------------------------------------------------------
// Another process's CPU use, and the file system a path is on
// ---------------------------------------------------------------------------------------

/// CPU time (user + system) process `pid` has used so far; zero once it is gone.
pub fn pid_cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// On-CPU and run-queue wait time of every thread of `pid`, by thread id: (name, run, wait).
pub fn pid_threads(pid: u32) -> HashMap<u32, (String, Duration, Duration)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
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
        let run = Duration::from_nanos(f.next().unwrap_or(0));
        let wait = Duration::from_nanos(f.next().unwrap_or(0));
        out.insert(tid, (comm.trim().to_string(), run, wait));
    }
    out
}

/// CPU and run-queue wait between two [`pid_threads`] snapshots, summed per thread name:
/// (name, threads, run, wait), most CPU first. Threads that ended in between are missing.
pub fn threads_by_name(
    start: &HashMap<u32, (String, Duration, Duration)>,
    end: &HashMap<u32, (String, Duration, Duration)>,
) -> Vec<(String, usize, Duration, Duration)> {
    let mut by_name: Vec<(String, usize, Duration, Duration)> = Vec::new();
    for (tid, (name, run, wait)) in end {
        let (r0, w0) = start
            .get(tid)
            .map_or((Duration::ZERO, Duration::ZERO), |(_, r, w)| (*r, *w));
        let run = run.saturating_sub(r0);
        let wait = wait.saturating_sub(w0);
        match by_name.iter_mut().find(|c| &c.0 == name) {
            Some(c) => {
                c.1 += 1;
                c.2 += run;
                c.3 += wait;
            }
            None => by_name.push((name.clone(), 1, run, wait)),
        }
    }
    by_name.sort_by_key(|c| std::cmp::Reverse(c.2));
    by_name
}

/// (mount point, file system type, device) of the mount holding `path`.
pub fn mount_of(path: &std::path::Path) -> (String, String, String) {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best: Option<(String, String, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [device, point, fstype, ..] = f[..] else {
            continue;
        };
        if path.starts_with(point) && best.as_ref().is_none_or(|b| point.len() >= b.0.len()) {
            best = Some((point.to_string(), fstype.to_string(), device.to_string()));
        }
    }
    best.unwrap_or_else(|| ("?".into(), "?".into(), "?".into()))
}

/// Kernel receive timestamps (SO_TIMESTAMPNS) through the C library std already links:
/// they tell when an answer's bytes reached the client socket, before the client thread
/// was scheduled to read them.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub mod rxstamp {
    use std::ffi::c_void;
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    const SOL_SOCKET: i32 = 1;
    /// SO_TIMESTAMPNS(_OLD) = SCM_TIMESTAMPNS on x86_64 and aarch64.
    const SO_TIMESTAMPNS: i32 = 35;

    #[repr(C)]
    struct IoVec {
        base: *mut c_void,
        len: usize,
    }

    #[repr(C)]
    struct MsgHdr {
        name: *mut c_void,
        namelen: u32,
        iov: *mut IoVec,
        iovlen: usize,
        control: *mut c_void,
        controllen: usize,
        flags: i32,
    }

    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const c_void, len: u32) -> i32;
        fn recvmsg(fd: i32, msg: *mut MsgHdr, flags: i32) -> isize;
    }

    pub fn enable(stream: &TcpStream) -> bool {
        let one: i32 = 1;
        // SAFETY: a valid socket and a 4-byte int option.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_TIMESTAMPNS,
                (&one as *const i32).cast(),
                4,
            ) == 0
        }
    }

    /// `read`, plus the kernel receive time (ns since the epoch) of the data read.
    pub fn read(stream: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
        let mut iov = IoVec {
            base: buf.as_mut_ptr().cast(),
            len: buf.len(),
        };
        let mut control = [0u64; 16];
        let mut msg = MsgHdr {
            name: std::ptr::null_mut(),
            namelen: 0,
            iov: &mut iov,
            iovlen: 1,
            control: control.as_mut_ptr().cast(),
            controllen: std::mem::size_of_val(&control),
            flags: 0,
        };
        // SAFETY: every pointer in `msg` points to live buffers of the stated sizes.
        let n = unsafe { recvmsg(stream.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let bytes: Vec<u8> = control.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let mut at = 0usize;
        let mut ts = None;
        // cmsghdr: len (usize), level (i32), type (i32), then data aligned to 8 bytes.
        while at + 16 <= msg.controllen.min(bytes.len()) {
            let word = |o: usize| u64::from_ne_bytes(bytes[o..o + 8].try_into().unwrap());
            let half = |o: usize| i32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
            let len = word(at) as usize;
            if len < 16 {
                break;
            }
            if half(at + 8) == SOL_SOCKET && half(at + 12) == SO_TIMESTAMPNS && len >= 32 {
                ts = Some(word(at + 16) * 1_000_000_000 + word(at + 24));
            }
            at += (len + 7) & !7;
        }
        Ok((n as usize, ts))
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub mod rxstamp {
    use std::io;
    use std::net::TcpStream;

    pub fn enable(_: &TcpStream) -> bool {
        false
    }

    pub fn read(_: &TcpStream, _: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
        unreachable!("timestamps are never enabled here")
    }
}

/// (prefix, msn, part) of the EXT-X-PRELOAD-HINT, e.g. `URI="3fa9c2d1-18.1.m4s"`.
pub fn preload_hint(playlist: &str) -> Option<(String, u64, u32)> {
    let line = playlist
        .lines()
        .rev()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))?;
    let uri = line.split("URI=\"").nth(1)?.split('"').next()?;
    let (prefix, rest) = uri.split_once('-')?;
    let (msn, part) = rest.strip_suffix(".m4s")?.split_once('.')?;
    Some((prefix.to_string(), msn.parse().ok()?, part.parse().ok()?))
}
