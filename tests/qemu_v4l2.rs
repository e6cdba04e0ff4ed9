//! V4L2 against real kernel drivers: boots Debian bookworm's 6.1 kernel in qemu with an
//! initramfs holding picamd, vivid (capture, single- and multi-planar) and vicodec (a stateful
//! M2M FWHT encoder, built out of tree by scripts/qemu/build.sh), runs the checks of
//! scripts/qemu/guest-checks.sh and asserts on what they print on the serial console.
//!
//! The checks go through picamd's `v4l2-*` subcommands when `picamd --help` lists them, else
//! through v4l2-ctl (which proves the drivers and the harness); `PICAMD_QEMU_TOOL=picamd` or
//! `=v4l2-ctl` forces one. TCG by default (nested KVM hung or asserted where this was written);
//! `PICAMD_QEMU_ACCEL=kvm` asks for KVM. Skips, loudly, only when qemu cannot start at all.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The whole guest run (boot, about 25 checks, power off) under TCG on a loaded 2-core host
/// takes well under a minute; this only catches a hung guest.
const BOOT_DEADLINE: Duration = Duration::from_secs(300);

const CAPTURES: &[&str] = &[
    "capture-single-planar-YUYV",
    "capture-single-planar-NV12",
    "capture-single-planar-YU12",
    "capture-multi-planar-YUYV",
    "capture-multi-planar-NV12",
];

#[test]
fn v4l2_capture_encode_and_unplug_in_a_qemu_guest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let picamd = env!("CARGO_BIN_EXE_picamd");
    let cache = run_build_script(root);
    let Some(qemu_version) = qemu_version() else {
        return;
    };
    let kernel = kernel_path(&cache);
    let work = std::env::temp_dir().join(format!("picamd-qemu-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temporary directory");
    let initrd = work.join("initrd.cpio.gz");
    let packed = Command::new(root.join("scripts/qemu/initramfs.sh"))
        .arg(picamd)
        .arg(&initrd)
        .status()
        .expect("scripts/qemu/initramfs.sh runs");
    assert!(packed.success(), "scripts/qemu/initramfs.sh failed");

    let tool = guest_tool(picamd);
    let started = Instant::now();
    let Some(console) = boot(&kernel, &initrd, &tool) else {
        return;
    };
    eprintln!(
        "qemu_v4l2: {qemu_version}, checks through {tool}, guest ran {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let log = root.join("target/qemu-v4l2-console.log");
    let _ = std::fs::write(&log, &console);
    let _ = std::fs::remove_dir_all(&work);

    let checks = parse_checks(&console);
    let failures = failed_expectations(&checks, &tool, &console);
    assert!(
        failures.is_empty(),
        "the guest's checks failed:\n  {}\n(console in {}):\n{console}",
        failures.join("\n  "),
        log.display()
    );
}

/// `qemu-system-x86_64 --version`'s first line, or None after a loud skip message.
fn qemu_version() -> Option<String> {
    match Command::new("qemu-system-x86_64").arg("--version").output() {
        Ok(out) if out.status.success() => Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("qemu")
                .to_string(),
        ),
        other => {
            skip_loudly(&format!(
                "qemu-system-x86_64 --version fails: {:?}",
                other.map(|o| o.status)
            ));
            None
        }
    }
}

fn skip_loudly(why: &str) {
    let bar = "!".repeat(78);
    eprintln!("\n{bar}\n!! SKIPPED tests/qemu_v4l2.rs: {why}\n!! The V4L2 drivers were NOT tested.\n{bar}\n");
}

/// Runs scripts/qemu/build.sh and returns the cache directory it prints last.
fn run_build_script(root: &Path) -> PathBuf {
    let out = Command::new(root.join("scripts/qemu/build.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/qemu/build.sh runs");
    assert!(out.status.success(), "scripts/qemu/build.sh failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build.sh prints its cache directory")
            .trim(),
    )
}

fn kernel_path(cache: &Path) -> PathBuf {
    let env = std::fs::read_to_string(cache.join("env")).expect("build.sh wrote its env file");
    let kernel = env
        .lines()
        .find_map(|l| l.strip_prefix("VMLINUZ="))
        .expect("env names VMLINUZ");
    PathBuf::from(kernel)
}

/// picamd's own V4L2 code runs the checks; `PICAMD_QEMU_TOOL=v4l2-ctl` runs them through
/// v4l2-ctl instead, to tell a driver or harness problem from one of ours.
fn guest_tool(picamd: &str) -> String {
    if let Ok(tool) = std::env::var("PICAMD_QEMU_TOOL") {
        return tool;
    }
    let help = Command::new(picamd)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        help.contains("v4l2-capture"),
        "picamd --help does not list its V4L2 subcommands"
    );
    "picamd".into()
}

