//! Segment publication latency over real TCP on 127.0.0.1.
//!
//!     cargo bench --bench segment_latency [-- --clients 100 --seconds 10 \
//!         --client-nice 19 --server picamd|threads|ideal \
//!         --phase2-clients 10 --phase2-seconds 10 --skip-phase1 --skip-phase2]
//!
//! Phase 1 — part publication → blocked playlist reload answered, with N blocked clients.
//! The picamd HTTP server runs in-process (the real `HttpServer` + `Api`), without a camera:
//! a feeder thread drives a `Segmenter` at 30 fps with synthetic 720p access units and
//! publishes with `preview::publish`, exactly like the muxer thread. For every part it
//! records the `Instant` (and wall clock) right before the push of the part's last frame.
//! Each client keeps one keep-alive HTTP/1.1 connection (hand-written client) and loops on
//! `index.m3u8?_HLS_msn=M&_HLS_part=P` for the part after the one it last saw (from the
//! PRELOAD-HINT). latency = answer fully read − publication instant of the awaited part; a
//! second figure uses the kernel receive timestamp of the answer's last bytes
//! (SO_TIMESTAMPNS), which leaves out the time the client thread waited for a CPU.
//! Answers to requests sent after that part was published (the client was not parked) are
//! counted as "late" and kept out of the latency figures. Client threads run at nice 19 by
//! default so that, on a small machine, their own CPU use does not slow the server down.
//! Per-thread-group CPU and run-queue wait (/proc/self/task/*/schedstat) show where the
//! time goes. `--server threads` runs picamd's server with the responder off
//! (`--max-parked 0`: every parked request waits in its connection's thread on the store's
//! condition variable, as before the responder). `--server ideal` swaps picamd's HTTP server for a one-thread control server
//! (same store, same clients) that shows the floor set by the machine and the bench.
//!
//! Phase 2 — frame-to-client latency from the capture-time SEI, with the real pipeline
//! (test camera → OpenH264 → muxer) on a second in-process server: clients do blocking
//! reloads and fetch every new part by URI; the SEI of each sample in the part's `mdat`
//! gives the capture time of its first and last frame.
//!
//! Target (design.md): phase 1 p99 ≤ 2 ms with 100 blocked clients.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{bench_keys, hex, preload_hint, rxstamp, Summary};
use picamd::internal::api::Api;
use picamd::internal::clock;
use picamd::internal::config::Config;
use picamd::internal::http::{HttpServer, Limits};
use picamd::internal::media::h264;
use picamd::internal::media::llhls::{Segmenter, SegmenterConfig, SegmenterEvent};
use picamd::internal::media::AccessUnit;
use picamd::internal::runtime::Runtime;

const PLAYLIST: &str = "/preview/hls/cam-preview/index.m3u8";
const PARTS: &str = "/preview/hls/cam-preview/";
const TARGET_P99_MS: f64 = 2.0;

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client
// ---------------------------------------------------------------------------------------

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    req: Vec<u8>,
    /// The kernel stamps received data (SO_TIMESTAMPNS).
    stamped: bool,
    /// Kernel receive time of the last bytes of the last answer, ns since the epoch.
    last_rx_ns: Option<u64>,
}

impl Conn {
    fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let stamped = rxstamp::enable(&stream);
        Ok(Conn {
            stream,
            buf: vec![0; 64 * 1024],
            req: Vec::with_capacity(256),
            stamped,
            last_rx_ns: None,
        })
    }

    fn read_some(&mut self, from: usize) -> io::Result<usize> {
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

    /// Sends one GET and reads the whole answer; returns the status and where the body is
    /// in `self.buf`. Requests are written in one `write` call.
    fn get(&mut self, path: &str) -> io::Result<(u16, Range<usize>)> {
        self.req.clear();
        self.req.extend_from_slice(b"GET ");
        self.req.extend_from_slice(path.as_bytes());
        self.req
            .extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream.write_all(&self.req)?;
        self.last_rx_ns = None;
        let mut filled = 0usize;
        let mut header_end = None;
        let mut want = usize::MAX;
        loop {
            if filled == self.buf.len() {
                let grow = self.buf.len();
                self.buf.resize(grow * 2, 0);
            }
            let n = match self.read_some(filled) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            let from = filled.saturating_sub(3);
            filled += n;
            if header_end.is_none() {
                if let Some(p) = find(&self.buf[from..filled], b"\r\n\r\n") {
                    let end = from + p + 4;
                    header_end = Some(end);
                    let len = content_length(&self.buf[..end]).ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "no Content-Length")
                    })?;
                    want = end + len;
                    if self.buf.len() < want {
                        self.buf.resize(want, 0);
                    }
                }
            }
            if filled >= want {
                let end = header_end.expect("headers parsed");
                let status = std::str::from_utf8(&self.buf[9..12])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return Ok((status, end..want));
            }
        }
    }
}

