//! picamd as a systemd service, without systemd as PID 1: the notify protocol read from a
//! datagram socket the test binds (READY=1 once it serves, STATUS=, WATCHDOG=1 every half
//! `WATCHDOG_USEC`, STOPPING=1 on SIGTERM), children that never see the service's variables,
//! socket activation through `systemd-socket-activate`, and the shipped unit's sandbox scored
//! by `systemd-analyze security --offline=yes`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("picamd-service-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `program args…` (picamd itself, or a launcher that execs it) isolated in `dir`.
fn spawn(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Daemon {
    let log = std::fs::File::create(dir.join("picamd.log")).unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("RELAB_CREDENTIALS_FILE", dir.join("relay_credentials.json"))
        .env("PAIRING_BACKEND_URL", "")
        .env("RUST_LOG", "info")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Daemon {
        child: cmd.spawn().expect("starts"),
        dir: dir.to_path_buf(),
    }
}

fn picamd() -> &'static str {
    env!("CARGO_BIN_EXE_picamd")
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("picamd.log")).unwrap_or_default()
}

/// The next notification, or `None` after `timeout`.
fn next(socket: &UnixDatagram, timeout: Duration) -> Option<String> {
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn notifies_ready_status_watchdog_and_stopping() {
    let dir = fresh_dir("notify");
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let data = dir.join("data");
    let mut daemon = spawn(
        &dir,
        picamd(),
        &["--listen", &listen, "--data-dir", data.to_str().unwrap()],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let ready = next(&socket, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no READY=1: {}", log_of(&dir)));
    assert!(
        ready.starts_with("READY=1\nSTATUS=serving http://"),
        "{ready}"
    );
    assert!(ready.contains(&listen), "{ready}");
    // Ready means serving: the first request right after it is answered.
    let health = common::request(port, "GET", "/healthz", &[], b"").unwrap();
    assert_eq!(health.status, 200);

    // A ping every half interval (500 ms): about six in 3 s.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(3) {
        match next(&socket, Duration::from_millis(1500)) {
            Some(m) if m == "WATCHDOG=1" => pings += 1,
            Some(other) => panic!("unexpected notification {other:?}"),
            None => break,
        }
    }
    assert!((4..=8).contains(&pings), "{pings} pings in 3 s");

    sigterm(&daemon.child);
    let mut stopping = None;
    for _ in 0..10 {
        match next(&socket, Duration::from_secs(5)) {
            Some(m) if m == "WATCHDOG=1" => continue,
            other => {
                stopping = other;
                break;
            }
        }
    }
    let stopping = stopping.expect("a STOPPING=1");
    assert_eq!(stopping, "STOPPING=1\nSTATUS=stopping (SIGTERM)");
    let status = wait_exit(&mut daemon.child, Duration::from_secs(10));
    assert!(status.success(), "{status}: {}", log_of(&dir));
}

#[test]
fn children_never_see_the_service_variables() {
    let dir = fresh_dir("child-env");
    let socket_path = dir.join("notify.sock");
    let _socket = UnixDatagram::bind(&socket_path).unwrap();
    let env_file = dir.join("child.env");
    let source = format!("pipe:env > {}; exec sleep 60", env_file.display());
    let data = dir.join("data");
    let listen = format!("127.0.0.1:{}", common::free_port());
    let _daemon = spawn(
        &dir,
        picamd(),
        &[
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
            "--source",
            &source,
        ],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "30000000"),
            ("LISTEN_FDS", "1"),
            ("LISTEN_PID", "1"),
            ("LISTEN_FDNAMES", "http"),
            ("PICAMD_TEST_MARKER", "passed-on"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let env = loop {
        let text = std::fs::read_to_string(&env_file).unwrap_or_default();
        if text.contains("PICAMD_TEST_MARKER") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the pipe command did not run: {}",
            log_of(&dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(env.contains("PICAMD_TEST_MARKER=passed-on"));
    for name in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
    ] {
        assert!(
            !env.contains(&format!("{name}=")),
            "{name} reached the child:\n{env}"
        );
    }
}

#[test]
fn serves_the_socket_it_is_passed() {
    if !common::have("systemd-socket-activate") {
        eprintln!("SKIPPED: systemd-socket-activate is not installed");
        return;
    }
    let dir = fresh_dir("activation");
    let port = common::free_port();
    let data = dir.join("data");
    // --listen names a port picamd could not bind: the passed socket is what serves.
    let mut daemon = spawn(
        &dir,
        "systemd-socket-activate",
        &[
            "-l",
            &format!("127.0.0.1:{port}"),
            picamd(),
            "--listen",
            "192.0.2.1:1",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The socket exists from the start: a request waits in it until picamd accepts.
        if let Ok(resp) = common::request(port, "GET", "/healthz", &[], b"") {
            assert_eq!(resp.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "no answer: {}", log_of(&dir));
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = log_of(&dir);
    assert!(
        log.contains(&format!(
            "serving the socket systemd passed (127.0.0.1:{port})"
        )),
        "{log}"
    );
    // The peer address is the client's own (the local-network rules still apply).
    let setup = common::request(port, "GET", "/setup", &[], b"").unwrap();
    assert_eq!(setup.status, 200);
    sigterm(&daemon.child);
    let status = wait_exit(&mut daemon.child, Duration::from_secs(10));
    assert!(status.success(), "{status}: {}", log_of(&dir));
}

#[test]
fn the_shipped_units_verify_and_the_service_is_sandboxed() {
    if !common::have("systemd-analyze") {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(repo.join("systemd/picamd.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/picamd serve"));
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    let dir = fresh_dir("units");
    // `verify` wants the binary to exist: the one just built stands in for /usr/bin/picamd.
    std::fs::write(
        dir.join("picamd.service"),
        unit.replace("/usr/bin/picamd", picamd()),
    )
    .unwrap();
    std::fs::copy(
        repo.join("systemd/socket-activation/picamd.socket"),
        dir.join("picamd.socket"),
    )
    .unwrap();
    for name in ["picamd.service", "picamd.socket"] {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(repo.join("systemd/picamd.service"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for picamd.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    eprintln!("systemd-analyze security: exposure {score}");
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
