//! Discovery on the LAN, for real: avahi-daemon with the shipped `deploy/avahi/picamd.service`
//! and picamd run in a network namespace the test creates, joined by a veth pair to a second
//! one. From the second, an mDNS query (RFC 6762, legacy unicast) finds `_relab-rpi-cam._tcp`
//! and `_http._tcp`, resolves the instance (SRV, A), and `/health` answers at what it found.
//! Nothing leaves the two namespaces. Skipped, with a message, without root, `ip netns` or
//! avahi-daemon (scripts/test.sh installs it).

mod common;

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER_IP: &str = "10.78.0.1";

struct Lab {
    server_ns: String,
    client_ns: String,
    netns_etc: PathBuf,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.server_ns, &self.client_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.netns_etc);
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Lab {
    fn create() -> Option<Lab> {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            server_ns: format!("picamd-mdns-s{id}"),
            client_ns: format!("picamd-mdns-c{id}"),
            netns_etc: PathBuf::new(),
            children: Vec::new(),
        };
        let (s, c) = (lab.server_ns.clone(), lab.client_ns.clone());
        let (vs, vc) = (format!("pmds{id}"), format!("pmdc{id}"));
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &s],
            vec!["netns", "add", &c],
            vec!["link", "add", &vs, "type", "veth", "peer", "name", &vc],
            vec!["link", "set", &vs, "netns", &s],
            vec!["link", "set", &vc, "netns", &c],
            vec!["-n", &s, "addr", "add", "10.78.0.1/24", "dev", &vs],
            vec!["-n", &c, "addr", "add", "10.78.0.2/24", "dev", &vc],
            vec!["-n", &s, "link", "set", &vs, "up"],
            vec!["-n", &c, "link", "set", &vc, "up"],
            vec!["-n", &s, "link", "set", "lo", "up"],
            vec!["-n", &c, "link", "set", "lo", "up"],
            vec!["-n", &c, "route", "add", "224.0.0.0/4", "dev", &vc],
        ];
        let mut lab = lab;
        for step in steps {
            if !ip(&step) {
                return None;
            }
        }
        // `ip netns exec` mounts /etc/netns/<ns>/avahi over /etc/avahi: the daemon in the
        // namespace reads our config and the shipped service file, nothing of the host's.
        lab.netns_etc = PathBuf::from("/etc/netns").join(&s);
        let avahi = lab.netns_etc.join("avahi");
        std::fs::create_dir_all(avahi.join("services")).ok()?;
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(
            repo.join("deploy/avahi/picamd.service"),
            avahi.join("services/picamd.service"),
        )
        .ok()?;
        std::fs::write(
            avahi.join("avahi-daemon.conf"),
            format!(
                "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces={vs}\nenable-dbus=no\n\
                 [publish]\npublish-workstation=no\n"
            ),
        )
        .ok()?;
        Some(lab)
    }

    fn spawn_in_server(&mut self, program: &str, args: &[&str], log: &Path) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.server_ns, program])
            .args(args)
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap())
            .spawn()
            .expect("starts in the namespace");
        self.children.push(child);
    }

    /// Runs `f` on a thread that lives in the client namespace.
    fn in_client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = File::open(format!("/run/netns/{}", self.client_ns)).expect("netns file");
        std::thread::spawn(move || {
            // SAFETY: setns on this thread only, with a namespace descriptor we hold open.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("client thread")
    }
}

