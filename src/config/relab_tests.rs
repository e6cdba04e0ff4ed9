//! Tests of the RELab settings: defaults, precedence, value syntax and the plugin's rules.

use std::path::Path;

use super::*;
use crate::config::app_env::AppEnv;
use crate::config::s3::AddressingStyle;
use crate::config::url::is_loopback_url;
use crate::config::vars::parse_list;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(env: &[(&str, &str)]) -> Result<RelabSettings, ConfigError> {
    RelabSettings::from_vars(
        &vars(env),
        &HashMap::new(),
        Path::new("/var/lib/picamd"),
        Some(Path::new("/home/pi")),
    )
}

fn error(env: &[(&str, &str)]) -> String {
    load(env).expect_err("should be refused").to_string()
}

const RELAY: [(&str, &str); 4] = [
    ("RELAY_BACKEND_URL", "wss://relab.example/ws"),
    ("RELAY_CAMERA_ID", "cam-1"),
    ("RELAY_KEY_ID", "kid-1"),
    ("RELAY_PRIVATE_KEY_PEM", "-----BEGIN PRIVATE KEY-----"),
];

#[test]
fn defaults() {
    let s = load(&[]).unwrap();
    assert_eq!(s.http.base_url, "http://127.0.0.1:8018/");
    assert_eq!(s.auth.login_max_failures, 5);
    assert_eq!(s.http.base_url_host().as_deref(), Some("127.0.0.1"));
    assert_eq!(
        s.http.allowed_cors_origins,
        [
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "https://cml-relab.org"
        ]
    );
    assert!(s.auth.authorized_api_keys.is_empty());
    assert_eq!(s.camera.device_num, 0);
    assert_eq!(s.stills.image_path, Path::new("/var/lib/picamd/images"));
    assert_eq!(s.compat.log_path, Path::new("/var/lib/picamd/logs"));
    assert_eq!(
        (
            s.compat.templates_path.clone(),
            s.compat.static_path.clone()
        ),
        (None, None)
    );
    assert_eq!(
        (
            s.compat.cleanup_interval_s,
            s.compat.image_ttl_s,
            s.stream.max_duration_s
        ),
        (600, 3600, 18_000)
    );
    assert_eq!(
        (
            s.compat.check_stream_interval_s,
            s.compat.check_stream_health_interval_s
        ),
        (60, 30)
    );
    assert_eq!(s.compat.camera_backend, "picamera2");
    assert_eq!(s.camera.preview_hibernate_after_s, 300);
    assert_eq!(s.upload.image_sink, ImageSink::Auto);
    assert_eq!(s.upload.s3.region, "us-east-1");
    assert_eq!(s.upload.s3.public_url_template, "{endpoint}/{bucket}/{key}");
    assert_eq!(s.auth.key_name, "X-API-Key");
    assert_eq!(s.auth.session_cookie_name, "relab_session");
    assert_eq!(s.auth.cookie_secure, None);
    assert!(!s.compat.debug);
    assert!(!s.compat.otel_enabled);
    assert_eq!(s.compat.otel_service_name, "relab-rpi-cam-plugin");
    assert!(s.auth.local_mode_enabled);
    assert_eq!(s.relay.auth_scheme, "device_assertion");
    assert!(!s.relay.env_complete());
    assert_eq!(
        (s.relay.reconnect_min_s, s.relay.reconnect_max_s),
        (2.0, 60.0)
    );
    assert_eq!(s.relay.max_concurrent_commands, 8);
    assert!(!s.relay.allow_plaintext);
    assert_eq!(s.backend.url, "https://api.cml-relab.org");
    assert_eq!(
        (
            s.pairing.register_timeout_retry_s,
            s.pairing.poll_interval_s
        ),
        (1, 3)
    );
    assert_eq!(s.backend.api_prefix, ApiPrefix::Auto);
    assert_eq!(s.backend.poll_method, PollMethod::Auto);
    assert_eq!(
        s.pairing.credentials_file,
        Path::new("/home/pi/.config/relab/relay_credentials.json")
    );
    assert_eq!(
        (
            s.stills.timelapse_interval_s,
            s.stills.timelapse_keep,
            s.stills.timelapse_max_age_s
        ),
        (0, 1000, 604_800)
    );
    assert_eq!(s.stills.mjpeg_max_fps, 15.0);
    assert!(!s.cookie_secure());
    assert_eq!(s.http.base_url_port(), 8018);
    assert_eq!(s.resolved_image_sink(), ImageSink::Backend);
}

