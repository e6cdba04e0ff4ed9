//! A minimal backend stand-in for the relay tests: a tungstenite server on 127.0.0.1 that
//! records the handshake, can refuse it, and reads and writes relay frames.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderMap, StatusCode};
use tungstenite::{Error as WsError, Message, WebSocket};

pub struct Peer {
    listener: TcpListener,
}

/// What the client sent in its upgrade request.
pub struct Handshake {
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
}

pub struct Server {
    pub ws: WebSocket<TcpStream>,
}

impl Peer {
    pub fn new() -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        Peer { listener }
    }

    pub fn url(&self) -> String {
        let port = self.listener.local_addr().unwrap().port();
        format!("ws://127.0.0.1:{port}/plugins/rpi-cam/ws/connect")
    }

    /// The next TCP connection, if one arrives within `timeout`.
    pub fn tcp(&self, timeout: Duration) -> Option<TcpStream> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((tcp, _)) => {
                    tcp.set_nonblocking(false).unwrap();
                    tcp.set_nodelay(true).unwrap();
                    return Some(tcp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("accept failed: {e}"),
            }
        }
    }

    /// Accepts the next connection's upgrade.
    // tungstenite's callback type fixes the large `Err`.
    #[allow(clippy::result_large_err)]
    pub fn accept(&self) -> (Server, Handshake) {
        let tcp = self.tcp(Duration::from_secs(10)).expect("the relay dials");
        let mut seen = None;
        let ws = tungstenite::accept_hdr(tcp, |req: &Request, resp: Response| {
            seen = Some(Handshake {
                target: req.uri().to_string(),
                headers: req.headers().clone(),
            });
            Ok(resp)
        })
        .expect("handshake");
        (Server { ws }, seen.expect("callback ran"))
    }

    /// Answers the next upgrade with `status` and a `Date` header.
    #[allow(clippy::result_large_err)]
    pub fn refuse(&self, status: u16, date: &str) -> Handshake {
        let tcp = self.tcp(Duration::from_secs(10)).expect("the relay dials");
        let mut seen = None;
        let result = tungstenite::accept_hdr(tcp, |req: &Request, _: Response| {
            seen = Some(Handshake {
                target: req.uri().to_string(),
                headers: req.headers().clone(),
            });
            let mut refusal = ErrorResponse::new(None);
            *refusal.status_mut() = StatusCode::from_u16(status).unwrap();
            refusal.headers_mut().insert("date", date.parse().unwrap());
            Err(refusal)
        });
        assert!(result.is_err(), "the handshake was refused");
        seen.expect("callback ran")
    }
}

impl Server {
    pub fn send_json(&mut self, value: &Value) {
        self.ws.send(Message::text(value.to_string())).unwrap();
    }

    /// The next message that is not a control frame, within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.ws.get_ref().set_read_timeout(Some(left)).unwrap();
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(msg) => return Some(msg),
                Err(WsError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return None,
                Err(e) => panic!("server read failed: {e}"),
            }
        }
    }

    /// The next message other than the relay's own `{"type":"ping"}`.
    pub fn next_reply(&mut self, timeout: Duration) -> Option<Message> {
        loop {
            let msg = self.next(timeout)?;
            if !matches!(&msg, Message::Text(t) if t.as_str() == r#"{"type":"ping"}"#) {
                return Some(msg);
            }
        }
    }

    /// The next reply, which must be a JSON text frame.
    pub fn next_json(&mut self, timeout: Duration) -> Value {
        match self.next_reply(timeout) {
            Some(Message::Text(t)) => serde_json::from_str(t.as_str()).expect("JSON"),
            other => panic!("expected a JSON text frame, got {other:?}"),
        }
    }
}

/// A relay request envelope as the backend sends it.
pub fn request(id: &str, method: &str, path: &str) -> Value {
    serde_json::json!({
        "id": id, "type": "request", "method": method, "path": path,
        "params": {}, "body": null, "headers": {}
    })
}
