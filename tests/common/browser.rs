//! Runs a script of `tests/browser` (Debian's Chromium through playwright-core) and reads the
//! JSON line it prints last. Every script exits 0 only when all its checks held.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/browser`, after checking that its packages are installed.
pub fn dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser needs `npm ci` and Debian's chromium (scripts/test.sh sets both up)"
    );
    dir
}

/// `node <script> <args…>` in `tests/browser` with `env` added; the last line it printed,
/// parsed, after asserting that it exited 0. `context` (e.g. the daemon's log) is added to
/// the failure message.
pub fn run(
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    context: impl FnOnce() -> String,
) -> serde_json::Value {
    let out = Command::new("node")
        .current_dir(dir())
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{stderr}\n{}",
        context()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!("{script} printed no JSON line ({e}):\n{stdout}");
    })
}

/// `run` against `cam`: `<cam's base URL><path> <args…>`, with the daemon's local key in
/// `PICAMD_KEY` and `env` added; the daemon's log goes into a failure's message.
pub fn run_against(
    script: &str,
    cam: &super::Picamd,
    path: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let key = cam.local_key();
    let url = cam.url(path);
    let args: Vec<&str> = [url.as_str()]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let mut env = env.to_vec();
    env.push(("PICAMD_KEY", &key));
    run(script, &args, &env, || cam.log())
}