#[test]
fn credentials_file_without_home_lives_in_the_data_dir() {
    let s = RelabSettings::from_vars(&HashMap::new(), &HashMap::new(), Path::new("data"), None)
        .unwrap();
    assert_eq!(
        s.pairing.credentials_file,
        Path::new("data/relay_credentials.json")
    );
}

#[test]
fn credentials_file_is_honoured_from_env_and_dotenv() {
    let dotenv = vars(&[("RELAB_CREDENTIALS_FILE", "/etc/relab/creds.json")]);
    let data = Path::new("data");
    let s = RelabSettings::from_vars(&HashMap::new(), &dotenv, data, None).unwrap();
    assert_eq!(
        s.pairing.credentials_file,
        Path::new("/etc/relab/creds.json")
    );
    let env = vars(&[("RELAB_CREDENTIALS_FILE", "/run/creds.json")]);
    let s = RelabSettings::from_vars(&env, &dotenv, data, None).unwrap();
    assert_eq!(s.pairing.credentials_file, Path::new("/run/creds.json"));
    let env = vars(&[("RELAB_CREDENTIALS_FILE", "")]);
    let s = RelabSettings::from_vars(&env, &HashMap::new(), data, None).unwrap();
    assert_eq!(
        s.pairing.credentials_file,
        Path::new("data/relay_credentials.json")
    );
}

#[test]
fn environment_beats_dotenv_and_names_ignore_case() {
    let env = vars(&[("camera_device_num", "2"), ("Image_Path", "/tmp/img")]);
    let dotenv = vars(&[
        ("CAMERA_DEVICE_NUM", "1"),
        ("s3_region", "eu-west-1"),
        ("UNKNOWN_THING", "x"),
    ]);
    let s = RelabSettings::from_vars(&env, &dotenv, Path::new("d"), None).unwrap();
    assert_eq!(s.camera.device_num, 2);
    assert_eq!(s.stills.image_path, Path::new("/tmp/img"));
    assert_eq!(s.upload.s3.region, "eu-west-1");
}

#[test]
fn exact_upper_case_name_wins_within_one_source() {
    let env = vars(&[("CAMERA_DEVICE_NUM", "3"), ("camera_device_num", "4")]);
    let s = RelabSettings::from_vars(&env, &HashMap::new(), Path::new("d"), None).unwrap();
    assert_eq!(s.camera.device_num, 3);
}

