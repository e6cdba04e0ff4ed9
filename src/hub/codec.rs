//! The hub's WebSocket byte layouts (contract A.3, A.4), sans-IO. Every integer is
//! little-endian except the viewer's move floats, which the browser writes big-endian.
//!
//! Camera → hub (`/video-input-stream`): `u32 id`, then `u32 n` + `n` bytes of token, then
//! `u32 len` + `len` bytes of JPEG per picture. The reference hub reads the socket as a byte
//! stream, so [`InputDecoder`] does too (a payload split over several messages still parses),
//! but unlike it every length is bounded and a length of 0 is simply skipped.

use std::fmt;

/// Close code the hub uses for an unknown camera or a wrong token.
pub const POLICY_VIOLATION: u16 = 1008;
/// Close code the hub uses for a viewer's malformed hello.
pub const INVALID_PAYLOAD: u16 = 1007;
pub const INVALID_TOKEN: &str = "Invalid token";
pub const INVALID_CLIENT_INFO: &str = "Invalid client info";
/// The longest token a camera may present (reference tokens are 64 hex characters).
pub const MAX_TOKEN: usize = 1024;
/// The longest viewer hello the hub reads (its own limit).
pub const MAX_HELLO: usize = 1024;

/// `No camera with id N exists`, N as the hub prints it (a signed 32-bit number).
pub fn no_camera_reason(id: u32) -> String {
    format!("No camera with id {} exists", id as i32)
}

/// What a camera's bytes amount to, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    Id(u32),
    Token(Vec<u8>),
    Image(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    TokenTooLong(u32),
    ImageTooLarge(u32),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::TokenTooLong(n) => write!(f, "a token of {n} bytes (at most {MAX_TOKEN})"),
            InputError::ImageTooLarge(n) => write!(f, "a picture of {n} bytes is too large"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Id,
    TokenLen,
    Token(usize),
    ImageLen,
    Image(usize),
}

/// Turns a camera's bytes into [`InputEvent`]s, holding at most one bounded payload.
pub struct InputDecoder {
    want: Want,
    buf: Vec<u8>,
    max_image: usize,
}

impl InputDecoder {
    pub fn new(max_image: usize) -> InputDecoder {
        InputDecoder {
            want: Want::Id,
            buf: Vec::new(),
            max_image,
        }
    }

    /// Takes the next bytes (one WebSocket message, or part of one); the events they
    /// complete. An error leaves the decoder unusable: the connection is to be closed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Vec<InputEvent>, InputError> {
        let mut events = Vec::new();
        while !bytes.is_empty() {
            let need = match self.want {
                Want::Id | Want::TokenLen | Want::ImageLen => 4,
                Want::Token(n) | Want::Image(n) => n,
            };
            let take = (need - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() < need {
                break;
            }
            let whole = std::mem::take(&mut self.buf);
            let word = || u32::from_le_bytes([whole[0], whole[1], whole[2], whole[3]]);
            self.want = match self.want {
                Want::Id => {
                    events.push(InputEvent::Id(word()));
                    Want::TokenLen
                }
                Want::TokenLen => match word() {
                    0 => {
                        events.push(InputEvent::Token(Vec::new()));
                        Want::ImageLen
                    }
                    n if n as usize > MAX_TOKEN => return Err(InputError::TokenTooLong(n)),
                    n => Want::Token(n as usize),
                },
                Want::Token(_) => {
                    events.push(InputEvent::Token(whole));
                    Want::ImageLen
                }
                // A length of 0 is accepted and ignored, as by the reference hub.
                Want::ImageLen => match word() {
                    0 => Want::ImageLen,
                    n if n as usize > self.max_image => return Err(InputError::ImageTooLarge(n)),
                    // Memory grows with the bytes that come, not with what a length claims.
                    n => Want::Image(n as usize),
                },
                Want::Image(_) => {
                    events.push(InputEvent::Image(whole));
                    Want::ImageLen
                }
            };
        }
        Ok(events)
    }
}

/// The camera's first message: its id.
pub fn id_message(id: u32) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}

