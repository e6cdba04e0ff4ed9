//! The RELab plugin's settings (contract/plugin.md §3): the same environment variable names,
//! defaults and validation as the Python plugin, read from the process environment and `.env`.
//!
//! Names are case-insensitive and the process environment wins over `.env`; unknown names are
//! ignored. Deliberate differences from the Python plugin: `RELAB_CREDENTIALS_FILE` is honoured
//! from `.env` too (§14.14), `IMAGE_SINK=auto` with nothing configured keeps captures locally
//! instead of failing at startup, and an empty `AUTH_COOKIE_SECURE` counts as unset.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::pairing_api::{ApiPrefix, PollMethod};
use super::ConfigError;
use crate::upload::s3::{AddressingStyle, S3Settings, S3Sink};
use crate::upload::schedule::RetrySchedule;
use crate::upload::DEFAULT_QUEUE_MAX_MB;

pub const DEFAULT_PAIRING_BACKEND_URL: &str = "https://api.cml-relab.org";
pub const DEVICE_ASSERTION: &str = "device_assertion";
/// The plugin's port: used when `BASE_URL` names none.
pub const DEFAULT_PORT: u16 = 8018;

const DEFAULT_CORS_ORIGINS: &[&str] = &[
    "http://127.0.0.1:8000",
    "http://localhost:8000",
    "https://cml-relab.org",
];

/// Where captured images go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSink {
    /// Chosen from what is configured; see [`RelabSettings::resolved_image_sink`].
    Auto,
    /// The RELab backend at `PAIRING_BACKEND_URL`.
    Backend,
    S3,
    /// Kept under `IMAGE_PATH` only (a picamd addition).
    Local,
}

impl ImageSink {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageSink::Auto => "auto",
            ImageSink::Backend => "backend",
            ImageSink::S3 => "s3",
            ImageSink::Local => "local",
        }
    }
}

/// Every variable of contract/plugin.md §3.2, plus picamd's own timelapse and MJPEG limits.
#[derive(Clone, PartialEq)]
pub struct RelabSettings {
    pub base_url: String,
    /// Origins without a trailing `/`; used only when local mode is off.
    pub allowed_cors_origins: Vec<String>,
    pub authorized_api_keys: Vec<String>,
    pub camera_device_num: u32,
    pub image_path: PathBuf,
    /// Accepted for compatibility; picamd has its pages built in.
    pub templates_path: Option<PathBuf>,
    /// Accepted for compatibility; picamd has its pages built in.
    pub static_path: Option<PathBuf>,
    pub log_path: PathBuf,
    pub cleanup_interval_s: u64,
    pub image_ttl_s: u64,
    pub max_stream_duration_s: u64,
    pub check_stream_interval_s: u64,
    pub check_stream_health_interval_s: u64,
    pub camera_backend: String,
    /// 0 disables hibernation.
    pub preview_hibernate_after_s: u64,
    pub image_sink: ImageSink,
    pub s3_endpoint_url: String,
    pub s3_bucket: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    pub s3_region: String,
    pub s3_public_url_template: String,
    /// `S3_ADDRESSING_STYLE`: `path` (default; MinIO, RustFS, IP endpoints) or `virtual`.
    pub s3_addressing_style: AddressingStyle,
    /// `UPLOAD_RETRY_SCHEDULE_S`: waits after each failed upload of a capture.
    pub upload_retry_schedule: RetrySchedule,
    /// `UPLOAD_QUEUE_MAX_MB`: the upload queue's quota; the oldest captures are dropped
    /// beyond it.
    pub upload_queue_max_mb: u64,
    /// `UPLOAD_WAIT_MS`: how long `POST /captures` waits for the upload before answering
    /// `queued`; 0 never waits.
    pub upload_wait_ms: u64,
    pub auth_key_name: String,
    pub auth_cookie_secure: Option<bool>,
    pub session_cookie_name: String,
    pub debug: bool,
    pub otel_enabled: bool,
    pub otel_service_name: String,
    pub otel_exporter_otlp_endpoint: String,
    pub local_mode_enabled: bool,
    pub local_api_key: String,
    /// Origins without a trailing `/`.
    pub local_allowed_origins: Vec<String>,
    pub relay_backend_url: String,
    pub relay_camera_id: String,
    pub relay_auth_scheme: String,
    pub relay_key_id: String,
    pub relay_private_key_pem: String,
    pub local_relay_api_key: String,
    pub relay_reconnect_min_s: f64,
    pub relay_reconnect_max_s: f64,
    pub relay_max_concurrent_commands: u32,
    pub allow_plaintext_relay: bool,
    pub pairing_backend_url: String,
    pub pairing_register_timeout_retry_s: u64,
    pub pairing_poll_interval_s: u64,
    /// `PAIRING_API_PREFIX` (picamd's): the backend's API prefix, `auto` by default.
    pub pairing_api_prefix: ApiPrefix,
    /// `PAIRING_POLL_METHOD` (picamd's): GET or POST polling, `auto` by default.
    pub pairing_poll_method: PollMethod,
    /// `RELAB_CREDENTIALS_FILE`.
    pub credentials_file: PathBuf,
    /// Seconds between timelapse stills; 0 turns the timelapse off.
    pub timelapse_interval_s: u64,
    /// Timelapse stills kept at most.
    pub timelapse_keep: u32,
    /// Timelapse stills older than this are deleted.
    pub timelapse_max_age_s: u64,
    pub mjpeg_max_fps: f64,
}

