//! Socket activation (sd_listen_fds(3)) without libsystemd: when systemd (or
//! `systemd-socket-activate`) opened the listening socket, it passes it as descriptor 3 with
//! `LISTEN_PID` (our pid) and `LISTEN_FDS` (how many). Then a restart or an upgrade never
//! refuses a connection (the kernel queues them in systemd's socket meanwhile), and port 80
//! needs no capability.

use std::fmt;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

#[derive(Debug, PartialEq, Eq)]
pub enum ActivationError {
    /// `LISTEN_FDS` is not a number.
    BadCount(String),
    /// Descriptor 3 is not a listening TCP socket; why.
    NotAListener(String),
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::BadCount(v) => write!(f, "LISTEN_FDS={v:?} is not a count"),
            ActivationError::NotAListener(why) => {
                write!(f, "the socket systemd passed (fd 3) cannot be used: {why}")
            }
        }
    }
}

impl std::error::Error for ActivationError {}

/// How many sockets were passed to this process: 0 unless `LISTEN_PID` names `own_pid`.
pub fn passed_count(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    own_pid: u32,
) -> Result<usize, ActivationError> {
    let for_us = listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) == Some(own_pid);
    match (for_us, listen_fds) {
        (true, Some(n)) => n
            .trim()
            .parse()
            .map_err(|_| ActivationError::BadCount(n.to_string())),
        _ => Ok(0),
    }
}

/// The listening socket systemd passed, if any. Only the first is used; more are logged.
pub fn inherited_listener() -> Result<Option<TcpListener>, ActivationError> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    let count = passed_count(pid.as_deref(), fds.as_deref(), std::process::id())?;
    if count == 0 {
        return Ok(None);
    }
    if count > 1 {
        log::warn!("systemd passed {count} sockets; picamd serves the first and ignores the rest");
    }
    check_listening_stream(FIRST_FD)?;
    // Children must not inherit it.
    // SAFETY: fcntl on a descriptor number only reads and sets its flags.
    let flags = unsafe { libc::fcntl(FIRST_FD, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(FIRST_FD, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(ActivationError::NotAListener(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    // SAFETY: fd 3 was passed to this process for it to own (LISTEN_PID is ours), and it was
    // just checked to be a listening stream socket; nothing else in picamd uses it.
    Ok(Some(unsafe { TcpListener::from_raw_fd(FIRST_FD) }))
}

fn check_listening_stream(fd: RawFd) -> Result<(), ActivationError> {
    let get = |option: libc::c_int| -> std::io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are valid for the call; getsockopt only writes into them.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            Ok(value)
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let not = |why: String| ActivationError::NotAListener(why);
    let kind = get(libc::SO_TYPE).map_err(|e| not(e.to_string()))?;
    if kind != libc::SOCK_STREAM {
        return Err(not("not a stream socket".into()));
    }
    if get(libc::SO_ACCEPTCONN).map_err(|e| not(e.to_string()))? == 0 {
        return Err(not("not listening".into()));
    }
    let domain = get(libc::SO_DOMAIN).map_err(|e| not(e.to_string()))?;
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return Err(not("not a TCP socket (ListenStream= needs a port)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn sockets_count_only_when_meant_for_this_process() {
        assert_eq!(passed_count(Some("42"), Some("1"), 42), Ok(1));
        assert_eq!(passed_count(Some("42"), Some("2"), 42), Ok(2));
        assert_eq!(passed_count(Some("41"), Some("1"), 42), Ok(0));
        assert_eq!(passed_count(None, Some("1"), 42), Ok(0));
        assert_eq!(passed_count(Some("42"), None, 42), Ok(0));
        assert_eq!(
            passed_count(Some("42"), Some("x"), 42),
            Err(ActivationError::BadCount("x".into()))
        );
    }

    #[test]
    fn only_a_listening_tcp_socket_is_accepted() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(check_listening_stream(listener.as_raw_fd()), Ok(()));
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(check_listening_stream(client.as_raw_fd()).is_err());
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(check_listening_stream(udp.as_raw_fd()).is_err());
        let (unix, _) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(check_listening_stream(unix.as_raw_fd()).is_err());
    }
}
