//! What workers hand to the connection thread, the only thread that writes to the socket,
//! and the wake-up that gets it out of its wait at once (so an answer is not held back by a
//! read timeout).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

/// One item for the socket. A header and its body travel as one item, so nothing can be
/// written between them (contract/backend.md §2.5: the backend pairs them by adjacency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(String),
    WithBinary { header: String, body: Vec<u8> },
}

/// A self-pipe: `wake` makes its file descriptor readable until `drain`.
#[derive(Debug)]
pub struct Waker {
    writer: UnixStream,
    reader: UnixStream,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        let (writer, reader) = UnixStream::pair()?;
        writer.set_nonblocking(true)?;
        reader.set_nonblocking(true)?;
        Ok(Waker { writer, reader })
    }

    pub fn wake(&self) {
        // A full pipe already means "wake up"; nothing else can go wrong with a socketpair.
        let _ = (&self.writer).write(&[1]);
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.reader).read(&mut buf), Ok(n) if n > 0) {}
    }

    pub fn fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }
}

/// The sending side of one connection's outgoing queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    items: Sender<Outgoing>,
    waker: Arc<Waker>,
}

impl Outbox {
    /// A new queue for one connection; the connection thread keeps the receiver.
    pub fn channel(waker: Arc<Waker>) -> (Outbox, Receiver<Outgoing>) {
        let (items, rx) = crossbeam_channel::unbounded();
        (Outbox { items, waker }, rx)
    }

    /// Queues an item; false when its connection is gone (the answer is then dropped: the
    /// backend has forgotten the request with the socket).
    pub fn send(&self, item: Outgoing) -> bool {
        let sent = self.items.send(item).is_ok();
        if sent {
            self.waker.wake();
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::wait;
    use std::time::Duration;

    #[test]
    fn sending_wakes_the_reader_until_drained() {
        let waker = Arc::new(Waker::new().unwrap());
        let (outbox, rx) = Outbox::channel(Arc::clone(&waker));
        let idle = wait::readable(None, waker.fd(), Duration::from_millis(10)).unwrap();
        assert!(!idle.waker);
        for i in 0..1000 {
            assert!(outbox.send(Outgoing::Text(i.to_string())));
        }
        let ready = wait::readable(None, waker.fd(), Duration::from_secs(1)).unwrap();
        assert!(ready.waker);
        waker.drain();
        assert!(
            !wait::readable(None, waker.fd(), Duration::ZERO)
                .unwrap()
                .waker
        );
        assert_eq!(rx.try_iter().count(), 1000);
        drop(rx);
        assert!(!outbox.send(Outgoing::Text("late".into())));
    }
}
