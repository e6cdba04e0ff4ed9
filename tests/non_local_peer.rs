//! A client from a public address, over a real socket: a network namespace the test creates
//! holds the daemon on 100.64.0.1 and the client's address 100.64.0.2 (both on its loopback
//! interface). 100.64.0.0/10 (carrier-grade NAT) is not "local" by the plugin's rules, unlike the
//! documentation ranges, so the daemon sees a non-local peer. Nothing leaves the namespace.
//! Skipped, with a message, where `ip netns` or curl cannot be used (not root, no support).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "100.64.0.1";
const CLIENT: &str = "100.64.0.2";
const LOOPBACK: &str = "127.0.0.1";
const PORT: u16 = 8018;
const CDN_SECRET: &str = "edge-secret-0123456789";
const PLAYLIST: &str = "/preview/hls/cam-preview/index.m3u8";

struct Namespace {
    name: String,
}

impl Namespace {
    fn create() -> Option<Namespace> {
        let name = format!("picamd-peer-{}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ok(&["netns", "add", &name]) {
            return None;
        }
        let ns = Namespace { name };
        let setup = [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "add", "100.64.0.1/32", "dev", "lo"],
            vec!["addr", "add", "100.64.0.2/32", "dev", "lo"],
        ];
        for args in setup {
            let mut full = vec!["netns", "exec", &ns.name, "ip"];
            full.extend(args);
            if !ok(&full) {
                return None;
            }
        }
        Some(ns)
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// `curl` from `source` inside the namespace: (status, body).
    fn curl(&self, source: &str, path: &str, headers: &[&str]) -> (u16, String) {
        let mut cmd = self.command("curl");
        cmd.args(["-s", "-m", "20", "-o", "-", "-w", "\n%{http_code}"])
            .args(["--interface", source, "--noproxy", "*"]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        cmd.arg(format!("http://{SERVER}:{PORT}{path}"));
        let Output { stdout, .. } = cmd.output().expect("curl runs");
        let text = String::from_utf8_lossy(&stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

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

fn spawn(ns: &Namespace, dir: &Path) -> Daemon {
    std::fs::create_dir_all(dir).unwrap();
    let child = ns
        .command(env!("CARGO_BIN_EXE_picamd"))
        .args(["--listen", &format!("0.0.0.0:{PORT}"), "--data-dir"])
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("RELAB_CREDENTIALS_FILE", dir.join("relay_credentials.json"))
        .env("PAIRING_BACKEND_URL", "")
        .env("HLS_CDN_SECRET", CDN_SECRET)
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("picamd starts in the namespace");
    Daemon {
        child,
        dir: dir.to_path_buf(),
    }
}

#[test]
fn a_public_peer_gets_neither_the_key_nor_unlimited_guesses() {
    if !common::have("curl") {
        eprintln!("SKIPPED: curl is not installed");
        return;
    }
    let Some(ns) = Namespace::create() else {
        eprintln!("SKIPPED: cannot create a network namespace (`ip netns add` needs root)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("picamd-peer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _daemon = spawn(&ns, &dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ns.curl(SERVER, "/time", &[]).0 != 200 {
        assert!(Instant::now() < deadline, "picamd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let creds = std::fs::read_to_string(dir.join("relay_credentials.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&creds).unwrap();
    let key = json["local_api_key"].as_str().unwrap().to_string();

    // From loopback (a local peer) the setup page shows the key...
    let (status, page) = ns.curl(LOOPBACK, "/setup", &[]);
    assert_eq!(status, 200);
    assert!(page.contains(&key));
    // ...from a public one, nothing that holds it.
    for path in ["/setup", "/local-key", "/preview-thumbnail.jpg"] {
        let (status, body) = ns.curl(CLIENT, path, &[]);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(!body.contains(&key), "{path}");
    }
    let (status, body) = ns.curl(CLIENT, "/setup", &[]);
    assert_eq!(
        (status, body.as_str()),
        (
            403,
            r#"{"detail":"The setup page is only available from the local network"}"#
        )
    );

    // The plugin's liveness probe answers the local network only.
    assert_eq!(
        ns.curl(LOOPBACK, "/healthz", &[]),
        (
            200,
            r#"{"status":"ok","service":"relab-rpi-cam"}"#.to_string()
        )
    );
    assert_eq!(
        ns.curl(CLIENT, "/healthz", &[]),
        (
            403,
            r#"{"detail":"Liveness is only available from the local network"}"#.to_string()
        )
    );

    // The live preview is for the local network, or an edge holding HLS_CDN_SECRET, which
    // may forward its viewers' Host. The secret opens nothing else.
    let bearer = format!("Authorization: Bearer {CDN_SECRET}");
    let (status, body) = ns.curl(CLIENT, PLAYLIST, &[]);
    assert_eq!(status, 403, "{body}");
    let (status, body) = ns.curl(CLIENT, PLAYLIST, &[&bearer, "Host: live.example.org"]);
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("#EXTM3U"), "{body}");
    let wrong = format!("Authorization: Bearer {CDN_SECRET}x");
    assert_eq!(ns.curl(CLIENT, PLAYLIST, &[&wrong]).0, 403);
    // Without the secret, a local edge's foreign Host is refused (DNS rebinding).
    assert_eq!(
        ns.curl(LOOPBACK, PLAYLIST, &["Host: live.example.org"]).0,
        421
    );
    let (status, body) = ns.curl(LOOPBACK, "/camera", &[&bearer]);
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"detail":"Invalid API Key"}"#)
    );

    // Key guessing from the public address is limited on any keyed route.
    for path in [
        "/camera",
        "/frame",
        "/timelapse",
        "/captures",
        "/system/telemetry",
    ] {
        let (status, _) = ns.curl(CLIENT, path, &["X-API-Key: guess"]);
        assert_eq!(status, 403, "{path}");
    }
    let header = format!("X-API-Key: {key}");
    let (status, body) = ns.curl(CLIENT, "/camera", &[&header]);
    assert_eq!(status, 429, "{body}");
    // Loopback is another client.
    assert_eq!(ns.curl(LOOPBACK, "/camera", &[&header]).0, 200);
}
