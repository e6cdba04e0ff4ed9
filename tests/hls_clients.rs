//! Real HLS clients against the spawned binary: ffmpeg decodes, ffprobe measures.

mod common;

use std::process::Command;

use common::{Picamd, PLAYLIST};

#[test]
fn ffmpeg_decodes_five_seconds_without_errors() {
    assert!(
        common::have("ffmpeg"),
        "ffmpeg is needed (scripts/test.sh installs it)"
    );
    let cam = Picamd::start(&[]);
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            &cam.url(PLAYLIST),
        ])
        .args(["-t", "5", "-f", "null", "-", "-progress", "pipe:1"])
        .output()
        .expect("ffmpeg runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffmpeg reported errors: {stderr}");
    let frames: u64 = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("frame="))
        .and_then(|v| v.trim().parse().ok())
        .expect("ffmpeg reports progress");
    assert!(
        (140..=160).contains(&frames),
        "decoded {frames} frames in 5 s of 30 fps"
    );
}

#[test]
fn ffprobe_reports_the_configured_size_and_codec() {
    assert!(
        common::have("ffprobe"),
        "ffprobe is needed (scripts/test.sh installs it)"
    );
    let cam = Picamd::start(&["--resolution", "640x360", "--fps", "25"]);
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=codec_name,width,height,avg_frame_rate,r_frame_rate",
            "-of",
            "json",
        ])
        .arg(cam.url(PLAYLIST))
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &v["streams"][0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["width"], 640);
    assert_eq!(stream["height"], 360);
    assert_eq!(stream["r_frame_rate"], "25/1");
}
