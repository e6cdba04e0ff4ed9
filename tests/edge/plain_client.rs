//! A minimal HTTP/1.1 GET client over one kept-alive connection, for plain-HTTP followers. It
//! notes the kernel's receive time of each answer's last bytes (SO_TIMESTAMPNS), so a delay
//! measured between two followers leaves out how long their threads waited for a CPU: on a
//! two-core machine running the edge and 200 followers, that wait would swamp what the edge
//! itself adds.

use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

pub struct PlainClient {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// An answer: status, body, and the kernel receive time (ns since the epoch) of its last bytes.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub received_ns: Option<u64>,
}

impl PlainClient {
    /// `addr`: `127.0.0.1:<port>`.
    pub fn new(addr: &str) -> PlainClient {
        PlainClient {
            addr: addr.to_string(),
            stream: None,
            buf: vec![0; 64 * 1024],
        }
    }

    pub fn get(&mut self, path: &str) -> io::Result<Answer> {
        let result = self.try_get(path);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn try_get(&mut self, path: &str) -> io::Result<Answer> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(15)))?;
            enable_timestamps(&stream)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr)?;
        let mut filled = 0;
        let mut received_ns = None;
        let mut framing: Option<(usize, usize, u16)> = None; // (head end, body length, status)
        loop {
            if let Some((head, len, status)) = framing {
                if filled >= head + len {
                    let body = self.buf[head..head + len].to_vec();
                    let extra = filled - head - len;
                    if extra > 0 {
                        return Err(io::Error::other("bytes after the answer"));
                    }
                    return Ok(Answer {
                        status,
                        body,
                        received_ns,
                    });
                }
            }
            if filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let (n, ts) = read_stamped(stream, &mut self.buf[filled..])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
            }
            filled += n;
            received_ns = ts.or(received_ns);
            if framing.is_none() {
                framing = parse_head(&self.buf[..filled])?;
            }
        }
    }
}

/// (head length, Content-Length, status) once the head is complete.
fn parse_head(buf: &[u8]) -> io::Result<Option<(usize, usize, u16)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(io::Error::other)?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("bad status line"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Content-Length"))?;
    Ok(Some((end + 4, length, status)))
}

fn enable_timestamps(stream: &TcpStream) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a pointer to an int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One read, with the kernel's receive time of the data when it gives one.
fn read_stamped(stream: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; every pointer set below outlives the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at buffers owned by this frame.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled, within its length.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}