impl RelabSettings {
    /// Reads the settings from the process environment and `.env` variables. `data_dir` roots
    /// the default image and log folders; `home` roots the default credentials file.
    pub fn from_vars(
        env: &HashMap<String, String>,
        dotenv: &HashMap<String, String>,
        data_dir: &Path,
        home: Option<&Path>,
    ) -> Result<RelabSettings, ConfigError> {
        let v = Vars::new(env, dotenv);
        let default_credentials = match home {
            Some(home) => home.join(".config/relab/relay_credentials.json"),
            None => data_dir.join("relay_credentials.json"),
        };
        let settings = RelabSettings {
            base_url: v.string("BASE_URL", "http://127.0.0.1:8018/"),
            allowed_cors_origins: v.url_array("ALLOWED_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)?,
            authorized_api_keys: v.list("AUTHORIZED_API_KEYS")?,
            camera_device_num: v.uint("CAMERA_DEVICE_NUM", 0, 0, 255)? as u32,
            image_path: v
                .path("IMAGE_PATH")
                .unwrap_or_else(|| data_dir.join("images")),
            templates_path: v.path("TEMPLATES_PATH"),
            static_path: v.path("STATIC_PATH"),
            log_path: v.path("LOG_PATH").unwrap_or_else(|| data_dir.join("logs")),
            cleanup_interval_s: v.uint("CLEANUP_INTERVAL_S", 600, 1, u64::MAX)?,
            image_ttl_s: v.uint("IMAGE_TTL_S", 3600, 1, u64::MAX)?,
            max_stream_duration_s: v.uint("MAX_STREAM_DURATION_S", 18_000, 1, u64::MAX)?,
            check_stream_interval_s: v.uint("CHECK_STREAM_INTERVAL_S", 60, 1, u64::MAX)?,
            check_stream_health_interval_s: v.uint(
                "CHECK_STREAM_HEALTH_INTERVAL_S",
                30,
                1,
                u64::MAX,
            )?,
            camera_backend: v.string("CAMERA_BACKEND", "picamera2"),
            preview_hibernate_after_s: v.uint("PREVIEW_HIBERNATE_AFTER_S", 300, 0, u64::MAX)?,
            image_sink: v.image_sink()?,
            s3_endpoint_url: v.string("S3_ENDPOINT_URL", ""),
            s3_bucket: v.string("S3_BUCKET", ""),
            s3_access_key_id: v.string("S3_ACCESS_KEY_ID", ""),
            s3_secret_access_key: v.string("S3_SECRET_ACCESS_KEY", ""),
            s3_region: v.string("S3_REGION", "us-east-1"),
            s3_public_url_template: v.string("S3_PUBLIC_URL_TEMPLATE", "{endpoint}/{bucket}/{key}"),
            s3_addressing_style: v.addressing_style()?,
            upload_retry_schedule: v.retry_schedule()?,
            upload_queue_max_mb: v.uint(
                "UPLOAD_QUEUE_MAX_MB",
                DEFAULT_QUEUE_MAX_MB,
                1,
                u64::MAX >> 20,
            )?,
            upload_wait_ms: v.uint("UPLOAD_WAIT_MS", 2000, 0, 60_000)?,
            auth_key_name: v.string("AUTH_KEY_NAME", "X-API-Key"),
            auth_cookie_secure: v.opt_bool("AUTH_COOKIE_SECURE")?,
            session_cookie_name: v.string("SESSION_COOKIE_NAME", "relab_session"),
            debug: v.get("DEBUG").is_some_and(is_debug_truthy),
            otel_enabled: v.bool("OTEL_ENABLED", false)?,
            otel_service_name: v.string("OTEL_SERVICE_NAME", "relab-rpi-cam-plugin"),
            otel_exporter_otlp_endpoint: v.string("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            local_mode_enabled: v.bool("LOCAL_MODE_ENABLED", true)?,
            local_api_key: v.string("LOCAL_API_KEY", ""),
            local_allowed_origins: v
                .list("LOCAL_ALLOWED_ORIGINS")?
                .into_iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
            relay_backend_url: v.string("RELAY_BACKEND_URL", ""),
            relay_camera_id: v.string("RELAY_CAMERA_ID", ""),
            relay_auth_scheme: v.string("RELAY_AUTH_SCHEME", DEVICE_ASSERTION),
            relay_key_id: v.string("RELAY_KEY_ID", ""),
            relay_private_key_pem: v.string("RELAY_PRIVATE_KEY_PEM", ""),
            local_relay_api_key: v.string("LOCAL_RELAY_API_KEY", ""),
            relay_reconnect_min_s: v.seconds("RELAY_RECONNECT_MIN_S", 2.0)?,
            relay_reconnect_max_s: v.seconds("RELAY_RECONNECT_MAX_S", 60.0)?,
            relay_max_concurrent_commands: v.uint("RELAY_MAX_CONCURRENT_COMMANDS", 8, 1, 1024)?
                as u32,
            allow_plaintext_relay: v.bool("ALLOW_PLAINTEXT_RELAY", false)?,
            pairing_backend_url: v.string("PAIRING_BACKEND_URL", DEFAULT_PAIRING_BACKEND_URL),
            pairing_register_timeout_retry_s: v.uint(
                "PAIRING_REGISTER_TIMEOUT_RETRY_S",
                1,
                1,
                u64::MAX,
            )?,
            pairing_poll_interval_s: v.uint("PAIRING_POLL_INTERVAL_S", 3, 1, u64::MAX)?,
            pairing_api_prefix: ApiPrefix::parse(v.get("PAIRING_API_PREFIX").unwrap_or(""))?,
            pairing_poll_method: PollMethod::parse(v.get("PAIRING_POLL_METHOD").unwrap_or(""))?,
            credentials_file: v
                .path("RELAB_CREDENTIALS_FILE")
                .unwrap_or(default_credentials),
            timelapse_interval_s: v.uint("TIMELAPSE_INTERVAL_S", 0, 0, u64::MAX)?,
            timelapse_keep: v.uint("TIMELAPSE_KEEP", 1000, 1, u64::from(u32::MAX))? as u32,
            timelapse_max_age_s: v.uint("TIMELAPSE_MAX_AGE_S", 604_800, 1, u64::MAX)?,
            mjpeg_max_fps: v.float("MJPEG_MAX_FPS", 15.0, 120.0)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match url_parts(&self.base_url) {
            Some(u) if matches!(u.scheme.as_str(), "http" | "https") && !u.host.is_empty() => {
                u.port().map_err(|_| bad_url("BASE_URL", &self.base_url))?;
            }
            _ => return Err(bad_url("BASE_URL", &self.base_url)),
        }
        if !self.pairing_backend_url.is_empty() {
            match url_parts(&self.pairing_backend_url) {
                Some(u)
                    if matches!(u.scheme.as_str(), "http" | "https")
                        && !u.host.is_empty()
                        && u.port().is_ok() => {}
                _ => {
                    return Err(ConfigError(format!(
                        "PAIRING_BACKEND_URL must be empty or an http:// or https:// URL with a host, got {:?}",
                        self.pairing_backend_url
                    )))
                }
            }
        }
        if self.camera_backend != "picamera2" {
            return Err(ConfigError(format!(
                "CAMERA_BACKEND must be picamera2, got {:?} (picamd picks its camera with --source)",
                self.camera_backend
            )));
        }
        for (name, value) in [
            ("AUTH_KEY_NAME", &self.auth_key_name),
            ("SESSION_COOKIE_NAME", &self.session_cookie_name),
        ] {
            if !is_http_token(value) {
                return Err(ConfigError(format!(
                    "{name} must be 1 to 64 HTTP token characters (letters, digits, !#$%&'*+-.^_`|~), got {value:?}"
                )));
            }
        }
        if self.relay_reconnect_max_s < self.relay_reconnect_min_s {
            return Err(ConfigError(format!(
                "RELAY_RECONNECT_MAX_S ({}) must not be below RELAY_RECONNECT_MIN_S ({})",
                self.relay_reconnect_max_s, self.relay_reconnect_min_s
            )));
        }
        check_relay_url(&self.relay_backend_url, self.allow_plaintext_relay)
            .map_err(ConfigError)?;
        let relay_fields = [
            &self.relay_backend_url,
            &self.relay_camera_id,
            &self.relay_key_id,
            &self.relay_private_key_pem,
        ];
        let set = relay_fields.iter().filter(|f| !f.is_empty()).count();
        if set != 0 && set != relay_fields.len() {
            return Err(ConfigError(
                "Relay bootstrap config must set RELAY_BACKEND_URL, RELAY_CAMERA_ID, RELAY_KEY_ID, \
                 and RELAY_PRIVATE_KEY_PEM together or leave them all unset."
                    .to_string(),
            ));
        }
        if !self.relay_backend_url.is_empty() && self.relay_auth_scheme != DEVICE_ASSERTION {
            return Err(ConfigError(
                "RELAY_AUTH_SCHEME must be device_assertion when relay bootstrap credentials are configured."
                    .to_string(),
            ));
        }
        if self.image_sink == ImageSink::Backend && self.pairing_backend_url.is_empty() {
            return Err(ConfigError(
                "IMAGE_SINK=backend requires PAIRING_BACKEND_URL.".to_string(),
            ));
        }
        let missing_s3 = self.missing_s3_settings();
        if !missing_s3.is_empty() {
            match (self.image_sink, self.resolved_image_sink()) {
                (ImageSink::S3, _) => {
                    return Err(ConfigError(format!(
                        "IMAGE_SINK=s3 requires {}.",
                        missing_s3.join(", ")
                    )))
                }
                (ImageSink::Auto, ImageSink::S3) => {
                    return Err(ConfigError(format!(
                    "IMAGE_SINK=auto chose s3 because S3_ENDPOINT_URL is set, which requires {}.",
                    missing_s3.join(", ")
                )))
                }
                _ => {}
            }
        }
        if self.resolved_image_sink() == ImageSink::S3 {
            S3Sink::new(self.s3_settings()).map_err(ConfigError)?;
        }
        Ok(())
    }

    /// The S3 sink's settings (checked at start-up when S3 is the sink).
    pub fn s3_settings(&self) -> S3Settings {
        S3Settings {
            endpoint_url: self.s3_endpoint_url.clone(),
            bucket: self.s3_bucket.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            region: self.s3_region.clone(),
            public_url_template: self.s3_public_url_template.clone(),
            addressing: self.s3_addressing_style,
        }
    }

    fn missing_s3_settings(&self) -> Vec<&'static str> {
        [
            ("S3_ENDPOINT_URL", &self.s3_endpoint_url),
            ("S3_BUCKET", &self.s3_bucket),
            ("S3_ACCESS_KEY_ID", &self.s3_access_key_id),
            ("S3_SECRET_ACCESS_KEY", &self.s3_secret_access_key),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
        .collect()
    }

    pub fn base_url_is_https(&self) -> bool {
        url_parts(&self.base_url).is_some_and(|u| u.scheme == "https")
    }

    /// Whether cookies get `Secure`: `AUTH_COOKIE_SECURE` when set, else an https `BASE_URL`.
    pub fn cookie_secure(&self) -> bool {
        self.auth_cookie_secure
            .unwrap_or_else(|| self.base_url_is_https())
    }

    /// The port written in `BASE_URL`, or 8018 when it names none.
    pub fn base_url_port(&self) -> u16 {
        url_parts(&self.base_url)
            .and_then(|u| u.port().ok().flatten())
            .unwrap_or(DEFAULT_PORT)
    }

    /// Whether the environment alone carries complete relay credentials.
    pub fn relay_env_complete(&self) -> bool {
        !self.relay_backend_url.is_empty()
            && !self.relay_camera_id.is_empty()
            && self.relay_auth_scheme == DEVICE_ASSERTION
            && !self.relay_key_id.is_empty()
            && !self.relay_private_key_pem.is_empty()
    }

    /// The sink captures go to: an explicit `IMAGE_SINK`, or for `auto` S3 when
    /// `S3_ENDPOINT_URL` is set, else the backend when `PAIRING_BACKEND_URL` is, else local.
    pub fn resolved_image_sink(&self) -> ImageSink {
        match self.image_sink {
            ImageSink::Auto if !self.s3_endpoint_url.is_empty() => ImageSink::S3,
            ImageSink::Auto if !self.pairing_backend_url.is_empty() => ImageSink::Backend,
            ImageSink::Auto => ImageSink::Local,
            explicit => explicit,
        }
    }
}

/// Redacts secrets so a logged `Config` never leaks keys.
impl fmt::Debug for RelabSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = format!("[{} keys]", self.authorized_api_keys.len());
        f.debug_struct("RelabSettings")
            .field("base_url", &self.base_url)
            .field("allowed_cors_origins", &self.allowed_cors_origins)
            .field("authorized_api_keys", &keys)
            .field("camera_device_num", &self.camera_device_num)
            .field("image_path", &self.image_path)
            .field("templates_path", &self.templates_path)
            .field("static_path", &self.static_path)
            .field("log_path", &self.log_path)
            .field("cleanup_interval_s", &self.cleanup_interval_s)
            .field("image_ttl_s", &self.image_ttl_s)
            .field("max_stream_duration_s", &self.max_stream_duration_s)
            .field("check_stream_interval_s", &self.check_stream_interval_s)
            .field(
                "check_stream_health_interval_s",
                &self.check_stream_health_interval_s,
            )
            .field("camera_backend", &self.camera_backend)
            .field("preview_hibernate_after_s", &self.preview_hibernate_after_s)
            .field("image_sink", &self.image_sink)
            .field("s3_endpoint_url", &self.s3_endpoint_url)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &redacted(&self.s3_secret_access_key),
            )
            .field("s3_region", &self.s3_region)
            .field("s3_public_url_template", &self.s3_public_url_template)
            .field("s3_addressing_style", &self.s3_addressing_style)
            .field("upload_retry_schedule", &self.upload_retry_schedule)
            .field("upload_queue_max_mb", &self.upload_queue_max_mb)
            .field("upload_wait_ms", &self.upload_wait_ms)
            .field("auth_key_name", &self.auth_key_name)
            .field("auth_cookie_secure", &self.auth_cookie_secure)
            .field("session_cookie_name", &self.session_cookie_name)
            .field("debug", &self.debug)
            .field("otel_enabled", &self.otel_enabled)
            .field("otel_service_name", &self.otel_service_name)
            .field(
                "otel_exporter_otlp_endpoint",
                &self.otel_exporter_otlp_endpoint,
            )
            .field("local_mode_enabled", &self.local_mode_enabled)
            .field("local_api_key", &redacted(&self.local_api_key))
            .field("local_allowed_origins", &self.local_allowed_origins)
            .field("relay_backend_url", &self.relay_backend_url)
            .field("relay_camera_id", &self.relay_camera_id)
            .field("relay_auth_scheme", &self.relay_auth_scheme)
            .field("relay_key_id", &self.relay_key_id)
            .field(
                "relay_private_key_pem",
                &redacted(&self.relay_private_key_pem),
            )
            .field("local_relay_api_key", &redacted(&self.local_relay_api_key))
            .field("relay_reconnect_min_s", &self.relay_reconnect_min_s)
            .field("relay_reconnect_max_s", &self.relay_reconnect_max_s)
            .field(
                "relay_max_concurrent_commands",
                &self.relay_max_concurrent_commands,
            )
            .field("allow_plaintext_relay", &self.allow_plaintext_relay)
            .field("pairing_backend_url", &self.pairing_backend_url)
            .field(
                "pairing_register_timeout_retry_s",
                &self.pairing_register_timeout_retry_s,
            )
            .field("pairing_poll_interval_s", &self.pairing_poll_interval_s)
            .field("pairing_api_prefix", &self.pairing_api_prefix)
            .field("pairing_poll_method", &self.pairing_poll_method)
            .field("credentials_file", &self.credentials_file)
            .field("timelapse_interval_s", &self.timelapse_interval_s)
            .field("timelapse_keep", &self.timelapse_keep)
            .field("timelapse_max_age_s", &self.timelapse_max_age_s)
            .field("mjpeg_max_fps", &self.mjpeg_max_fps)
            .finish()
    }
}

