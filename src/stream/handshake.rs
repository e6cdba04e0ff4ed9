//! The plain RTMP handshake (RTMP 1.0 §5.2), as ffmpeg, OBS and gortmplib do it towards
//! YouTube: C0 (version 3) + C1 (time, zero, random), then C2 = an echo of S1.

use std::fmt;

/// Bytes of C1, S1, C2 and S2.
pub const PACKET_LEN: usize = 1536;
/// What the server sends before we answer: S0 + S1 + S2.
pub const SERVER_LEN: usize = 1 + 2 * PACKET_LEN;
const VERSION: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// S0 named another protocol version (the value), e.g. an HTTP server answering.
    Version(u8),
    Short(usize),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Version(v) => write!(
                f,
                "the server is not an RTMP server (handshake version {v}, expected 3)"
            ),
            HandshakeError::Short(n) => write!(f, "short RTMP handshake ({n} bytes)"),
        }
    }
}

/// C0 + C1: `time_ms` (our epoch) and 1528 bytes of `random`.
pub fn client_hello(time_ms: u32, random: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + PACKET_LEN);
    out.push(VERSION);
    out.extend_from_slice(&time_ms.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    let mut filler = random.iter().copied().cycle();
    out.extend((0..PACKET_LEN - 8).map(|_| filler.next().unwrap_or(0)));
    out
}

/// C2 from the server's S0 + S1 + S2: S1 echoed back.
pub fn client_ack(server: &[u8]) -> Result<Vec<u8>, HandshakeError> {
    if server.len() < SERVER_LEN {
        return Err(HandshakeError::Short(server.len()));
    }
    if server[0] != VERSION {
        return Err(HandshakeError::Version(server[0]));
    }
    Ok(server[1..=PACKET_LEN].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_and_echo() {
        let hello = client_hello(0x0102_0304, &[7, 8]);
        assert_eq!(hello.len(), 1 + PACKET_LEN);
        assert_eq!(&hello[..9], &[3, 1, 2, 3, 4, 0, 0, 0, 0]);
        assert_eq!(&hello[9..12], &[7, 8, 7]);
        let mut server = vec![3];
        server.extend((0..2 * PACKET_LEN).map(|i| (i % 251) as u8));
        let c2 = client_ack(&server).unwrap();
        assert_eq!(c2, &server[1..=PACKET_LEN]);
        server[0] = b'H';
        assert_eq!(client_ack(&server), Err(HandshakeError::Version(b'H')));
        assert_eq!(client_ack(&[3; 10]), Err(HandshakeError::Short(10)));
    }
}
