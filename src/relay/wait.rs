//! Waiting on the relay socket and the wake-up pipe at once (`poll(2)`).

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// Readable, or hung up / in error (the next read reports which).
    pub socket: bool,
    pub waker: bool,
}

/// Waits until `socket` (if any) or `waker` is readable, or `timeout` passes.
pub fn readable(socket: Option<RawFd>, waker: RawFd, timeout: Duration) -> io::Result<Ready> {
    let mut fds = vec![pollfd(waker, libc::POLLIN)];
    if let Some(fd) = socket {
        fds.push(pollfd(fd, libc::POLLIN));
    }
    poll(&mut fds, timeout)?;
    Ok(Ready {
        waker: fds[0].revents != 0,
        socket: fds.get(1).is_some_and(|f| f.revents != 0),
    })
}

/// Waits until `socket` is readable (or in error), or `timeout` passes; false on timeout.
pub fn socket_readable(socket: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [pollfd(socket, libc::POLLIN)];
    poll(&mut fds, timeout)?;
    Ok(fds[0].revents != 0)
}

/// Waits until `socket` can take more bytes (or is in error), or `timeout` passes; false on
/// timeout.
pub fn writable(socket: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [pollfd(socket, libc::POLLOUT)];
    poll(&mut fds, timeout)?;
    Ok(fds[0].revents != 0)
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    // Round up so a sub-millisecond wait does not become a busy loop.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            fds.iter_mut().for_each(|f| f.revents = 0);
            return Ok(());
        }
        return Err(err);
    }
    Ok(())
}
