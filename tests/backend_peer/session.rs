//! What happens on one relay socket after the handshake: the reader loop, the backend's
//! heartbeat, response matching through the single binary slot, the 64 KiB text cap, and a
//! violation for every frame a 0.5.2 backend would not accept.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tungstenite::{Message, WebSocket};

use super::envelope::{self, ResponseEnvelope};
use super::relay::{Delivery, RelayConnection};
use super::state::Shared;
use super::wire::ReaderIo;
use super::RelayReply;

/// [WB] / models 0.5: `RELAY_WS_TEXT_FRAME_LIMIT_BYTES`.
const TEXT_FRAME_LIMIT: usize = 64 * 1024;
/// How long to wait for the Pi's close frame after sending ours.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub struct Session<'a> {
    shared: &'a Shared,
    connection: &'a RelayConnection,
    /// The backend's one per-connection slot: the header waiting for its binary body.
    slot: Option<ResponseEnvelope>,
    last_pong: Instant,
    next_tick: Instant,
}

impl<'a> Session<'a> {
    pub fn new(shared: &'a Shared, connection: &'a RelayConnection) -> Session<'a> {
        Session {
            shared,
            connection,
            slot: None,
            last_pong: Instant::now(),
            next_tick: Instant::now() + shared.config.ping_interval,
        }
    }

    fn camera(&self) -> &str {
        &self.connection.camera_id
    }

    fn violation(&self, text: String) {
        self.shared.violation(self.camera(), text);
    }

    fn close(&mut self, code: u16, reason: &str) {
        if self.connection.wire.send_close(code, reason) {
            self.shared.event(format!(
                "closing the relay connection of {} with {code} ({reason})",
                self.camera()
            ));
        }
    }

    /// Set once a close frame went out, from this thread or another (a replacement).
    fn closing_since(&self) -> Option<Instant> {
        self.connection.wire.close_sent_at()
    }

    pub fn run(&mut self, ws: &mut WebSocket<ReaderIo>) -> String {
        loop {
            if self.shared.is_stopping() {
                return "the peer is stopping".into();
            }
            let closing = self.closing_since();
            match closing {
                Some(since) if since.elapsed() > CLOSE_GRACE => {
                    return "the Pi did not answer our close frame within 2 s".into()
                }
                Some(_) => {}
                None => self.heartbeat(),
            }
            let read = ws.read();
            // tungstenite queues automatic pong/close replies; push them out now.
            let _ = ws.get_mut().flush();
            match read {
                Ok(Message::Text(text)) if closing.is_none() => self.on_text(&text),
                Ok(Message::Binary(bytes)) if closing.is_none() => self.on_binary(bytes.to_vec()),
                Ok(Message::Close(frame)) => {
                    // Count the socket as gone before our echo can reach the Pi.
                    self.connection.end(self.shared);
                    let _ = ws.flush();
                    let _ = ws.get_mut().flush();
                    self.connection.wire.mark_closed();
                    let code = frame.map_or("no code".to_string(), |f| f.code.to_string());
                    return if closing.is_some() {
                        format!("close handshake completed (the Pi answered {code})")
                    } else {
                        format!("closed by the Pi with {code}")
                    };
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(tungstenite::Error::Capacity(e)) => {
                    self.violation(format!("message over the 16 MiB limit: {e}"));
                    self.connection.wire.send_close(1009, "message too big");
                    return "closed with 1009 (message too big)".into();
                }
                Err(tungstenite::Error::Utf8(e)) => {
                    self.violation(format!("text frame that is not UTF-8: {e}"));
                    self.connection.wire.send_close(1007, "invalid UTF-8");
                    return "closed with 1007 (invalid UTF-8)".into();
                }
                Err(e) => return format!("connection lost without a close handshake: {e}"),
            }
        }
    }

    /// The backend's heartbeat task: on each tick, close 1001 if the last pong is too old,
    /// otherwise send `{"type":"ping"}`.
    fn heartbeat(&mut self) {
        let now = Instant::now();
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + self.shared.config.ping_interval;
        if now.duration_since(self.last_pong) > self.shared.config.pong_timeout {
            self.shared.event(format!(
                "no pong from {} for {:?}",
                self.camera(),
                now.duration_since(self.last_pong)
            ));
            self.close(1001, "heartbeat timeout");
            return;
        }
        if self.connection.wire.send_text(r#"{"type":"ping"}"#).is_ok() {
            self.shared.with_stats(self.camera(), |s| s.pings_sent += 1);
        }
    }

    fn on_text(&mut self, text: &str) {
        if text.len() > TEXT_FRAME_LIMIT {
            self.violation(format!(
                "text frame of {} bytes is over the 64 KiB limit",
                text.len()
            ));
            self.close(1009, "text frame too big");
            return;
        }
        let object = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                return self.violation(format!("non-object JSON text frame: {}", preview(text)))
            }
            Err(e) => {
                return self.violation(format!("invalid JSON text frame ({e}): {}", preview(text)))
            }
        };
        match object.get("type").and_then(Value::as_str) {
            Some("ping") => {
                if !envelope::is_bare_heartbeat(&object) {
                    self.violation(format!("ping with extra keys: {text}"));
                }
                self.shared
                    .with_stats(self.camera(), |s| s.pings_received += 1);
                let _ = self.connection.wire.send_text(r#"{"type":"pong"}"#);
            }
            Some("pong") => {
                if !envelope::is_bare_heartbeat(&object) {
                    self.violation(format!("pong with extra keys: {text}"));
                }
                self.shared
                    .with_stats(self.camera(), |s| s.pongs_received += 1);
                self.last_pong = Instant::now();
            }
            Some("response") => self.on_response(&object, text),
            _ => self.violation(format!("text frame of unknown type: {}", preview(text))),
        }
    }

    fn on_response(&mut self, object: &Map<String, Value>, text: &str) {
        let response = match envelope::parse_response(object) {
            Ok(response) => response,
            Err(problems) => {
                // [WB] logs and ignores a malformed envelope, so its request will time out.
                return self.violation(format!(
                    "malformed response envelope ({}): {}",
                    problems.join("; "),
                    preview(text)
                ));
            }
        };
        if let Some(waiting) = self.slot.take() {
            if response.has_binary {
                self.violation(format!(
                    "has_binary header of {} before the binary body of {}: the backend's one \
                     slot is overwritten and {}'s body goes to {}",
                    response.id, waiting.id, waiting.id, response.id
                ));
            } else {
                self.violation(format!(
                    "response {} between the has_binary header of {} and its body: the backend \
                     clears its slot and drops that body",
                    response.id, waiting.id
                ));
            }
        }
        if response.has_binary {
            self.slot = Some(response);
        } else {
            self.resolve(response, None);
        }
    }

    fn on_binary(&mut self, bytes: Vec<u8>) {
        match self.slot.take() {
            Some(header) => self.resolve(header, Some(bytes)),
            None => self.violation(format!(
                "binary message of {} bytes with no has_binary header waiting (dropped)",
                bytes.len()
            )),
        }
    }

    fn resolve(&self, response: ResponseEnvelope, binary: Option<Vec<u8>>) {
        let id = response.id.clone();
        let reply = RelayReply {
            status: response.status,
            content_type: response.content_type,
            data: response.data,
            binary,
        };
        match self.connection.deliver(&id, reply) {
            Delivery::Delivered => {}
            Delivery::Late => self.shared.event(format!(
                "late response {id} from {} after its request timed out (dropped)",
                self.camera()
            )),
            Delivery::Unknown => self.violation(format!("response for unknown id {id}")),
        }
    }
}

fn preview(text: &str) -> String {
    if text.len() <= 200 {
        return text.to_string();
    }
    let mut end = 200;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}
