//! The stream thread: owns the socket, takes access units from its fan-out receiver, and
//! drives the sans-IO session and muxer. Network errors redial with backoff; a refusal,
//! `DELETE`, SIGTERM or `MAX_STREAM_DURATION_S` ends it.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use rustls::ClientConfig;

use super::handshake::{self, SERVER_LEN};
use super::mux::FlvMux;
use super::session::{redact, Event, Phase, Session, SessionError, Target};
use super::status::{Ended, State, StreamStatus};
use super::transport::{self, Transport};
use crate::clock::unix_us;
use crate::config::stream::IngestUrl;
use crate::media::AccessUnit;
use crate::preview::PreviewHold;
use crate::relay::backoff::Backoff;

/// The server must accept `publish` within this long of the TCP connection.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the thread looks at the socket and the clock when no access unit comes.
const TICK: Duration = Duration::from_millis(50);
/// No access unit for this long: the camera's stream is gone.
const NO_VIDEO: Duration = Duration::from_secs(30);

pub struct Job {
    pub ingest: IngestUrl,
    pub key: String,
    pub tls: Option<Arc<ClientConfig>>,
    pub units: Receiver<Arc<AccessUnit>>,
    pub stop: Receiver<Ended>,
    pub status: Arc<StreamStatus>,
    pub deadline: Instant,
    pub fps: f64,
    pub video_kbps: f64,
    /// Keeps the preview encoder awake while the thread runs.
    pub hold: PreviewHold,
}

enum Outcome {
    Ended(Ended),
    /// Worth redialling: the text says what broke.
    Network(String),
}

pub fn run(job: Job) {
    let mut backoff = Backoff::new(0.5, 30.0);
    let mut rng = [0u8; 8];
    loop {
        let outcome = attempt(&job);
        let why = match outcome {
            Outcome::Ended(why) => why,
            Outcome::Network(error) => {
                let error = redact(&error, &job.key);
                log::warn!("youtube stream: {error}; reconnecting");
                job.status.network_error(error);
                crate::random::fill(&mut rng);
                let unit = f64::from(u32::from_le_bytes([rng[0], rng[1], rng[2], rng[3]]))
                    / f64::from(u32::MAX);
                match pause(&job, backoff.next_delay(unit)) {
                    Some(why) => why,
                    None => continue,
                }
            }
        };
        log::info!("youtube stream ended: {}", why.describe());
        job.status.end(why);
        drop(job.hold);
        return;
    }
}

