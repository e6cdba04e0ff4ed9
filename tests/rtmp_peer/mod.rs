//! Real RTMP peers for tests/youtube_stream.rs: Debian's nginx with the RTMP module (`record
//! all`; optionally an `on_publish` check and an ssl `stream` front for RTMPS), a tiny HTTP
//! endpoint for `on_publish`, and a TCP proxy that records what the client sent and can stop
//! reading. All on loopback, in a temporary folder.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::free_port;

const MODULES: &str = "/usr/lib/nginx/modules";

pub fn have_nginx_rtmp() -> bool {
    Path::new(MODULES).join("ngx_rtmp_module.so").exists()
        && Path::new(MODULES).join("ngx_stream_module.so").exists()
        && Path::new("/usr/sbin/nginx").exists()
}

pub struct Nginx {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    /// The RTMPS front's port, if any.
    pub tls_port: Option<u16>,
    conf: PathBuf,
}

impl Nginx {
    /// `on_publish`: an HTTP URL nginx asks before accepting a publish. `tls`: the PEM
    /// certificate and key of an ssl `stream` front.
    pub fn start(on_publish: Option<&str>, tls: Option<(&Path, &Path)>) -> Nginx {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("picamd-nginx-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        // The record directory must be writable by nginx's worker user.
        Command::new("chmod")
            .args(["0777"])
            .arg(dir.join("rec"))
            .status()
            .unwrap();
        let notify = on_publish.map_or(String::new(), |u| format!("on_publish {u};"));
        let tls_port = tls.map(|_| free_port());
        let stream = match (tls, tls_port) {
            (Some((cert, key)), Some(p)) => format!(
                "stream {{ server {{ listen 127.0.0.1:{p} ssl; ssl_certificate {}; \
                 ssl_certificate_key {}; proxy_pass 127.0.0.1:{port}; }} }}",
                cert.display(),
                key.display()
            ),
            _ => String::new(),
        };
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "load_module {MODULES}/ngx_rtmp_module.so;\n\
                 load_module {MODULES}/ngx_stream_module.so;\n\
                 daemon off; master_process off;\n\
                 pid {d}/nginx.pid; error_log {d}/error.log info;\n\
                 events {{ worker_connections 64; }}\n\
                 rtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096;\n\
                   application live2 {{ live on; record all; record_path {d}/rec;\n\
                   record_unique on; {notify} }} }} }}\n{stream}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut n = Nginx {
            child: None,
            dir,
            port,
            tls_port,
            conf,
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let child = Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(&self.conf)
            .arg("-e")
            .arg(self.dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, like a crash: no goodbye to anyone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Recordings whose name starts with `stream_name`, oldest first.
    pub fn recordings(&self, stream_name: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("rec"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(stream_name) && n.ends_with(".flv"))
        });
        files.sort();
        files
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx's `on_publish`: 403 for stream names starting `bad`, 200 otherwise; counts calls.
pub struct PublishCheck {
    pub url: String,
    pub calls: Arc<AtomicUsize>,
    pub refused: Arc<AtomicUsize>,
}

impl PublishCheck {
    pub fn start() -> PublishCheck {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/publish", listener.local_addr().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (c, r) = (Arc::clone(&calls), Arc::clone(&refused));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut conn = conn;
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                // nginx POSTs a form: read the head and the body it announces.
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                c.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&req);
                let bad = text.contains("name=bad");
                let status = if bad {
                    r.fetch_add(1, Ordering::SeqCst);
                    "403 Forbidden"
                } else {
                    "200 OK"
                };
                let _ = conn.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        PublishCheck {
            url,
            calls,
            refused,
        }
    }
}

/// Client→server bytes of each connection, in accept order.
type Captures = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP proxy that keeps what each client sent and can stop reading from clients.
pub struct Proxy {
    pub port: u16,
    pub stall: Arc<AtomicBool>,
    /// Client→server bytes per connection, in accept order.
    pub captured: Captures,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // A small receive window, so a client's writes block soon once we stop reading.
        let small: libc::c_int = 16 * 1024;
        // SAFETY: setsockopt on our listener with a live c_int.
        unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&small as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let port = listener.local_addr().unwrap().port();
        let stall = Arc::new(AtomicBool::new(false));
        let captured: Captures = Arc::default();
        let (st, cap) = (Arc::clone(&stall), Arc::clone(&captured));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let log = Arc::new(Mutex::new(Vec::new()));
                cap.lock().unwrap().push(Arc::clone(&log));
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let stall = Arc::clone(&st);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        while stall.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        match c_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                log.lock().unwrap().extend_from_slice(&buf[..n]);
                                if s_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = s_out.shutdown(Shutdown::Both);
                    let _ = c_in.shutdown(Shutdown::Both);
                });
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_in, &mut c_out);
                    let _ = c_out.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy {
            port,
            stall,
            captured,
        }
    }

    pub fn connections(&self) -> usize {
        self.captured.lock().unwrap().len()
    }

    /// What client `i` sent after the handshake (C0, C1, C2).
    pub fn after_handshake(&self, i: usize) -> Vec<u8> {
        let all = self.captured.lock().unwrap()[i].lock().unwrap().clone();
        all.get(1 + 2 * 1536..).unwrap_or_default().to_vec()
    }
}

/// A test CA and a certificate for `localhost` and 127.0.0.1 it signed, made with openssl in
/// `dir` (nothing is committed): (ca.pem, cert.pem, key.pem).
pub fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[String]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let args = |line: &str| -> Vec<String> { line.split_whitespace().map(String::from).collect() };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run(&args(&format!(
        "req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=picamd-test-CA \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
    )));
    run(&args(&format!(
        "req {ec} -keyout key.pem -out server.csr -subj /CN=localhost"
    )));
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&args(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem \
         -days 2 -extfile ext.cnf",
    ));
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}