/// `"<redacted>"` for a set secret, `""` for an unset one.
pub fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "<redacted>"
    }
}

/// Checks a relay WebSocket URL: empty, `wss://…`, or `ws://…` when plaintext is allowed.
pub fn check_relay_url(url: &str, allow_plaintext: bool) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    match url_parts(url) {
        Some(u) if u.scheme == "wss" && !u.host.is_empty() => Ok(()),
        Some(u) if u.scheme == "ws" && !u.host.is_empty() => {
            if allow_plaintext {
                Ok(())
            } else {
                Err(format!(
                    "RELAY_BACKEND_URL {url:?} uses unencrypted ws://; switch to wss:// or set ALLOW_PLAINTEXT_RELAY=true."
                ))
            }
        }
        _ => Err(format!(
            "RELAY_BACKEND_URL must use the wss:// (or ws://) scheme with a host, not http/https; got {url:?}"
        )),
    }
}

/// Whether a URL's host is `localhost` or a loopback address.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(u) = url_parts(url) else {
        return false;
    };
    u.host.eq_ignore_ascii_case("localhost")
        || u.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

struct UrlParts<'a> {
    scheme: String,
    host: &'a str,
    port: Option<&'a str>,
}

impl UrlParts<'_> {
    fn port(&self) -> Result<Option<u16>, ()> {
        match self.port {
            None | Some("") => Ok(None),
            Some(p) => p.parse().map(Some).map_err(|_| ()),
        }
    }
}

