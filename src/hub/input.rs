//! A camera's connection (`/video-input-stream`), on its HTTP connection's thread. Unlike the
//! reference hub, the camera becomes its camera's control connection only once its token
//! matched; after a wrong token (or an unknown id) nothing it sends is stored.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use tungstenite::Message;

use super::codec::{self, InputDecoder, InputEvent, POLICY_VIOLATION};
use super::service::{ConnectionGuard, Hub};
use super::slot::CameraSlot;
use super::socket::{self, Socket};
use super::token;
use crate::clock;

/// How often the session looks at its control queue while the camera is quiet.
const TICK: Duration = Duration::from_millis(50);
/// The id and token must have come within this long.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// A ping goes out after this long without a message; no answer for twice as long ends it.
const PING_AFTER: Duration = Duration::from_secs(20);

enum Stage {
    WantId,
    WantToken(Arc<CameraSlot>),
    Adopted(Arc<CameraSlot>, Option<Receiver<Vec<u8>>>),
}

pub fn run(hub: Arc<Hub>, mut ws: Socket, guard: ConnectionGuard) {
    let _ = ws.get_ref().set_read_timeout(Some(TICK));
    let mut decoder = InputDecoder::new(hub.max_jpeg_bytes);
    let mut stage = Stage::WantId;
    let started = Instant::now();
    let mut last_heard = Instant::now();
    let mut pinged = false;
    let refuse = |ws: &mut Socket, reason: &str| {
        hub.stats.refused.fetch_add(1, Ordering::Relaxed);
        log::info!("hub: camera connection refused: {reason}");
        socket::close(ws, POLICY_VIOLATION, reason);
    };
    loop {
        let bytes = match ws.read() {
            Ok(Message::Binary(b)) => Some(b.to_vec()),
            Ok(Message::Text(t)) => Some(t.as_bytes().to_vec()),
            Ok(_) => None,
            Err(e) if socket::is_timeout(&e) => None,
            Err(e) => {
                log::debug!("hub: camera connection ended: {e}");
                break;
            }
        };
        let now = Instant::now();
        if let Some(bytes) = bytes {
            last_heard = now;
            pinged = false;
            let events = match decoder.feed(&bytes) {
                Ok(events) => events,
                Err(e) => {
                    log::info!("hub: camera connection closed: {e}");
                    socket::close(&mut ws, 1009, "Message too big");
                    break;
                }
            };
            for event in events {
                stage = match (stage, event) {
                    (Stage::WantId, InputEvent::Id(id)) => match hub.camera(id) {
                        Some(slot) => Stage::WantToken(Arc::clone(slot)),
                        None => {
                            refuse(&mut ws, &codec::no_camera_reason(id));
                            return;
                        }
                    },
                    (Stage::WantToken(slot), InputEvent::Token(t)) => {
                        if !token::matches(&t, &slot.entry.token) {
                            refuse(&mut ws, codec::INVALID_TOKEN);
                            return;
                        }
                        log::info!(
                            "hub: camera {} ({}) connected",
                            slot.entry.id,
                            slot.entry.name
                        );
                        hub.stats.cameras_connected.fetch_add(1, Ordering::Relaxed);
                        let rx = slot.adopt_control(guard.id);
                        Stage::Adopted(slot, Some(rx))
                    }
                    (Stage::Adopted(slot, rx), InputEvent::Image(jpeg)) => {
                        hub.stats.images_received.fetch_add(1, Ordering::Relaxed);
                        slot.publish(Arc::from(jpeg), clock::unix_us());
                        Stage::Adopted(slot, rx)
                    }
                    // The decoder yields id, token, then pictures, in that order.
                    (stage, _) => stage,
                };
            }
        }
        match &mut stage {
            Stage::Adopted(slot, rx) => {
                if !forward_control(&mut ws, rx) {
                    break;
                }
                let quiet = now.duration_since(last_heard);
                if quiet >= PING_AFTER * 2 {
                    log::info!("hub: camera {} silent, closing", slot.entry.id);
                    break;
                }
                if quiet >= PING_AFTER && !pinged {
                    pinged = true;
                    if ws.send(Message::Ping(Default::default())).is_err() {
                        break;
                    }
                }
            }
            _ if now.duration_since(started) > AUTH_TIMEOUT => {
                socket::close(&mut ws, POLICY_VIOLATION, "No id and token in time");
                return;
            }
            _ => {}
        }
    }
    if let Stage::Adopted(slot, _) = stage {
        slot.release_control(guard.id);
        hub.stats.cameras_connected.fetch_sub(1, Ordering::Relaxed);
        log::info!("hub: camera {} disconnected", slot.entry.id);
    }
}

/// Sends what viewers and `POST /camera/update` queued; `false` when the socket failed.
/// A queue whose sender is gone (another connection of the camera took over) is let go.
fn forward_control(ws: &mut Socket, rx: &mut Option<Receiver<Vec<u8>>>) -> bool {
    let Some(queue) = rx else {
        return true;
    };
    loop {
        match queue.try_recv() {
            Ok(msg) => {
                if ws.send(Message::Binary(msg.into())).is_err() {
                    return false;
                }
            }
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => {
                *rx = None;
                return true;
            }
        }
    }
}
