//! The start-up banner (contract §11), with picamd's own lines added.

use crate::config::relab::ImageSink;
use crate::runtime::Runtime;

const SEP_WIDTH: usize = 54;

pub fn render(rt: &Runtime, setup_url: &str) -> String {
    let sep = "═".repeat(SEP_WIDTH);
    let relab = &rt.config.relab;
    let relay = rt.relay.read().unwrap_or_else(|e| e.into_inner()).clone();
    let mode = match (&relay, relab.pairing_backend_url.is_empty()) {
        (Some(r), _) => format!("PAIRED      camera_id={}", r.camera_id),
        (None, true) => "IDLE        set PAIRING_BACKEND_URL in .env to enable pairing".into(),
        (None, false) => {
            "IDLE        pairing with the RELab backend is not in this build yet".into()
        }
    };
    let key = if rt.local_api_key.is_empty() {
        "not yet generated".to_string()
    } else {
        "run:  picamd show-key".to_string()
    };
    let sink = match relab.resolved_image_sink() {
        ImageSink::S3 => "s3",
        ImageSink::Backend => "backend",
        _ => "local",
    };
    let sink = format!(
        "{sink}; stored in {}",
        relab.image_path.join("captures").display()
    );
    let cfg = &rt.config;
    [
        String::new(),
        sep.clone(),
        format!(
            "  picamd  v{}  (RELab RPi Camera API 0.3.0)",
            env!("CARGO_PKG_VERSION")
        ),
        format!("  Setup    : {setup_url}"),
        format!("  Mode     : {mode}"),
        format!("  Local key: {key}"),
        format!(
            "  Camera   : {} {}x{} at {} fps, OpenH264 {} kbit/s",
            rt.camera.source,
            cfg.width,
            cfg.height,
            cfg.fps,
            cfg.bitrate / 1000
        ),
        format!("  Captures : {sink}"),
        sep,
    ]
    .join("\n")
}
