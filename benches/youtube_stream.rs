//! The cost of a running YouTube stream and its delay, against a real nginx-rtmp on loopback.
//!
//!     cargo bench --bench youtube_stream [-- --seconds 20]
//!
//! The release daemon (synthetic camera, 1280x720 at 30 fps, the preview encoder kept
//! running) publishes to nginx (`record off`) for `--seconds`. Measured:
//! - CPU time of the stream thread (`youtube`, from /proc/<pid>/task/*/stat), next to the
//!   encoder thread's over the same window;
//! - capture → FLV tag written to the socket: the stream's `capture_to_wire_us` from
//!   `/health`, sampled every 100 ms (the synthetic camera stamps each frame when it is drawn).
//!
//! Needs nginx with libnginx-mod-rtmp (scripts/install-test-deps.sh).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{arg, Daemon, Summary};

fn http(port: u16, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// utime + stime of the daemon's threads named `name`, in clock ticks.
fn thread_ticks(pid: u32, name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
        let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        total += field(11) + field(12);
    }
    total
}

fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

fn nginx(dir: &std::path::Path, port: u16) -> Child {
    std::fs::create_dir_all(dir).unwrap();
    let m = "/usr/lib/nginx/modules";
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "load_module {m}/ngx_rtmp_module.so;\ndaemon off; master_process off;\n\
             pid {d}/nginx.pid; error_log {d}/error.log warn;\nevents {{}}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; application live2 {{ live on; }} }} }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn main() {
    if !std::path::Path::new("/usr/lib/nginx/modules/ngx_rtmp_module.so").exists() {
        eprintln!("needs nginx with libnginx-mod-rtmp: run scripts/install-test-deps.sh");
        std::process::exit(1);
    }
    let seconds: u64 = arg("--seconds", 20);
    let rtmp_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("picamd-bench-yt-{}", std::process::id()));
    let mut server = nginx(&dir, rtmp_port);
    let ingest = format!("rtmp://127.0.0.1:{rtmp_port}/live2");
    let mut daemon = Daemon::start(
        "youtube",
        &["--resolution", "1280x720", "--fps", "30"],
        &[
            ("YOUTUBE_INGEST_URL", ingest.as_str()),
            ("PREVIEW_HIBERNATE_AFTER_S", "0"),
        ],
    );
    let key = daemon.local_key();
    let port = daemon.port;
    let pid = daemon.pid();
    let (status, body) = http(
        port,
        "POST",
        "/streams/youtube",
        &key,
        r#"{"stream_key":"bench","broadcast_key":"b"}"#,
    );
    assert_eq!(status, 201, "{body}");
    std::thread::sleep(Duration::from_secs(2));
    let encoder = thread_names(pid)
        .into_iter()
        .find(|n| n.contains("encod"))
        .unwrap_or_else(|| "encoder".into());
    let tick = 100.0; // USER_HZ
    let (yt0, enc0, t0) = (
        thread_ticks(pid, "youtube"),
        thread_ticks(pid, &encoder),
        Instant::now(),
    );
    let mut delays = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        let (_, health) = http(port, "GET", "/health", &key, "");
        let v: serde_json::Value = serde_json::from_str(&health).unwrap_or_default();
        if let Some(us) = v["youtube"]["capture_to_wire_us"].as_u64() {
            assert_eq!(v["youtube"]["state"], "live", "{v}");
            delays.push(us as f64 / 1000.0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = t0.elapsed().as_secs_f64();
    let yt = (thread_ticks(pid, "youtube") - yt0) as f64 / tick;
    let enc = (thread_ticks(pid, &encoder) - enc0) as f64 / tick;
    daemon.check_alive().expect("daemon alive");
    let (status, _) = http(port, "DELETE", "/streams/youtube", &key, "");
    assert_eq!(status, 204);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("YouTube stream, 1280x720 at 30 fps, {wall:.0} s to nginx-rtmp on loopback");
    println!(
        "CPU: stream thread {:.2} % of a core; encoder thread ({encoder}) {:.1} %",
        yt / wall * 100.0,
        enc / wall * 100.0
    );
    println!("{}", Summary::header());
    println!(
        "{}",
        Summary::of_ms(&mut delays).row("capture -> FLV tag on the wire (ms)")
    );
}
