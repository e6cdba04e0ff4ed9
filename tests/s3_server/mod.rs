//! A real S3 server for the upload tests: `s3s-fs` (the S3 layer RustFS is built on), which
//! checks SigV4 signatures, on loopback with fixed keys and a temporary root. Installed by
//! `scripts/install-test-deps.sh`; a test that needs it fails, never skips, when it is missing.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "picamd-test-access";
pub const SECRET_KEY: &str = "picamd-test-secret-0123456789";

/// A running (or stopped) s3s-fs on a fixed port and root; killed and removed on drop.
pub struct S3Server {
    child: Option<Child>,
    pub port: u16,
    pub root: PathBuf,
    /// `--domain` for virtual-host addressing (`localhost:<port>`), when asked for.
    virtual_host: bool,
}

impl S3Server {
    /// Starts s3s-fs on a free port with an empty root.
    pub fn start() -> S3Server {
        S3Server::start_on(free_port(), false)
    }

    /// Starts s3s-fs answering virtual-host requests for `<bucket>.localhost:<port>`.
    pub fn start_virtual_host() -> S3Server {
        S3Server::start_on(free_port(), true)
    }

    /// A server that is not running yet, on a port reserved for it: uploads to it fail until
    /// [`S3Server::resume`].
    pub fn stopped() -> S3Server {
        let server = S3Server::new(free_port(), false);
        std::fs::create_dir_all(&server.root).expect("s3s-fs root");
        server
    }

    fn new(port: u16, virtual_host: bool) -> S3Server {
        let root = std::env::temp_dir().join(format!("picamd-s3-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        S3Server {
            child: None,
            port,
            root,
            virtual_host,
        }
    }

    fn start_on(port: u16, virtual_host: bool) -> S3Server {
        let mut server = S3Server::new(port, virtual_host);
        std::fs::create_dir_all(&server.root).expect("s3s-fs root");
        server.resume();
        server
    }

    /// Starts the server again on the same port and root.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "s3s-fs is already running");
        let bin = binary();
        let log = std::fs::File::create(self.root.with_extension("log")).expect("s3s-fs log");
        let mut cmd = Command::new(&bin);
        cmd.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]);
        if self.virtual_host {
            cmd.args(["--domain", &format!("localhost:{}", self.port)]);
        }
        let child = cmd
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("s3s-fs exited at once ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (the root stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.with_extension("log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>` (path-style) or `http://localhost:<port>` (virtual-host).
    pub fn endpoint(&self) -> String {
        let host = if self.virtual_host {
            "localhost"
        } else {
            "127.0.0.1"
        };
        format!("http://{host}:{}", self.port)
    }

    /// The picamd settings that send captures to `bucket` on this server.
    pub fn env(&self, bucket: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("S3_ENDPOINT_URL".to_string(), self.endpoint()),
            ("S3_BUCKET".to_string(), bucket.to_string()),
            ("S3_ACCESS_KEY_ID".to_string(), ACCESS_KEY.to_string()),
            ("S3_SECRET_ACCESS_KEY".to_string(), SECRET_KEY.to_string()),
        ];
        if self.virtual_host {
            env.push(("S3_ADDRESSING_STYLE".into(), "virtual".into()));
        }
        env
    }

    /// Every object in `bucket`, as (key, bytes), sorted by key; read from the server's
    /// root, where s3s-fs keeps each object as a file named by its key.
    pub fn objects(&self, bucket: &str) -> Vec<(String, Vec<u8>)> {
        let dir = self.root.join(bucket);
        let mut out = Vec::new();
        collect(&dir, &dir, &mut out);
        out.sort();
        out
    }

    /// Waits until `bucket` holds at least `count` objects; the objects then.
    pub fn wait_for_objects(
        &self,
        bucket: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<(String, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        loop {
            let objects = self.objects(bucket);
            if objects.len() >= count || Instant::now() > deadline {
                return objects;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- s3s-fs log (port {}) ---\n{}", self.port, self.log());
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(self.root.with_extension("log"));
    }
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            let key = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((key, bytes));
        }
    }
}

/// The s3s-fs binary: on the PATH or in `~/.cargo/bin`. Missing is a failure, not a skip.
pub fn binary() -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/s3s-fs"));
    if let Some(path) = cargo_bin.filter(|p| p.is_file()) {
        return path;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("s3s-fs"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("s3s-fs is not installed: run scripts/install-test-deps.sh (cargo install s3s-fs --version 0.14.1 --locked --features binary)")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
