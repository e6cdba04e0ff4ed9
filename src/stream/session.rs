//! The publishing side of an RTMP session, sans-IO: bytes from the server in, bytes for the
//! server and events out. The command sequence is ffmpeg's and OBS's: `connect`,
//! `releaseStream`, `FCPublish`, `createStream`, `publish(key, "live")`, then
//! `@setDataFrame onMetaData` and the media; `FCUnpublish` and `deleteStream` to stop.
//! It answers pings and acknowledges the server's window; the handshake comes before
//! (`handshake.rs`).

use std::fmt;

use super::amf0::{decode_all, encode_all, Amf, AmfError};
use super::chunk::{kind, ChunkError, ChunkReader, ChunkWriter, Message};
use super::mux::Tag;

/// Our outgoing chunk size (ffmpeg and OBS use 4096 too).
pub const CHUNK_SIZE: u32 = 4096;
const FLASH_VER: &str = "FMLE/3.0 (compatible; FMSc/1.0)";
/// Chunk streams: protocol control, commands, audio, video.
const CS_CONTROL: u8 = 2;
const CS_COMMAND: u8 = 3;
const CS_AUDIO: u8 = 4;
const CS_VIDEO: u8 = 6;
/// User control events (RTMP 1.0 §7.1.7).
const PING_REQUEST: u16 = 6;
const PING_RESPONSE: u16 = 7;

/// Where to publish. `Debug` leaves the key out.
#[derive(Clone)]
pub struct Target {
    /// The application, e.g. `live2`.
    pub app: String,
    /// `rtmp[s]://host[:port]/app`.
    pub tc_url: String,
    pub key: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("app", &self.app)
            .field("tc_url", &self.tc_url)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `connect` sent.
    Connecting,
    /// `releaseStream`, `FCPublish`, `createStream` sent.
    CreatingStream,
    /// `publish` sent, waiting for `NetStream.Publish.Start`.
    Publishing,
    Live,
    /// `FCUnpublish` and `deleteStream` sent.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `NetStream.Publish.Start`: media may flow.
    Live,
}

/// The session ended because of the server.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    /// The server refused `connect` or `publish` (its code and description, key removed).
    Refused(String),
    /// It broke the protocol.
    Chunk(ChunkError),
    Amf(AmfError),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Refused(why) => write!(f, "the server refused the stream: {why}"),
            SessionError::Chunk(e) => write!(f, "RTMP protocol error: {e}"),
            SessionError::Amf(e) => write!(f, "RTMP protocol error: {e}"),
        }
    }
}

pub struct Session {
    target: Target,
    writer: ChunkWriter,
    reader: ChunkReader,
    out: Vec<u8>,
    phase: Phase,
    next_transaction: f64,
    create_transaction: f64,
    stream_id: u32,
    received: u64,
    acknowledged: u64,
    window: u64,
}

