//! picamd as a camera of a seed-004 hub: one thread dials `HUB_PUSH_URL`, sends the camera id
//! and the token, then the shared MJPEG encoder's pictures (`u32 LE` length + JPEG, one
//! binary message each, never a length of 0) at most `HUB_PUSH_MAX_FPS` a second. It reads
//! and logs what the hub sends (moves, "update", empty messages) and acts on none of them:
//! picamd has no servos and never updates itself. A close with 1008 (unknown id, wrong token)
//! is a configuration error: logged with the hub's reason and retried after a long backoff.

pub mod status;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::http::Uri;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::codec::{self, HubMessage, POLICY_VIOLATION};
use crate::config::hub::PushSettings;
use crate::relay::backoff::{random_unit, Backoff};
use crate::stills::mjpeg::MjpegHub;
pub use status::{PushState, PushStatus};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long the session waits for a picture before reading what the hub sent.
const TICK: Duration = Duration::from_millis(50);
/// Hub → camera messages are 12 bytes at most; anything near this is not a hub.
const MAX_HUB_MESSAGE: usize = 64 * 1024;
/// A connection that lasted this long starts the next backoff from the minimum again.
const STABLE: Duration = Duration::from_secs(10);

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How a session ended.
#[derive(Debug)]
enum Ended {
    /// The hub closed with this code and reason.
    Closed(u16, String),
    Failed(String),
}

/// Starts the push thread; it runs for the life of the process.
pub fn start(
    settings: PushSettings,
    token: String,
    max_jpeg: usize,
    mjpeg: Arc<MjpegHub>,
    status: Arc<PushStatus>,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("hub-push".into())
        .spawn(move || run(&settings, &token, max_jpeg, &mjpeg, &status))?;
    Ok(())
}

fn run(
    settings: &PushSettings,
    token: &str,
    max_jpeg: usize,
    mjpeg: &Arc<MjpegHub>,
    status: &PushStatus,
) {
    let mut backoff = Backoff::new(2.0, 60.0);
    let id = settings.camera_id;
    loop {
        status.set(PushState::Connecting, None);
        let delay = match dial(&settings.url) {
            Err(e) => {
                log::warn!("hub push: cannot reach {}: {e}", settings.url);
                status.set(PushState::Disconnected, Some(e));
                backoff.next_delay(random_unit())
            }
            Ok(mut ws) => {
                status.counters.connects.fetch_add(1, Ordering::Relaxed);
                log::info!("hub push: connected to {} as camera {id}", settings.url);
                let started = Instant::now();
                let ended = session(&mut ws, settings, token, max_jpeg, mjpeg, status);
                if started.elapsed() >= STABLE {
                    backoff.reset();
                }
                match ended {
                    Ended::Closed(POLICY_VIOLATION, reason) => {
                        status.counters.refusals.fetch_add(1, Ordering::Relaxed);
                        log::error!(
                            "hub push: the hub refused camera {id}: {reason:?} \
                             (check HUB_PUSH_CAMERA_ID and HUB_PUSH_TOKEN / CAMERA_TOKEN_SECRET)"
                        );
                        status.set(PushState::Refused, Some(reason));
                        backoff.refused_delay(random_unit())
                    }
                    Ended::Closed(code, reason) => {
                        log::warn!("hub push: the hub closed the connection ({code} {reason:?})");
                        status.set(
                            PushState::Disconnected,
                            Some(format!("closed by the hub: {code} {reason}")),
                        );
                        backoff.next_delay(random_unit())
                    }
                    Ended::Failed(e) => {
                        log::warn!("hub push: connection lost: {e}");
                        status.set(PushState::Disconnected, Some(e));
                        backoff.next_delay(random_unit())
                    }
                }
            }
        };
        thread::sleep(delay);
    }
}