/// The camera's second message: its token, length first.
pub fn token_message(token: &str) -> Vec<u8> {
    let mut msg = (token.len() as u32).to_le_bytes().to_vec();
    msg.extend_from_slice(token.as_bytes());
    msg
}

/// One picture, length first; `None` for an empty one (never send a length of 0).
pub fn image_message(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.is_empty() {
        return None;
    }
    let mut msg = Vec::with_capacity(4 + jpeg.len());
    msg.extend_from_slice(&(jpeg.len() as u32).to_le_bytes());
    msg.extend_from_slice(jpeg);
    Some(msg)
}

/// Hub → camera: move (`i32 1`, `f32 a`, `f32 b`, all little-endian).
pub fn move_message(a: f32, b: f32) -> [u8; 12] {
    let mut msg = [0u8; 12];
    msg[..4].copy_from_slice(&1i32.to_le_bytes());
    msg[4..8].copy_from_slice(&a.to_le_bytes());
    msg[8..].copy_from_slice(&b.to_le_bytes());
    msg
}

/// Hub → camera: "update yourself" (`i32 2`).
pub const UPDATE_MESSAGE: [u8; 4] = 2i32.to_le_bytes();

/// What a hub sent a camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HubMessage {
    /// Bytes 4..8 are the browser's pitch, 8..12 its yaw.
    Move {
        pitch: f32,
        yaw: f32,
    },
    Update,
    Empty,
    Unknown(usize),
}

pub fn parse_hub_message(msg: &[u8]) -> HubMessage {
    let f = |at: usize| f32::from_le_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
    match msg.len() {
        0 => HubMessage::Empty,
        n if n >= 12 && msg[..4] == 1i32.to_le_bytes() => HubMessage::Move {
            pitch: f(4),
            yaw: f(8),
        },
        n if n >= 4 && msg[..4] == UPDATE_MESSAGE => HubMessage::Update,
        n => HubMessage::Unknown(n),
    }
}

/// A viewer's first message: `i32 n` + `n` bytes of JSON `{"token": "...", "cameraId": N}`
/// (keys in any case). The camera id, or why it is refused (close 1007).
pub fn parse_viewer_hello(msg: &[u8]) -> Result<u32, &'static str> {
    let invalid = INVALID_CLIENT_INFO;
    let head: [u8; 4] = msg
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or(invalid)?;
    let n = i32::from_le_bytes(head);
    if n <= 0 || n as usize > MAX_HELLO {
        return Err(invalid);
    }
    let json = msg.get(4..4 + n as usize).ok_or(invalid)?;
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|_| invalid)?;
    let object = value.as_object().ok_or(invalid)?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let token_ok = match field("token") {
        Some(serde_json::Value::String(t)) => !t.is_empty(),
        _ => false,
    };
    let id = match field("cameraId") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match id {
        Some(id) if token_ok && id > 0 && id <= i64::from(i32::MAX) => Ok(id as u32),
        _ => Err(invalid),
    }
}