/// Splits `scheme://[userinfo@]host[:port][/…]`; `None` when there is no `scheme://`.
fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    Some(UrlParts {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
    })
}

fn bad_url(name: &str, value: &str) -> ConfigError {
    ConfigError(format!(
        "{name} must be an http:// or https:// URL with a host and a valid port, got {value:?}"
    ))
}

fn is_http_token(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `DEBUG` is lenient like the plugin: these values are true, anything else false.
fn is_debug_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "debug"
    )
}

/// A list setting (§3.1): a JSON array of strings, a comma-separated string or nothing. Text
/// that is not valid JSON, like `[KEY]`, is split on commas with brackets and quotes stripped.
pub fn parse_list(name: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s),
                other => Err(ConfigError(format!(
                    "{name} must be a list of strings, but it holds {other}"
                ))),
            })
            .collect(),
        Ok(serde_json::Value::String(s)) => Ok(vec![s]),
        // A bare number or word is one key, not a JSON value to reject.
        Ok(_) | Err(_) => Ok(split_list(trimmed)),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.trim_matches(['[', ']'])
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| item.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

/// The merged variables: upper-cased names, process environment over `.env`.
struct Vars {
    map: HashMap<String, String>,
}

impl Vars {
    fn new(env: &HashMap<String, String>, dotenv: &HashMap<String, String>) -> Vars {
        let mut map = HashMap::new();
        for source in [dotenv, env] {
            // Within one source an exactly upper-case name beats other spellings; the rest are
            // ordered so the result never depends on hash order.
            let mut entries: Vec<_> = source.iter().collect();
            entries.sort_by_key(|(k, _)| (k.to_ascii_uppercase() == **k, *k));
            for (key, value) in entries {
                map.insert(key.to_ascii_uppercase(), value.clone());
            }
        }
        Vars { map }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_string()
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).filter(|p| !p.is_empty()).map(PathBuf::from)
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.opt_bool(name)?.unwrap_or(default))
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(Some(true)),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(Some(false)),
            _ => Err(invalid(name, raw, "true or false")),
        }
    }

    fn uint(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| {
                let expected = if max == u64::MAX {
                    format!("a whole number of at least {min}")
                } else {
                    format!("a whole number from {min} to {max}")
                };
                invalid(name, raw, &expected)
            })
    }

    /// A positive, finite number of seconds.
    fn seconds(&self, name: &str, default: f64) -> Result<f64, ConfigError> {
        self.float(name, default, 86_400.0)
    }

    fn float(&self, name: &str, default: f64, max: f64) -> Result<f64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0 && *v <= max)
            .ok_or_else(|| invalid(name, raw, &format!("a number above 0 and at most {max}")))
    }

    fn list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        self.get(name)
            .map_or(Ok(Vec::new()), |raw| parse_list(name, raw))
    }

    /// A JSON array of http(s) URLs, as pydantic's `list[HttpUrl]` demands.
    fn url_array(&self, name: &str, default: &[&str]) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default.iter().map(|s| s.to_string()).collect());
        };
        if raw.trim().is_empty() {
            return Ok(Vec::new());
        }
        let expected = "a JSON array of http(s) URLs, e.g. [\"https://cml-relab.org\"]";
        let urls: Vec<String> =
            serde_json::from_str(raw.trim()).map_err(|_| invalid(name, raw, expected))?;
        for url in &urls {
            let ok = url_parts(url).is_some_and(|u| {
                matches!(u.scheme.as_str(), "http" | "https")
                    && !u.host.is_empty()
                    && u.port().is_ok()
            });
            if !ok {
                return Err(invalid(name, raw, expected));
            }
        }
        Ok(urls
            .into_iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect())
    }

    fn addressing_style(&self) -> Result<AddressingStyle, ConfigError> {
        let Some(raw) = self.get("S3_ADDRESSING_STYLE") else {
            return Ok(AddressingStyle::Path);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "path" => Ok(AddressingStyle::Path),
            "virtual" => Ok(AddressingStyle::Virtual),
            _ => Err(invalid("S3_ADDRESSING_STYLE", raw, "path or virtual")),
        }
    }

    fn retry_schedule(&self) -> Result<RetrySchedule, ConfigError> {
        match self.get("UPLOAD_RETRY_SCHEDULE_S") {
            None => Ok(RetrySchedule::default()),
            Some(raw) => RetrySchedule::parse(raw)
                .map_err(|e| ConfigError(format!("invalid UPLOAD_RETRY_SCHEDULE_S: {e}"))),
        }
    }

    fn image_sink(&self) -> Result<ImageSink, ConfigError> {
        let Some(raw) = self.get("IMAGE_SINK") else {
            return Ok(ImageSink::Auto);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ImageSink::Auto),
            "backend" => Ok(ImageSink::Backend),
            "s3" => Ok(ImageSink::S3),
            "local" => Ok(ImageSink::Local),
            _ => Err(invalid("IMAGE_SINK", raw, "auto, backend, s3 or local")),
        }
    }
}

