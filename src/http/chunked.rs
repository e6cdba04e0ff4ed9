//! Chunked request bodies (RFC 9112 §7.1), sans-IO: fed the bytes that follow the head, it
//! yields the decoded body once the last chunk and the trailers have arrived. Extensions and
//! trailers are read and dropped.

use super::wire::WireError;

/// Longest chunk-size line or trailer line we read (extensions included).
const MAX_LINE: usize = 1024;
/// Trailer bytes we read in all before refusing.
const MAX_TRAILERS: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    limit: usize,
    line: Vec<u8>,
    trailers: usize,
    body: Vec<u8>,
}

fn bad(detail: &'static str) -> WireError {
    WireError {
        status: 400,
        detail,
    }
}

impl Decoder {
    /// A decoder that refuses (413) a body longer than `limit` once decoded.
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            state: State::Size,
            limit,
            line: Vec::new(),
            trailers: 0,
            body: Vec::new(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The decoded body, once [`Decoder::is_done`].
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Consumes what it can of `input` and returns how many bytes it used; after the end of
    /// the body it uses nothing more (the rest belongs to the next request).
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, WireError> {
        let mut used = 0;
        while used < input.len() && self.state != State::Done {
            let rest = &input[used..];
            match self.state {
                State::Data(left) => {
                    let n = left.min(rest.len());
                    self.body.extend_from_slice(&rest[..n]);
                    used += n;
                    self.state = if n == left {
                        State::DataEnd
                    } else {
                        State::Data(left - n)
                    };
                }
                State::Size | State::DataEnd | State::Trailers => {
                    let Some(line) = self.take_line(rest, &mut used)? else {
                        break;
                    };
                    self.state = self.after_line(&line)?;
                }
                State::Done => {}
            }
        }
        Ok(used)
    }

    /// Collects bytes up to and including LF; `None` while the line is incomplete.
    fn take_line(&mut self, rest: &[u8], used: &mut usize) -> Result<Option<Vec<u8>>, WireError> {
        let end = rest.iter().position(|&b| b == b'\n');
        let take = end.map_or(rest.len(), |i| i + 1);
        self.line.extend_from_slice(&rest[..take]);
        *used += take;
        if self.state == State::Trailers {
            self.trailers += take;
            if self.trailers > MAX_TRAILERS {
                return Err(bad("Chunked trailers too large"));
            }
        }
        if self.line.len() > MAX_LINE {
            return Err(bad("Chunk line too long"));
        }
        if end.is_none() {
            return Ok(None);
        }
        let line = std::mem::take(&mut self.line);
        match line.strip_suffix(b"\r\n") {
            Some(text) => Ok(Some(text.to_vec())),
            None => Err(bad("Chunk lines must end with CRLF")),
        }
    }

    fn after_line(&mut self, line: &[u8]) -> Result<State, WireError> {
        match self.state {
            State::Size => {
                let size = line.split(|&b| b == b';').next().unwrap_or(line);
                let size = std::str::from_utf8(size)
                    .ok()
                    .map(|s| s.trim_end_matches([' ', '\t']))
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|s| usize::from_str_radix(s, 16).ok())
                    .ok_or_else(|| bad("Invalid chunk size"))?;
                if size > self.limit.saturating_sub(self.body.len()) {
                    return Err(WireError {
                        status: 413,
                        detail: "Request body too large",
                    });
                }
                self.body.reserve(size);
                Ok(if size == 0 {
                    State::Trailers
                } else {
                    State::Data(size)
                })
            }
            State::DataEnd if line.is_empty() => Ok(State::Size),
            State::DataEnd => Err(bad("Chunk data longer than its size")),
            State::Trailers if line.is_empty() => Ok(State::Done),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &[u8], limit: usize) -> Result<(Vec<u8>, usize), WireError> {
        let mut d = Decoder::new(limit);
        let used = d.feed(raw)?;
        assert!(d.is_done(), "incomplete: {}", String::from_utf8_lossy(raw));
        Ok((d.into_body(), used))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let raw = b"5;name=v\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used) = decode(raw, 100).unwrap();
        assert_eq!(body, b"hello 0123456789");
        assert_eq!(&raw[used..], b"NEXT", "the next request is left alone");
    }

    #[test]
    fn decodes_byte_by_byte() {
        let raw = b"3\r\nabc\r\n0\r\n\r\n";
        let mut d = Decoder::new(100);
        for b in raw.iter() {
            assert!(!d.is_done());
            assert_eq!(d.feed(std::slice::from_ref(b)).unwrap(), 1);
        }
        assert!(d.is_done());
        assert_eq!(d.into_body(), b"abc");
    }

    #[test]
    fn refuses_bad_and_large_bodies() {
        let cases: &[(&[u8], u16)] = &[
            (b"zz\r\n", 400),
            (b"\r\n", 400),
            (b"-1\r\n", 400),
            (b"3\nabc\r\n", 400),
            (b"3\r\nabcd\r\n", 400),
            (b"ffffffffffffffffffff\r\n", 400),
            (b"65\r\n", 413),
            (b"60\r\n", 413),
        ];
        for (raw, status) in cases {
            let mut d = Decoder::new(64);
            if *raw == b"60\r\n" {
                d.feed(b"10\r\n0123456789abcdef\r\n").unwrap();
            }
            let err = d.feed(raw).unwrap_err();
            assert_eq!(err.status, *status, "{}", String::from_utf8_lossy(raw));
        }
        let mut d = Decoder::new(64);
        assert_eq!(
            d.feed(&[b'1'; 2000]).unwrap_err().status,
            400,
            "endless size"
        );
    }
}
