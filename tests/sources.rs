//! Camera sources against the spawned binary: a `pipe:` source fed by a real ffmpeg, its
//! restart when the ffmpeg dies, and the `rpicam` source through a **stand-in** for
//! `rpicam-vid`.
//!
//! The stand-in: rpicam-vid (and a libcamera camera) cannot run on this machine, so
//! `rpicam_*` tests put a shell script named `rpicam-vid` first on the PATH. It answers
//! `--list-cameras` with a Camera Module 3 line and otherwise runs ffmpeg to write raw
//! yuv420p at the size and rate it was asked for. That checks picamd's side (detection,
//! the command line, reading frames, restarts, control changes); it is not camera testing:
//! nothing here talks to libcamera or a sensor.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Picamd, PLAYLIST};

const PIPE: &str = "pipe:ffmpeg -hide_banner -loglevel error -re -f lavfi \
                    -i testsrc=size=640x360:rate=30 -c:v libx264 -preset ultrafast \
                    -tune zerolatency -g 30 -f h264 -";

/// (pid, command name) of every process below `root`.
fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut parent_of: HashMap<u32, (u32, String)> = HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        parent_of.insert(pid, (ppid, comm));
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, (ppid, comm)) in &parent_of {
            if *ppid == parent {
                found.push((pid, comm.clone()));
                frontier.push(pid);
            }
        }
    }
    found
}

fn wait_for_process(p: &Picamd, name: &str, not: Option<u32>, timeout: Duration) -> u32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((pid, _)) = descendants(p.pid())
            .into_iter()
            .find(|(pid, comm)| comm == name && Some(*pid) != not)
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no {name} below picamd");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills `name` (SIGKILL) and returns how long until /health answers 200 again, with the
/// 503 detail seen meanwhile.
fn kill_and_time_recovery(p: &Picamd, name: &str) -> (Duration, String) {
    let victim = wait_for_process(p, name, None, Duration::from_secs(5));
    assert_eq!(p.get("/health").status, 200, "healthy before the kill");
    let killed = Instant::now();
    let ok = Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let mut down_detail = String::new();
    loop {
        let health = p.get("/health");
        if health.status == 503 && down_detail.is_empty() {
            down_detail = health.json()["detail"].as_str().unwrap().to_string();
        }
        if health.status == 200 && !down_detail.is_empty() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "no recovery within 10 s (503 seen: {down_detail:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = killed.elapsed();
    let replacement = wait_for_process(p, name, Some(victim), Duration::from_secs(1));
    assert_ne!(replacement, victim);
    (took, down_detail)
}

fn ffprobe_stream(p: &Picamd) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height", "-of", "json"])
        .arg(p.url(PLAYLIST))
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"][0].clone()
}

#[test]
fn pipe_source_streams_the_commands_h264_and_restarts_it() {
    assert!(
        common::have("ffmpeg") && common::have("ffprobe"),
        "ffmpeg and ffprobe are needed (scripts/install-test-deps.sh installs them)"
    );
    // Our encoder would make 1280x720: 640x360 proves the pipe's stream goes out as is.
    let p = Picamd::start_with(&["--source", PIPE], &[("RUST_LOG", "info")], |_| {});
    let stream = ffprobe_stream(&p);
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(640), Some(360))
    );
    let log = p.log();
    assert!(
        log.contains("  Source   : pipe (set by --source: ffmpeg"),
        "{log}"
    );
    assert!(
        log.contains("  Encoder  : none: the pipe command delivers H.264"),
        "{log}"
    );

    let frame = p.authed("GET", "/frame", "");
    assert_eq!(frame.status, 503);
    assert_eq!(
        frame.json()["detail"],
        "Stills need a raw source: the pipe source delivers H.264 only"
    );

    let capture = p.authed("POST", "/captures", r#"{"product_id":1}"#);
    assert_eq!(capture.status, 503, "{}", capture.text());
    // A pipe has no focus motor picamd could drive.
    let focus = p.authed(
        "PUT",
        "/camera/focus",
        r#"{"mode":"manual","lens_position":1}"#,
    );
    assert_eq!(focus.status, 422);
    assert_eq!(
        focus.json()["detail"],
        "Camera does not support autofocus controls"
    );

    // Nor controls: none are offered, so none can be set to no effect.
    let controls = p.authed("GET", "/camera/controls", "");
    assert_eq!(controls.status, 200);
    let patch = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"Brightness":0.3}}"#,
    );
    assert_eq!(patch.status, 422, "{}", patch.text());
    assert!(patch.text().contains("Unknown camera controls: Brightness"));

    let (took, detail) = kill_and_time_recovery(&p, "ffmpeg");
    eprintln!("pipe: healthy again {took:?} after the ffmpeg was killed; 503 said {detail:?}");
    assert!(took <= Duration::from_secs(2), "{took:?}");
    assert!(
        detail.starts_with("The camera (pipe) is down: the pipe command closed its output"),
        "{detail}"
    );
    // The stream goes on (a new session) at the pipe's size.
    let stream = ffprobe_stream(&p);
    assert_eq!(stream["width"], 640);
}

