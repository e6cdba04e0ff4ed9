//! SIGTERM and SIGINT as a request to stop: a handler writes the signal's number into a pipe
//! (the self-pipe trick: `write` is async-signal-safe), and the main thread waits on the
//! pipe's other end. A handler, not a blocked mask, so the camera programs we spawn get the
//! default dispositions back at `exec` (a blocked mask would be inherited).

use std::ffi::c_int;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pipe's write end, for the handler; -1 before `install`.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: errno is thread-local; saved and restored so the interrupted code does not
    // see the handler's write change it. `write` of one byte is async-signal-safe.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        let byte = signal as u8;
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *errno = saved;
    }
}

/// The read end of the pipe the stop signals are written to.
pub struct StopSignals {
    pipe: File,
}

impl StopSignals {
    /// Installs the handlers for SIGTERM and SIGINT (once per process).
    pub fn install() -> io::Result<StopSignals> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Only the write end must never block (a handler must not); the reader blocks.
        // SAFETY: fds[0] is the pipe's read end, just created.
        unsafe {
            let flags = libc::fcntl(fds[0], libc::F_GETFL);
            libc::fcntl(fds[0], libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        // SAFETY: fds[0] is ours alone from here on.
        let pipe = unsafe { File::from_raw_fd(fds[0]) };
        WRITE_FD.store(fds[1], Ordering::Relaxed);
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: a zeroed sigaction with our handler, an empty mask and SA_RESTART, so
            // system calls the signal interrupts elsewhere are restarted.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(StopSignals { pipe })
    }

    /// Blocks until SIGTERM or SIGINT arrives; returns its name.
    pub fn wait(&mut self) -> &'static str {
        let mut byte = [0u8; 1];
        loop {
            match self.pipe.read(&mut byte) {
                Ok(1) => return name(c_int::from(byte[0])),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Cannot happen while the write end is open (it never closes); do not spin.
                _ => std::thread::sleep(std::time::Duration::from_secs(1)),
            }
        }
    }
}

fn name(signal: c_int) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "a signal",
    }
}
