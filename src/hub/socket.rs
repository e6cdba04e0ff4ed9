//! What the hub's two WebSocket sessions share: building the server side of tungstenite over
//! the socket our HTTP server accepted, closing with a code and reason, and telling a read
//! timeout from a dead connection.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::WebSocket;

pub type Socket = WebSocket<TcpStream>;

/// How long a peer may take to answer our close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long a blocked write may take before the peer counts as gone.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side over an upgraded connection; messages and frames are capped at
/// `max_message` bytes (tungstenite refuses longer ones before buffering them).
pub fn server(stream: TcpStream, read_ahead: Vec<u8>, max_message: usize) -> Socket {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    WebSocket::from_partially_read(stream, read_ahead, Role::Server, Some(config))
}

pub fn is_timeout(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

/// Sends a close frame with `code` and `reason`, then reads (and drops) whatever the peer
/// still sends until it answers or [`CLOSE_WAIT`] passes.
pub fn close(ws: &mut Socket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    };
    if ws.close(Some(frame)).is_err() {
        return;
    }
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + CLOSE_WAIT;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}