/// Opens a client connection and reads the live playlist's preload hint. A connection the
/// server never serves (no answer within `first_timeout`) is counted in `stalled` and
/// replaced, up to five times.
fn open(
    addr: SocketAddr,
    first_timeout: Duration,
    stalled: &AtomicUsize,
) -> io::Result<(Conn, String, u64, u32)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut conn = Conn::connect(addr, first_timeout)?;
        match conn.get(PLAYLIST) {
            Ok((200, body)) => {
                let text = std::str::from_utf8(&conn.buf[body]).unwrap_or("");
                let (prefix, msn, part) =
                    preload_hint(text).ok_or_else(|| io::Error::other("no preload hint"))?;
                conn.stream
                    .set_read_timeout(Some(Duration::from_secs(10)))?;
                return Ok((conn, prefix, msn, part));
            }
            Ok((status, _)) => {
                return Err(io::Error::other(format!("first playlist: HTTP {status}")))
            }
            Err(e)
                if attempt < 5
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
            {
                stalled.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// Whether the playlist lists part (msn, part) as an EXT-X-PART.
fn lists_part(playlist: &str, prefix: &str, msn: u64, part: u32) -> bool {
    let uri = format!("URI=\"{prefix}-{msn}.{part}.m4s\"");
    playlist
        .lines()
        .any(|l| l.starts_with("#EXT-X-PART:") && l.contains(&uri))
}

// ---------------------------------------------------------------------------------------
// Server set-up
// ---------------------------------------------------------------------------------------

fn start_server(extra: &[&str], park: bool) -> (Arc<Runtime>, SocketAddr) {
    let mut args: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let config = Config::from_sources(&args, &HashMap::new(), &HashMap::new()).expect("config");
    let keys = bench_keys(&config);
    let rt = Runtime::new(config, keys).expect("runtime");
    let mut limits = Limits::new(4096);
    limits.max_parked = if park { 4096 } else { 0 };
    let server = HttpServer::start_with(
        "127.0.0.1:0".parse().unwrap(),
        limits,
        Arc::new(Api::new(Arc::clone(&rt))),
    )
    .expect("start the HTTP server");
    let addr = server.local_addr();
    // The connection threads keep serving; the handle only joins the acceptor.
    std::mem::forget(server);
    (rt, addr)
}

/// A control, not picamd's HTTP server (`--server ideal`): one thread owns every
/// connection, reads each client's next request, waits in the same `HlsStore` for the part
/// they ask for and writes one pre-rendered answer (headers + playlist, one `write` per
/// client). What it measures is the floor set by the bench clients, the kernel and this
/// machine, for comparison with the real server.
fn start_ideal_server() -> (Arc<Runtime>, SocketAddr) {
    let args: Vec<String> = vec!["--listen".into(), "127.0.0.1:0".into()];
    let config = Config::from_sources(&args, &HashMap::new(), &HashMap::new()).expect("config");
    let keys = bench_keys(&config);
    let rt = Runtime::new(config, keys).expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (tx, rx) = crossbeam_channel::unbounded::<TcpStream>();
    thread::Builder::new()
        .name("ideal-accept".into())
        .spawn(move || {
            for s in listener.incoming().flatten() {
                let _ = s.set_nodelay(true);
                if tx.send(s).is_err() {
                    break;
                }
            }
        })
        .expect("accept thread");
    let store = Arc::clone(&rt);
    thread::Builder::new()
        .name("ideal-server".into())
        .spawn(move || {
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                if conns.is_empty() {
                    match rx.recv() {
                        Ok(s) => conns.push(s),
                        Err(_) => return,
                    }
                }
                conns.extend(rx.try_iter());
                // Every client's next request (they send it right after their answer).
                let mut wanted: Vec<(usize, String)> = Vec::with_capacity(conns.len());
                for (i, c) in conns.iter_mut().enumerate() {
                    let mut filled = 0;
                    let ok = loop {
                        match c.read(&mut buf[filled..]) {
                            Ok(0) | Err(_) => break false,
                            Ok(n) => filled += n,
                        }
                        if buf[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                            break true;
                        }
                        if filled == buf.len() {
                            break false;
                        }
                    };
                    if ok {
                        let line = String::from_utf8_lossy(&buf[..filled]);
                        let path = line.split(' ').nth(1).unwrap_or("").to_string();
                        wanted.push((i, path));
                    }
                }
                let mut alive = vec![false; conns.len()];
                for &(i, _) in &wanted {
                    alive[i] = true;
                }
                // Answer each distinct request once the store has what it asks for.
                let mut done = vec![false; wanted.len()];
                for a in 0..wanted.len() {
                    if done[a] {
                        continue;
                    }
                    let query = wanted[a].1.split_once('?').map_or("", |(_, q)| q);
                    let d = picamd::internal::media::llhls::Directives::parse(query)
                        .unwrap_or_default();
                    let body = store
                        .media
                        .hls
                        .playlist(&d)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\n\
                         Cache-Control: no-cache\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend_from_slice(body.as_bytes());
                    for b in a..wanted.len() {
                        if !done[b] && wanted[b].1 == wanted[a].1 {
                            done[b] = true;
                            if conns[wanted[b].0].write_all(&answer).is_err() {
                                alive[wanted[b].0] = false;
                            }
                        }
                    }
                }
                let mut i = 0;
                conns.retain(|_| {
                    i += 1;
                    alive[i - 1]
                });
            }
        })
        .expect("ideal server thread");
    (rt, addr)
}

// ---------------------------------------------------------------------------------------
// Phase 1
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Published {
    key: (u64, u32),
    /// Right before the push of the part's last frame.
    at: Instant,
    /// The same moment on the wall clock, ns since the epoch (for kernel timestamps).
    at_wall_ns: u64,
    push: Duration,
    publish: Duration,
    /// Requests parked in the store right before that push.
    parked: usize,
    /// Feeder thread on CPU / waiting for a CPU during push + publish.
    feeder_run: Duration,
    feeder_wait: Duration,
}

struct Answer {
    awaited: (u64, u32),
    sent: Instant,
    received: Instant,
    /// Kernel receive time of the answer's last bytes, ns since the epoch.
    rx_ns: Option<u64>,
    status: u16,
    present: bool,
}

struct Phase1 {
    published: Vec<Published>,
    answers: Vec<Vec<Answer>>,
    measure: (Instant, Instant),
    errors: usize,
    /// Clients that got their first playlist and entered the loop before measuring.
    ready: usize,
    /// Connections the server accepted but never served (replaced by a new one).
    stalled: usize,
    tasks: (common::TaskTimes, common::TaskTimes),
    /// Machine-wide (busy, steal, total) ticks at the window's start and end.
    system: ((u64, u64, u64), (u64, u64, u64)),
}

fn phase1(clients: usize, seconds: f64, ideal: bool, park: bool, client_nice: i32) -> Phase1 {
    let (rt, addr) = if ideal {
        start_ideal_server()
    } else {
        start_server(&[], park)
    };
    let cfg = SegmenterConfig {
        frame_duration: rt.config.frame_ticks(),
        part_frames: rt.config.part_frames(),
        segment_frames: rt.config.segment_frames(),
    };
    assert_eq!(
        (cfg.frame_duration, cfg.part_frames, cfg.segment_frames),
        (3000, 6, 30)
    );
    let sps = hex(common::SPS_720P);
    let pps = hex(common::PPS_720P);
    let templates = common::templates(30, 30, &sps, &pps, 60_000, 15_000, 0x720);

    let feeding = Arc::new(AtomicBool::new(true));
    let feeder = {
        let rt = Arc::clone(&rt);
        let feeding = Arc::clone(&feeding);
        thread::Builder::new()
            .name("feeder".into())
            .spawn(move || {
                let sink = rt.media.muxer_sink(rt.config.hls_segments);
                let mut seg = Segmenter::new(cfg);
                let mut events = Vec::new();
                let mut published = Vec::new();
                let period = Duration::from_nanos(1_000_000_000 / 30);
                let start = Instant::now();
                let mut n: u64 = 0;
                while feeding.load(Ordering::Relaxed) {
                    let due = start + period * n as u32;
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                    let t = &templates[(n % 30) as usize];
                    let capture = clock::unix_us();
                    let dts = n * u64::from(cfg.frame_duration);
                    let au = Arc::new(AccessUnit {
                        data: t.build(capture),
                        keyframe: t.keyframe,
                        dts,
                        pts: dts,
                        capture_unix_us: capture,
                    });
                    let parked = rt.media.hls.blocked_requests();
                    let s0 = common::thread_schedstat();
                    let wall = common::wall_ns();
                    let t0 = Instant::now();
                    seg.push(au, &mut events);
                    let t1 = Instant::now();
                    let part = events
                        .iter()
                        .any(|e| matches!(e, SegmenterEvent::Part { .. }));
                    picamd::internal::preview::publish(&sink, &seg, &mut events);
                    let t2 = Instant::now();
                    if part {
                        let s1 = common::thread_schedstat();
                        let key = rt
                            .media
                            .hls
                            .inspect(|tl| tl.last_part())
                            .flatten()
                            .expect("a part");
                        published.push(Published {
                            key,
                            at: t0,
                            at_wall_ns: wall,
                            push: t1 - t0,
                            publish: t2 - t1,
                            parked,
                            feeder_run: Duration::from_nanos(s1.0.saturating_sub(s0.0)),
                            feeder_wait: Duration::from_nanos(s1.1.saturating_sub(s0.1)),
                        });
                    }
                    n += 1;
                }
                published
            })
            .expect("feeder thread")
    };

    // Clients connect once the stream is playable (the plain playlist waits for that).
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let stalled = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let errors = Arc::clone(&errors);
            let ready = Arc::clone(&ready);
            let stalled = Arc::clone(&stalled);
            thread::Builder::new()
                .name(format!("client-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    if client_nice != 0 {
                        common::set_thread_nice(client_nice);
                    }
                    let mut answers = Vec::with_capacity(1024);
                    let mut run = || -> io::Result<()> {
                        let (mut conn, prefix, mut msn, mut part) =
                            open(addr, Duration::from_secs(4), &stalled)?;
                        ready.fetch_add(1, Ordering::Relaxed);
                        let mut path = String::with_capacity(128);
                        while !stop.load(Ordering::Relaxed) {
                            path.clear();
                            use std::fmt::Write as _;
                            let _ = write!(path, "{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}");
                            let sent = Instant::now();
                            let (status, body) = conn.get(&path)?;
                            let received = Instant::now();
                            let text = std::str::from_utf8(&conn.buf[body]).unwrap_or("");
                            let present = status == 200 && lists_part(text, &prefix, msn, part);
                            answers.push(Answer {
                                awaited: (msn, part),
                                sent,
                                received,
                                rx_ns: conn.last_rx_ns,
                                status,
                                present,
                            });
                            if status == 200 {
                                if let Some((_, m, p)) = preload_hint(text) {
                                    (msn, part) = (m, p);
                                }
                            } else {
                                thread::sleep(Duration::from_millis(50));
                            }
                        }
                        Ok(())
                    };
                    if let Err(e) = run() {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("client {i}: {e}");
                        }
                    }
                    answers
                })
                .expect("client thread")
        })
        .collect();
    // Every client connected and in its loop (or failed), then one second to settle.
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready.load(Ordering::Relaxed) + errors.load(Ordering::Relaxed) < clients
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(10));
    }
    let ready = ready.load(Ordering::Relaxed);
    thread::sleep(Duration::from_secs(1));
    let measure_start = Instant::now();
    let tasks_start = common::TaskTimes::now();
    let sys_start = common::system_cpu_ticks();
    thread::sleep(Duration::from_secs_f64(seconds));
    let measure_end = Instant::now();
    let sys_end = common::system_cpu_ticks();
    let tasks_end = common::TaskTimes::now();
    stop.store(true, Ordering::Relaxed);
    let answers: Vec<Vec<Answer>> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_default())
        .collect();
    feeding.store(false, Ordering::Relaxed);
    let published = feeder.join().expect("feeder");
    Phase1 {
        published,
        answers,
        measure: (measure_start, measure_end),
        errors: errors.load(Ordering::Relaxed),
        ready,
        stalled: stalled.load(Ordering::Relaxed),
        system: (sys_start, sys_end),
        tasks: (tasks_start, tasks_end),
    }
}

