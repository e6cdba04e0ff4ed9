//! The socket edge: TCP with connect, read and write timeouts, and TLS (rustls, SNI from the
//! ingest host) for `rtmps://`, trusting the built-in web roots plus `RTMP_CA_FILE`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::config::stream::IngestUrl;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write that makes no progress for this long means the server stopped reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a read may wait once `poll` said there is data (a TLS record's tail).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Our send buffer: a few hundred milliseconds of video, so a stalled server is noticed by
/// the write timeout instead of by megabytes piling up in the kernel.
const SEND_BUFFER: libc::c_int = 256 * 1024;

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// The TLS settings: web roots plus the PEM certificates in `ca_file`.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read RTMP_CA_FILE {}: {e}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("no certificate in RTMP_CA_FILE {}", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to the ingest server (TLS handshake included for `rtmps://`).
pub fn dial(ingest: &IngestUrl, tls: Option<&Arc<ClientConfig>>) -> io::Result<Transport> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let addrs = (ingest.host.as_str(), ingest.port).to_socket_addrs()?;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(tcp) => return wrap(tcp, ingest, tls),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn wrap(
    tcp: TcpStream,
    ingest: &IngestUrl,
    tls: Option<&Arc<ClientConfig>>,
) -> io::Result<Transport> {
    tcp.set_nodelay(true)?;
    tcp.set_write_timeout(Some(WRITE_TIMEOUT))?;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int of that size.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&SEND_BUFFER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let (Some(config), true) = (tls, ingest.tls) else {
        return Ok(Transport::Plain(tcp));
    };
    let name = ServerName::try_from(ingest.host.clone())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(Transport::Tls(Box::new(stream)))
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        }
    }

    /// Whether a read would find data now (bytes on the socket or decrypted ones waiting).
    pub fn readable(&self) -> bool {
        let mut fd = libc::pollfd {
            fd: self.tcp().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        n > 0 && fd.revents != 0
    }

    /// Ends the TCP connection (after a TLS close_notify for `rtmps://`).
    pub fn close(&mut self) {
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}
