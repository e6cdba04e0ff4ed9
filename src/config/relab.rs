//! The RELab plugin's settings (contract/plugin.md §3): the same environment variable names,
//! defaults and validation as the Python plugin, read from the process environment and `.env`,
//! and grouped by the part of picamd that reads them.
//!
//! Names are case-insensitive and the process environment wins over `.env`; unknown names are
//! ignored. Deliberate differences from the Python plugin: `RELAB_CREDENTIALS_FILE` is honoured
//! from `.env` too (§14.14), `IMAGE_SINK=auto` with nothing configured keeps captures locally
//! instead of failing at startup, and an empty `AUTH_COOKIE_SECURE` counts as unset.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::action_limits::{
    ActionGroup, ActionLimitSettings, DEFAULT_MAX, DEFAULT_SESSION_CONTROLS, DEFAULT_WINDOW,
    SESSION_CONTROLS_VARIABLE,
};
use super::app_env::AppEnv;
use super::auth::{ApiKeys, AuthSettings, MIN_CDN_SECRET_LEN};
use super::backend::{BackendSettings, DEFAULT_PAIRING_BACKEND_URL};
use super::camera::CameraSettings;
use super::compat::CompatSettings;
use super::deprecated::Deprecated;
use super::error::ConfigError;
use super::http::HttpSettings;
use super::hub::HubSettings;
use super::pairing::PairingSettings;
use super::pairing_api::{ApiPrefix, PollMethod};
use super::record::RecordSettings;
use super::relay::{RelaySettings, DEFAULT_RELAY_AUTH_SCHEME};
use super::s3::S3Settings;
use super::secret::redacted;
use super::stills::{StillsSettings, DEFAULT_MAX_CAPTURE_FILE_BYTES, DEFAULT_MAX_CAPTURE_PIXELS};
use super::stream::{IngestUrl, StreamSettings, DEFAULT_INGEST_URL};
use super::upload::{
    CaptureUploadSettings, ImageSink, DEFAULT_QUEUE_DEAD_MAX_ENTRIES,
    DEFAULT_QUEUE_MAX_PENDING_BYTES, DEFAULT_QUEUE_MAX_PENDING_ENTRIES,
};
use super::url::{check_endpoint_transport, check_relay_url, is_http_url, is_loopback_url};
use super::vars::{is_debug_truthy, Vars};

const DEFAULT_CORS_ORIGINS: &[&str] = &[
    "http://127.0.0.1:8000",
    "http://localhost:8000",
    "https://cml-relab.org",
];

