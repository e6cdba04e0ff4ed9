//! A viewer's connection (`/video-output-stream`, contract A.4): a length-prefixed JSON hello,
//! then every new picture of the camera as one binary message of raw JPEG bytes (nothing on
//! connect: the first is the camera's next picture). The viewer's 12-byte move messages go on
//! to the camera with their floats turned little-endian.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::{Bytes, Message};

use super::codec::{self, INVALID_PAYLOAD, POLICY_VIOLATION};
use super::service::{ConnectionGuard, Hub};
use super::socket::{self, Socket};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the session waits for a picture before looking at the viewer's messages.
const TICK: Duration = Duration::from_millis(50);

pub fn run(hub: Arc<Hub>, mut ws: Socket, _guard: ConnectionGuard) {
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + HELLO_TIMEOUT;
    let hello = loop {
        match ws.read() {
            Ok(Message::Binary(b)) => break b.to_vec(),
            Ok(Message::Text(t)) => break t.as_bytes().to_vec(),
            Ok(_) => {}
            Err(e) if socket::is_timeout(&e) && Instant::now() < deadline => {}
            Err(_) => return,
        }
    };
    let id = match codec::parse_viewer_hello(&hello) {
        Ok(id) => id,
        Err(reason) => return socket::close(&mut ws, INVALID_PAYLOAD, reason),
    };
    let Some(slot) = hub.camera(id).cloned() else {
        return socket::close(&mut ws, POLICY_VIOLATION, &codec::no_camera_reason(id));
    };
    hub.stats.viewers.fetch_add(1, Ordering::Relaxed);
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(1)));
    let mut seen = slot.snapshot().generation;
    loop {
        if let Some((generation, jpeg)) = slot.wait_newer(seen, TICK) {
            seen = generation;
            if ws.send(Message::Binary(Bytes::from_owner(jpeg))).is_err() {
                break;
            }
            hub.stats.images_sent.fetch_add(1, Ordering::Relaxed);
        }
        match ws.read() {
            Ok(Message::Binary(b)) => {
                if let Some(msg) = codec::viewer_move(&b) {
                    slot.send_control(msg.to_vec());
                }
            }
            Ok(_) => {}
            Err(e) if socket::is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    hub.stats.viewers.fetch_sub(1, Ordering::Relaxed);
}
