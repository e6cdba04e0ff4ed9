//! The start-up banner (contract §11), with picamd's own lines added. The boxed PAIRING READY
//! banner is the link's (`link::announce`).

use crate::camera::status::Delivers;
use crate::config::ImageSink;
use crate::link::announce::separator;
use crate::runtime::Runtime;

pub fn render(rt: &Runtime, setup_url: &str) -> String {
    let sep = separator();
    let relab = &rt.config.relab;
    let relay = rt.auth.relay();
    let pairing = !relab.backend.url.is_empty();
    let mode = match (&relay, pairing) {
        (Some(r), _) => format!("PAIRED      camera_id={}", r.camera_id),
        (None, true) => "PAIRING     waiting for code to be claimed in the ReLab app".into(),
        (None, false) => "IDLE        set PAIRING_BACKEND_URL in .env to enable pairing".into(),
    };
    let key = if rt.auth.local_api_key().is_empty() {
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
        relab.stills.image_path.join("captures").display()
    );
    let mut lines = vec![
        String::new(),
        sep.clone(),
        format!(
            "  picamd  v{}  (RELab RPi Camera API 0.3.0)",
            env!("CARGO_PKG_VERSION")
        ),
        format!("  Setup    : {setup_url}"),
        format!("  Mode     : {mode}"),
    ];
    if pairing {
        lines.push("  Note     : pairing code will appear below in a boxed log banner".into());
    }
    lines.extend([
        format!("  Local key: {key}"),
        format!("  Source   : {}", rt.media.source.reason()),
        format!("  Encoder  : {}", encoder_line(rt)),
        format!("  Captures : {sink}"),
        sep,
    ]);
    lines.join("\n")
}

/// What turns the source's frames into H.264, at which size, rate and bit rate.
fn encoder_line(rt: &Runtime) -> String {
    let cfg = &rt.config;
    match rt.media.source.delivers() {
        Delivers::RawFrames => format!(
            "{} {}x{} at {} fps, {} kbit/s",
            rt.media.source.encoder(),
            cfg.width,
            cfg.height,
            cfg.fps,
            cfg.bitrate / 1000
        ),
        Delivers::H264 => rt.media.source.encoder(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::credentials::RelayCredentials;
    use crate::runtime::test_runtime;

    #[test]
    fn start_up_mode_line_follows_the_pairing_state() {
        let sep_lines = |text: &str| text.lines().map(str::to_string).collect::<Vec<_>>();
        let (rt, _dir) = test_runtime::runtime(&[]);
        let lines = sep_lines(&render(&rt, "/setup"));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("  Mode     : IDLE        set PAIRING_BACKEND_URL")));
        assert!(!lines.iter().any(|l| l.contains("Note     :")));

        let (rt, _dir) = test_runtime::runtime(&[("PAIRING_BACKEND_URL", "https://example.com")]);
        let text = render(&rt, "/setup");
        assert!(text
            .contains("  Mode     : PAIRING     waiting for code to be claimed in the ReLab app"));
        assert!(text.contains("  Note     : pairing code will appear below in a boxed log banner"));

        rt.auth.activate(RelayCredentials {
            backend_url: "wss://x/ws".into(),
            camera_id: "cam-9".into(),
            auth_scheme: "device_assertion".into(),
            key_id: "k".into(),
            private_key_pem: "p".into(),
        });
        let text = render(&rt, "/setup");
        assert!(text.contains("  Mode     : PAIRED      camera_id=cam-9"));
        assert!(
            text.contains("  Note     :"),
            "still there while a backend is set"
        );
    }

    #[test]
    fn says_which_source_and_encoder_run_and_why() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        rt.media.source.set_choice(
            "rpicam",
            "rpicam (libcamera camera 0: imx708)",
            "OpenH264",
            Delivers::RawFrames,
        );
        let text = render(&rt, "/setup");
        assert!(text.contains("  Source   : rpicam (libcamera camera 0: imx708)\n"));
        assert!(text.contains("  Encoder  : OpenH264 1280x720 at 30 fps, 2000 kbit/s\n"));
        rt.media.source.set_choice(
            "pipe",
            "pipe (set by --source: cat x.h264)",
            "none: the pipe command delivers H.264",
            Delivers::H264,
        );
        let text = render(&rt, "/setup");
        assert!(text.contains("  Encoder  : none: the pipe command delivers H.264\n"));
    }
}
