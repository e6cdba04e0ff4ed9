//! The next request of a connection resting in the responder, sans-IO: bytes and the time
//! go in, what to do comes out. The responder (`responder/`) reads the socket when epoll
//! says it is readable and asks [`NextRequest::step`]; a whole request without a body may be
//! answered by the responder itself, anything else goes to a connection thread with every
//! byte received (which then answers it exactly as a new request, errors included).

use std::time::{Duration, Instant};

use super::wire::{self, Head};

/// How long a connection may rest between requests.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a request may take to arrive whole once its first byte has.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The most bytes read ahead (a head longer than [`wire::MAX_HEAD`] is refused anyway).
pub const MAX_READ_AHEAD: usize = wire::MAX_HEAD + 4096;

/// What the responder does next with a resting connection.
#[derive(Debug)]
pub enum Step {
    /// Wait for more bytes until this instant.
    Wait(Instant),
    /// A whole request without a body. The responder may answer it (then
    /// [`NextRequest::consume`] its `head_len`) or hand the connection over untouched.
    Request(Box<Head>),
    /// A connection thread serves it (a body, `Expect`, a malformed or oversized head),
    /// with [`NextRequest::into_buf`].
    HandBack,
    /// The client left, or stayed silent for the idle timeout: close.
    Close,
    /// A request started but did not arrive whole in time: answer 408 and close.
    TimedOut,
}

#[derive(Debug)]
pub struct NextRequest {
    buf: Vec<u8>,
    deadline: Instant,
    started: bool,
    eof: bool,
    /// Bytes known not to end a head, so a head trickled byte by byte costs linear work.
    searched: usize,
}

impl NextRequest {
    /// A connection that starts resting at `now` with `buf` already received.
    pub fn new(buf: Vec<u8>, now: Instant) -> NextRequest {
        let mut next = NextRequest {
            buf: Vec::new(),
            deadline: now + IDLE_TIMEOUT,
            started: false,
            eof: false,
            searched: 0,
        };
        next.received(&buf, now);
        next
    }