/// Boots the guest and returns its console, or None (after a loud skip) when qemu could not
/// start at all. A guest that boots but hangs fails the test.
fn boot(kernel: &Path, initrd: &Path, tool: &str) -> Option<String> {
    let accel = std::env::var("PICAMD_QEMU_ACCEL").unwrap_or_else(|_| "tcg".into());
    let spawned = Command::new("qemu-system-x86_64")
        .args(["-accel", &accel, "-m", "512M", "-smp", "2"])
        .args([
            "-nographic",
            "-nodefaults",
            "-no-reboot",
            "-serial",
            "stdio",
        ])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args([
            "-append",
            &format!("console=ttyS0 loglevel=4 panic=-1 picamd_tool={tool}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            skip_loudly(&format!("qemu-system-x86_64 does not start: {e}"));
            return None;
        }
    };
    let (lines, received) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + BOOT_DEADLINE;
    let mut console = String::new();
    let mut finished = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        // Once the guest is done, qemu only has to power off.
        let wait = if finished {
            left.min(Duration::from_secs(20))
        } else {
            left
        };
        match received.recv_timeout(wait) {
            Ok(line) => {
                console.push_str(&line);
                console.push('\n');
                finished |= line.starts_with("@@guest done");
            }
            Err(_) => break,
        }
    }
    let hung = child.try_wait().ok().flatten().is_none();
    if hung {
        let _ = child.kill();
    }
    let status = child.wait().expect("qemu exits");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    if !status.success() && !console.contains("@@guest") && !hung {
        skip_loudly(&format!(
            "qemu-system-x86_64 exited with {status} before the guest started: {stderr}"
        ));
        return None;
    }
    assert!(
        finished,
        "the guest did not finish within {BOOT_DEADLINE:?} (qemu {status}, stderr: {stderr}); console:\n{console}"
    );
    Some(console)
}

struct Check {
    rc: i32,
    output: String,
}

/// The `@@check <name> begin` ... `@@check <name> end rc=N` blocks of the console.
fn parse_checks(console: &str) -> HashMap<String, Check> {
    let mut checks = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in console.lines() {
        if let Some(rest) = line.strip_prefix("@@check ") {
            if let Some(name) = rest.strip_suffix(" begin") {
                current = Some((name.to_string(), String::new()));
                continue;
            }
            if let (Some((name, output)), Some((ended, rc))) =
                (current.take(), rest.split_once(" end rc="))
            {
                if name == ended {
                    let rc = rc.trim().parse().unwrap_or(-1);
                    checks.insert(name, Check { rc, output });
                }
                continue;
            }
        }
        if let Some((_, output)) = current.as_mut() {
            output.push_str(line);
            output.push('\n');
        }
    }
    checks
}

/// Every expectation the checks did not meet, in words.
fn failed_expectations(checks: &HashMap<String, Check>, tool: &str, console: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut expect = |name: &str, what: &str, test: &dyn Fn(&Check) -> bool| match checks.get(name)
    {
        None => failures.push(format!("{name}: never ran ({what})")),
        Some(check) if check.rc != 0 || !test(check) => failures.push(format!(
            "{name}: {what}; rc={} output:\n{}",
            check.rc, check.output
        )),
        Some(_) => {}
    };
    let any = |_: &Check| true;
    expect("load-vivid", "vivid loads", &any);
    expect("load-vicodec", "our vicodec and v4l2-mem2mem load", &any);
    expect("probe", "the probe lists vivid and vicodec", &|c| {
        c.output.contains("vivid") && c.output.contains("vicodec")
    });
    for capture in CAPTURES {
        expect(capture, "10 frames captured", &any);
    }
    expect(
        "encode-fwht",
        "10 frames encoded to FWHT through vicodec",
        &any,
    );
    expect("stop-start", "10 clean stop/starts", &any);
    // The error must say what failed: picamd's names the device, v4l2-ctl names the ioctl.
    let unplug_named = |c: &Check| {
        if tool == "picamd" {
            c.output.contains("/dev/video")
        } else {
            c.output.contains("VIDIOC_DQBUF")
        }
    };
    expect(
        "unplug-while-streaming",
        "a capture cut short by an unplug ends with an error naming what failed",
        &unplug_named,
    );
    expect(
        "capture-while-unplugged",
        "a capture from the unplugged device fails naming the device",
        &|c| c.output.contains("/dev/video"),
    );
    expect("replug", "the device binds again", &any);
    expect(
        "capture-after-replug",
        "capture works after the replug",
        &any,
    );
    expect("rmmod", "vivid unloads", &any);
    expect(
        "capture-after-rmmod",
        "a capture after rmmod fails naming the device",
        &|c| c.output.contains("/dev/video"),
    );
    expect("modprobe-again", "vivid loads again", &any);
    expect(
        "capture-after-modprobe",
        "capture works after modprobe",
        &any,
    );
    expect(
        "capture-multi-planar-after-modprobe",
        "multi-planar capture works after modprobe",
        &any,
    );
    if tool == "picamd" {
        expect(
            "daemon-unplug",
            "the daemon on a V4L2 camera: /health 200, PATCH /camera/controls Brightness 0.5 sets \
             vivid's brightness to 192, then 503 naming the device while it is unplugged, then \
             200 again by itself with the brightness set again",
            &|c| {
                c.output.contains("/health 503")
                    && c.output.contains("/health 200")
                    && c.output.contains("PATCH /camera/controls 200")
                    && c.output.matches("v4l2 brightness: 192").count() == 2
            },
        );
    }
    if !console.contains("@@guest done") {
        failures.push("the guest did not reach the end of its checks".into());
    }
    failures
}