fn dial(url: &str) -> Result<Socket, String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let tls = uri.scheme_str() == Some("wss");
    let host = uri
        .host()
        .ok_or("the URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    let tcp = addrs
        .iter()
        .find_map(|a| match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
            Ok(t) => Some(t),
            Err(e) => {
                last = format!("cannot connect to {a}: {e}");
                None
            }
        })
        .ok_or(last)?;
    let setup = |tcp: &TcpStream| {
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        tcp.set_write_timeout(Some(CONNECT_TIMEOUT))
    };
    setup(&tcp).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_HUB_MESSAGE))
        .max_frame_size(Some(MAX_HUB_MESSAGE));
    let (ws, _) = tungstenite::client_tls_with_config(url, tcp, Some(config), None)
        .map_err(|e| format!("handshake failed: {e}"))?;
    Ok(ws)
}

fn tcp(ws: &Socket) -> &TcpStream {
    match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s,
        MaybeTlsStream::Rustls(s) => s.get_ref(),
        _ => unreachable!("only plain and rustls streams are built"),
    }
}

fn session(
    ws: &mut Socket,
    settings: &PushSettings,
    token: &str,
    max_jpeg: usize,
    mjpeg: &Arc<MjpegHub>,
    status: &PushStatus,
) -> Ended {
    let failed = |e: tungstenite::Error| Ended::Failed(e.to_string());
    if let Err(e) = ws
        .send(Message::Binary(
            codec::id_message(settings.camera_id).into(),
        ))
        .and_then(|()| ws.send(Message::Binary(codec::token_message(token).into())))
    {
        return failed(e);
    }
    status.set(PushState::Connected, None);
    let _ = tcp(ws).set_read_timeout(Some(Duration::from_millis(1)));
    let period = Duration::from_secs_f64(1.0 / settings.max_fps);
    let mut pictures = mjpeg.subscribe(settings.max_fps);
    let mut due = Instant::now();
    let mut warned_size = false;
    loop {
        let now = Instant::now();
        if now >= due {
            if let Some(jpeg) = pictures.next_new(TICK) {
                if jpeg.len() > max_jpeg {
                    if !warned_size {
                        log::warn!(
                            "hub push: a {} byte picture is over HUB_MAX_JPEG_BYTES; skipped",
                            jpeg.len()
                        );
                        warned_size = true;
                    }
                } else if let Some(msg) = codec::image_message(&jpeg) {
                    if let Err(e) = ws.send(Message::Binary(msg.into())) {
                        return read_close(ws).unwrap_or_else(|| failed(e));
                    }
                    let c = &status.counters;
                    c.images_sent.fetch_add(1, Ordering::Relaxed);
                    c.bytes_sent.fetch_add(jpeg.len() as u64, Ordering::Relaxed);
                }
                due = (due + period).max(Instant::now());
            }
        } else {
            thread::sleep((due - now).min(TICK));
        }
        match ws.read() {
            Ok(Message::Binary(b)) => hub_message(&b, status),
            Ok(Message::Close(frame)) => return closed(frame),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return failed(e),
        }
    }
}

fn hub_message(msg: &[u8], status: &PushStatus) {
    status.counters.hub_messages.fetch_add(1, Ordering::Relaxed);
    match codec::parse_hub_message(msg) {
        HubMessage::Move { pitch, yaw } => {
            log::info!("hub push: move pitch {pitch} yaw {yaw} (no motors: ignored)")
        }
        HubMessage::Update => log::info!("hub push: the hub asked for an update (ignored)"),
        HubMessage::Empty => {}
        HubMessage::Unknown(n) => log::debug!("hub push: a {n} byte message from the hub"),
    }
}

fn closed(frame: Option<tungstenite::protocol::CloseFrame>) -> Ended {
    match frame {
        Some(f) => Ended::Closed(u16::from(f.code), f.reason.to_string()),
        None => Ended::Closed(1005, String::new()),
    }
}

/// After a failed send: the hub's close frame, if it sent one before the socket went.
fn read_close(ws: &mut Socket) -> Option<Ended> {
    let _ = tcp(ws).set_read_timeout(Some(Duration::from_millis(200)));
    for _ in 0..10 {
        match ws.read() {
            Ok(Message::Close(frame)) => return Some(closed(frame)),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return None,
        }
    }
    None
}

fn is_timeout(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}