#[test]
fn the_camera_is_found_by_mdns_and_answers_where_it_was_found() {
    if !common::have("avahi-daemon") {
        eprintln!("SKIPPED: avahi-daemon is not installed");
        return;
    }
    let Some(mut lab) = Lab::create() else {
        eprintln!("SKIPPED: cannot create network namespaces and /etc/netns (needs root)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("picamd-mdns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    lab.spawn_in_server(
        env!("CARGO_BIN_EXE_picamd"),
        &[
            "--listen",
            "0.0.0.0:8018",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &dir.join("picamd.log"),
    );
    lab.spawn_in_server(
        "avahi-daemon",
        &[
            "--no-drop-root",
            "--no-chroot",
            "--no-rlimits",
            "--no-proc-title",
        ],
        &dir.join("avahi.log"),
    );

    let found = lab.in_client(|| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let relab = query("_relab-rpi-cam._tcp.local");
            let http = query("_http._tcp.local");
            if let (Some(relab), Some(http)) = (relab, http) {
                return Some((relab, http));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let avahi_log = std::fs::read_to_string(dir.join("avahi.log")).unwrap_or_default();
    if avahi_log.contains("already running") {
        eprintln!("SKIPPED: another avahi-daemon runs on this machine");
        return;
    }
    let (relab, http) = found.unwrap_or_else(|| panic!("no answer; avahi said:\n{avahi_log}"));
    for service in [&relab, &http] {
        assert!(service.instance.starts_with("picamd on "), "{service:?}");
        assert!(!service.instance.contains("%h"), "{service:?}");
        assert_eq!(service.port, 8018, "{service:?}");
        assert_eq!(service.address, SERVER_IP.parse::<Ipv4Addr>().unwrap());
        assert_eq!(service.txt, vec!["path=/".to_string()], "{service:?}");
    }
    eprintln!("found {relab:?}");

    // What was found is where the camera answers (from the other namespace).
    let target = SocketAddr::from((relab.address, relab.port));
    let status = lab.in_client(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(status) = get_status(target, "/health") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "picamd does not answer at {target}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

fn get_status(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))
}

#[derive(Debug)]
struct Found {
    instance: String,
    port: u16,
    address: Ipv4Addr,
    txt: Vec<String>,
}

/// A one-shot mDNS query (legacy unicast: from an ephemeral port, answered to it) for the
/// PTR records of `service`; the responder adds the instance's SRV, TXT and A records.
fn query(service: &str) -> Option<Found> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    // avahi ignores queries that did not come with the link-local TTL of 255.
    socket.set_multicast_ttl_v4(255).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut packet = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    packet.extend(encode_name(service));
    packet.extend([0, 12, 0, 1]); // PTR, IN
    socket.send_to(&packet, ("224.0.0.251", 5353)).ok()?;
    let mut buf = [0u8; 9000];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    mdns::parse_answer(&buf[..n], service)
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

mod mdns {
    use super::Found;
    use std::net::Ipv4Addr;

    /// A DNS name at `pos` (with compression), and where the name's bytes end.
    fn name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
        let mut labels = Vec::new();
        let mut end = None;
        for _ in 0..64 {
            let len = *msg.get(pos)? as usize;
            if len == 0 {
                return Some((labels.join("."), end.unwrap_or(pos + 1)));
            }
            if len & 0xC0 == 0xC0 {
                let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
                end.get_or_insert(pos + 2);
                pos = target;
                continue;
            }
            labels.push(String::from_utf8_lossy(msg.get(pos + 1..pos + 1 + len)?).into_owned());
            pos += 1 + len;
        }
        None
    }

    struct Record {
        name: String,
        kind: u16,
        data_at: usize,
        data: Vec<u8>,
    }

    fn records(msg: &[u8]) -> Option<Vec<Record>> {
        let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]) as usize;
        if msg.len() < 12 {
            return None;
        }
        let (questions, answers) = (count(4), count(6) + count(8) + count(10));
        let mut pos = 12;
        for _ in 0..questions {
            pos = name(msg, pos)?.1 + 4;
        }
        let mut out = Vec::new();
        for _ in 0..answers {
            let (owner, after) = name(msg, pos)?;
            let kind = u16::from_be_bytes([*msg.get(after)?, *msg.get(after + 1)?]);
            let len = u16::from_be_bytes([*msg.get(after + 8)?, *msg.get(after + 9)?]) as usize;
            let data_at = after + 10;
            out.push(Record {
                name: owner.to_ascii_lowercase(),
                kind,
                data_at,
                data: msg.get(data_at..data_at + len)?.to_vec(),
            });
            pos = data_at + len;
        }
        Some(out)
    }

    pub fn parse_answer(msg: &[u8], service: &str) -> Option<Found> {
        let all = records(msg)?;
        let service = service.to_ascii_lowercase();
        let ptr = all.iter().find(|r| r.kind == 12 && r.name == service)?;
        let (instance_full, _) = name(msg, ptr.data_at)?;
        let instance_key = instance_full.to_ascii_lowercase();
        let srv = all
            .iter()
            .find(|r| r.kind == 33 && r.name == instance_key)?;
        let port = u16::from_be_bytes([*srv.data.get(4)?, *srv.data.get(5)?]);
        let (host, _) = name(msg, srv.data_at + 6)?;
        let a = all
            .iter()
            .find(|r| r.kind == 1 && r.name == host.to_ascii_lowercase())?;
        let address = Ipv4Addr::new(a.data[0], a.data[1], a.data[2], a.data[3]);
        let txt_record = all
            .iter()
            .find(|r| r.kind == 16 && r.name == instance_key)?;
        let mut txt = Vec::new();
        let mut i = 0;
        while i < txt_record.data.len() {
            let len = txt_record.data[i] as usize;
            txt.push(
                String::from_utf8_lossy(txt_record.data.get(i + 1..i + 1 + len)?).into_owned(),
            );
            i += 1 + len;
        }
        let instance = instance_full
            .strip_suffix(&format!(".{service}"))
            .unwrap_or(&instance_full)
            .to_string();
        Some(Found {
            instance,
            port,
            address,
            txt,
        })
    }
}
