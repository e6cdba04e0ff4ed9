//! RTMP chunk streams (RTMP 1.0 §5.3): the writer splits messages into chunks (type 0 header,
//! then type 3 continuations), the reader reassembles the peer's chunks of any header type and
//! follows its `SetChunkSize`. No IO.

use std::collections::HashMap;
use std::fmt;

/// Message type ids (RTMP 1.0 §5.4, §7.1).
pub mod kind {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF0: u8 = 18;
    pub const COMMAND_AMF0: u8 = 20;
}

/// The chunk size every peer starts with.
pub const DEFAULT_CHUNK_SIZE: usize = 128;
/// Timestamps at or above this go into the extended timestamp field.
const EXTENDED: u32 = 0x00FF_FFFF;
/// The largest message the reader accepts from a peer.
const MAX_MESSAGE: usize = 4 << 20;
/// The largest chunk size a peer may set (RTMP caps it at 2^31 - 1; we stay sane).
const MAX_CHUNK_SIZE: usize = 16 << 20;
/// Chunk streams a peer may have open at once.
const MAX_CHUNK_STREAMS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub type_id: u8,
    pub stream_id: u32,
    /// Milliseconds.
    pub timestamp: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// A type 1, 2 or 3 chunk on a chunk stream that never had a type 0 one.
    NoPreviousHeader(u32),
    TooLarge(usize),
    BadChunkSize(u32),
    TooManyChunkStreams,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::NoPreviousHeader(cs) => {
                write!(f, "chunk stream {cs} continued before it started")
            }
            ChunkError::TooLarge(n) => write!(f, "a {n}-byte RTMP message is too large"),
            ChunkError::BadChunkSize(n) => write!(f, "bad RTMP chunk size {n}"),
            ChunkError::TooManyChunkStreams => write!(f, "too many RTMP chunk streams"),
        }
    }
}

