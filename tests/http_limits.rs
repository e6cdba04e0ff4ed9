//! The HTTP server under abuse (issue 12): memory stays bounded however many clients send
//! large bodies, requests that will be refused are answered on their head, one address
//! cannot take every slot, silent and idle kept-alive connections make room, and the
//! descriptor limit is raised.
//! Peers at 127.0.0.2 and 127.0.0.3 stand in for other clients (all of 127/8 is loopback).

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

use common::{read_response, HttpResponse, Picamd};

/// A connection to the daemon from the loopback address `from`.
fn connect_from(from: Ipv4Addr, port: u16) -> TcpStream {
    let addr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor we own; the addresses live on the stack.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let stream = TcpStream::from_raw_fd(fd);
        let src = addr(from, 0);
        let rc = libc::bind(fd, (&raw const src).cast(), len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let dst = addr(Ipv4Addr::LOCALHOST, port);
        let rc = libc::connect(fd, (&raw const dst).cast(), len);
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
    }
}

fn connect(port: u16) -> TcpStream {
    connect_from(Ipv4Addr::LOCALHOST, port)
}

/// Writes `raw` and reads one answer.
fn ask(stream: &mut TcpStream, raw: &[u8]) -> HttpResponse {
    stream.write_all(raw).unwrap();
    read_response(&mut BufReader::new(stream), false).unwrap()
}

/// A field of /proc/<pid>/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// True when the server has closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn memory_stays_bounded_under_many_large_bodies() {
    let cam = Picamd::start(&[
        "--resolution",
        "320x240",
        "--max-connections",
        "1000",
        "--max-connections-per-address",
        "1000",
    ]);
    let pid = cam.pid();
    let before = status_kb(pid, "VmHWM:");
    let port = cam.port;
    let clients: Vec<_> = (0..300)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(port);
                let path = ["/nope", "/auth/login", "/captures"][i % 3];
                let head = format!(
                    "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n"
                );
                let body = vec![b'x'; 1 << 20];
                // The server may answer and close before taking it all.
                let _ = s
                    .write_all(head.as_bytes())
                    .and_then(|()| s.write_all(&body));
                read_response(&mut BufReader::new(s), false)
                    .map(|r| r.status)
                    .ok()
            })
        })
        .collect();
    let statuses: Vec<Option<u16>> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let peak = status_kb(pid, "VmHWM:");
    // The old server read every body whole: 300 MiB and more.
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");
    let answered: Vec<u16> = statuses.iter().flatten().copied().collect();
    assert!(
        answered.iter().all(|s| matches!(s, 404 | 413 | 401)),
        "{answered:?}"
    );
    assert!(answered.len() > 250, "most clients got their answer");
    assert_eq!(cam.get("/time").status, 200, "still serving");
}

#[test]
fn refused_requests_are_answered_on_their_head() {
    let cam = Picamd::start(&["--resolution", "320x240"]);
    let key = cam.local_key();
    // Nobody sends the megabyte: the answer comes on the head, with no 100 Continue.
    for (head, status) in [
        (
            "POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n".to_string(),
            404,
        ),
        (
            "PUT /time HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n".to_string(),
            405,
        ),
        (
            "POST /captures HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n".to_string(),
            401,
        ),
        (
            format!("POST /captures HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n"),
            413,
        ),
        (
            "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 16385\r\n\r\n".to_string(),
            413,
        ),
    ] {
        let mut s = connect(cam.port);
        let resp = ask(&mut s, head.as_bytes());
        assert_eq!(resp.status, status, "{head}");
        assert_eq!(resp.header("connection"), Some("close"), "{head}");
    }
    // A small refused body is skipped and the connection serves the next request.
    let mut s = connect(cam.port);
    s.write_all(b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhelloGET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(s);
    assert_eq!(read_response(&mut reader, false).unwrap().status, 404);
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    // An admitted request still gets its 100 Continue.
    let mut s = connect(cam.port);
    let body = format!("api_key={key}");
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, true).unwrap().status, 100);
    s.write_all(body.as_bytes()).unwrap();
    let resp = read_response(&mut reader, false).unwrap();
    assert!(resp.header("set-cookie").is_some(), "{}", resp.status);
}

#[test]
fn wire_edge_cases() {
    let cam = Picamd::start(&["--resolution", "320x240"]);
    let key = cam.local_key();
    // A chunked body is decoded.
    let body = format!("api_key={key}");
    let (a, b) = body.split_at(5);
    let raw = format!(
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let resp = ask(&mut connect(cam.port), raw.as_bytes());
    assert!(resp.header("set-cookie").is_some(), "{}", resp.status);
    // Within the route's limit.
    let mut s = connect(cam.port);
    s.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 4096, "x".repeat(4096));
    let mut status = None;
    for _ in 0..8 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    if let Ok(resp) = read_response(&mut BufReader::new(&mut s), false) {
        status = Some(resp.status);
    }
    assert_eq!(status, Some(413));
    // A bare CR in a head is refused at once, not after the request timeout.
    let started = Instant::now();
    let mut s = connect(cam.port);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(ask(&mut s, b"GET / HTTP/1.1\rHost: x\r\n\r\n").status, 400);
    assert!(started.elapsed() < Duration::from_secs(10));
    // A URL over 16 KiB.
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    assert_eq!(ask(&mut connect(cam.port), long.as_bytes()).status, 414);
}