impl Session {
    /// A session whose first bytes (`SetChunkSize`, `connect`) wait in [`Session::output`].
    pub fn new(target: Target) -> Session {
        let mut s = Session {
            target,
            writer: ChunkWriter::default(),
            reader: ChunkReader::default(),
            out: Vec::with_capacity(64 * 1024),
            phase: Phase::Connecting,
            next_transaction: 1.0,
            create_transaction: 0.0,
            stream_id: 0,
            received: 0,
            acknowledged: 0,
            window: 0,
        };
        s.control(kind::SET_CHUNK_SIZE, &CHUNK_SIZE.to_be_bytes());
        s.writer.set_chunk_size(CHUNK_SIZE as usize);
        let props = vec![
            ("app".into(), Amf::str(&s.target.app)),
            ("type".into(), Amf::str("nonprivate")),
            ("flashVer".into(), Amf::str(FLASH_VER)),
            ("tcUrl".into(), Amf::str(&s.target.tc_url)),
        ];
        s.command(0, "connect", vec![Amf::Object(props)]);
        s
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Bytes to send; the caller drains it.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes from the server (after the handshake).
    pub fn handle_input(&mut self, data: &[u8]) -> Result<Vec<Event>, SessionError> {
        self.received += data.len() as u64;
        self.reader.push(data);
        let mut events = Vec::new();
        while let Some(msg) = self.reader.next_message().map_err(SessionError::Chunk)? {
            self.on_message(msg, &mut events)?;
        }
        if self.window > 0 && self.received - self.acknowledged >= self.window {
            self.acknowledged = self.received;
            self.control(kind::ACKNOWLEDGEMENT, &(self.received as u32).to_be_bytes());
        }
        Ok(events)
    }

    /// Queues one FLV tag (only while live).
    pub fn send(&mut self, tag: Tag) {
        if self.phase != Phase::Live {
            return;
        }
        let (type_id, csid, ms, payload) = match tag {
            Tag::Meta(values) => (kind::DATA_AMF0, CS_AUDIO, 0, encode_all(&values)),
            Tag::Audio { ms, body } => (kind::AUDIO, CS_AUDIO, ms, body),
            Tag::Video { ms, body } => (kind::VIDEO, CS_VIDEO, ms, body),
        };
        let msg = Message {
            type_id,
            stream_id: self.stream_id,
            timestamp: ms,
            payload,
        };
        self.writer.write(&mut self.out, csid, &msg);
    }

    /// Queues `FCUnpublish` and `deleteStream` (once published or publishing).
    pub fn stop(&mut self) {
        if matches!(self.phase, Phase::Publishing | Phase::Live) {
            let key = Amf::str(&self.target.key);
            self.command(0, "FCUnpublish", vec![Amf::Null, key]);
            let id = Amf::Number(f64::from(self.stream_id));
            self.command(0, "deleteStream", vec![Amf::Null, id]);
        }
        self.phase = Phase::Stopped;
    }

    fn on_message(&mut self, msg: Message, events: &mut Vec<Event>) -> Result<(), SessionError> {
        match msg.type_id {
            kind::WINDOW_ACK_SIZE if msg.payload.len() >= 4 => {
                let p = &msg.payload;
                self.window = u64::from(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            }
            kind::USER_CONTROL if msg.payload.len() >= 6 => {
                let event = u16::from_be_bytes([msg.payload[0], msg.payload[1]]);
                if event == PING_REQUEST {
                    let mut answer = PING_RESPONSE.to_be_bytes().to_vec();
                    answer.extend_from_slice(&msg.payload[2..6]);
                    self.control(kind::USER_CONTROL, &answer);
                }
            }
            kind::COMMAND_AMF0 => {
                let values = decode_all(&msg.payload).map_err(SessionError::Amf)?;
                self.on_command(&values, events)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn on_command(&mut self, values: &[Amf], events: &mut Vec<Event>) -> Result<(), SessionError> {
        let name = values.first().and_then(Amf::as_str).unwrap_or("");
        let transaction = values.get(1).and_then(Amf::as_number).unwrap_or(0.0);
        match (name, self.phase) {
            ("_result", Phase::Connecting) if transaction == 1.0 => {
                let key = Amf::str(&self.target.key);
                self.command(0, "releaseStream", vec![Amf::Null, key.clone()]);
                self.command(0, "FCPublish", vec![Amf::Null, key]);
                self.create_transaction = self.next_transaction;
                self.command(0, "createStream", vec![Amf::Null]);
                self.phase = Phase::CreatingStream;
            }
            ("_result", Phase::CreatingStream) if transaction == self.create_transaction => {
                let id = values.get(3).and_then(Amf::as_number).unwrap_or(1.0);
                self.stream_id = id.clamp(0.0, f64::from(u32::MAX)) as u32;
                let key = Amf::str(&self.target.key);
                let sid = self.stream_id;
                self.command(sid, "publish", vec![Amf::Null, key, Amf::str("live")]);
                self.phase = Phase::Publishing;
            }
            // An error answer to connect, createStream or publish.
            ("_error", Phase::Connecting | Phase::CreatingStream | Phase::Publishing) => {
                return Err(SessionError::Refused(self.describe(values.get(3))));
            }
            ("onStatus", _) => {
                let info = values.get(3);
                let code = info.and_then(|i| i.get("code")).and_then(Amf::as_str);
                let level = info.and_then(|i| i.get("level")).and_then(Amf::as_str);
                if code == Some("NetStream.Publish.Start") && self.phase == Phase::Publishing {
                    self.phase = Phase::Live;
                    events.push(Event::Live);
                } else if level == Some("error") && self.phase != Phase::Stopped {
                    return Err(SessionError::Refused(self.describe(info)));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `code: description` of a status object, with the stream key taken out.
    fn describe(&self, info: Option<&Amf>) -> String {
        let field = |k| info.and_then(|i| i.get(k)).and_then(Amf::as_str);
        let text = match (field("code"), field("description")) {
            (Some(c), Some(d)) => format!("{c}: {d}"),
            (Some(c), None) => c.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "no reason given".to_string(),
        };
        redact(&text, &self.target.key)
    }

    fn command(&mut self, stream_id: u32, name: &str, args: Vec<Amf>) {
        let mut values = vec![Amf::str(name), Amf::Number(self.next_transaction)];
        self.next_transaction += 1.0;
        values.extend(args);
        let msg = Message {
            type_id: kind::COMMAND_AMF0,
            stream_id,
            timestamp: 0,
            payload: encode_all(&values),
        };
        self.writer.write(&mut self.out, CS_COMMAND, &msg);
    }

    fn control(&mut self, type_id: u8, payload: &[u8]) {
        let msg = Message {
            type_id,
            stream_id: 0,
            timestamp: 0,
            payload: payload.to_vec(),
        };
        self.writer.write(&mut self.out, CS_CONTROL, &msg);
    }
}

/// `text` with every occurrence of `secret` replaced.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    text.replace(secret, "<stream key>")
}

/// The AMF0 command names in a client's byte stream after the handshake (for tests and the
/// comparison with ffmpeg): each command's name, in order.
pub fn command_names(stream: &[u8]) -> Result<Vec<String>, SessionError> {
    let mut reader = ChunkReader::default();
    reader.push(stream);
    let mut names = Vec::new();
    while let Some(msg) = reader.next_message().map_err(SessionError::Chunk)? {
        if matches!(msg.type_id, kind::COMMAND_AMF0 | kind::DATA_AMF0) {
            let values = decode_all(&msg.payload).map_err(SessionError::Amf)?;
            let mut name = values
                .first()
                .and_then(Amf::as_str)
                .unwrap_or("")
                .to_string();
            if name == "@setDataFrame" {
                if let Some(inner) = values.get(1).and_then(Amf::as_str) {
                    name = format!("@setDataFrame {inner}");
                }
            }
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