/// Writes messages as chunks of `chunk_size` bytes.
#[derive(Debug)]
pub struct ChunkWriter {
    chunk_size: usize,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        ChunkWriter {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl ChunkWriter {
    /// Applies from the next message on (send the `SetChunkSize` message first).
    pub fn set_chunk_size(&mut self, size: usize) {
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE);
    }

    /// Appends `msg` on chunk stream `csid` (2..=63).
    pub fn write(&self, out: &mut Vec<u8>, csid: u8, msg: &Message) {
        let csid = csid.clamp(2, 63);
        let ts = msg.timestamp;
        let short_ts = ts.min(EXTENDED);
        out.reserve(msg.payload.len() + 16 + msg.payload.len() / self.chunk_size * 5);
        out.push(csid);
        out.extend_from_slice(&short_ts.to_be_bytes()[1..]);
        out.extend_from_slice(&(msg.payload.len() as u32).to_be_bytes()[1..]);
        out.push(msg.type_id);
        out.extend_from_slice(&msg.stream_id.to_le_bytes());
        if ts >= EXTENDED {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        for (i, chunk) in msg.payload.chunks(self.chunk_size).enumerate() {
            if i > 0 {
                out.push(0xC0 | csid);
                if ts >= EXTENDED {
                    out.extend_from_slice(&ts.to_be_bytes());
                }
            }
            out.extend_from_slice(chunk);
        }
    }
}

#[derive(Debug, Default)]
struct InStream {
    timestamp: u32,
    delta: u32,
    len: usize,
    type_id: u8,
    stream_id: u32,
    extended: bool,
    started: bool,
    payload: Vec<u8>,
}

/// Reassembles the peer's messages from the bytes it sent.
#[derive(Debug)]
pub struct ChunkReader {
    chunk_size: usize,
    streams: HashMap<u32, InStream>,
    buf: Vec<u8>,
}

impl Default for ChunkReader {
    fn default() -> Self {
        ChunkReader {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
            buf: Vec::new(),
        }
    }
}

impl ChunkReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, `None` until more bytes arrive. `SetChunkSize` messages are
    /// applied here (and returned too).
    pub fn next_message(&mut self) -> Result<Option<Message>, ChunkError> {
        loop {
            let Some((consumed, done)) = self.parse_chunk()? else {
                return Ok(None);
            };
            self.buf.drain(..consumed);
            if let Some(msg) = done {
                if msg.type_id == kind::SET_CHUNK_SIZE && msg.payload.len() >= 4 {
                    let p = &msg.payload;
                    let size = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7FFF_FFFF;
                    if size == 0 || size as usize > MAX_CHUNK_SIZE {
                        return Err(ChunkError::BadChunkSize(size));
                    }
                    self.chunk_size = size as usize;
                }
                return Ok(Some(msg));
            }
        }
    }

    /// Parses one chunk at the start of the buffer: the bytes it took and the message it
    /// completed, or `None` when the chunk is not all there yet.
    fn parse_chunk(&mut self) -> Result<Option<(usize, Option<Message>)>, ChunkError> {
        let b = &self.buf;
        let Some(&b0) = b.first() else {
            return Ok(None);
        };
        let fmt = b0 >> 6;
        let (csid, mut at) = match b0 & 0x3F {
            0 => match b.get(1) {
                Some(&x) => (64 + u32::from(x), 2),
                None => return Ok(None),
            },
            1 => match (b.get(1), b.get(2)) {
                (Some(&x), Some(&y)) => (64 + u32::from(x) + 256 * u32::from(y), 3),
                _ => return Ok(None),
            },
            n => (u32::from(n), 1),
        };
        let header_len = [11, 7, 3, 0][usize::from(fmt)];
        let Some(h) = b.get(at..at + header_len) else {
            return Ok(None);
        };
        let u24 = |i: usize| u32::from_be_bytes([0, h[i], h[i + 1], h[i + 2]]);
        if !self.streams.contains_key(&csid) {
            if fmt != 0 {
                return Err(ChunkError::NoPreviousHeader(csid));
            }
            if self.streams.len() >= MAX_CHUNK_STREAMS {
                return Err(ChunkError::TooManyChunkStreams);
            }
        }
        let prev_extended = self.streams.get(&csid).is_some_and(|s| s.extended);
        let field = if fmt < 3 { Some(u24(0)) } else { None };
        at += header_len;
        let extended = match field {
            Some(v) => v == EXTENDED,
            None => prev_extended,
        };
        let ext_value = if extended {
            let Some(e) = b.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some(u32::from_be_bytes([e[0], e[1], e[2], e[3]]))
        } else {
            None
        };
        let len = if fmt <= 1 {
            u24(3) as usize
        } else {
            self.streams.get(&csid).map_or(0, |s| s.len)
        };
        if len > MAX_MESSAGE {
            return Err(ChunkError::TooLarge(len));
        }
        let have = self.streams.get(&csid).map_or(0, |s| s.payload.len());
        let take = self.chunk_size.min(len.saturating_sub(have));
        let Some(data) = b.get(at..at + take) else {
            return Ok(None);
        };
        let data = data.to_vec();
        let header = h.to_vec();
        let st = self.streams.entry(csid).or_default();
        if st.payload.is_empty() {
            let value = |short: u32| ext_value.unwrap_or(short);
            match fmt {
                0 => {
                    st.timestamp = value(u24_of(&header, 0));
                    st.delta = 0;
                    st.len = len;
                    st.type_id = header[6];
                    st.stream_id =
                        u32::from_le_bytes([header[7], header[8], header[9], header[10]]);
                }
                1 | 2 => {
                    st.delta = value(u24_of(&header, 0));
                    if fmt == 1 {
                        st.len = len;
                        st.type_id = header[6];
                    }
                    st.timestamp = st.timestamp.wrapping_add(st.delta);
                }
                _ => {
                    if st.started {
                        st.timestamp = st.timestamp.wrapping_add(st.delta);
                    }
                }
            }
            st.extended = extended;
            st.started = true;
        }
        st.payload.extend_from_slice(&data);
        let consumed = at + take;
        if st.payload.len() >= st.len {
            let msg = Message {
                type_id: st.type_id,
                stream_id: st.stream_id,
                timestamp: st.timestamp,
                payload: std::mem::take(&mut st.payload),
            };
            return Ok(Some((consumed, Some(msg))));
        }
        Ok(Some((consumed, None)))
    }
}

fn u24_of(h: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([0, h[i], h[i + 1], h[i + 2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(type_id: u8, ts: u32, len: usize) -> Message {
        Message {
            type_id,
            stream_id: 1,
            timestamp: ts,
            payload: (0..len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn writer_and_reader_agree_across_chunk_sizes_and_extended_timestamps() {
        let mut w = ChunkWriter::default();
        let mut out = Vec::new();
        let a = msg(kind::VIDEO, 40, 300);
        w.write(&mut out, 6, &a);
        let mut size = Vec::new();
        size.extend_from_slice(&4096u32.to_be_bytes());
        let set = Message {
            type_id: kind::SET_CHUNK_SIZE,
            stream_id: 0,
            timestamp: 0,
            payload: size,
        };
        w.write(&mut out, 2, &set);
        w.set_chunk_size(4096);
        let b = msg(kind::AUDIO, 0x0100_0000, 10_000);
        w.write(&mut out, 4, &b);
        let c = msg(kind::COMMAND_AMF0, 7, 0);
        w.write(&mut out, 3, &c);

        let mut r = ChunkReader::default();
        let mut got = Vec::new();
        // Byte by byte: every partial chunk must wait for the rest.
        for byte in &out {
            r.push(std::slice::from_ref(byte));
            while let Some(m) = r.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got, vec![a, set, b, c]);
    }

    #[test]
    fn reads_compressed_headers() {
        // Type 0, then type 1 (delta 33, new length), type 2 (delta 33), type 3 (delta again).
        let mut bytes = vec![0x04, 0, 0, 10, 0, 0, 2, 9, 1, 0, 0, 0, 0xAA, 0xBB];
        bytes.extend_from_slice(&[0x44, 0, 0, 33, 0, 0, 1, 9, 0xCC]);
        bytes.extend_from_slice(&[0x84, 0, 0, 33, 0xDD]);
        bytes.extend_from_slice(&[0xC4, 0xEE]);
        let mut r = ChunkReader::default();
        r.push(&bytes);
        let mut ts = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            ts.push((m.timestamp, m.payload));
        }
        assert_eq!(
            ts,
            vec![
                (10, vec![0xAA, 0xBB]),
                (43, vec![0xCC]),
                (76, vec![0xDD]),
                (109, vec![0xEE])
            ]
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let mut r = ChunkReader::default();
        r.push(&[0x43, 0, 0, 0, 0, 0, 1, 20]);
        assert_eq!(r.next_message(), Err(ChunkError::NoPreviousHeader(3)));
        let mut r = ChunkReader::default();
        r.push(&[0x02, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0]);
        assert_eq!(r.next_message(), Err(ChunkError::TooLarge(0xFF_FFFF)));
        let mut r = ChunkReader::default();
        r.push(&[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.next_message(), Err(ChunkError::BadChunkSize(0)));
    }
}
