//! Why the configuration was refused. The texts are the start-up error lines users see and
//! tests compare, so each variant's `Display` is fixed.

use std::fmt;

use super::retry::ScheduleError;
use super::s3::S3SettingsError;
use super::url::{RelayUrlError, TransportError};

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A flag or variable whose value does not parse or is out of range.
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    /// A command-line option picamd does not know (the argument as given).
    UnknownOption(String),
    /// A flag given last without its value.
    MissingValue(String),
    /// `--hls-segments` × `--segment-ms` is below three target durations (RFC 8216 §6.2.2).
    PlaylistTooShort {
        hls_segments: usize,
        segment_ms: u32,
        min_ms: u64,
    },
    SegmentShorterThanPart {
        segment_ms: u32,
        part_ms: u32,
    },
    /// A list setting whose JSON array holds something other than strings (rendered as JSON).
    NotAStringList {
        name: &'static str,
        item: String,
    },
    /// A URL setting that is not http(s) with a host and a valid port (`BASE_URL`).
    NotAnHttpUrl {
        name: &'static str,
        value: String,
    },
    /// `PAIRING_BACKEND_URL` is neither empty nor an http(s) URL with a host.
    BadPairingBackendUrl(String),
    /// `PAIRING_BACKEND_URL` is plain http to a host that is not loopback, in production.
    PairingBackendNotHttps,
    /// An endpoint (`S3_ENDPOINT_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`) plugin 0.6 refuses.
    Transport(TransportError),
    /// `CAMERA_BACKEND` other than `picamera2`.
    UnsupportedCameraBackend(String),
    /// A header or cookie name that is not an HTTP token.
    NotAToken {
        name: &'static str,
        value: String,
    },
    RelayReconnectRange {
        min_s: f64,
        max_s: f64,
    },
    RelayUrl(RelayUrlError),
    /// Some but not all of the four relay bootstrap variables are set.
    PartialRelay,
    /// Relay bootstrap credentials with a `RELAY_AUTH_SCHEME` other than `device_assertion`.
    RelayAuthScheme,
    /// `IMAGE_SINK=backend` without `PAIRING_BACKEND_URL`.
    BackendSinkWithoutUrl,
    /// S3 is the sink but these variables are empty; `chosen_by_auto` when `IMAGE_SINK=auto`
    /// picked S3.
    S3Incomplete {
        chosen_by_auto: bool,
        missing: Vec<&'static str>,
    },
    S3(S3SettingsError),
    RetrySchedule(ScheduleError),
}

impl ConfigError {
    pub(crate) fn invalid(name: &'static str, value: &str, expected: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                name,
                value,
                expected,
            } => write!(f, "invalid {name} {value:?}: expected {expected}"),
            ConfigError::UnknownOption(arg) => write!(f, "unknown option {arg:?} (see --help)"),
            ConfigError::MissingValue(name) => write!(f, "{name} needs a value"),
            ConfigError::PlaylistTooShort {
                hls_segments,
                segment_ms,
                min_ms,
            } => write!(
                f,
                "--hls-segments {hls_segments} of {segment_ms} ms is shorter than three target durations ({min_ms} ms)"
            ),
            ConfigError::SegmentShorterThanPart {
                segment_ms,
                part_ms,
            } => write!(
                f,
                "--segment-ms {segment_ms} is shorter than one part ({part_ms} ms)"
            ),
            ConfigError::NotAStringList { name, item } => {
                write!(f, "{name} must be a list of strings, but it holds {item}")
            }
            ConfigError::NotAnHttpUrl { name, value } => write!(
                f,
                "{name} must be an http:// or https:// URL with a host and a valid port, got {value:?}"
            ),
            ConfigError::BadPairingBackendUrl(value) => write!(
                f,
                "PAIRING_BACKEND_URL must be empty or an http:// or https:// URL with a host, got {value:?}"
            ),
            ConfigError::PairingBackendNotHttps => f.write_str(
                "PAIRING_BACKEND_URL must use https unless it points at a loopback development host (or APP_ENV=development).",
            ),
            ConfigError::Transport(e) => e.fmt(f),
            ConfigError::UnsupportedCameraBackend(value) => write!(
                f,
                "CAMERA_BACKEND must be picamera2, got {value:?} (picamd picks its camera with --source)"
            ),
            ConfigError::NotAToken { name, value } => write!(
                f,
                "{name} must be 1 to 64 HTTP token characters (letters, digits, !#$%&'*+-.^_`|~), got {value:?}"
            ),
            ConfigError::RelayReconnectRange { min_s, max_s } => write!(
                f,
                "RELAY_RECONNECT_MAX_S ({max_s}) must not be below RELAY_RECONNECT_MIN_S ({min_s})"
            ),
            ConfigError::RelayUrl(e) => e.fmt(f),
            ConfigError::PartialRelay => f.write_str(
                "Relay bootstrap config must set RELAY_BACKEND_URL, RELAY_CAMERA_ID, RELAY_KEY_ID, \
                 and RELAY_PRIVATE_KEY_PEM together or leave them all unset.",
            ),
            ConfigError::RelayAuthScheme => f.write_str(
                "RELAY_AUTH_SCHEME must be device_assertion when relay bootstrap credentials are configured.",
            ),
            ConfigError::BackendSinkWithoutUrl => {
                f.write_str("IMAGE_SINK=backend requires PAIRING_BACKEND_URL.")
            }
            ConfigError::S3Incomplete {
                chosen_by_auto: false,
                missing,
            } => write!(f, "IMAGE_SINK=s3 requires {}.", missing.join(", ")),
            ConfigError::S3Incomplete {
                chosen_by_auto: true,
                missing,
            } => write!(
                f,
                "IMAGE_SINK=auto chose s3 because S3_ENDPOINT_URL is set, which requires {}.",
                missing.join(", ")
            ),
            ConfigError::S3(e) => e.fmt(f),
            ConfigError::RetrySchedule(e) => write!(f, "invalid UPLOAD_RETRY_SCHEDULE_S: {e}"),
        }
    }
}

/// No `source`: the text already includes the inner error's.
impl std::error::Error for ConfigError {}