#[test]
fn parses_key_lists() {
    let parse = |v: &str| parse_list("AUTHORIZED_API_KEYS", v).unwrap();
    assert_eq!(parse(r#"["key1","key2"]"#), ["key1", "key2"]);
    assert!(parse("").is_empty());
    assert!(parse("   ").is_empty());
    assert!(parse("[]").is_empty());
    assert_eq!(parse("[CHANGE_ME]"), ["CHANGE_ME"]);
    assert_eq!(parse("key1, key2, key3"), ["key1", "key2", "key3"]);
    assert_eq!(parse("[a, 'b', \"c\"]"), ["a", "b", "c"]);
    assert_eq!(parse(r#""one""#), ["one"]);
    assert_eq!(parse("12345"), ["12345"]);
    assert_eq!(parse("a,,b,"), ["a", "b"]);
    let err = parse_list("AUTHORIZED_API_KEYS", "[1, 2]").unwrap_err();
    assert!(err
        .to_string()
        .contains("AUTHORIZED_API_KEYS must be a list of strings"));

    let s = load(&[
        ("AUTHORIZED_API_KEYS", "[CHANGE_ME]"),
        (
            "LOCAL_ALLOWED_ORIGINS",
            "http://192.168.1.42/, http://cam.local",
        ),
    ])
    .unwrap();
    assert_eq!(s.auth.authorized_api_keys, ["CHANGE_ME"]);
    assert_eq!(
        s.http.local_allowed_origins,
        ["http://192.168.1.42", "http://cam.local"]
    );
    let s = load(&[("LOCAL_ALLOWED_ORIGINS", r#"["http://a","http://b"]"#)]).unwrap();
    assert_eq!(s.http.local_allowed_origins, ["http://a", "http://b"]);
}

#[test]
fn cors_origins_must_be_a_json_array_of_urls() {
    let s = load(&[("ALLOWED_CORS_ORIGINS", r#"["https://relab.example/"]"#)]).unwrap();
    assert_eq!(s.http.allowed_cors_origins, ["https://relab.example"]);
    assert!(load(&[("ALLOWED_CORS_ORIGINS", "")])
        .unwrap()
        .http
        .allowed_cors_origins
        .is_empty());
    for bad in [
        "https://a.example",
        r#"["not a url"]"#,
        r#"["ftp://x"]"#,
        "[1]",
    ] {
        assert!(
            error(&[("ALLOWED_CORS_ORIGINS", bad)]).contains("ALLOWED_CORS_ORIGINS"),
            "{bad}"
        );
    }
}

#[test]
fn debug_is_lenient() {
    for truthy in ["1", "true", "YES", "on", "debug", " Debug "] {
        assert!(load(&[("DEBUG", truthy)]).unwrap().compat.debug, "{truthy}");
    }
    for falsy in ["0", "false", "production", "unexpected", ""] {
        assert!(!load(&[("DEBUG", falsy)]).unwrap().compat.debug, "{falsy}");
    }
}

#[test]
fn booleans_are_strict() {
    assert!(
        !load(&[("LOCAL_MODE_ENABLED", "False")])
            .unwrap()
            .auth
            .local_mode_enabled
    );
    assert!(
        load(&[("OTEL_ENABLED", " on ")])
            .unwrap()
            .compat
            .otel_enabled
    );
    assert!(
        load(&[("ALLOW_PLAINTEXT_RELAY", "y")])
            .unwrap()
            .relay
            .allow_plaintext
    );
    assert!(error(&[("LOCAL_MODE_ENABLED", "maybe")]).contains("LOCAL_MODE_ENABLED"));
}

#[test]
fn cookie_secure_follows_base_url_unless_set() {
    let s = load(&[("BASE_URL", "https://cam.example/")]).unwrap();
    assert!(s.http.base_url_is_https() && s.cookie_secure());
    assert_eq!(s.http.base_url_port(), 8018);
    let s = load(&[
        ("BASE_URL", "https://cam.example/"),
        ("AUTH_COOKIE_SECURE", "false"),
    ])
    .unwrap();
    assert!(!s.cookie_secure());
    let s = load(&[("AUTH_COOKIE_SECURE", "true")]).unwrap();
    assert!(s.cookie_secure() && !s.http.base_url_is_https());
    let s = load(&[("AUTH_COOKIE_SECURE", "")]).unwrap();
    assert_eq!(s.auth.cookie_secure, None);
    assert!(error(&[("AUTH_COOKIE_SECURE", "sometimes")]).contains("AUTH_COOKIE_SECURE"));
}

#[test]
fn base_url_port_and_validation() {
    assert_eq!(
        load(&[("BASE_URL", "http://10.0.0.5:9000/x")])
            .unwrap()
            .http
            .base_url_port(),
        9000
    );
    assert_eq!(
        load(&[("BASE_URL", "HTTP://[::1]:8443")])
            .unwrap()
            .http
            .base_url_port(),
        8443
    );
    for bad in [
        "127.0.0.1:8018",
        "ftp://x/",
        "http://",
        "http://h:99999/",
        "http://h:x/",
    ] {
        assert!(error(&[("BASE_URL", bad)]).contains("BASE_URL"), "{bad}");
    }
}

#[test]
fn numbers_are_checked() {
    let s = load(&[
        ("CAMERA_DEVICE_NUM", " 1 "),
        ("PREVIEW_HIBERNATE_AFTER_S", "0"),
        ("RELAY_RECONNECT_MIN_S", "0.5"),
        ("RELAY_RECONNECT_MAX_S", "30"),
        ("TIMELAPSE_INTERVAL_S", "60"),
        ("MJPEG_MAX_FPS", "7.5"),
    ])
    .unwrap();
    assert_eq!(s.camera.device_num, 1);
    assert_eq!(s.camera.preview_hibernate_after_s, 0);
    assert_eq!(
        (s.relay.reconnect_min_s, s.relay.reconnect_max_s),
        (0.5, 30.0)
    );
    assert_eq!(
        (s.stills.timelapse_interval_s, s.stills.mjpeg_max_fps),
        (60, 7.5)
    );
    for (name, bad) in [
        ("CAMERA_DEVICE_NUM", "-1"),
        ("CAMERA_DEVICE_NUM", "x"),
        ("CLEANUP_INTERVAL_S", "0"),
        ("IMAGE_TTL_S", ""),
        ("PAIRING_POLL_INTERVAL_S", "1.5"),
        ("RELAY_MAX_CONCURRENT_COMMANDS", "0"),
        ("RELAY_RECONNECT_MIN_S", "0"),
        ("RELAY_RECONNECT_MAX_S", "NaN"),
        ("RELAY_RECONNECT_MAX_S", "inf"),
        ("TIMELAPSE_KEEP", "0"),
        ("MJPEG_MAX_FPS", "0"),
        ("MJPEG_MAX_FPS", "500"),
    ] {
        let msg = error(&[(name, bad)]);
        assert!(msg.starts_with(&format!("invalid {name} ")), "{msg}");
    }
    let msg = error(&[
        ("RELAY_RECONNECT_MIN_S", "10"),
        ("RELAY_RECONNECT_MAX_S", "5"),
    ]);
    assert!(msg.contains("RELAY_RECONNECT_MAX_S"), "{msg}");
}

#[test]
fn header_and_cookie_names_must_be_tokens() {
    assert_eq!(
        load(&[("AUTH_KEY_NAME", "X-Camera-Key")])
            .unwrap()
            .auth
            .key_name,
        "X-Camera-Key"
    );
    assert!(error(&[("AUTH_KEY_NAME", "X API Key")]).contains("AUTH_KEY_NAME"));
    assert!(error(&[("SESSION_COOKIE_NAME", "")]).contains("SESSION_COOKIE_NAME"));
    assert!(error(&[("SESSION_COOKIE_NAME", "a;b")]).contains("SESSION_COOKIE_NAME"));
}

#[test]
fn camera_backend_must_be_picamera2() {
    assert!(error(&[("CAMERA_BACKEND", "opencv")]).contains("CAMERA_BACKEND must be picamera2"));
}

#[test]
fn complete_relay_env_is_accepted() {
    let s = load(&RELAY).unwrap();
    assert!(s.relay.env_complete());
    let mut plain = RELAY.to_vec();
    plain[0] = ("RELAY_BACKEND_URL", "ws://127.0.0.1:8000/ws");
    plain.push(("APP_ENV", "development"));
    assert!(load(&plain).unwrap().relay.env_complete());
}

#[test]
fn relay_pending_commands() {
    assert_eq!(load(&[]).unwrap().relay.max_pending_commands, 32);
    let s = load(&[("RELAY_MAX_PENDING_COMMANDS", "4")]).unwrap();
    assert_eq!(s.relay.max_pending_commands, 4);
    assert!(error(&[("RELAY_MAX_PENDING_COMMANDS", "0")]).contains("RELAY_MAX_PENDING_COMMANDS"));
}

#[test]
fn app_env_rules_transport() {
    let s = load(&[]).unwrap();
    assert_eq!(s.app_env, AppEnv::Production);
    assert!(!s.relay.allow_plaintext && !s.backend.development);
    assert!(error(&[("APP_ENV", "dev")]).contains("development or production"));
    assert!(error(&[("APP_ENV", "Development")]).contains("APP_ENV"));
    let s = load(&[("APP_ENV", "development")]).unwrap();
    assert!(s.relay.allow_plaintext && s.backend.development);
    assert!(s.deprecated.warnings().is_empty());

    // ws:// relay URLs: development only, or the deprecated switch (which start-up warns about).
    let mut relay = RELAY.to_vec();
    relay[0] = ("RELAY_BACKEND_URL", "ws://relab.example/ws");
    assert!(error(&relay).contains(
        "uses unencrypted ws://. Set APP_ENV=development for local development, or switch to wss://."
    ));
    relay.push(("ALLOW_PLAINTEXT_RELAY", "true"));
    let s = load(&relay).unwrap();
    assert!(s.relay.allow_plaintext);
    assert_eq!(s.deprecated.allow_plaintext_relay, Some(true));
    assert!(s.deprecated.warnings()[0].contains("APP_ENV=development"));

    // PAIRING_BACKEND_URL: https, loopback, or (picamd) development.
    for ok in [
        "https://api.example",
        "http://127.0.0.1:8001",
        "http://localhost",
    ] {
        assert!(load(&[("PAIRING_BACKEND_URL", ok)]).is_ok(), "{ok}");
    }
    assert_eq!(
        error(&[("PAIRING_BACKEND_URL", "http://192.168.1.5:8000")]),
        "PAIRING_BACKEND_URL must use https unless it points at a loopback development host (or APP_ENV=development)."
    );
    assert!(load(&[
        ("PAIRING_BACKEND_URL", "http://192.168.1.5:8000"),
        ("APP_ENV", "development")
    ])
    .is_ok());

    // S3_ENDPOINT_URL and (when enabled) the OTLP endpoint: https, loopback or development.
    let s3 = |endpoint: &'static str| {
        vec![
            ("S3_ENDPOINT_URL", endpoint),
            ("S3_BUCKET", "b"),
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
        ]
    };
    assert!(load(&s3("http://127.0.0.1:9000")).is_ok(), "loopback");
    assert_eq!(
        error(&s3("http://minio.lan:9000")),
        "S3_ENDPOINT_URL must use https unless it points at loopback or APP_ENV=development."
    );
    let mut dev = s3("http://minio.lan:9000");
    dev.push(("APP_ENV", "development"));
    assert!(load(&dev).is_ok());
    let otel = |enabled| {
        vec![
            ("OTEL_ENABLED", enabled),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.lan:4318"),
        ]
    };
    assert!(load(&otel("false")).is_ok());
    assert!(error(&otel("true")).starts_with("OTEL_EXPORTER_OTLP_ENDPOINT must use https"));
}

#[test]
fn partial_relay_env_is_refused() {
    for (skip, (name, _)) in RELAY.iter().enumerate() {
        let partial: Vec<_> = RELAY
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, kv)| *kv)
            .collect();
        assert!(
            error(&partial).starts_with("Relay bootstrap config must set RELAY_BACKEND_URL"),
            "without {name}"
        );
    }
    assert!(error(&[("RELAY_CAMERA_ID", "cam-1")]).starts_with("Relay bootstrap config"));
}

#[test]
fn relay_url_scheme_is_checked() {
    let mut relay = RELAY.to_vec();
    relay[0] = ("RELAY_BACKEND_URL", "ws://relab.example/ws");
    assert!(error(&relay).contains("APP_ENV=development"));
    for bad in [
        "https://relab.example/ws",
        "http://relab.example/ws",
        "wss://",
    ] {
        relay[0] = ("RELAY_BACKEND_URL", bad);
        assert!(error(&relay).contains("wss://"), "{bad}");
    }
}

#[test]
fn relay_scheme_must_be_device_assertion() {
    let mut relay = RELAY.to_vec();
    relay.push(("RELAY_AUTH_SCHEME", "api_key"));
    assert!(error(&relay).starts_with("RELAY_AUTH_SCHEME must be device_assertion"));
    // Without relay credentials the scheme is not checked, and the relay stays off.
    let s = load(&[("RELAY_AUTH_SCHEME", "api_key")]).unwrap();
    assert!(!s.relay.env_complete());
}

#[test]
fn upload_settings() {
    let s = load(&[]).unwrap();
    assert_eq!(s.upload.s3.addressing, AddressingStyle::Path);
    assert_eq!(s.upload.retry_schedule.delays_s(), [30, 300, 1800, 7200]);
    assert_eq!((s.upload.queue_max_mb, s.upload.wait_ms), (None, 2000));
    assert!(s.deprecated.warnings().is_empty());
    assert_eq!(
        (
            s.upload.max_pending_entries,
            s.upload.max_pending_bytes(),
            s.upload.dead_max_entries
        ),
        (500, 2 << 30, 500),
        "upstream's defaults"
    );
    assert_eq!(
        (s.stills.max_capture_pixels, s.stills.max_capture_file_bytes),
        (20_000_000, 10 << 20)
    );
    let s = load(&[
        ("S3_ADDRESSING_STYLE", "Virtual"),
        ("UPLOAD_RETRY_SCHEDULE_S", "1,2"),
        ("UPLOAD_QUEUE_MAX_MB", "5"),
        ("UPLOAD_WAIT_MS", "0"),
    ])
    .unwrap();
    assert_eq!(s.upload.s3.addressing, AddressingStyle::Virtual);
    assert_eq!(s.upload.retry_schedule.delays_s(), [1, 2]);
    assert_eq!((s.upload.queue_max_mb, s.upload.wait_ms), (Some(5), 0));
    assert_eq!(s.upload.max_pending_bytes(), 5 << 20, "the lower cap wins");
    assert_eq!(s.deprecated.upload_queue_max_mb, Some(5), "warned about");
    let s = load(&[
        ("UPLOAD_QUEUE_MAX_PENDING_ENTRIES", "0"),
        ("UPLOAD_QUEUE_MAX_PENDING_BYTES", "1000"),
        ("UPLOAD_QUEUE_MAX_MB", "5"),
        ("UPLOAD_QUEUE_DEAD_MAX_ENTRIES", "3"),
        ("MAX_CAPTURE_PIXELS", "921600"),
        ("MAX_CAPTURE_FILE_BYTES", "65536"),
    ])
    .unwrap();
    assert_eq!(
        (
            s.upload.max_pending_entries,
            s.upload.max_pending_bytes(),
            s.upload.dead_max_entries
        ),
        (0, 1000, 3)
    );
    assert_eq!(
        (s.stills.max_capture_pixels, s.stills.max_capture_file_bytes),
        (921_600, 65_536)
    );
    for name in [
        "UPLOAD_QUEUE_MAX_PENDING_ENTRIES",
        "UPLOAD_QUEUE_MAX_PENDING_BYTES",
        "UPLOAD_QUEUE_DEAD_MAX_ENTRIES",
    ] {
        assert!(error(&[(name, "-1")]).contains(name));
    }
    assert!(error(&[("MAX_CAPTURE_PIXELS", "0")]).contains("MAX_CAPTURE_PIXELS"));
    assert!(error(&[("S3_ADDRESSING_STYLE", "dns")]).contains("path or virtual"));
    assert!(error(&[("UPLOAD_RETRY_SCHEDULE_S", "30,0")])
        .starts_with("invalid UPLOAD_RETRY_SCHEDULE_S"));
    assert!(error(&[("UPLOAD_QUEUE_MAX_MB", "0")]).contains("UPLOAD_QUEUE_MAX_MB"));
    assert!(error(&[("UPLOAD_WAIT_MS", "60001")]).contains("UPLOAD_WAIT_MS"));
}

#[test]
fn s3_endpoint_is_checked_when_s3_is_the_sink() {
    let s3 = [
        ("S3_BUCKET", "rpi-cam"),
        ("S3_ACCESS_KEY_ID", "id"),
        ("S3_SECRET_ACCESS_KEY", "secret"),
    ];
    let with = |endpoint: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut env = s3.to_vec();
        env.push(("S3_ENDPOINT_URL", endpoint));
        env.extend_from_slice(extra);
        env
    };
    assert!(error(&with("minio.local:9000", &[])).contains("S3_ENDPOINT_URL"));
    assert!(error(&with(
        "https://10.0.0.2:9000",
        &[("S3_ADDRESSING_STYLE", "virtual")]
    ))
    .contains("virtual-host addressing needs a host name"));
    let s = load(&with("https://s3.eu-west-1.amazonaws.com", &[])).unwrap();
    assert_eq!(s.upload.s3.bucket, "rpi-cam");
    assert_eq!(s.upload.s3.addressing, AddressingStyle::Path);
}

#[test]
fn image_sink_rules() {
    assert_eq!(
        error(&[("IMAGE_SINK", "backend"), ("PAIRING_BACKEND_URL", "")]),
        "IMAGE_SINK=backend requires PAIRING_BACKEND_URL."
    );
    assert_eq!(
        error(&[("IMAGE_SINK", "s3")]),
        "IMAGE_SINK=s3 requires S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY."
    );
    assert_eq!(
        error(&[
            ("IMAGE_SINK", "s3"),
            ("S3_ENDPOINT_URL", "https://minio.local:9000"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
        ]),
        "IMAGE_SINK=s3 requires S3_BUCKET, S3_ACCESS_KEY_ID."
    );
    assert!(error(&[("S3_ENDPOINT_URL", "https://minio.local:9000")])
        .starts_with("IMAGE_SINK=auto chose s3"));
    assert!(error(&[("IMAGE_SINK", "ftp")]).contains("IMAGE_SINK"));

    let s3 = [
        ("S3_ENDPOINT_URL", "https://minio.local:9000"),
        ("S3_BUCKET", "rpi-cam"),
        ("S3_ACCESS_KEY_ID", "id"),
        ("S3_SECRET_ACCESS_KEY", "secret"),
    ];
    let s = load(&s3).unwrap();
    assert_eq!(
        s.resolved_image_sink(),
        ImageSink::S3,
        "auto: S3 beats backend"
    );
    let mut explicit = s3.to_vec();
    explicit.push(("IMAGE_SINK", "Backend"));
    assert_eq!(
        load(&explicit).unwrap().resolved_image_sink(),
        ImageSink::Backend
    );
    let s = load(&[("PAIRING_BACKEND_URL", "")]).unwrap();
    assert_eq!(
        s.resolved_image_sink(),
        ImageSink::Local,
        "auto with nothing: local"
    );
    let s = load(&[("IMAGE_SINK", "local")]).unwrap();
    assert_eq!(s.resolved_image_sink(), ImageSink::Local);
}

#[test]
fn pairing_api_settings() {
    let s = load(&[
        ("PAIRING_API_PREFIX", "/v1/"),
        ("PAIRING_POLL_METHOD", "post"),
    ])
    .unwrap();
    assert_eq!(s.backend.api_prefix, ApiPrefix::Fixed("/v1".into()));
    assert_eq!(s.backend.poll_method, PollMethod::Post);
    let s = load(&[("PAIRING_API_PREFIX", "none"), ("PAIRING_POLL_METHOD", "")]).unwrap();
    assert_eq!(s.backend.api_prefix, ApiPrefix::Fixed(String::new()));
    assert_eq!(s.backend.poll_method, PollMethod::Auto);
    assert!(error(&[("PAIRING_API_PREFIX", "v1")]).starts_with("invalid PAIRING_API_PREFIX"));
    assert!(error(&[("PAIRING_POLL_METHOD", "PATCH")]).starts_with("invalid PAIRING_POLL_METHOD"));
}

#[test]
fn pairing_backend_url_must_be_http_or_empty() {
    for ok in ["", "http://127.0.0.1:8001", "https://api.cml-relab.org/"] {
        assert_eq!(
            load(&[("PAIRING_BACKEND_URL", ok)]).unwrap().backend.url,
            ok
        );
    }
    for bad in [
        "api.cml-relab.org",
        "wss://api.cml-relab.org",
        "http://",
        "http://h:x",
    ] {
        assert!(
            error(&[("PAIRING_BACKEND_URL", bad)]).starts_with("PAIRING_BACKEND_URL must be"),
            "{bad}"
        );
    }
}

#[test]
fn loopback_urls() {
    for url in [
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://127.0.0.1:8000/api",
        "http://127.1.2.3",
        "http://[::1]:8000",
        "http://user@127.0.0.1",
    ] {
        assert!(is_loopback_url(url), "{url}");
    }
    for url in [
        "https://api.cml-relab.org",
        "http://192.168.1.2",
        "localhost",
        "",
    ] {
        assert!(!is_loopback_url(url), "{url}");
    }
}

#[test]
fn debug_output_hides_secrets() {
    let mut env = RELAY.to_vec();
    env.push(("LOCAL_API_KEY", "local_secret"));
    env.push(("AUTHORIZED_API_KEYS", "topsecret"));
    env.push(("HLS_CDN_SECRET", "cdn-secret-of-the-edge"));
    let text = format!("{:?}", load(&env).unwrap());
    for secret in [
        "local_secret",
        "topsecret",
        "BEGIN PRIVATE KEY",
        "cdn-secret-of-the-edge",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert!(text.contains("cam-1"));
}

#[test]
fn cdn_secret_is_off_by_default_and_must_be_long() {
    assert!(load(&[]).unwrap().auth.hls_cdn_secret.is_empty());
    let set = load(&[("HLS_CDN_SECRET", "0123456789abcdef")]).unwrap();
    assert_eq!(set.auth.hls_cdn_secret.expose(), "0123456789abcdef");
    let refused = error(&[("HLS_CDN_SECRET", "short-secret")]);
    assert!(refused.contains("HLS_CDN_SECRET"), "{refused}");
    assert!(refused.contains("at least 16 characters"), "{refused}");
    assert!(
        !refused.contains("short-secret"),
        "the secret leaked: {refused}"
    );
}
