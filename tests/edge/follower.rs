//! An LL-HLS follower: it asks for the part its playlist hints at (a blocking request), and
//! then for the playlist update that follows that part (a blocking reload), as hls.js and
//! AVPlayer do at the live edge. It notes when each part arrived, whole.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::plain_client::PlainClient;

const PLAYLIST: &str = "/preview/hls/cam-preview/index.m3u8";

/// When an answer arrived: as the follower's thread saw it, and as the kernel did when the
/// client can tell (plain HTTP: nanoseconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub at: Instant,
    pub kernel_ns: Option<u64>,
}

/// What one follower received: each part (msn, index) and when its last byte arrived.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub parts: Vec<((u64, u32), Arrival)>,
    /// Requests that failed (status or transport), each followed by a fresh plain reload.
    pub errors: Vec<String>,
}

/// How a follower asks for a path: a body when the status was 200, else why not.
pub trait Fetch: Send {
    fn fetch(&mut self, path: &str) -> Result<(Vec<u8>, Arrival), String>;
}

/// Plain HTTP on `127.0.0.1:<port>`, with kernel receive times.
pub struct Plain(pub PlainClient);

impl Fetch for Plain {
    fn fetch(&mut self, path: &str) -> Result<(Vec<u8>, Arrival), String> {
        let answer = self.0.get(path).map_err(|e| format!("{path}: {e}"))?;
        let at = Instant::now();
        if answer.status != 200 {
            return Err(format!("{path}: {}", answer.status));
        }
        let arrival = Arrival {
            at,
            kernel_ns: answer.received_ns,
        };
        Ok((answer.body, arrival))
    }
}

/// Any URL base (`https://localhost:<port>`) through an HTTP agent (TLS), thread time only.
pub struct Agent {
    pub agent: ureq::Agent,
    pub base: String,
}

impl Fetch for Agent {
    fn fetch(&mut self, path: &str) -> Result<(Vec<u8>, Arrival), String> {
        let url = format!("{}{path}", self.base);
        let body = get(&self.agent, &url)?;
        let arrival = Arrival {
            at: Instant::now(),
            kernel_ns: None,
        };
        Ok((body, arrival))
    }
}

/// `clients` followers for `duration`, started together, each with the client `fetch` makes
/// (its own keep-alive connection).
pub fn follow_many<F: Fetch + 'static>(
    clients: usize,
    duration: Duration,
    fetch: impl Fn() -> F,
) -> Vec<Trace> {
    let start = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let mut client = fetch();
            let start = Arc::clone(&start);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    // Viewers run elsewhere: here their threads yield the CPU to the edge
                    // and picamd, so that what is measured is the edge, not the test's load.
                    lower_priority();
                    start.wait();
                    follow(&mut client, Instant::now() + duration)
                })
                .expect("follower thread")
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("follower"))
        .collect()
}

/// Nice 19 for the calling thread (on Linux a thread's own); raising it needs no privilege.
fn lower_priority() {
    // SAFETY: setpriority reads its plain integer arguments only; gettid has no arguments.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

fn follow(client: &mut impl Fetch, until: Instant) -> Trace {
    let mut trace = Trace::default();
    let mut next: Option<(String, u64, u32)> = None;
    let text = |body: Vec<u8>| String::from_utf8_lossy(&body).into_owned();
    while Instant::now() < until {
        let (uri, msn, part) = match next.take() {
            Some(hint) => hint,
            None => match client.fetch(PLAYLIST) {
                Ok((body, _)) => preload_hint(&text(body)),
                Err(e) => {
                    trace.errors.push(e);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        match client.fetch(&format!("/preview/hls/cam-preview/{uri}")) {
            Ok((_, arrival)) => trace.parts.push(((msn, part), arrival)),
            Err(e) => {
                trace.errors.push(e);
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        let reload = format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}");
        match client.fetch(&reload) {
            Ok((body, _)) => next = Some(preload_hint(&text(body))),
            Err(e) => {
                trace.errors.push(e);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    trace
}

fn get(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))?;
    if status != 200 {
        return Err(format!("{url}: {status}"));
    }
    Ok(body)
}

/// The part URI and (msn, index) of the playlist's EXT-X-PRELOAD-HINT.
fn preload_hint(playlist: &str) -> (String, u64, u32) {
    let uri = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""))
        .map(|rest| rest.trim_end_matches('"').to_string())
        .expect("a preload hint");
    let stem = uri.rsplit_once('-').expect("<prefix>-<msn>.<part>.m4s").1;
    let (msn, part) = stem
        .trim_end_matches(".m4s")
        .split_once('.')
        .expect("<msn>.<part>");
    (
        uri.clone(),
        msn.parse().expect("msn"),
        part.parse().expect("part"),
    )
}

/// Proxied followers measured against a direct one that ran at the same time.
#[derive(Debug)]
pub struct Comparison {
    /// For each part both saw: when a proxied follower got it, minus when the direct one did.
    pub delays_ms: Vec<f64>,
    /// Parts the direct follower got, within a proxied follower's span, that it never got.
    pub missed: usize,
    /// Parts the proxied followers got in all.
    pub received: usize,
    pub errors: usize,
}

impl Comparison {
    /// The `q` quantile (0..=1) of the added delay, in ms.
    pub fn delay_quantile(&self, q: f64) -> f64 {
        let mut d = self.delays_ms.clone();
        d.sort_by(f64::total_cmp);
        if d.is_empty() {
            return f64::NAN;
        }
        d[((d.len() - 1) as f64 * q).round() as usize]
    }
}

/// How much later `b` arrived than `a`, in ms: by the kernel's clock when both have it.
fn later_ms(a: &Arrival, b: &Arrival) -> f64 {
    if let (Some(a), Some(b)) = (a.kernel_ns, b.kernel_ns) {
        return (b as f64 - a as f64) / 1e6;
    }
    if b.at >= a.at {
        b.at.duration_since(a.at).as_secs_f64() * 1000.0
    } else {
        -(a.at.duration_since(b.at).as_secs_f64() * 1000.0)
    }
}

pub fn compare(direct: &Trace, proxied: &[Trace]) -> Comparison {
    let reference: HashMap<(u64, u32), Arrival> = direct.parts.iter().copied().collect();
    let mut order: Vec<(u64, u32)> = direct.parts.iter().map(|(p, _)| *p).collect();
    order.sort();
    let mut out = Comparison {
        delays_ms: Vec::new(),
        missed: 0,
        received: 0,
        errors: 0,
    };
    for trace in proxied {
        out.received += trace.parts.len();
        out.errors += trace.errors.len();
        for (part, at) in &trace.parts {
            if let Some(t0) = reference.get(part) {
                out.delays_ms.push(later_ms(t0, at));
            }
        }
        let (Some(first), Some(last)) = (
            trace.parts.iter().map(|(p, _)| *p).min(),
            trace.parts.iter().map(|(p, _)| *p).max(),
        ) else {
            continue;
        };
        let got: std::collections::HashSet<(u64, u32)> =
            trace.parts.iter().map(|(p, _)| *p).collect();
        out.missed += order
            .iter()
            .filter(|p| **p >= first && **p <= last && !got.contains(p))
            .count();
    }
    out
}
