//! Varnish and nginx on loopback, each in its own temporary folder, with the configs from
//! `deploy/` changed only where an operator would change them (addresses, certificate paths,
//! cache folder). Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("picamd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_for_port(port: u16, what: &str, child: &mut Child, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}: {}", log());
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Varnish {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Varnish {
    /// `varnishd` with `deploy/varnish/picamd.vcl`, its backend pointed at picamd on
    /// `127.0.0.1:<backend_port>`.
    pub fn start(backend_port: u16) -> Varnish {
        let dir = fresh_dir("varnish");
        let vcl = repo_file("deploy/varnish/picamd.vcl")
            .replace(".host = \"192.168.1.50\"", ".host = \"127.0.0.1\"")
            .replace(".port = \"8018\"", &format!(".port = \"{backend_port}\""))
            .replace(
                ".host_header = \"192.168.1.50:8018\"",
                &format!(".host_header = \"127.0.0.1:{backend_port}\""),
            );
        assert!(vcl.contains(&format!("127.0.0.1:{backend_port}")));
        std::fs::write(dir.join("picamd.vcl"), vcl).unwrap();
        let port = free_port();
        // -j none: no privilege separation, so it runs the same as root or not.
        let mut child = Command::new("varnishd")
            .args(["-F", "-j", "none", "-n"])
            .arg(dir.join("work"))
            .args(["-a", &format!("127.0.0.1:{port}"), "-f"])
            .arg(dir.join("picamd.vcl"))
            .args(["-s", "malloc,128m", "-T", "127.0.0.1:0"])
            .args(["-p", "rush_exponent=256", "-p", "thread_pool_min=300"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("varnishd.log")).unwrap())
            .spawn()
            .expect("varnishd starts");
        let log = dir.join("varnishd.log");
        wait_for_port(port, "varnishd", &mut child, || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        Varnish { port, dir, child }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The manager process; its child does the work.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A counter of `varnishstat`, e.g. `MAIN.backend_req`.
    pub fn stat(&self, field: &str) -> u64 {
        let out = Command::new("varnishstat")
            .arg("-n")
            .arg(self.dir.join("work"))
            .args(["-1", "-f", field])
            .output()
            .expect("varnishstat runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                let mut cols = l.split_whitespace();
                (cols.next() == Some(field)).then(|| cols.next()?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("{field} in varnishstat: {out:?}"))
    }

    /// Starts logging every request Varnish sends to picamd (`varnishncsa -b`).
    pub fn log_backend_requests(&self) -> BackendLog {
        let file = self.dir.join(format!("backend-{}.log", free_port()));
        let child = Command::new("varnishncsa")
            .arg("-n")
            .arg(self.dir.join("work"))
            .args(["-b", "-F", "%s %U%q", "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("varnishncsa starts");
        // It attaches to the shared log; give it a moment so no request is missed.
        std::thread::sleep(Duration::from_millis(500));
        BackendLog { child, file }
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The requests Varnish sent to the backend while it ran.
pub struct BackendLog {
    child: Child,
    file: PathBuf,
}

impl BackendLog {
    /// Stops logging; each line is `<status> <url>`.
    pub fn finish(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(500));
        interrupt(self.child.id());
        let _ = self.child.wait();
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// varnishncsa flushes its file on SIGINT; a kill would lose the buffered tail.
fn interrupt(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

pub struct Nginx {
    pub port: u16,
    /// The PEM of the test CA that signed its certificate (for `localhost`).
    pub ca_pem: Vec<u8>,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    /// nginx with `deploy/nginx/picamd.conf`, TLS on `localhost:<port>`, its upstream pointed
    /// at the Varnish on `127.0.0.1:<upstream_port>`.
    pub fn start(upstream_port: u16) -> Nginx {
        let dir = fresh_dir("nginx");
        make_certificate(&dir);
        let port = free_port();
        let server = repo_file("deploy/nginx/picamd.conf")
            .replace(
                "server 127.0.0.1:6081;",
                &format!("server 127.0.0.1:{upstream_port};"),
            )
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
            .replace("listen [::]:443 ssl;", "")
            .replace(
                "/etc/ssl/certs/picamd-edge.pem",
                &dir.join("edge.pem").display().to_string(),
            )
            .replace(
                "/etc/ssl/private/picamd-edge.key",
                &dir.join("edge.key").display().to_string(),
            )
            .replace(
                "/var/cache/nginx/picamd",
                &dir.join("cache").display().to_string(),
            );
        assert!(server.contains(&format!("127.0.0.1:{upstream_port}")));
        let conf = format!(
            "worker_processes auto;\nerror_log {dir}/error.log warn;\npid {dir}/nginx.pid;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir}/tmp;\n  \
             proxy_temp_path {dir}/tmp;\n{server}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off; user root;"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("nginx starts");
        let log = dir.join("stderr.log");
        wait_for_port(port, "nginx", &mut child, || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        let ca_pem = std::fs::read(dir.join("ca.pem")).unwrap();
        Nginx {
            port,
            ca_pem,
            dir,
            child,
        }
    }

    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// An agent that trusts this nginx's certificate.
    pub fn agent(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(&self.ca_pem).expect("PEM");
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                cert,
            ])))
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into()
    }
}

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers (a SIGKILL would leave them running, holding
    /// the port); SIGKILL only if it has not ended within 5 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA (`ca.pem`) and, signed by it, the edge's certificate for `localhost`
/// (`edge.pem`, `edge.key`).
fn make_certificate(dir: &Path) {
    let d = dir.display();
    let steps = [
        format!(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
             -subj /CN=picamd-test-ca -keyout {d}/ca.key -out {d}/ca.pem"
        ),
        format!(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
             -subj /CN=localhost -keyout {d}/edge.key -out {d}/edge.csr"
        ),
        format!(
            "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > {d}/ext && \
             openssl x509 -req -in {d}/edge.csr -CA {d}/ca.pem -CAkey {d}/ca.key \
             -CAcreateserial -days 1 -extfile {d}/ext -out {d}/edge.pem"
        ),
    ];
    for step in steps {
        let ok = Command::new("sh")
            .args(["-c", &step])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "{step}");
    }
}