    /// Bytes read from the socket at `now`.
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        if bytes.is_empty() {
            return;
        }
        if !self.started {
            self.started = true;
            self.deadline = now + REQUEST_TIMEOUT;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The client closed its side.
    pub fn closed(&mut self) {
        self.eof = true;
    }

    /// Whether more should be read now (the read-ahead has room).
    pub fn wants_bytes(&self) -> bool {
        !self.eof && self.buf.len() < MAX_READ_AHEAD
    }

    pub fn step(&mut self, now: Instant) -> Step {
        if self.buf.is_empty() {
            return if self.eof || now >= self.deadline {
                Step::Close
            } else {
                Step::Wait(self.deadline)
            };
        }
        let fresh = &self.buf[self.searched.saturating_sub(3)..];
        let may_end = self.buf.len() > wire::MAX_HEAD
            || fresh.windows(2).any(|w| w == b"\n\n")
            || fresh.windows(3).any(|w| w == b"\n\r\n")
            || wire::has_bare_cr(fresh);
        if may_end {
            match wire::parse_head(&self.buf) {
                Ok(Some(head)) if head.body.is_empty() && !head.expect_continue => {
                    return Step::Request(Box::new(head));
                }
                Ok(Some(_)) | Err(_) => return Step::HandBack,
                Ok(None) => {}
            }
        }
        self.searched = self.buf.len();
        if self.eof {
            Step::Close
        } else if now >= self.deadline {
            Step::TimedOut
        } else {
            Step::Wait(self.deadline)
        }
    }

    /// The request of the last [`Step::Request`] is answered: its head is done with, and
    /// the connection rests anew from `now` (pipelined bytes count as a started request).
    pub fn consume(&mut self, head_len: usize, now: Instant) {
        let rest = self.buf.split_off(head_len.min(self.buf.len()));
        let eof = self.eof;
        *self = NextRequest::new(rest, now);
        self.eof = eof;
    }

    /// Every byte received and not consumed, for a connection thread.
    pub fn into_buf(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET /a.m3u8?_HLS_msn=3 HTTP/1.1\r\nHost: x\r\n\r\n";

    fn request(step: Step) -> Box<Head> {
        match step {
            Step::Request(head) => head,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_request_is_offered_and_pipelined_bytes_stay() {
        let t0 = Instant::now();
        let mut n = NextRequest::new(Vec::new(), t0);
        assert!(matches!(n.step(t0), Step::Wait(d) if d == t0 + IDLE_TIMEOUT));
        let two = [GET, b"GET /b HTTP/1.1\r\nHost: x\r\n"].concat();
        n.received(&two, t0);
        let head = request(n.step(t0));
        assert_eq!(head.request.path, "/a.m3u8");
        assert_eq!(head.request.query, "_HLS_msn=3");
        assert!(head.keep_alive);
        let t1 = t0 + Duration::from_secs(1);
        n.consume(head.head_len, t1);
        // The pipelined start of the next request has the request timeout, from now.
        assert!(matches!(n.step(t1), Step::Wait(d) if d == t1 + REQUEST_TIMEOUT));
        n.received(b"\r\n", t1);
        assert_eq!(request(n.step(t1)).request.path, "/b");
    }

    #[test]
    fn a_head_trickled_in_waits_then_completes() {
        let t0 = Instant::now();
        let mut n = NextRequest::new(Vec::new(), t0);
        for b in GET {
            assert!(!matches!(n.step(t0), Step::Request(_)));
            n.received(&[*b], t0);
        }
        assert_eq!(request(n.step(t0)).head_len, GET.len());
    }

    #[test]
    fn bodies_expect_and_bad_heads_go_to_a_connection_thread_whole() {
        let t0 = Instant::now();
        for bytes in [
            &b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"[..],
            b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
            b"GET /x HTTP/1.1\rHost: y\r\n\r\n",
            b"BLAH\r\n\r\n",
        ] {
            let mut n = NextRequest::new(bytes.to_vec(), t0);
            let step = n.step(t0);
            assert!(matches!(step, Step::HandBack), "{bytes:?}: {step:?}");
            assert_eq!(n.into_buf(), bytes, "every byte goes along");
        }
        let mut huge = b"GET /".to_vec();
        huge.resize(wire::MAX_HEAD + 10, b'a');
        let mut n = NextRequest::new(huge, t0);
        assert!(
            matches!(n.step(t0), Step::HandBack),
            "an oversized head (414)"
        );
    }

    #[test]
    fn silence_closes_and_a_stalled_request_times_out() {
        let t0 = Instant::now();
        let mut idle = NextRequest::new(Vec::new(), t0);
        assert!(matches!(idle.step(t0 + IDLE_TIMEOUT), Step::Close));
        let mut stalled = NextRequest::new(Vec::new(), t0);
        let t1 = t0 + Duration::from_secs(60);
        stalled.received(b"GET / HT", t1);
        assert!(
            matches!(stalled.step(t1 + REQUEST_TIMEOUT - Duration::from_millis(1)), Step::Wait(d) if d == t1 + REQUEST_TIMEOUT)
        );
        assert!(matches!(stalled.step(t1 + REQUEST_TIMEOUT), Step::TimedOut));
    }

    #[test]
    fn a_hang_up_closes_unless_a_whole_request_came_first() {
        let t0 = Instant::now();
        let mut gone = NextRequest::new(Vec::new(), t0);
        gone.closed();
        assert!(!gone.wants_bytes());
        assert!(matches!(gone.step(t0), Step::Close));
        let mut half = NextRequest::new(b"GET / HTTP/1.1\r\n".to_vec(), t0);
        half.closed();
        assert!(matches!(half.step(t0), Step::Close));
        let mut last = NextRequest::new(GET.to_vec(), t0);
        last.closed();
        let head = request(last.step(t0));
        last.consume(head.head_len, t0);
        assert!(matches!(last.step(t0), Step::Close));
    }

    #[test]
    fn read_ahead_is_bounded() {
        let t0 = Instant::now();
        let mut n = NextRequest::new(vec![b'a'; MAX_READ_AHEAD - 1], t0);
        assert!(n.wants_bytes());
        n.received(b"aa", t0);
        assert!(!n.wants_bytes());
    }
}
