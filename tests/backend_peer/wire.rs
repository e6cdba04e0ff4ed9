//! The write side of one relay WebSocket. Every frame goes out whole under one lock, whether
//! it comes from a request, a heartbeat, a test's raw text, or tungstenite's automatic
//! pong/close replies (which reach us through `ReaderIo`). After a close frame nothing else is
//! written.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};

pub struct Wire {
    state: Mutex<WireState>,
    /// A handle outside the lock, so a writer blocked on a full socket cannot stop a shutdown.
    control: TcpStream,
}

struct WireState {
    tcp: TcpStream,
    close_sent: Option<Instant>,
}

impl Wire {
    pub fn new(tcp: TcpStream) -> io::Result<Wire> {
        Ok(Wire {
            control: tcp.try_clone()?,
            state: Mutex::new(WireState {
                tcp,
                close_sent: None,
            }),
        })
    }

    fn write_frame(state: &mut WireState, frame: Frame) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(frame.len());
        frame.format(&mut bytes).map_err(io::Error::other)?;
        state.tcp.write_all(&bytes)
    }

    pub fn send_text(&self, text: &str) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.close_sent.is_some() {
            return Err(io::Error::other("the connection is closing"));
        }
        let frame = Frame::message(text.as_bytes().to_vec(), OpCode::Data(Data::Text), true);
        Wire::write_frame(&mut state, frame)
    }

    /// Sends a close frame once; true when this call sent it.
    pub fn send_close(&self, code: u16, reason: &str) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.close_sent.is_some() {
            return false;
        }
        state.close_sent = Some(Instant::now());
        let frame = Frame::close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        }));
        Wire::write_frame(&mut state, frame).is_ok()
    }

    /// The Pi closed first and tungstenite has echoed its close frame.
    pub fn mark_closed(&self) {
        self.state
            .lock()
            .unwrap()
            .close_sent
            .get_or_insert_with(Instant::now);
    }

    /// When a close frame went out (from any thread).
    pub fn close_sent_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().close_sent
    }

    fn write_replies(&self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.close_sent.is_some() {
            return Ok(());
        }
        state.tcp.write_all(bytes)
    }

    pub fn shutdown(&self) {
        let _ = self.control.shutdown(Shutdown::Both);
    }
}

/// The stream tungstenite reads from: reads hit the socket, writes (its automatic replies)
/// are collected and handed to the `Wire` whole on flush.
pub struct ReaderIo {
    pub tcp: TcpStream,
    pub wire: Arc<Wire>,
    replies: Vec<u8>,
}

impl ReaderIo {
    pub fn new(tcp: TcpStream, wire: Arc<Wire>) -> ReaderIo {
        ReaderIo {
            tcp,
            wire,
            replies: Vec::new(),
        }
    }
}

impl Read for ReaderIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.read(buf)
    }
}

impl Write for ReaderIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.replies.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.replies.is_empty() {
            let replies = std::mem::take(&mut self.replies);
            self.wire.write_replies(&replies)?;
        }
        Ok(())
    }
}