// ---------------------------------------------------------------------------------------
// Phase 2
// ---------------------------------------------------------------------------------------

/// Capture times (µs since the epoch) of every sample with a picamd SEI in an fMP4 part.
fn part_capture_times(part: &[u8], out: &mut Vec<u64>, scratch: &mut Vec<u8>) {
    out.clear();
    // Top-level boxes: find mdat.
    let mut pos = 0usize;
    let mut mdat = None;
    while pos + 8 <= part.len() {
        let size = u32::from_be_bytes(part[pos..pos + 4].try_into().unwrap()) as usize;
        if size == 1 && pos + 16 > part.len() {
            return;
        }
        let (header, size) = if size == 1 {
            (
                16,
                u64::from_be_bytes(part[pos + 8..pos + 16].try_into().unwrap()) as usize,
            )
        } else {
            (8, size)
        };
        if size < header || pos + size > part.len() {
            return;
        }
        if &part[pos + 4..pos + 8] == b"mdat" {
            mdat = Some(&part[pos + header..pos + size]);
            break;
        }
        pos += size;
    }
    let Some(mdat) = mdat else { return };
    // Length-prefixed NAL units; an SEI (type 6) is wrapped with a start code for the parser.
    let mut at = 0usize;
    while at + 4 <= mdat.len() {
        let len = u32::from_be_bytes(mdat[at..at + 4].try_into().unwrap()) as usize;
        let Some(nal) = mdat.get(at + 4..at + 4 + len) else {
            return;
        };
        if h264::nal_type(nal) == Some(h264::NAL_SEI) {
            scratch.clear();
            scratch.extend_from_slice(&[0, 0, 0, 1]);
            scratch.extend_from_slice(nal);
            if let Some(ts) = h264::find_timestamp_sei(scratch) {
                out.push(ts);
            }
        }
        at += 4 + len;
    }
}

