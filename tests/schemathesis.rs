//! Schemathesis against the daemon's own `/openapi.json`: generated requests for every
//! operation, and every answer checked against the document (no 5xx, documented status codes,
//! content types, headers and bodies; schema-valid input accepted, invalid input refused).
//! Settings, seed and per-operation exceptions live in `tests/schemathesis/schemathesis.toml`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::Picamd;

const SKIP_VAR: &str = "PICAMD_SKIP_SCHEMATHESIS";

#[test]
fn api_conforms_to_its_openapi_document() {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("schemathesis skipped: {SKIP_VAR}=1");
        return;
    }
    let schemathesis = venv().join("bin").join("schemathesis");
    assert!(
        schemathesis.is_file(),
        "{} is missing: run scripts/install-test-deps.sh (or set {SKIP_VAR}=1 to skip)",
        schemathesis.display()
    );
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml");

    // Schemathesis sends wrong keys on purpose (to /auth/login, and to every keyed route to see
    // that auth is not ignored); with the default limit its own address would be blocked after
    // five and every later keyed example would only see 429. The same holds for the action
    // limits (20 captures, control changes… per 300 s), so they are off too.
    let unlimited = [
        ("LOGIN_MAX_FAILURES", "1000000"),
        ("RATE_LIMIT_CAPTURES", "0"),
        ("RATE_LIMIT_CONTROLS", "0"),
        ("RATE_LIMIT_FOCUS", "0"),
        ("RATE_LIMIT_PREVIEW", "0"),
        ("RATE_LIMIT_PAIRING", "0"),
        // A stream schemathesis starts goes to a closed loopback port (and redials there),
        // never to YouTube.
        ("YOUTUBE_INGEST_URL", "rtmp://127.0.0.1:9/live2"),
    ];
    let cam = Picamd::start_with(&[], &unlimited, |_| {});
    // Hypothesis and schemathesis keep state in the working directory; keep it out of the repo.
    let workdir = cam.data_dir.with_extension("schemathesis");
    let _ = std::fs::remove_dir_all(&workdir);
    std::fs::create_dir_all(&workdir).expect("schemathesis working directory");

    let started = Instant::now();
    let output = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args(["run", "--no-color", &cam.url("/openapi.json")])
        .env("PICAMD_API_KEY", cam.local_key())
        // Only loopback traffic: no proxy may see (or redirect) the requests.
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("NO_PROXY", "127.0.0.1")
        .current_dir(&workdir)
        .output()
        .unwrap_or_else(|e| panic!("{} did not run: {e}", schemathesis.display()));
    let _ = std::fs::remove_dir_all(&workdir);

    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems ({}, after {:.0?}):\n{report}\n{errors}",
        output.status,
        started.elapsed()
    );
    println!("{report}");
}

/// The virtual environment `scripts/install-test-deps.sh` installs schemathesis into.
fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("PICAMD_VENV") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/picamd/venv")
}
