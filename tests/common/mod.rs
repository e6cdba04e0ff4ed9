//! Shared helpers for the integration tests: spawn the real binary, talk HTTP to it.
#![allow(dead_code)]

pub mod browser;
pub mod multipart;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PLAYLIST: &str = "/preview/hls/cam-preview/index.m3u8";

/// A running picamd on a free loopback port, killed on drop.
pub struct Picamd {
    child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// A command the daemon runs under (`unshare ...`), for tests that need a namespace.
    wrapper: Vec<String>,
}

impl Picamd {
    /// Starts picamd with extra flags and waits until its first playlist is served.
    pub fn start(extra: &[&str]) -> Picamd {
        Picamd::start_with(extra, &[], |_| {})
    }

    /// Like `start`, with extra environment variables and a chance to prepare the data
    /// directory first. The daemon runs isolated: its HOME, working directory (so no stray
    /// `.env`), credentials file and images all live in a fresh temporary directory, and the
    /// RELab variables of the test's own environment are not passed on. Its log (stderr, at
    /// the level `RUST_LOG` in `env` asks for, `warn` by default) goes to `picamd.log` in the
    /// data directory.
    pub fn start_with(
        extra: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&std::path::Path),
    ) -> Picamd {
        Picamd::start_under(&[], extra, env, prepare)
    }

    /// Like `start_with`, running the daemon as `wrapper... picamd <args>` (e.g.
    /// `unshare -rm sh -c '...; exec "$0" "$@"'` for a private mount).
    pub fn start_under(
        wrapper: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&std::path::Path),
    ) -> Picamd {
        let port = free_port();
        let data_dir =
            std::env::temp_dir().join(format!("picamd-test-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("temporary data directory");
        prepare(&data_dir);
        let wrapper: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
        let child = spawn(port, &data_dir, extra, env, &wrapper);
        let mut picamd = Picamd {
            child,
            port,
            wrapper,
            data_dir,
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        picamd.wait_ready(PLAYLIST);
        picamd
    }

    /// Like `start_with`, for a daemon that serves no preview (`CAMERA_ENABLED=0`): ready
    /// once its API answers.
    pub fn start_api_only(extra: &[&str], env: &[(&str, &str)]) -> Picamd {
        let port = free_port();
        let data_dir =
            std::env::temp_dir().join(format!("picamd-test-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("temporary data directory");
        let child = spawn(port, &data_dir, extra, env, &[]);
        let mut picamd = Picamd {
            child,
            port,
            data_dir,
            wrapper: Vec::new(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        picamd.wait_ready("/time");
        picamd
    }

    /// Kills the daemon (like a power cut: no clean shutdown) and starts it again on the same
    /// port and data directory.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.child = spawn(self.port, &self.data_dir, &args, &env, &self.wrapper);
        self.wait_ready(PLAYLIST);
    }

    /// Sets (or replaces) an environment variable for the next [`Picamd::restart`].
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    fn wait_ready(&mut self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = try_get(self.port, path) {
                if resp.status == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("picamd exited early: {status}\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "picamd did not serve {path} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("picamd.log")).unwrap_or_default()
    }

    /// Waits until the log contains `needle`; the log so far when it does not in time.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The local API key the daemon generated (or was given) on its first boot.
    pub fn local_key(&self) -> String {
        let path = self.data_dir.join("relay_credentials.json");
        let text = std::fs::read_to_string(&path).expect("credentials file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("credentials JSON");
        json["local_api_key"]
            .as_str()
            .expect("local_api_key")
            .to_string()
    }

    /// Sends `signal` to the daemon and waits up to `limit` for it to exit; `None` if it
    /// is still running then.
    pub fn signal_and_wait(
        &mut self,
        signal: i32,
        limit: Duration,
    ) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The daemon's process id (to find the programs it runs).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The value of one unlabelled metric in `/metrics` (read with the local key).
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.authed("GET", "/metrics", "").text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A request with the local key (and a JSON content type when there is a body).
    pub fn authed(&self, method: &str, path: &str, body: &str) -> HttpResponse {
        let key = self.local_key();
        let mut headers = vec![("X-API-Key", key.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.request(method, path, &headers, body.as_bytes())
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[], b"")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        request(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

impl Drop for Picamd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- picamd log (port {}) ---\n{}", self.port, self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn spawn(
    port: u16,
    data_dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
    wrapper: &[String],
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("picamd.log"))
        .expect("log file");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(env!("CARGO_BIN_EXE_picamd"));
            cmd
        }
        None => Command::new(env!("CARGO_BIN_EXE_picamd")),
    };
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", data_dir)
        .env(
            "RELAB_CREDENTIALS_FILE",
            data_dir.join("relay_credentials.json"),
        )
        .env("PAIRING_BACKEND_URL", "")
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("picamd starts")
}

/// Polls `done` every 100 ms; fails the test naming `what` when `timeout` passes first.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn try_get(port: u16, path: &str) -> std::io::Result<HttpResponse> {
    request(port, "GET", path, &[], b"")
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

pub fn read_response(reader: &mut impl BufRead, head_only: bool) -> std::io::Result<HttpResponse> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = Vec::new();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if !head_only {
        match length {
            Some(n) => {
                body.resize(n, 0);
                reader.read_exact(&mut body)?;
            }
            None => {
                reader.read_to_end(&mut body)?;
            }
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The (msn, part) named by the playlist's EXT-X-PRELOAD-HINT.
pub fn preload_hint(playlist: &str) -> (String, u64, u32) {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))
        .expect("a preload hint");
    let uri = line
        .split("URI=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let stem = uri.split('-').nth(1).unwrap().trim_end_matches(".m4s");
    let (msn, part) = stem.split_once('.').unwrap();
    (uri.clone(), msn.parse().unwrap(), part.parse().unwrap())
}

/// Whether a program is on the PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
