//! The process's file descriptor limit: raised to the hard limit at start-up, since each
//! HTTP connection takes one and systemd's default soft limit (1,024) is below the default
//! connection cap.

use std::io;

/// Descriptors kept back from HTTP connections for files, the camera, uploads, the relay.
pub const RESERVE: u64 = 64;

/// The soft and hard `RLIMIT_NOFILE` after raising the soft one as far as allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub soft: u64,
    pub hard: u64,
}

fn get() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

/// Raises the soft limit to the hard one; what the limits are afterwards.
pub fn raise() -> io::Result<FdLimit> {
    let mut lim = get()?;
    if lim.rlim_cur < lim.rlim_max {
        let wanted = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim = get()?;
    }
    Ok(FdLimit {
        soft: lim.rlim_cur as u64,
        hard: lim.rlim_max as u64,
    })
}

/// The connection cap that fits under `soft` descriptors with [`RESERVE`] kept back. Each
/// connection holds two: its socket and the clone the server keeps to close it.
pub fn connection_cap(wanted: usize, soft: u64) -> usize {
    let room = (soft.saturating_sub(RESERVE) / 2).max(1);
    wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_and_counts_two_descriptors_a_connection() {
        assert_eq!(connection_cap(1024, 1024), 480);
        assert_eq!(connection_cap(1024, 65536), 1024);
        assert_eq!(connection_cap(10, 100), 10);
        assert_eq!(connection_cap(100, 10), 1);
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        let lim = raise().unwrap();
        assert_eq!(lim.soft, lim.hard);
    }
}