fn invalid(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError(format!("invalid {name} {value:?}: expected {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        load(env).expect_err("should be refused").0
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
        assert_eq!(s.base_url, "http://127.0.0.1:8018/");
        assert_eq!(
            s.allowed_cors_origins,
            [
                "http://127.0.0.1:8000",
                "http://localhost:8000",
                "https://cml-relab.org"
            ]
        );
        assert!(s.authorized_api_keys.is_empty());
        assert_eq!(s.camera_device_num, 0);
        assert_eq!(s.image_path, Path::new("/var/lib/picamd/images"));
        assert_eq!(s.log_path, Path::new("/var/lib/picamd/logs"));
        assert_eq!(
            (s.templates_path.clone(), s.static_path.clone()),
            (None, None)
        );
        assert_eq!(
            (s.cleanup_interval_s, s.image_ttl_s, s.max_stream_duration_s),
            (600, 3600, 18_000)
        );
        assert_eq!(
            (s.check_stream_interval_s, s.check_stream_health_interval_s),
            (60, 30)
        );
        assert_eq!(s.camera_backend, "picamera2");
        assert_eq!(s.preview_hibernate_after_s, 300);
        assert_eq!(s.image_sink, ImageSink::Auto);
        assert_eq!(s.s3_region, "us-east-1");
        assert_eq!(s.s3_public_url_template, "{endpoint}/{bucket}/{key}");
        assert_eq!(s.auth_key_name, "X-API-Key");
        assert_eq!(s.session_cookie_name, "relab_session");
        assert_eq!(s.auth_cookie_secure, None);
        assert!(!s.debug);
        assert!(!s.otel_enabled);
        assert_eq!(s.otel_service_name, "relab-rpi-cam-plugin");
        assert!(s.local_mode_enabled);
        assert_eq!(s.relay_auth_scheme, "device_assertion");
        assert!(!s.relay_env_complete());
        assert_eq!(
            (s.relay_reconnect_min_s, s.relay_reconnect_max_s),
            (2.0, 60.0)
        );
        assert_eq!(s.relay_max_concurrent_commands, 8);
        assert!(!s.allow_plaintext_relay);
        assert_eq!(s.pairing_backend_url, "https://api.cml-relab.org");
        assert_eq!(
            (
                s.pairing_register_timeout_retry_s,
                s.pairing_poll_interval_s
            ),
            (1, 3)
        );
        assert_eq!(s.pairing_api_prefix, ApiPrefix::Auto);
        assert_eq!(s.pairing_poll_method, PollMethod::Auto);
        assert_eq!(
            s.credentials_file,
            Path::new("/home/pi/.config/relab/relay_credentials.json")
        );
        assert_eq!(
            (
                s.timelapse_interval_s,
                s.timelapse_keep,
                s.timelapse_max_age_s
            ),
            (0, 1000, 604_800)
        );
        assert_eq!(s.mjpeg_max_fps, 15.0);
        assert!(!s.cookie_secure());
        assert_eq!(s.base_url_port(), 8018);
        assert_eq!(s.resolved_image_sink(), ImageSink::Backend);
    }

    #[test]
    fn credentials_file_without_home_lives_in_the_data_dir() {
        let s = RelabSettings::from_vars(&HashMap::new(), &HashMap::new(), Path::new("data"), None)
            .unwrap();
        assert_eq!(s.credentials_file, Path::new("data/relay_credentials.json"));
    }

    #[test]
    fn credentials_file_is_honoured_from_env_and_dotenv() {
        let dotenv = vars(&[("RELAB_CREDENTIALS_FILE", "/etc/relab/creds.json")]);
        let data = Path::new("data");
        let s = RelabSettings::from_vars(&HashMap::new(), &dotenv, data, None).unwrap();
        assert_eq!(s.credentials_file, Path::new("/etc/relab/creds.json"));
        let env = vars(&[("RELAB_CREDENTIALS_FILE", "/run/creds.json")]);
        let s = RelabSettings::from_vars(&env, &dotenv, data, None).unwrap();
        assert_eq!(s.credentials_file, Path::new("/run/creds.json"));
        let env = vars(&[("RELAB_CREDENTIALS_FILE", "")]);
        let s = RelabSettings::from_vars(&env, &HashMap::new(), data, None).unwrap();
        assert_eq!(s.credentials_file, Path::new("data/relay_credentials.json"));
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
        assert_eq!(s.camera_device_num, 2);
        assert_eq!(s.image_path, Path::new("/tmp/img"));
        assert_eq!(s.s3_region, "eu-west-1");
    }

    #[test]
    fn exact_upper_case_name_wins_within_one_source() {
        let env = vars(&[("CAMERA_DEVICE_NUM", "3"), ("camera_device_num", "4")]);
        let s = RelabSettings::from_vars(&env, &HashMap::new(), Path::new("d"), None).unwrap();
        assert_eq!(s.camera_device_num, 3);
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
            .0
            .contains("AUTHORIZED_API_KEYS must be a list of strings"));

        let s = load(&[
            ("AUTHORIZED_API_KEYS", "[CHANGE_ME]"),
            (
                "LOCAL_ALLOWED_ORIGINS",
                "http://192.168.1.42/, http://cam.local",
            ),
        ])
        .unwrap();
        assert_eq!(s.authorized_api_keys, ["CHANGE_ME"]);
        assert_eq!(
            s.local_allowed_origins,
            ["http://192.168.1.42", "http://cam.local"]
        );
        let s = load(&[("LOCAL_ALLOWED_ORIGINS", r#"["http://a","http://b"]"#)]).unwrap();
        assert_eq!(s.local_allowed_origins, ["http://a", "http://b"]);
    }

    #[test]
    fn cors_origins_must_be_a_json_array_of_urls() {
        let s = load(&[("ALLOWED_CORS_ORIGINS", r#"["https://relab.example/"]"#)]).unwrap();
        assert_eq!(s.allowed_cors_origins, ["https://relab.example"]);
        assert!(load(&[("ALLOWED_CORS_ORIGINS", "")])
            .unwrap()
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
            assert!(load(&[("DEBUG", truthy)]).unwrap().debug, "{truthy}");
        }
        for falsy in ["0", "false", "production", "unexpected", ""] {
            assert!(!load(&[("DEBUG", falsy)]).unwrap().debug, "{falsy}");
        }
    }

    #[test]
    fn booleans_are_strict() {
        assert!(
            !load(&[("LOCAL_MODE_ENABLED", "False")])
                .unwrap()
                .local_mode_enabled
        );
        assert!(load(&[("OTEL_ENABLED", " on ")]).unwrap().otel_enabled);
        assert!(
            load(&[("ALLOW_PLAINTEXT_RELAY", "y")])
                .unwrap()
                .allow_plaintext_relay
        );
        assert!(error(&[("LOCAL_MODE_ENABLED", "maybe")]).contains("LOCAL_MODE_ENABLED"));
    }

    #[test]
    fn cookie_secure_follows_base_url_unless_set() {
        let s = load(&[("BASE_URL", "https://cam.example/")]).unwrap();
        assert!(s.base_url_is_https() && s.cookie_secure());
        assert_eq!(s.base_url_port(), 8018);
        let s = load(&[
            ("BASE_URL", "https://cam.example/"),
            ("AUTH_COOKIE_SECURE", "false"),
        ])
        .unwrap();
        assert!(!s.cookie_secure());
        let s = load(&[("AUTH_COOKIE_SECURE", "true")]).unwrap();
        assert!(s.cookie_secure() && !s.base_url_is_https());
        let s = load(&[("AUTH_COOKIE_SECURE", "")]).unwrap();
        assert_eq!(s.auth_cookie_secure, None);
        assert!(error(&[("AUTH_COOKIE_SECURE", "sometimes")]).contains("AUTH_COOKIE_SECURE"));
    }

    #[test]
    fn base_url_port_and_validation() {
        assert_eq!(
            load(&[("BASE_URL", "http://10.0.0.5:9000/x")])
                .unwrap()
                .base_url_port(),
            9000
        );
        assert_eq!(
            load(&[("BASE_URL", "HTTP://[::1]:8443")])
                .unwrap()
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
        assert_eq!(s.camera_device_num, 1);
        assert_eq!(s.preview_hibernate_after_s, 0);
        assert_eq!(
            (s.relay_reconnect_min_s, s.relay_reconnect_max_s),
            (0.5, 30.0)
        );
        assert_eq!((s.timelapse_interval_s, s.mjpeg_max_fps), (60, 7.5));
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
                .auth_key_name,
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
        assert!(s.relay_env_complete());
        let mut plain = RELAY.to_vec();
        plain[0] = ("RELAY_BACKEND_URL", "ws://127.0.0.1:8000/ws");
        plain.push(("ALLOW_PLAINTEXT_RELAY", "true"));
        assert!(load(&plain).unwrap().relay_env_complete());
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
        assert!(error(&relay).contains("ALLOW_PLAINTEXT_RELAY"));
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
        assert!(!s.relay_env_complete());
    }

    #[test]
    fn upload_settings() {
        let s = load(&[]).unwrap();
        assert_eq!(s.s3_addressing_style, AddressingStyle::Path);
        assert_eq!(s.upload_retry_schedule.delays_s(), [30, 300, 1800, 7200]);
        assert_eq!((s.upload_queue_max_mb, s.upload_wait_ms), (1024, 2000));
        let s = load(&[
            ("S3_ADDRESSING_STYLE", "Virtual"),
            ("UPLOAD_RETRY_SCHEDULE_S", "1,2"),
            ("UPLOAD_QUEUE_MAX_MB", "5"),
            ("UPLOAD_WAIT_MS", "0"),
        ])
        .unwrap();
        assert_eq!(s.s3_addressing_style, AddressingStyle::Virtual);
        assert_eq!(s.upload_retry_schedule.delays_s(), [1, 2]);
        assert_eq!((s.upload_queue_max_mb, s.upload_wait_ms), (5, 0));
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
            "http://10.0.0.2:9000",
            &[("S3_ADDRESSING_STYLE", "virtual")]
        ))
        .contains("virtual-host addressing needs a host name"));
        let s = load(&with("https://s3.eu-west-1.amazonaws.com", &[])).unwrap();
        assert_eq!(s.s3_settings().bucket, "rpi-cam");
        assert_eq!(s.s3_settings().addressing, AddressingStyle::Path);
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
                ("S3_ENDPOINT_URL", "http://minio.local:9000"),
                ("S3_SECRET_ACCESS_KEY", "secret"),
            ]),
            "IMAGE_SINK=s3 requires S3_BUCKET, S3_ACCESS_KEY_ID."
        );
        assert!(error(&[("S3_ENDPOINT_URL", "http://minio.local:9000")])
            .starts_with("IMAGE_SINK=auto chose s3"));
        assert!(error(&[("IMAGE_SINK", "ftp")]).contains("IMAGE_SINK"));

        let s3 = [
            ("S3_ENDPOINT_URL", "http://minio.local:9000"),
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
        assert_eq!(s.pairing_api_prefix, ApiPrefix::Fixed("/v1".into()));
        assert_eq!(s.pairing_poll_method, PollMethod::Post);
        let s = load(&[("PAIRING_API_PREFIX", "none"), ("PAIRING_POLL_METHOD", "")]).unwrap();
        assert_eq!(s.pairing_api_prefix, ApiPrefix::Fixed(String::new()));
        assert_eq!(s.pairing_poll_method, PollMethod::Auto);
        assert!(error(&[("PAIRING_API_PREFIX", "v1")]).starts_with("invalid PAIRING_API_PREFIX"));
        assert!(
            error(&[("PAIRING_POLL_METHOD", "PATCH")]).starts_with("invalid PAIRING_POLL_METHOD")
        );
    }

    #[test]
    fn pairing_backend_url_must_be_http_or_empty() {
        for ok in ["", "http://127.0.0.1:8001", "https://api.cml-relab.org/"] {
            assert_eq!(
                load(&[("PAIRING_BACKEND_URL", ok)])
                    .unwrap()
                    .pairing_backend_url,
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
        let text = format!("{:?}", load(&env).unwrap());
        for secret in ["local_secret", "topsecret", "BEGIN PRIVATE KEY"] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
        assert!(text.contains("cam-1"));
    }
}