/// Opens an MJPEG stream from `from` and reads its head: a connection with a request in
/// progress for as long as it stays open.
fn streaming_from(from: Ipv4Addr, cam: &Picamd, key: &str) -> TcpStream {
    let mut s = connect_from(from, cam.port);
    let head = format!("GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let resp = read_response(&mut BufReader::new(&mut s), true).unwrap();
    assert_eq!(resp.status, 200, "stream from {from}");
    s
}

const TIME: &[u8] = b"GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[test]
fn one_address_cannot_take_every_slot() {
    let cam = Picamd::start(&[
        "--resolution",
        "320x240",
        "--max-connections",
        "8",
        "--max-connections-per-address",
        "3",
    ]);
    let key = cam.local_key();
    let ip = |last| Ipv4Addr::new(127, 0, 0, last);
    // An address whose three connections all have a request in progress gets no fourth.
    let _streams: Vec<TcpStream> = (0..3).map(|_| streaming_from(ip(2), &cam, &key)).collect();
    let mut extra = connect_from(ip(2), cam.port);
    let resp = read_response(&mut BufReader::new(&mut extra), false).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("retry-after"), Some("1"));
    // An address at its share with silent connections gives up its own oldest one.
    let mut silent: Vec<TcpStream> = (0..3).map(|_| connect_from(ip(3), cam.port)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut kept_alive = connect_from(ip(3), cam.port);
    assert_eq!(
        ask(&mut kept_alive, TIME).status,
        200,
        "a fourth from 127.0.0.3"
    );
    assert!(
        closed_within(&mut silent[0], Duration::from_secs(5)),
        "127.0.0.3's oldest silent connection was closed"
    );
    drop(silent);
    std::thread::sleep(Duration::from_millis(200));
    // With every slot taken, the connection idle the longest makes room, even one that is
    // kept alive between requests.
    let mut later = connect_from(ip(4), cam.port);
    assert_eq!(ask(&mut later, TIME).status, 200);
    let _more: Vec<TcpStream> = (0..3).map(|_| streaming_from(ip(5), &cam, &key)).collect();
    let mut newcomer = connect_from(ip(6), cam.port);
    assert_eq!(
        ask(&mut newcomer, TIME).status,
        200,
        "the ninth connection got a slot"
    );
    assert!(
        closed_within(&mut kept_alive, Duration::from_secs(5)),
        "the kept-alive connection idle the longest was closed"
    );
    let mut still = connect(cam.port);
    assert_eq!(ask(&mut still, TIME).status, 200);
    // A connection is marked idle only after its answer is written, so the client can read
    // the answer first; give the server that moment, or the next newcomer finds every slot
    // busy and is (rightly) answered 503.
    std::thread::sleep(Duration::from_millis(200));
    // Near the cap, a new connection has 2 s, not 15 s, to send its first byte.
    let mut quiet = connect_from(ip(7), cam.port);
    let started = Instant::now();
    let mut answer = Vec::new();
    quiet
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let closed = match quiet.read_to_end(&mut answer) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(
        closed && answer.is_empty(),
        "a silent connection near the cap is closed early and unanswered: after {:?}, {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn the_descriptor_limit_is_raised_and_the_cap_fits_under_it() {
    use std::os::unix::process::CommandExt;
    let dir = std::env::temp_dir().join(format!("picamd-fd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("picamd.log")).unwrap();
    let port = common::free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_picamd"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .args(["--resolution", "320x240", "--max-connections", "1024"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("RELAB_CREDENTIALS_FILE", dir.join("creds.json"))
        .env("PAIRING_BACKEND_URL", "")
        .env("RUST_LOG", "info")
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(log);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 100,
                rlim_max: 300,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = std::fs::read_to_string(dir.join("picamd.log")).unwrap_or_default();
        if log.contains("listening on") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = open_files.split_whitespace().collect();
    assert_eq!(&fields[3..5], ["300", "300"], "{open_files}");
    assert!(log.contains("file descriptor limit: 300"), "{log}");
    assert!(log.contains("lowered from 1024 to 118"), "{log}");
}

/// A refused request whose client then trickles its body cannot keep the connection (and its
/// slot): the server drains it for a bounded time only.
#[test]
fn a_trickled_body_after_a_refusal_does_not_hold_the_connection() {
    let cam = Picamd::start(&[]);
    let mut stream = connect(cam.port);
    let resp = ask(
        &mut stream,
        b"POST /nothere HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
    );
    assert_eq!(resp.status, 404);
    let start = Instant::now();
    let closed = loop {
        if stream.write_all(b"x").is_err() {
            break true;
        }
        if start.elapsed() > Duration::from_secs(8) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(closed, "still reading the trickle after 8 s");
}
