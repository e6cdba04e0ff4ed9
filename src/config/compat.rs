//! Plugin variables picamd accepts (and checks like the plugin) but does not act on: its
//! pages are built in, it keeps no log folder, checks stream health its own way (see `stream`), and it has no
//! OpenTelemetry export.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatSettings {
    pub templates_path: Option<PathBuf>,
    pub static_path: Option<PathBuf>,
    pub log_path: PathBuf,
    pub cleanup_interval_s: u64,
    pub image_ttl_s: u64,
    pub check_stream_interval_s: u64,
    pub check_stream_health_interval_s: u64,
    /// Must be `picamera2`; picamd picks its camera with `--source`.
    pub camera_backend: String,
    pub debug: bool,
    pub otel_enabled: bool,
    pub otel_service_name: String,
    pub otel_exporter_otlp_endpoint: String,
}
