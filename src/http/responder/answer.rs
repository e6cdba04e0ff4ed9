//! An answer rendered once for every waiter of a key, and its writing to one waiter: one
//! `writev` of the shared head and body with the waiter's own headers, resumed after a
//! partial write.

use std::io::{self, IoSlice, Write};
use std::net::TcpStream;
use std::sync::Arc;

use super::super::wire;
use super::super::{Body, Response};
use super::Waiter;

/// Body slices written from a stack array; a body in more pieces (a long segment) uses a
/// `Vec`.
const STACK_SLICES: usize = 8;

/// An answer rendered once for every waiter of a key.
pub(super) struct Rendered {
    /// The status line and the route's own headers.
    head: Vec<u8>,
    names: Vec<String>,
    /// Content-Length, Connection and the blank line, kept-alive and closing.
    end_keep: Vec<u8>,
    end_close: Vec<u8>,
    /// The body's non-empty buffers (shared, not copied).
    body: Vec<Piece>,
}

/// One buffer of a rendered body, shareable with the second writer thread.
pub(super) enum Piece {
    Shared(Arc<[u8]>),
    Text(Arc<str>),
    Static(&'static [u8]),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Shared(b) => b,
            Piece::Text(t) => t.as_bytes(),
            Piece::Static(b) => b,
        }
    }

    /// A body's buffers; a body with no fixed bytes (never rendered) has none.
    fn all_of(body: Body) -> Vec<Piece> {
        let pieces = match body {
            Body::Bytes(b) => vec![Piece::Shared(Arc::from(b))],
            Body::Static(b) => vec![Piece::Static(b)],
            Body::Shared(b) => vec![Piece::Shared(b)],
            Body::Text(t) => vec![Piece::Text(t)],
            Body::Chunks(c) => c.into_iter().map(Piece::Shared).collect(),
            Body::Empty | Body::Stream(_) | Body::Parked(_) | Body::Upgrade(_) => Vec::new(),
        };
        pieces
            .into_iter()
            .filter(|p| !p.bytes().is_empty())
            .collect()
    }
}

impl Rendered {
    pub(super) fn new(resp: Response) -> Arc<Rendered> {
        let mut head = Vec::with_capacity(256);
        wire::write_status_and_headers(&resp, &mut head);
        let names = resp.headers.iter().map(|(n, _)| n.clone()).collect();
        let (mut end_keep, mut end_close) = (Vec::new(), Vec::new());
        wire::write_length_and_connection(&resp, true, &mut end_keep);
        wire::write_length_and_connection(&resp, false, &mut end_close);
        Arc::new(Rendered {
            head,
            names,
            end_keep,
            end_close,
            body: Piece::all_of(resp.body),
        })
    }

    /// One waiter's middleware headers, when the answer sets none of them itself (they are
    /// set only if absent): its pre-rendered head serves as it is.
    fn takes_all_of(&self, headers: &[(String, String)]) -> bool {
        !headers
            .iter()
            .any(|(n, _)| self.names.iter().any(|m| m.eq_ignore_ascii_case(n)))
    }

    /// One waiter's middleware headers the answer has not set itself.
    fn own_part(&self, headers: &[(String, String)]) -> Vec<u8> {
        let own: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| !self.names.iter().any(|m| m.eq_ignore_ascii_case(n)))
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(512);
        wire::write_headers(&own, &mut out);
        out
    }
}

/// An answer being written.
pub(super) struct Outgoing {
    rendered: Arc<Rendered>,
    /// The waiter's own headers, rendered.
    own: Vec<u8>,
    keep_alive: bool,
    head_only: bool,
    written: usize,
}

impl Outgoing {
    /// Writes what the socket takes, in one `writev` when it takes all (the status line
    /// and route headers, the waiter's own, the length, the body's buffers); `true` when
    /// all is written.
    pub(super) fn write(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        let r = &self.rendered;
        let end = if self.keep_alive {
            &r.end_keep
        } else {
            &r.end_close
        };
        let count = 3 + if self.head_only { 0 } else { r.body.len() };
        let mut stack = [IoSlice::new(&[]); STACK_SLICES];
        let mut heap = Vec::new();
        let all: &mut [IoSlice<'_>] = if count <= STACK_SLICES {
            &mut stack[..count]
        } else {
            heap.resize(count, IoSlice::new(&[]));
            &mut heap
        };
        all[0] = IoSlice::new(&r.head);
        all[1] = IoSlice::new(&self.own);
        all[2] = IoSlice::new(end);
        if !self.head_only {
            for (slot, piece) in all[3..].iter_mut().zip(&r.body) {
                *slot = IoSlice::new(piece.bytes());
            }
        }
        let mut rest: &mut [IoSlice<'_>] = all;
        IoSlice::advance_slices(&mut rest, self.written);
        loop {
            if rest.is_empty() {
                return Ok(true);
            }
            match stream.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A waiter and its answer, ready to write: its own headers rendered (or taken as rendered
/// while it waited).
pub(super) fn prepare(mut w: Waiter, rendered: &Arc<Rendered>) -> (Waiter, Outgoing) {
    // Answered: what it waited for (and its count in the store) is done with.
    w.pending = None;
    let own = if rendered.takes_all_of(&w.headers) {
        if w.own_head.is_empty() {
            wire::write_headers(&w.headers, &mut w.own_head);
        }
        std::mem::take(&mut w.own_head)
    } else {
        rendered.own_part(&w.headers)
    };
    let out = Outgoing {
        rendered: Arc::clone(rendered),
        own,
        keep_alive: w.keep_alive,
        head_only: w.head_only,
        written: 0,
    };
    (w, out)
}