/// Writes the stand-in `rpicam-vid` (see the module comment) into `dir`; it appends each
/// command line it gets to `dir/rpicam-args`.
fn write_rpicam_stand_in(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        r#"#!/bin/sh
# STAND-IN for rpicam-vid, for tests only: no camera, no libcamera.
echo "$*" >> '{args}'
if [ "$1" = "--list-cameras" ]; then
    echo "Available cameras"
    echo "-----------------"
    echo "0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)"
    echo "    Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]"
    exit 0
fi
W=0; H=0; F=30
while [ $# -gt 0 ]; do
    case "$1" in
        --width) W=$2; shift ;;
        --height) H=$2; shift ;;
        --framerate) F=$2; shift ;;
    esac
    shift
done
echo "stand-in rpicam-vid: ${{W}}x${{H}} at $F fps" >&2
exec ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc=size=${{W}}x${{H}}:rate=$F \
    -f rawvideo -pix_fmt yuv420p -
"#,
        args = dir.join("rpicam-args").display()
    );
    let path = dir.join("rpicam-vid");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn rpicam_source_through_a_stand_in_rpicam_vid() {
    assert!(common::have("ffmpeg"), "ffmpeg is needed");
    let bin = std::env::temp_dir().join(format!("picamd-rpicam-stand-in-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    write_rpicam_stand_in(&bin);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // No --source: `auto` finds the stand-in's camera.
    let p = Picamd::start_with(
        &["--resolution", "640x360", "--fps", "30"],
        &[("PATH", &path), ("RUST_LOG", "info")],
        |_| {},
    );
    let log = p.log();
    assert!(
        log.contains("  Source   : rpicam (libcamera camera 0: imx708)"),
        "{log}"
    );
    assert!(
        log.contains("  Encoder  : OpenH264 (software; no hardware H.264 encoder")
            && log.contains(") 640x360 at 30 fps"),
        "{log}"
    );
    assert!(
        log.contains("stand-in rpicam-vid: 640x360 at 30 fps"),
        "stderr is logged"
    );
    let args = std::fs::read_to_string(bin.join("rpicam-args")).unwrap();
    let run = args.lines().nth(1).expect("a run after --list-cameras");
    assert!(
        run.starts_with(
            "-t 0 --camera 0 --codec yuv420 --width 640 --height 360 --framerate 30 --nopreview --flush"
        ),
        "{run}"
    );
    assert!(run.ends_with("--autofocus-mode continuous -o -"), "{run}");

    // Raw frames: stills work, and the preview is our encoder's.
    let frame = p.authed("GET", "/frame", "");
    assert_eq!(frame.status, 200);
    assert_eq!(frame.header("Content-Type"), Some("image/jpeg"));

    let capture = p.authed("POST", "/captures", r#"{"product_id":1}"#);
    assert_eq!(capture.status, 201, "{}", capture.text());
    assert!(
        capture.text().contains(r#""Model":"imx708""#),
        "the sensor's name in the metadata: {}",
        capture.text()
    );

    let (took, detail) = kill_and_time_recovery(&p, "ffmpeg");
    eprintln!("rpicam: healthy again {took:?} after the stand-in was killed; 503 said {detail:?}");
    assert!(took <= Duration::from_secs(2), "{took:?}");
    assert!(
        detail.starts_with("The camera (rpicam) is down: "),
        "{detail}"
    );

    // A control that rpicam-vid takes as an option restarts it with the new value.
    let patched = p.authed(
        "PATCH",
        "/camera/controls",
        r#"{"controls":{"Brightness":0.3}}"#,
    );
    assert_eq!(patched.status, 200, "{}", patched.text());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(bin.join("rpicam-args"))
        .unwrap()
        .contains("--brightness 0.3")
    {
        assert!(Instant::now() < deadline, "rpicam-vid was not restarted");
        std::thread::sleep(Duration::from_millis(50));
    }
    p.wait_for_log(
        "restarting rpicam-vid: camera controls changed",
        Duration::from_secs(2),
    )
    .unwrap();
    drop(p);
    let _ = std::fs::remove_dir_all(&bin);
}
