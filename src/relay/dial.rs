//! Opening the WebSocket: TCP with a timeout, TLS (rustls, webpki roots) for `wss://`, and the
//! upgrade with `Authorization: Bearer <device JWT>`, no `Origin` and no compression
//! (tungstenite offers no extensions).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use tungstenite::client::ClientRequestBuilder;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::uri::InvalidUri;
use tungstenite::http::Uri;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

use crate::http::date::parse_imf_fixdate;
use crate::http::percent;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The backend's (uvicorn's) incoming limit; we accept as much.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Where the relay dials: `ws_url` (trailing `/` removed) with `camera_id` added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    host: String,
    port: u16,
}

/// Why a relay URL cannot be dialled; each case names the URL as configured.
#[derive(Debug)]
pub enum EndpointError {
    NotAUrl(String, InvalidUri),
    /// `ws://` outside `APP_ENV=development`.
    Plaintext(String),
    NotWebSocket(String),
    NoHost(String),
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointError::NotAUrl(url, e) => write!(f, "relay URL {url:?} is not a URL: {e}"),
            EndpointError::Plaintext(url) => write!(
                f,
                "relay URL {url:?} uses unencrypted ws://. Set APP_ENV=development for local development, or switch to wss://."
            ),
            EndpointError::NotWebSocket(url) => {
                write!(f, "relay URL {url:?} must start with wss://")
            }
            EndpointError::NoHost(url) => write!(f, "relay URL {url:?} has no host"),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    pub fn new(
        ws_url: &str,
        camera_id: &str,
        allow_plaintext: bool,
    ) -> Result<Endpoint, EndpointError> {
        let base = ws_url.trim().trim_end_matches('/');
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}camera_id={}", percent::encode(camera_id));
        let uri: Uri = url
            .parse()
            .map_err(|e| EndpointError::NotAUrl(ws_url.to_string(), e))?;
        let tls = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("wss") => true,
            Some("ws") if allow_plaintext => false,
            Some("ws") => return Err(EndpointError::Plaintext(ws_url.to_string())),
            _ => return Err(EndpointError::NotWebSocket(ws_url.to_string())),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| EndpointError::NoHost(ws_url.to_string()))?;
        Ok(Endpoint {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            url,
        })
    }
}

/// An open relay socket, and a handle on its TCP socket for waiting and shutting down.
pub struct Connected {
    pub ws: Socket,
    pub socket: TcpStream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialError {
    /// The backend answered the upgrade with this HTTP status (and this `Date`, in seconds
    /// since the epoch, if it sent one).
    Status {
        status: u16,
        server_date: Option<i64>,
    },
    Failed(String),
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialError::Status { status, .. } => write!(f, "HTTP {status}"),
            DialError::Failed(message) => f.write_str(message),
        }
    }
}

/// Connects and upgrades. On success the socket is non-blocking: the connection loop waits
/// on it with `poll` and reads until it would block.
pub fn dial(endpoint: &Endpoint, token: &str) -> Result<Connected, DialError> {
    let tcp = connect(endpoint)?;
    let failed = |what: &str, e: std::io::Error| DialError::Failed(format!("{what}: {e}"));
    tcp.set_nodelay(true)
        .and_then(|()| tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT)))
        .and_then(|()| tcp.set_write_timeout(Some(HANDSHAKE_TIMEOUT)))
        .map_err(|e| failed("could not set up the socket", e))?;
    let socket = tcp
        .try_clone()
        .map_err(|e| failed("could not set up the socket", e))?;
    let uri: Uri = endpoint
        .url
        .parse()
        .map_err(|e| DialError::Failed(format!("bad relay URL: {e}")))?;
    let request = ClientRequestBuilder::new(uri)
        .with_header("Authorization", format!("Bearer {token}"))
        .with_header("User-Agent", concat!("picamd/", env!("CARGO_PKG_VERSION")));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    match tungstenite::client_tls_with_config(request, tcp, Some(config), None) {
        Ok((ws, _)) => {
            socket
                .set_read_timeout(None)
                .and_then(|()| socket.set_write_timeout(None))
                .and_then(|()| socket.set_nonblocking(true))
                .map_err(|e| failed("could not set up the socket", e))?;
            Ok(Connected { ws, socket })
        }
        Err(HandshakeError::Failure(tungstenite::Error::Http(resp))) => Err(DialError::Status {
            status: resp.status().as_u16(),
            server_date: resp
                .headers()
                .get("date")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_imf_fixdate),
        }),
        Err(HandshakeError::Failure(e)) => Err(DialError::Failed(format!("handshake failed: {e}"))),
        Err(HandshakeError::Interrupted(_)) => Err(DialError::Failed(format!(
            "no handshake answer within {} s",
            HANDSHAKE_TIMEOUT.as_secs()
        ))),
    }
}

fn connect(endpoint: &Endpoint) -> Result<TcpStream, DialError> {
    let target = format!("{}:{}", endpoint.host, endpoint.port);
    let addrs: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| DialError::Failed(format!("could not resolve {target}: {e}")))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(DialError::Failed(match last {
        Some(e) => format!("could not connect to {target}: {e}"),
        None => format!("{target} resolves to no address"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_add_the_camera_id_and_check_the_scheme() {
        let ep = Endpoint::new(
            "wss://api.example/plugins/rpi-cam/ws/connect/",
            "cam 1",
            false,
        )
        .unwrap();
        assert_eq!(
            ep.url,
            "wss://api.example/plugins/rpi-cam/ws/connect?camera_id=cam%201"
        );
        assert_eq!((ep.host.as_str(), ep.port), ("api.example", 443));
        let ep = Endpoint::new("ws://127.0.0.1:8000/ws?x=1", "c", true).unwrap();
        assert_eq!(ep.url, "ws://127.0.0.1:8000/ws?x=1&camera_id=c");
        assert_eq!((ep.host.as_str(), ep.port), ("127.0.0.1", 8000));
        let ep = Endpoint::new("WS://[::1]/ws", "c", true).unwrap();
        assert_eq!((ep.host.as_str(), ep.port), ("::1", 80));
        assert!(Endpoint::new("ws://h/ws", "c", false)
            .unwrap_err()
            .to_string()
            .contains("APP_ENV=development"));
        for bad in ["https://h/ws", "h/ws", "", "wss://"] {
            assert!(Endpoint::new(bad, "c", true).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_closed_port_fails_with_the_address() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let ep = Endpoint::new(&format!("ws://127.0.0.1:{port}/ws"), "c", true).unwrap();
        let Err(DialError::Failed(msg)) = dial(&ep, "t") else {
            panic!("expected a failure");
        };
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    }

    #[test]
    fn wss_speaks_tls_first() {
        // A server that answers in plain HTTP: the TLS client must fail on it, not send an
        // upgrade in clear text.
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut tcp, _) = server.accept().unwrap();
            let mut first = [0u8; 1];
            tcp.read_exact(&mut first).unwrap();
            let _ = tcp.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
            first[0]
        });
        let ep = Endpoint::new(&format!("wss://127.0.0.1:{port}/ws"), "c", false).unwrap();
        let Err(DialError::Failed(msg)) = dial(&ep, "t") else {
            panic!("expected a TLS failure");
        };
        assert!(msg.starts_with("handshake failed"), "{msg}");
        assert_eq!(
            peer.join().unwrap(),
            0x16,
            "a TLS handshake record came first"
        );
    }
}