/// Every variable of contract/plugin.md §3.2, plus picamd's own timelapse and MJPEG limits,
/// one section per reader. Secrets are [`Secret`](super::secret::Secret)s, so `Debug` output
/// never shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct RelabSettings {
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub camera: CameraSettings,
    pub stills: StillsSettings,
    pub upload: CaptureUploadSettings,
    pub backend: BackendSettings,
    pub pairing: PairingSettings,
    pub relay: RelaySettings,
    pub compat: CompatSettings,
    pub stream: StreamSettings,
    /// Recording to MP4 (`RECORD_*`).
    pub record: RecordSettings,
    /// The seed-004 camera hub, both roles (`HUB_*`, `CAMERA_TOKEN_SECRET`).
    pub hub: HubSettings,
    /// `APP_ENV`.
    pub app_env: AppEnv,
    /// Deprecated names that were set (start-up warns about each).
    pub deprecated: Deprecated,
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
        // Read in the plugin's order, so the first bad variable is the one reported.
        let base_url = v.string("BASE_URL", "http://127.0.0.1:8018/");
        let allowed_cors_origins = v.url_array("ALLOWED_CORS_ORIGINS", DEFAULT_CORS_ORIGINS)?;
        let authorized_api_keys = ApiKeys::new(v.list("AUTHORIZED_API_KEYS")?);
        let camera_device_num = v.uint("CAMERA_DEVICE_NUM", 0, 0, 255)? as u32;
        let image_path = v
            .path("IMAGE_PATH")
            .unwrap_or_else(|| data_dir.join("images"));
        let templates_path = v.path("TEMPLATES_PATH");
        let static_path = v.path("STATIC_PATH");
        let log_path = v.path("LOG_PATH").unwrap_or_else(|| data_dir.join("logs"));
        let cleanup_interval_s = v.uint("CLEANUP_INTERVAL_S", 600, 1, u64::MAX)?;
        let image_ttl_s = v.uint("IMAGE_TTL_S", 3600, 1, u64::MAX)?;
        let max_stream_duration_s = v.uint("MAX_STREAM_DURATION_S", 18_000, 1, u64::MAX)?;
        let ingest_url = v.string("YOUTUBE_INGEST_URL", DEFAULT_INGEST_URL);
        let ingest = IngestUrl::parse(&ingest_url).ok_or_else(|| ConfigError::Invalid {
            name: "YOUTUBE_INGEST_URL",
            value: ingest_url.clone(),
            expected: "an rtmp:// or rtmps:// URL with a host and an application path".into(),
        })?;
        let rtmp_ca_file = v.path("RTMP_CA_FILE");
        let check_stream_interval_s = v.uint("CHECK_STREAM_INTERVAL_S", 60, 1, u64::MAX)?;
        let check_stream_health_interval_s =
            v.uint("CHECK_STREAM_HEALTH_INTERVAL_S", 30, 1, u64::MAX)?;
        let camera_backend = v.string("CAMERA_BACKEND", "picamera2");
        let preview_hibernate_after_s = v.uint("PREVIEW_HIBERNATE_AFTER_S", 300, 0, u64::MAX)?;
        let camera_enabled = v.bool("CAMERA_ENABLED", true)?;
        let local_view_without_key = v.bool("LOCAL_VIEW_WITHOUT_KEY", true)?;
        let local_control_without_key = v.bool("LOCAL_CONTROL_WITHOUT_KEY", false)?;
        let image_sink = v.image_sink()?;
        let s3_endpoint_url = v.string("S3_ENDPOINT_URL", "");
        let s3_bucket = v.string("S3_BUCKET", "");
        let s3_access_key_id = v.string("S3_ACCESS_KEY_ID", "");
        let s3_secret_access_key = v.string("S3_SECRET_ACCESS_KEY", "").into();
        let s3_region = v.string("S3_REGION", "us-east-1");
        let s3_public_url_template =
            v.string("S3_PUBLIC_URL_TEMPLATE", "{endpoint}/{bucket}/{key}");
        let s3_addressing_style = v.addressing_style()?;
        let upload_retry_schedule = v.retry_schedule()?;
        let upload_queue_max_mb = v
            .get("UPLOAD_QUEUE_MAX_MB")
            .map(|_| v.uint("UPLOAD_QUEUE_MAX_MB", 0, 1, u64::MAX >> 20))
            .transpose()?;
        let upload_queue_max_pending_entries = v.uint(
            "UPLOAD_QUEUE_MAX_PENDING_ENTRIES",
            DEFAULT_QUEUE_MAX_PENDING_ENTRIES,
            0,
            u64::MAX,
        )?;
        let upload_queue_max_pending_bytes = v.uint(
            "UPLOAD_QUEUE_MAX_PENDING_BYTES",
            DEFAULT_QUEUE_MAX_PENDING_BYTES,
            0,
            u64::MAX,
        )?;
        let upload_queue_dead_max_entries = v.uint(
            "UPLOAD_QUEUE_DEAD_MAX_ENTRIES",
            DEFAULT_QUEUE_DEAD_MAX_ENTRIES,
            0,
            u64::MAX,
        )?;
        let max_capture_pixels = v.uint(
            "MAX_CAPTURE_PIXELS",
            DEFAULT_MAX_CAPTURE_PIXELS,
            1,
            u64::MAX,
        )?;
        let max_capture_file_bytes = v.uint(
            "MAX_CAPTURE_FILE_BYTES",
            DEFAULT_MAX_CAPTURE_FILE_BYTES,
            1,
            u64::MAX,
        )?;
        let upload_wait_ms = v.uint("UPLOAD_WAIT_MS", 2000, 0, 60_000)?;
        let auth_key_name = v.string("AUTH_KEY_NAME", "X-API-Key");
        let auth_cookie_secure = v.opt_bool("AUTH_COOKIE_SECURE")?;
        let session_cookie_name = v.string("SESSION_COOKIE_NAME", "relab_session");
        let app_env = match v.get("APP_ENV") {
            None => AppEnv::Production,
            Some(raw) => AppEnv::parse(raw)
                .ok_or_else(|| ConfigError::invalid("APP_ENV", raw, "development or production"))?,
        };
        let debug = v.get("DEBUG").is_some_and(is_debug_truthy);
        let otel_enabled = v.bool("OTEL_ENABLED", false)?;
        let otel_service_name = v.string("OTEL_SERVICE_NAME", "relab-rpi-cam-plugin");
        let otel_exporter_otlp_endpoint = v.string("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        let local_mode_enabled = v.bool("LOCAL_MODE_ENABLED", true)?;
        let local_api_key = v.string("LOCAL_API_KEY", "").into();
        let local_allowed_origins = v
            .list("LOCAL_ALLOWED_ORIGINS")?
            .into_iter()
            .map(|o| o.trim_end_matches('/').to_string())
            .collect();
        let relay_backend_url = v.string("RELAY_BACKEND_URL", "");
        let relay_camera_id = v.string("RELAY_CAMERA_ID", "");
        let relay_auth_scheme = v.string("RELAY_AUTH_SCHEME", DEFAULT_RELAY_AUTH_SCHEME);
        let relay_key_id = v.string("RELAY_KEY_ID", "");
        let relay_private_key_pem = v.string("RELAY_PRIVATE_KEY_PEM", "").into();
        let local_relay_api_key = v.string("LOCAL_RELAY_API_KEY", "").into();
        let relay_reconnect_min_s = v.seconds("RELAY_RECONNECT_MIN_S", 2.0)?;
        let relay_reconnect_max_s = v.seconds("RELAY_RECONNECT_MAX_S", 60.0)?;
        let relay_max_concurrent_commands =
            v.uint("RELAY_MAX_CONCURRENT_COMMANDS", 8, 1, 1024)? as u32;
        let relay_max_pending_commands =
            v.uint("RELAY_MAX_PENDING_COMMANDS", 32, 1, 65_536)? as u32;
        let deprecated_allow_plaintext_relay = v.opt_bool("ALLOW_PLAINTEXT_RELAY")?;
        let pairing_backend_url = v.string("PAIRING_BACKEND_URL", DEFAULT_PAIRING_BACKEND_URL);
        let pairing_register_timeout_retry_s =
            v.uint("PAIRING_REGISTER_TIMEOUT_RETRY_S", 1, 1, u64::MAX)?;
        let pairing_poll_interval_s = v.uint("PAIRING_POLL_INTERVAL_S", 3, 1, u64::MAX)?;
        let pairing_api_prefix = ApiPrefix::parse(v.get("PAIRING_API_PREFIX").unwrap_or(""))?;
        let pairing_poll_method = PollMethod::parse(v.get("PAIRING_POLL_METHOD").unwrap_or(""))?;
        let credentials_file = v
            .path("RELAB_CREDENTIALS_FILE")
            .unwrap_or(default_credentials);
        let timelapse_interval_s = v.uint("TIMELAPSE_INTERVAL_S", 0, 0, u64::MAX)?;
        let timelapse_keep = v.uint("TIMELAPSE_KEEP", 1000, 1, u64::from(u32::MAX))? as u32;
        let timelapse_max_age_s = v.uint("TIMELAPSE_MAX_AGE_S", 604_800, 1, u64::MAX)?;
        let mjpeg_max_fps = v.float("MJPEG_MAX_FPS", 15.0, 120.0)?;
        let login_max_failures = v.uint("LOGIN_MAX_FAILURES", 5, 1, 1_000_000)? as usize;
        let hls_cdn_secret = v.string("HLS_CDN_SECRET", "");
        if !hls_cdn_secret.is_empty() && hls_cdn_secret.len() < MIN_CDN_SECRET_LEN {
            return Err(ConfigError::invalid(
                "HLS_CDN_SECRET",
                redacted(&hls_cdn_secret),
                &format!("at least {MIN_CDN_SECRET_LEN} characters"),
            ));
        }
        let mut action_limits = ActionLimitSettings {
            window: Duration::from_secs(v.uint(
                "RATE_LIMIT_WINDOW_S",
                DEFAULT_WINDOW.as_secs(),
                1,
                86_400,
            )?),
            ..ActionLimitSettings::default()
        };
        for (i, group) in ActionGroup::ALL.iter().enumerate() {
            action_limits.max[i] =
                v.uint(group.variable(), u64::from(DEFAULT_MAX), 0, 1_000_000)? as u32;
        }
        action_limits.session_controls = v.uint(
            SESSION_CONTROLS_VARIABLE,
            u64::from(DEFAULT_SESSION_CONTROLS),
            0,
            1_000_000,
        )? as u32;

        let hub = HubSettings::from_vars(&v)?;
        let settings = RelabSettings {
            hub,
            http: HttpSettings {
                base_url,
                allowed_cors_origins,
                local_allowed_origins,
            },
            auth: AuthSettings {
                authorized_api_keys,
                key_name: auth_key_name,
                cookie_secure: auth_cookie_secure,
                session_cookie_name,
                local_mode_enabled,
                local_api_key,
                login_max_failures,
                action_limits,
                hls_cdn_secret: hls_cdn_secret.into(),
                local_view_without_key,
                local_control_without_key,
            },
            camera: CameraSettings {
                device_num: camera_device_num,
                preview_hibernate_after_s,
                enabled: camera_enabled,
            },
            stills: StillsSettings {
                image_path,
                timelapse_interval_s,
                timelapse_keep,
                timelapse_max_age_s,
                mjpeg_max_fps,
                max_capture_pixels,
                max_capture_file_bytes,
            },
            upload: CaptureUploadSettings {
                image_sink,
                s3: S3Settings {
                    endpoint_url: s3_endpoint_url,
                    bucket: s3_bucket,
                    access_key_id: s3_access_key_id,
                    secret_access_key: s3_secret_access_key,
                    region: s3_region,
                    public_url_template: s3_public_url_template,
                    addressing: s3_addressing_style,
                },
                retry_schedule: upload_retry_schedule,
                max_pending_entries: upload_queue_max_pending_entries,
                max_pending_bytes: upload_queue_max_pending_bytes,
                queue_max_mb: upload_queue_max_mb,
                dead_max_entries: upload_queue_dead_max_entries,
                wait_ms: upload_wait_ms,
            },
            backend: BackendSettings {
                url: pairing_backend_url,
                api_prefix: pairing_api_prefix,
                poll_method: pairing_poll_method,
                development: app_env.is_development(),
            },
            pairing: PairingSettings {
                register_timeout_retry_s: pairing_register_timeout_retry_s,
                poll_interval_s: pairing_poll_interval_s,
                credentials_file,
            },
            relay: RelaySettings {
                backend_url: relay_backend_url,
                camera_id: relay_camera_id,
                auth_scheme: relay_auth_scheme,
                key_id: relay_key_id,
                private_key_pem: relay_private_key_pem,
                local_relay_api_key,
                reconnect_min_s: relay_reconnect_min_s,
                reconnect_max_s: relay_reconnect_max_s,
                max_concurrent_commands: relay_max_concurrent_commands,
                max_pending_commands: relay_max_pending_commands,
                allow_plaintext: app_env.is_development()
                    || deprecated_allow_plaintext_relay == Some(true),
            },
            compat: CompatSettings {
                templates_path,
                static_path,
                log_path,
                cleanup_interval_s,
                image_ttl_s,
                check_stream_interval_s,
                check_stream_health_interval_s,
                camera_backend,
                debug,
                otel_enabled,
                otel_service_name,
                otel_exporter_otlp_endpoint,
            },
            stream: StreamSettings {
                ingest,
                ca_file: rtmp_ca_file,
                max_duration_s: max_stream_duration_s,
            },
            record: RecordSettings::from_vars(&v, data_dir)?,
            app_env,
            deprecated: Deprecated {
                allow_plaintext_relay: deprecated_allow_plaintext_relay,
                upload_queue_max_mb,
            },
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base_url = &self.http.base_url;
        if !is_http_url(base_url) {
            return Err(ConfigError::NotAnHttpUrl {
                name: "BASE_URL",
                value: base_url.clone(),
            });
        }
        let backend_url = &self.backend.url;
        if !backend_url.is_empty() && !is_http_url(backend_url) {
            return Err(ConfigError::BadPairingBackendUrl(backend_url.clone()));
        }
        let development = self.app_env.is_development();
        // The plugin allows plain http here only on loopback; picamd also in development.
        if backend_url.to_ascii_lowercase().starts_with("http://")
            && !is_loopback_url(backend_url)
            && !development
        {
            return Err(ConfigError::PairingBackendNotHttps);
        }
        check_endpoint_transport(&self.upload.s3.endpoint_url, "S3_ENDPOINT_URL", development)
            .map_err(ConfigError::Transport)?;
        if self.compat.otel_enabled {
            check_endpoint_transport(
                &self.compat.otel_exporter_otlp_endpoint,
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                development,
            )
            .map_err(ConfigError::Transport)?;
        }
        if self.compat.camera_backend != "picamera2" {
            return Err(ConfigError::UnsupportedCameraBackend(
                self.compat.camera_backend.clone(),
            ));
        }
        for (name, value) in [
            ("AUTH_KEY_NAME", &self.auth.key_name),
            ("SESSION_COOKIE_NAME", &self.auth.session_cookie_name),
        ] {
            if !is_http_token(value) {
                return Err(ConfigError::NotAToken {
                    name,
                    value: value.clone(),
                });
            }
        }
        let relay = &self.relay;
        if relay.reconnect_max_s < relay.reconnect_min_s {
            return Err(ConfigError::RelayReconnectRange {
                min_s: relay.reconnect_min_s,
                max_s: relay.reconnect_max_s,
            });
        }
        check_relay_url(&relay.backend_url, relay.allow_plaintext)
            .map_err(ConfigError::RelayUrl)?;
        let relay_fields_set = [
            !relay.backend_url.is_empty(),
            !relay.camera_id.is_empty(),
            !relay.key_id.is_empty(),
            !relay.private_key_pem.is_empty(),
        ];
        let set = relay_fields_set.iter().filter(|set| **set).count();
        if set != 0 && set != relay_fields_set.len() {
            return Err(ConfigError::PartialRelay);
        }
        if !relay.backend_url.is_empty() && relay.auth_scheme != DEFAULT_RELAY_AUTH_SCHEME {
            return Err(ConfigError::RelayAuthScheme);
        }
        if self.upload.image_sink == ImageSink::Backend && self.backend.url.is_empty() {
            return Err(ConfigError::BackendSinkWithoutUrl);
        }
        let missing = self.missing_s3_settings();
        if !missing.is_empty() {
            match (self.upload.image_sink, self.resolved_image_sink()) {
                (ImageSink::S3, _) => {
                    return Err(ConfigError::S3Incomplete {
                        chosen_by_auto: false,
                        missing,
                    })
                }
                (ImageSink::Auto, ImageSink::S3) => {
                    return Err(ConfigError::S3Incomplete {
                        chosen_by_auto: true,
                        missing,
                    })
                }
                _ => {}
            }
        }
        if self.resolved_image_sink() == ImageSink::S3 {
            self.upload.s3.bucket().map_err(ConfigError::S3)?;
        }
        Ok(())
    }

    fn missing_s3_settings(&self) -> Vec<&'static str> {
        let s3 = &self.upload.s3;
        [
            ("S3_ENDPOINT_URL", s3.endpoint_url.is_empty()),
            ("S3_BUCKET", s3.bucket.is_empty()),
            ("S3_ACCESS_KEY_ID", s3.access_key_id.is_empty()),
            ("S3_SECRET_ACCESS_KEY", s3.secret_access_key.is_empty()),
        ]
        .into_iter()
        .filter(|(_, empty)| *empty)
        .map(|(name, _)| name)
        .collect()
    }

    /// Whether cookies get `Secure`: `AUTH_COOKIE_SECURE` when set, else an https `BASE_URL`.
    pub fn cookie_secure(&self) -> bool {
        self.auth
            .cookie_secure
            .unwrap_or_else(|| self.http.base_url_is_https())
    }

    /// The session cookie's name: `SESSION_COOKIE_NAME`, with the `__Host-` prefix when the
    /// cookie is `Secure` (plugin 0.4+), which binds it to this host and path `/`.
    pub fn session_cookie_name(&self) -> String {
        let name = &self.auth.session_cookie_name;
        if self.cookie_secure() && !name.starts_with("__Host-") {
            format!("__Host-{name}")
        } else {
            name.clone()
        }
    }

    /// The sink captures go to; see [`CaptureUploadSettings::resolved_sink`].
    pub fn resolved_image_sink(&self) -> ImageSink {
        self.upload.resolved_sink(&self.backend)
    }
}

fn is_http_token(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[path = "relab_tests.rs"]
mod tests;
