//! systemd's service notification protocol (sd_notify(3)) without libsystemd: datagrams such as
//! `READY=1` to the socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace), and the watchdog interval from `WATCHDOG_USEC`/`WATCHDOG_PID`. Outside systemd
//! (no `NOTIFY_SOCKET`) every notification is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for (none when it is unset, empty or unusable).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|name| {
            let name = name.to_str()?.to_string();
            match open(&name) {
                Ok(target) => Some(target),
                Err(e) => {
                    log::warn!("NOTIFY_SOCKET {name:?} cannot be used: {e}");
                    None
                }
            }
        });
        Notifier { target }
    }

    /// Sends one notification (`READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1`); a failure
    /// is logged, never fatal: systemd then acts on its own timeouts.
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
                log::warn!("cannot notify systemd ({}): {e}", first_word(state));
            }
        }
    }
}

fn first_word(state: &str) -> &str {
    state.split('=').next().unwrap_or(state)
}

fn open(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        }
        None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
        None => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "neither an absolute path nor an abstract @name",
            ))
        }
    };
    Ok((UnixDatagram::unbound()?, addr))
}

/// The watchdog interval systemd expects pings within: `WATCHDOG_USEC` when set, positive and
/// (if `WATCHDOG_PID` is given) meant for `own_pid`.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// The variables systemd passes to picamd alone: children (rpicam-vid, a pipe command) must
/// not see them, or they could notify systemd or take the listening socket as their own.
pub const SERVICE_ONLY_VARIABLES: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_interval_rules() {
        let s = |v| Some(v);
        assert_eq!(
            watchdog_interval(s("30000000"), None, 7),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            watchdog_interval(s("2000000"), s("7"), 7),
            Some(Duration::from_secs(2))
        );
        assert_eq!(watchdog_interval(s("2000000"), s("8"), 7), None);
        assert_eq!(watchdog_interval(s("0"), None, 7), None);
        assert_eq!(watchdog_interval(s("x"), None, 7), None);
        assert_eq!(watchdog_interval(None, s("7"), 7), None);
    }

    #[test]
    fn notifications_reach_a_path_and_an_abstract_socket() {
        let dir = crate::testutil::TempDir::new("notify");
        let path = dir.0.join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let (client, addr) = open(path.to_str().unwrap()).unwrap();
        let notifier = Notifier {
            target: Some((client, addr)),
        };
        notifier.notify("READY=1");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("picamd-notify-test-{}", std::process::id());
        let abstract_addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&abstract_addr).unwrap();
        let (client, addr) = open(&format!("@{name}")).unwrap();
        Notifier {
            target: Some((client, addr)),
        }
        .notify("WATCHDOG=1");
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");

        assert!(open("relative/path").is_err());
    }
}