struct PartSample {
    /// Part bytes fully received − capture of the part's first / last frame, µs.
    first_us: i64,
    last_us: i64,
    /// Blocking reload answered − capture of the last frame, µs.
    reload_us: i64,
    /// Part bytes reached the socket (kernel timestamp) − capture of the last frame, µs.
    kernel_last_us: Option<i64>,
    frames: usize,
    bytes: usize,
}

struct Phase2 {
    samples: Vec<PartSample>,
    missed: usize,
    bad: usize,
    errors: usize,
    stalled: usize,
    stats: (u64, u64, u64, u64, u64),
}

fn phase2(clients: usize, seconds: f64, park: bool) -> Phase2 {
    let (rt, addr) = start_server(&["--source", "test"], park);
    let pipeline = picamd::internal::pipeline::Pipeline::start(&rt.config, &rt.media)
        .expect("start the pipeline");
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let stalled = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let stop = Arc::clone(&stop);
            let errors = Arc::clone(&errors);
            let started = Arc::clone(&started);
            let stalled = Arc::clone(&stalled);
            thread::Builder::new()
                .name(format!("viewer-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut samples = Vec::new();
                    let (mut missed, mut bad) = (0usize, 0usize);
                    let mut run = || -> io::Result<()> {
                        let (mut conn, prefix, mut msn, mut part) =
                            open(addr, Duration::from_secs(8), &stalled)?;
                        started.fetch_add(1, Ordering::Relaxed);
                        let (mut times, mut scratch) = (Vec::new(), Vec::new());
                        while !stop.load(Ordering::Relaxed) {
                            let path = format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}");
                            let (status, body) = conn.get(&path)?;
                            let reload_at = clock::unix_us();
                            if status != 200 {
                                bad += 1;
                                thread::sleep(Duration::from_millis(50));
                                continue;
                            }
                            let text = std::str::from_utf8(&conn.buf[body])
                                .unwrap_or("")
                                .to_string();
                            let next = preload_hint(&text);
                            if lists_part(&text, &prefix, msn, part) {
                                let (status, body) =
                                    conn.get(&format!("{PARTS}{prefix}-{msn}.{part}.m4s"))?;
                                let arrived = clock::unix_us();
                                let rx_us = conn.last_rx_ns.map(|ns| (ns / 1000) as i64);
                                if status == 200 {
                                    part_capture_times(
                                        &conn.buf[body.clone()],
                                        &mut times,
                                        &mut scratch,
                                    );
                                    if let (Some(&first), Some(&last)) =
                                        (times.first(), times.last())
                                    {
                                        samples.push(PartSample {
                                            first_us: arrived as i64 - first as i64,
                                            last_us: arrived as i64 - last as i64,
                                            reload_us: reload_at as i64 - last as i64,
                                            kernel_last_us: rx_us.map(|rx| rx - last as i64),
                                            frames: times.len(),
                                            bytes: body.len(),
                                        });
                                    } else {
                                        bad += 1;
                                    }
                                } else {
                                    bad += 1;
                                }
                            } else {
                                missed += 1;
                            }
                            if let Some((_, m, p)) = next {
                                (msn, part) = (m, p);
                            }
                        }
                        Ok(())
                    };
                    if let Err(e) = run() {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("viewer {i}: {e}");
                        }
                    }
                    (samples, missed, bad)
                })
                .expect("viewer thread")
        })
        .collect();
    // Wait for the stream to be playable and every viewer to be in its loop, settle, measure.
    let deadline = Instant::now() + Duration::from_secs(15);
    while started.load(Ordering::Relaxed) + errors.load(Ordering::Relaxed) < clients
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut out = Phase2 {
        samples: Vec::new(),
        missed: 0,
        bad: 0,
        errors: 0,
        stalled: 0,
        stats: (0, 0, 0, 0, 0),
    };
    for h in handles {
        if let Ok((s, m, b)) = h.join() {
            out.samples.extend(s);
            out.missed += m;
            out.bad += b;
        }
    }
    out.errors = errors.load(Ordering::Relaxed);
    out.stalled = stalled.load(Ordering::Relaxed);
    let s = &rt.media.stats;
    out.stats = (
        s.frames_captured.load(Ordering::Relaxed),
        s.encoder.frames_encoded.load(Ordering::Relaxed),
        s.frames_dropped.load(Ordering::Relaxed),
        s.units_dropped.load(Ordering::Relaxed),
        s.muxer.parts_published.load(Ordering::Relaxed),
    );
    // Not `pipeline.stop()`: the muxer thread ends only when the access-unit fan-out closes,
    // and that lives in the runtime's MediaState as long as the process; joining it hung.
    std::mem::forget(pipeline);
    out
}

