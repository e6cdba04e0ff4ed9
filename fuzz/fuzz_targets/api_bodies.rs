//! The API's JSON and form validators through the real router: arbitrary bodies to the routes
//! that take one and change only memory (camera controls, focus, login). Every answer must be
//! a 2xx/4xx, never a 5xx or a panic.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use picamd::internal::api::handle;
use picamd::internal::config::Config;
use picamd::internal::http::Request;
use picamd::internal::pairing::bootstrap::bootstrap;
use picamd::internal::runtime::Runtime;

const KEY: &str = "fuzz-key-0123456789";

fn runtime() -> &'static Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("picamd-fuzz-{}", std::process::id()));
        let env = HashMap::from([
            ("AUTHORIZED_API_KEYS".to_string(), format!("[\"{KEY}\"]")),
            ("PAIRING_BACKEND_URL".to_string(), String::new()),
            ("HOME".to_string(), dir.display().to_string()),
        ]);
        let args = vec!["--data-dir".to_string(), dir.display().to_string()];
        let config = Config::from_sources(&args, &env, &HashMap::new()).expect("config");
        let keys = bootstrap(&config.relab, None, false, || "generated".into());
        Runtime::new(config, keys).expect("runtime")
    })
}

const ROUTES: [(&str, &str, &str); 3] = [
    ("PATCH", "/camera/controls", "application/json"),
    ("PUT", "/camera/focus", "application/json"),
    ("POST", "/auth/login", "application/x-www-form-urlencoded"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (method, path, content_type) = ROUTES[usize::from(which) % ROUTES.len()];
    let mut req = Request::new(method, path).expect("a fixed route");
    req.peer = Some("127.0.0.1:40000".parse().unwrap());
    req.headers.push(("X-API-Key".into(), KEY.into()));
    req.headers
        .push(("Content-Type".into(), content_type.into()));
    req.body = body.to_vec();
    let resp = handle(runtime(), &req);
    assert!(
        resp.status < 500,
        "{method} {path} answered {}",
        resp.status
    );
});