/// A viewer's move (`i32 LE 1`, `f32 BE x`, `f32 BE y`) as the camera gets it (floats
/// little-endian); `None` for anything else, which the hub drops.
pub fn viewer_move(msg: &[u8]) -> Option<[u8; 12]> {
    if msg.len() != 12 || msg[..4] != 1i32.to_le_bytes() {
        return None;
    }
    let f = |at: usize| f32::from_be_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
    Some(move_message(f(4), f(8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera_bytes(id: u32, token: &str, images: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut msgs = vec![id_message(id), token_message(token)];
        msgs.extend(images.iter().filter_map(|i| image_message(i)));
        msgs
    }

    #[test]
    fn decodes_what_the_client_sends_message_by_message() {
        let mut d = InputDecoder::new(100);
        let mut events = Vec::new();
        for msg in camera_bytes(3, "tok", &[b"\xff\xd8one", b"", b"two"]) {
            events.extend(d.feed(&msg).unwrap());
        }
        assert_eq!(
            events,
            vec![
                InputEvent::Id(3),
                InputEvent::Token(b"tok".to_vec()),
                InputEvent::Image(b"\xff\xd8one".to_vec()),
                InputEvent::Image(b"two".to_vec()),
            ]
        );
    }

    #[test]
    fn payloads_may_be_split_or_joined() {
        let all: Vec<u8> = camera_bytes(9, "abc", &[b"picture"]).concat();
        for cut in 0..all.len() {
            let mut d = InputDecoder::new(100);
            let mut events = d.feed(&all[..cut]).unwrap();
            events.extend(d.feed(&all[cut..]).unwrap());
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[2], InputEvent::Image(b"picture".to_vec()));
        }
    }

    #[test]
    fn zero_lengths_are_skipped_and_long_ones_refused() {
        let mut d = InputDecoder::new(10);
        let mut bytes = id_message(1);
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(0u32.to_le_bytes());
        bytes.extend(11u32.to_le_bytes());
        let err = d.feed(&bytes).unwrap_err();
        assert_eq!(err, InputError::ImageTooLarge(11));
        let mut d = InputDecoder::new(10);
        let mut bytes = id_message(1);
        bytes.extend(u32::MAX.to_le_bytes());
        assert_eq!(
            d.feed(&bytes).unwrap_err(),
            InputError::TokenTooLong(u32::MAX)
        );
    }

    #[test]
    fn hub_to_camera_messages() {
        let m = move_message(0.5, -1.0);
        assert_eq!(&m[..4], &[1, 0, 0, 0]);
        assert_eq!(
            parse_hub_message(&m),
            HubMessage::Move {
                pitch: 0.5,
                yaw: -1.0
            }
        );
        assert_eq!(parse_hub_message(&UPDATE_MESSAGE), HubMessage::Update);
        assert_eq!(parse_hub_message(&[]), HubMessage::Empty);
        assert_eq!(parse_hub_message(&[7, 0, 0, 0]), HubMessage::Unknown(4));
        assert_eq!(parse_hub_message(&[1, 0]), HubMessage::Unknown(2));
    }

    #[test]
    fn viewer_moves_swap_to_little_endian() {
        let mut msg = 1i32.to_le_bytes().to_vec();
        msg.extend(0.25f32.to_be_bytes());
        msg.extend((-0.75f32).to_be_bytes());
        let out = viewer_move(&msg).unwrap();
        assert_eq!(out, move_message(0.25, -0.75));
        assert_eq!(viewer_move(&msg[..11]), None);
        let mut other = msg.clone();
        other[0] = 2;
        assert_eq!(viewer_move(&other), None);
    }

    #[test]
    fn viewer_hellos() {
        let hello = |json: &str| {
            let mut m = (json.len() as i32).to_le_bytes().to_vec();
            m.extend(json.as_bytes());
            parse_viewer_hello(&m)
        };
        assert_eq!(hello(r#"{"token":"fake token","cameraId":4}"#), Ok(4));
        assert_eq!(hello(r#"{"TOKEN":"x","cameraid":"5"}"#), Ok(5));
        for bad in [
            r#"{"token":"","cameraId":4}"#,
            r#"{"token":"x","cameraId":0}"#,
            r#"{"token":"x"}"#,
            r#"[1]"#,
            "not json",
        ] {
            assert_eq!(hello(bad), Err(INVALID_CLIENT_INFO), "{bad}");
        }
        assert_eq!(
            parse_viewer_hello(&0i32.to_le_bytes()),
            Err(INVALID_CLIENT_INFO)
        );
        assert_eq!(
            parse_viewer_hello(&2000i32.to_le_bytes()),
            Err(INVALID_CLIENT_INFO)
        );
        assert_eq!(parse_viewer_hello(&[1, 0]), Err(INVALID_CLIENT_INFO));
    }

    #[test]
    fn the_hub_prints_ids_as_signed_numbers() {
        assert_eq!(no_camera_reason(42), "No camera with id 42 exists");
        assert_eq!(no_camera_reason(u32::MAX), "No camera with id -1 exists");
    }
}