/// Waits `delay` (draining access units); a stop or the deadline ends the wait early.
fn pause(job: &Job, delay: Duration) -> Option<Ended> {
    let until = Instant::now() + delay;
    loop {
        if Instant::now() >= job.deadline {
            return Some(Ended::MaxDuration);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        select! {
            recv(job.stop) -> why => return Some(why.unwrap_or(Ended::Shutdown)),
            recv(job.units) -> unit => if unit.is_err() { return Some(Ended::NoVideo) },
            default(left.min(TICK)) => {}
        }
    }
}

fn attempt(job: &Job) -> Outcome {
    let connected_at = Instant::now();
    let state = job.status.snapshot().state;
    if state != State::Reconnecting {
        job.status.set_state(State::Connecting);
    }
    let mut conn = match transport::dial(&job.ingest, job.tls.as_ref()) {
        Ok(c) => c,
        Err(e) => return Outcome::Network(format!("cannot connect to {}: {e}", job.ingest.tc_url)),
    };
    let result = publish(job, &mut conn, connected_at);
    conn.close();
    result
}

fn publish(job: &Job, conn: &mut Transport, connected_at: Instant) -> Outcome {
    if let Err(e) = rtmp_handshake(conn, &job.status) {
        return Outcome::Network(format!(
            "RTMP handshake with {} failed: {e}",
            job.ingest.tc_url
        ));
    }
    let mut session = Session::new(Target {
        app: job.ingest.app.clone(),
        tc_url: job.ingest.tc_url.clone(),
        key: job.key.clone(),
    });
    let mut mux = FlvMux::new(job.fps, job.video_kbps);
    let mut tags = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_unit = Instant::now();
    // Access units that queued while we were away: the muxer starts at the next IDR.
    while job.units.try_recv().is_ok() {}
    loop {
        if let Err(e) = flush(conn, &mut session, &job.status) {
            return Outcome::Network(write_error(e));
        }
        if Instant::now() >= job.deadline {
            return finish(conn, &mut session, &job.status, Ended::MaxDuration);
        }
        if session.phase() != Phase::Live && connected_at.elapsed() > PUBLISH_TIMEOUT {
            return Outcome::Network(format!(
                "the server did not accept the stream within {} s",
                PUBLISH_TIMEOUT.as_secs()
            ));
        }
        while conn.readable() {
            let n = match conn.read(&mut buf) {
                Ok(0) if session.phase() == Phase::Publishing => {
                    return Outcome::Ended(Ended::Refused(
                        "it closed the connection in answer to publish (wrong or unknown stream key?)"
                            .into(),
                    ))
                }
                Ok(0) => return Outcome::Network("the server closed the connection".into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Outcome::Network(format!("read from the server failed: {e}")),
            };
            match session.handle_input(&buf[..n]) {
                Ok(events) => {
                    if events.contains(&Event::Live) {
                        log::info!("youtube stream live on {}", job.ingest.tc_url);
                        job.status.live(unix_us());
                    }
                }
                Err(SessionError::Refused(why)) => return Outcome::Ended(Ended::Refused(why)),
                Err(e) => return Outcome::Network(e.to_string()),
            }
        }
        let unit = select! {
            recv(job.stop) -> why => {
                return finish(conn, &mut session, &job.status, why.unwrap_or(Ended::Shutdown));
            }
            recv(job.units) -> unit => match unit {
                Ok(unit) => Some(unit),
                Err(_) => return finish(conn, &mut session, &job.status, Ended::NoVideo),
            },
            default(TICK) => None,
        };
        let Some(unit) = unit else {
            if last_unit.elapsed() > NO_VIDEO {
                return finish(conn, &mut session, &job.status, Ended::NoVideo);
            }
            continue;
        };
        last_unit = Instant::now();
        if session.phase() != Phase::Live {
            continue;
        }
        mux.push(&unit, &mut tags);
        for tag in tags.drain(..) {
            session.send(tag);
        }
        if let Err(e) = flush(conn, &mut session, &job.status) {
            return Outcome::Network(write_error(e));
        }
        job.status.last_delay_us.store(
            unix_us().saturating_sub(unit.capture_unix_us),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

fn write_error(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "write timed out: the server took nothing for {} s",
            transport::WRITE_TIMEOUT.as_secs()
        ),
        _ => format!("write to the server failed: {e}"),
    }
}

/// `FCUnpublish` and `deleteStream`, best effort, then the reason.
fn finish(
    conn: &mut Transport,
    session: &mut Session,
    status: &StreamStatus,
    why: Ended,
) -> Outcome {
    session.stop();
    let _ = flush(conn, session, status);
    Outcome::Ended(why)
}

fn flush(conn: &mut Transport, session: &mut Session, status: &StreamStatus) -> io::Result<()> {
    let out = session.output();
    if out.is_empty() {
        return Ok(());
    }
    conn.write_all(out)?;
    conn.flush()?;
    status.add_bytes(out.len());
    out.clear();
    Ok(())
}

fn rtmp_handshake(conn: &mut Transport, status: &StreamStatus) -> io::Result<()> {
    let mut random = [0u8; 64];
    crate::random::fill(&mut random);
    let hello = handshake::client_hello((unix_us() / 1000) as u32, &random);
    conn.write_all(&hello)?;
    conn.flush()?;
    let mut server = vec![0u8; SERVER_LEN];
    conn.read_exact(&mut server)?;
    let c2 = handshake::client_ack(&server)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    conn.write_all(&c2)?;
    conn.flush()?;
    status.add_bytes(hello.len() + c2.len());
    Ok(())
}