/// Prints the phase-1 tables; returns the phase-1 fields of the JSON summary.
fn report_phase1(
    p1: &Phase1,
    clients: usize,
    seconds: f64,
    p1_cpu: Duration,
    p1_wall: Duration,
) -> serde_json::Value {
    let (from, to) = p1.measure;
    let by_key: HashMap<(u64, u32), &Published> = p1.published.iter().map(|p| (p.key, p)).collect();
    let in_window: Vec<&Published> = p1
        .published
        .iter()
        .filter(|p| p.at >= from && p.at < to)
        .collect();
    let window_keys: HashSet<(u64, u32)> = in_window.iter().map(|p| p.key).collect();
    let mut latencies = Vec::new();
    let mut kernel_latencies = Vec::new();
    let mut per_part_first: HashMap<(u64, u32), f64> = HashMap::new();
    let mut per_part_last: HashMap<(u64, u32), f64> = HashMap::new();
    let (mut late, mut missed, mut non_200, mut answered) = (0usize, 0usize, 0usize, 0usize);
    let mut not_seen = 0usize;
    let mut clients_answering = 0usize;
    for client in &p1.answers {
        if client.is_empty() {
            continue;
        }
        clients_answering += 1;
        let mut seen = HashSet::new();
        for a in client {
            let Some(p) = by_key.get(&a.awaited) else {
                if a.status != 200 {
                    non_200 += 1;
                }
                continue;
            };
            if !window_keys.contains(&a.awaited) {
                continue;
            }
            answered += 1;
            if a.status != 200 {
                non_200 += 1;
                continue;
            }
            if !a.present {
                missed += 1;
                continue;
            }
            seen.insert(a.awaited);
            if a.sent >= p.at {
                late += 1;
                continue;
            }
            let ms = a.received.saturating_duration_since(p.at).as_secs_f64() * 1e3;
            latencies.push(ms);
            if let Some(rx) = a.rx_ns {
                kernel_latencies.push(rx as f64 / 1e6 - p.at_wall_ns as f64 / 1e6);
            }
            let f = per_part_first.entry(a.awaited).or_insert(f64::MAX);
            *f = f.min(ms);
            let l = per_part_last.entry(a.awaited).or_insert(0.0);
            *l = l.max(ms);
        }
        not_seen += window_keys.iter().filter(|k| !seen.contains(k)).count();
    }
    let lat = Summary::of_ms(&mut latencies);
    let kernel = Summary::of_ms(&mut kernel_latencies);
    let first = Summary::of_ms(&mut per_part_first.values().copied().collect::<Vec<_>>());
    let last = Summary::of_ms(&mut per_part_last.values().copied().collect::<Vec<_>>());
    let push = Summary::of_durations(&in_window.iter().map(|p| p.push).collect::<Vec<_>>());
    let publish = Summary::of_durations(&in_window.iter().map(|p| p.publish).collect::<Vec<_>>());
    let feeder_run =
        Summary::of_durations(&in_window.iter().map(|p| p.feeder_run).collect::<Vec<_>>());
    let feeder_wait =
        Summary::of_durations(&in_window.iter().map(|p| p.feeder_wait).collect::<Vec<_>>());
    let parked_min = in_window.iter().map(|p| p.parked).min().unwrap_or(0);
    let parked_mean =
        in_window.iter().map(|p| p.parked).sum::<usize>() as f64 / in_window.len().max(1) as f64;

    println!();
    println!("phase 1: publication → blocked reload answered ({clients} clients, {} parts published in the {seconds} s window)", in_window.len());
    println!("{}", Summary::header());
    println!(
        "{}",
        lat.row("all answers (last frame pushed → answer read)")
    );
    println!(
        "{}",
        kernel.row("  same, until the bytes reached the socket ¹")
    );
    println!("{}", first.row("  first client answered, per part"));
    println!("{}", last.row("  last client answered, per part"));
    println!("{}", push.row("  of which Segmenter::push (feeder)"));
    println!("{}", publish.row("  of which preview::publish (feeder)"));
    println!(
        "{}",
        feeder_run.row("  feeder on CPU during push + publish")
    );
    println!(
        "{}",
        feeder_wait.row("  feeder runnable, waiting for a CPU")
    );
    println!(
        "answers {answered}, late (client not parked) {late}, missed (awaited part absent) {missed}, non-200 {non_200}, client errors {}; clients in their loop when measuring started: {}/{clients}",
        p1.errors, p1.ready
    );
    println!(
        "parts in window never seen by a client: {not_seen} (of {} client×part pairs); requests parked before each publication: min {parked_min}, mean {parked_mean:.1}",
        in_window.len() * clients_answering
    );
    println!(
        "process CPU during phase 1: {:.1} s over {:.1} s wall ({:.0}% of one core)",
        p1_cpu.as_secs_f64(),
        p1_wall.as_secs_f64(),
        p1_cpu.as_secs_f64() / p1_wall.as_secs_f64() * 100.0
    );
    let parts_n = in_window.len().max(1) as f64;
    let window_s = (to - from).as_secs_f64();
    println!("¹ kernel receive timestamp (SO_TIMESTAMPNS) of the answer's last bytes vs the wall clock at");
    println!("  publication: excludes the time the bench's client thread waited to be scheduled.");
    println!(
        "connections accepted but never served by the server (replaced after 4 s): {}",
        p1.stalled
    );
    println!("CPU in the window by thread group (run-queue wait = runnable but no CPU free):");
    println!(
        "  {:<46} {:>7} {:>12} {:>12} {:>8}",
        "", "threads", "CPU ms/part", "wait ms/part", "% of 1 CPU"
    );
    let breakdown = common::TaskTimes::breakdown(&p1.tasks.0, &p1.tasks.1, |name, main| {
        if main {
            "bench: main thread"
        } else if name.starts_with("client-") {
            "bench: client threads (HTTP clients)"
        } else if name.starts_with("ideal-") {
            "control: --server ideal threads"
        } else if name == "feeder" {
            "bench: feeder (Segmenter + preview::publish)"
        } else if name == "http-conn" {
            "server: connection threads (http-conn)"
        } else if name == "http-responder" {
            "server: responder thread (http-responder)"
        } else {
            "server: other threads (accept, muxer, encoder)"
        }
    });
    let mut cpu_json = serde_json::Map::new();
    for (cat, threads, run, wait) in &breakdown {
        println!(
            "  {cat:<46} {threads:>7} {:>12.3} {:>12.3} {:>8.1}",
            run.as_secs_f64() * 1e3 / parts_n,
            wait.as_secs_f64() * 1e3 / parts_n,
            run.as_secs_f64() / window_s * 100.0
        );
        cpu_json.insert(
            cat.to_string(),
            serde_json::json!({
                "cpu_ms_per_part": (run.as_secs_f64() * 1e6 / parts_n).round() / 1e3,
                "wait_ms_per_part": (wait.as_secs_f64() * 1e6 / parts_n).round() / 1e3,
            }),
        );
    }
    let ((b0, s0, t0), (b1, s1, t1)) = p1.system;
    let total_ticks = (t1 - t0).max(1) as f64;
    let ours_ticks = (p1
        .tasks
        .1
        .process_cpu
        .saturating_sub(p1.tasks.0.process_cpu))
    .as_secs_f64()
        * 100.0;
    let machine_busy = (b1 - b0) as f64 / total_ticks * 100.0;
    let other_busy = ((b1 - b0) as f64 - ours_ticks).max(0.0) / total_ticks * 100.0;
    let steal = (s1 - s0) as f64 / total_ticks * 100.0;
    println!(
        "machine during the window: {machine_busy:.0}% of all CPUs busy, of which other processes {other_busy:.0}%; hypervisor steal {steal:.1}%"
    );
    let pass = lat.p99 <= TARGET_P99_MS && missed == 0 && lat.count > 0;
    println!(
        "target p99 ≤ {TARGET_P99_MS} ms with 100 clients: {} (p99 {:.3} ms, {clients} clients)",
        if pass { "PASS" } else { "FAIL" },
        lat.p99
    );

    serde_json::json!({
        "publication": lat.json(),
        "publication_kernel_rx": kernel.json(),
        "stalled_connections": p1.stalled,
        "publication_first_client": first.json(),
        "publication_last_client": last.json(),
        "segmenter_push": push.json(),
        "publish": publish.json(),
        "feeder_wait_during_publish": feeder_wait.json(),
        "cpu_by_thread_group": cpu_json,
        "parts_published": in_window.len(),
        "answers": answered,
        "late": late,
        "missed": missed,
        "non_200": non_200,
        "not_seen": not_seen,
        "client_errors": p1.errors,
        "clients_ready": p1.ready,
        "parked_min": parked_min,
        "target_p99_ms": TARGET_P99_MS,
        "pass": pass,
        "machine_busy_pct": (machine_busy * 10.0).round() / 10.0,
        "other_processes_busy_pct": (other_busy * 10.0).round() / 10.0,
        "steal_pct": (steal * 10.0).round() / 10.0,
    })
}

