//! A `Runtime` for tests, in its own temporary folder (data, images, credentials file).

use std::collections::HashMap;
use std::sync::Arc;

use super::Runtime;
use crate::config::Config;
use crate::pairing::bootstrap::bootstrap;
use crate::pairing::credentials;
use crate::testutil::TempDir;

/// A runtime with `PAIRING_BACKEND_URL` empty unless `env` sets it. The folder lives as
/// long as the returned `TempDir`.
pub fn runtime(env: &[(&str, &str)]) -> (Arc<Runtime>, TempDir) {
    let dir = TempDir::new("runtime");
    let mut vars = HashMap::from([
        ("HOME".to_string(), dir.0.display().to_string()),
        ("PAIRING_BACKEND_URL".to_string(), String::new()),
        (
            "RELAB_CREDENTIALS_FILE".to_string(),
            dir.join("relay_credentials.json").display().to_string(),
        ),
    ]);
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let args = vec![
        "--data-dir".to_string(),
        dir.0.display().to_string(),
        "--listen".to_string(),
        "127.0.0.1:0".to_string(),
    ];
    let config = Config::from_sources(&args, &vars, &HashMap::new()).expect("test config");
    let file = credentials::load(&config.relab.pairing.credentials_file)
        .ok()
        .flatten();
    let keys = bootstrap(&config.relab, file.as_ref(), false, || {
        crate::random::token_urlsafe(32)
    });
    (Runtime::new(config, keys).expect("test runtime"), dir)
}