// ---------------------------------------------------------------------------------------

fn main() {
    let clients: usize = common::arg("--clients", 100);
    let seconds: f64 = common::arg("--seconds", 10.0);
    let p2_clients: usize = common::arg("--phase2-clients", 10);
    let p2_seconds: f64 = common::arg("--phase2-seconds", seconds);
    let skip_phase1 = common::flag("--skip-phase1");
    let skip_phase2 = common::flag("--skip-phase2");
    let server: String = common::arg("--server", "picamd".to_string());
    let client_nice: i32 = common::arg("--client-nice", 19);
    let (ideal, park) = match server.as_str() {
        "picamd" => (false, true),
        "threads" => (false, false),
        "ideal" => (true, false),
        other => panic!("--server {other}: expected picamd, threads or ideal"),
    };
    let (load_before, cpus) = common::machine_load();
    println!("segment latency: {clients} blocked clients, {seconds} s, 720p30 synthetic parts of 6 frames");
    println!("phase-1 client threads run at nice {client_nice} (--client-nice 0: same priority as the server), so their own CPU use does not delay the server's answers");
    if ideal {
        println!("--server ideal: phase 1 runs against the bench's one-thread control server, NOT picamd's HTTP server");
    }
    println!("machine: {cpus} CPUs, load average {load_before:.2} before the run");

    // ---- phase 1
    let mut p1_json = serde_json::Value::Null;
    if !skip_phase1 {
        let wall = Instant::now();
        let cpu0 = common::process_cpu_time();
        let p1 = phase1(clients, seconds, ideal, park, client_nice);
        let p1_cpu = common::process_cpu_time() - cpu0;
        p1_json = report_phase1(&p1, clients, seconds, p1_cpu, wall.elapsed());
    }

    // ---- phase 2
    let mut p2_json = serde_json::Value::Null;
    if !skip_phase2 {
        let cpu1 = common::process_cpu_time();
        let wall = Instant::now();
        let p2 = phase2(p2_clients, p2_seconds, park);
        let p2_cpu = common::process_cpu_time() - cpu1;
        let ms = |f: &dyn Fn(&PartSample) -> i64| -> Summary {
            Summary::of_ms(
                &mut p2
                    .samples
                    .iter()
                    .map(|s| f(s) as f64 / 1e3)
                    .collect::<Vec<_>>(),
            )
        };
        let last = ms(&|s| s.last_us);
        let first = ms(&|s| s.first_us);
        let reload = ms(&|s| s.reload_us);
        let kernel_last = Summary::of_ms(
            &mut p2
                .samples
                .iter()
                .filter_map(|s| s.kernel_last_us.map(|v| v as f64 / 1e3))
                .collect::<Vec<_>>(),
        );
        let frames_mean = p2.samples.iter().map(|s| s.frames).sum::<usize>() as f64
            / p2.samples.len().max(1) as f64;
        let bytes_mean = p2.samples.iter().map(|s| s.bytes).sum::<usize>() as f64
            / p2.samples.len().max(1) as f64;
        let (captured, encoded, frames_dropped, units_dropped, parts) = p2.stats;
        println!();
        println!("phase 2: capture (SEI) → part bytes received, real pipeline 1280x720 30 fps, {p2_clients} viewers, {p2_seconds} s");
        println!("{}", Summary::header());
        println!("{}", last.row("last frame of the part → part received"));
        println!(
            "{}",
            kernel_last.row("  same, until the bytes reached the socket ¹")
        );
        println!("{}", first.row("first frame of the part → part received"));
        println!("{}", reload.row("last frame → blocking reload answered"));
        println!(
            "parts fetched {}, missed {}, bad answers {}, viewer errors {}, stalled connections {}; {frames_mean:.2} frames and {:.1} KB per part",
            p2.samples.len(),
            p2.missed,
            p2.bad,
            p2.errors,
            p2.stalled,
            bytes_mean / 1e3
        );
        println!(
            "pipeline: captured {captured}, encoded {encoded}, dropped before the encoder {frames_dropped}, before the muxer {units_dropped}, parts {parts}; process CPU {:.1} s over {:.1} s wall",
            p2_cpu.as_secs_f64(),
            wall.elapsed().as_secs_f64()
        );
        p2_json = serde_json::json!({
            "viewers": p2_clients,
            "seconds": p2_seconds,
            "capture_last_frame_to_part": last.json(),
            "capture_first_frame_to_part": first.json(),
            "capture_last_frame_to_reload": reload.json(),
            "capture_last_frame_to_part_kernel_rx": kernel_last.json(),
            "parts": p2.samples.len(),
            "missed": p2.missed,
            "bad": p2.bad,
            "errors": p2.errors,
            "stalled_connections": p2.stalled,
            "frames_captured": captured,
            "frames_encoded": encoded,
            "frames_dropped": frames_dropped,
            "units_dropped": units_dropped,
        });
    }
    let (load_after, _) = common::machine_load();
    println!();
    println!("load average after: {load_after:.2}");
    let mut json = serde_json::json!({
        "bench": "segment_latency",
        "server": server,
        "client_nice": client_nice,
        "clients": clients,
        "seconds": seconds,
        "phase2": p2_json,
        "cpus": cpus,
        "load_before": load_before,
        "load_after": load_after,
    });
    if let (Some(obj), serde_json::Value::Object(p1)) = (json.as_object_mut(), p1_json) {
        obj.extend(p1);
    }
    println!("{json}");
}
