//! The libcamera source: `rpicam-vid` writing raw YUV 4:2:0 (I420) frames to its stdout,
//! one after the other with no framing, exactly width × height × 3/2 bytes each. Camera
//! controls become its command-line options; when they change, it is restarted with the
//! new ones. When it dies it is restarted with backoff (see `child`).

use std::process::{ChildStdout, Command};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::child::{self, RunEnd, SilenceLimits};
use super::source::{FrameClock, Output, Source, SourceContext};
use super::status::Delivers;
use crate::clock;
use crate::media::Frame;

pub const LOG_TARGET: &str = "picamd::camera::rpicam";

/// Frames between two looks at the controls (a restart is needed when they changed).
const CONTROL_CHECK_FRAMES: u64 = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct RpicamConfig {
    /// `rpicam-vid`, or `libcamera-vid` on older systems.
    pub program: String,
    /// libcamera camera index (`CAMERA_DEVICE_NUM`).
    pub camera: u32,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Only cameras with a focus motor take the autofocus options.
    pub autofocus: bool,
}

/// libcamera's enum values (as `/camera/controls` holds them) in rpicam-vid's words.
const AWB_MODES: &[&str] = &[
    "auto",
    "incandescent",
    "tungsten",
    "fluorescent",
    "indoor",
    "daylight",
    "cloudy",
    "custom",
];
const METERING_MODES: &[&str] = &["centre", "spot", "average", "custom"];
const EXPOSURE_MODES: &[&str] = &["normal", "short", "long", "custom"];
const AF_MODES: &[&str] = &["manual", "auto", "continuous"];
const AF_RANGES: &[&str] = &["normal", "macro", "full"];
const AF_SPEEDS: &[&str] = &["normal", "fast"];

/// The full command line (without the program): raw I420 on stdout, no preview window,
/// running until stopped, plus the options for the current `control` values.
pub fn command_args(cfg: &RpicamConfig, control: impl Fn(&str) -> Option<f64>) -> Vec<String> {
    let mut args: Vec<String> = [
        "-t",
        "0",
        "--camera",
        &cfg.camera.to_string(),
        "--codec",
        "yuv420",
        "--width",
        &cfg.width.to_string(),
        "--height",
        &cfg.height.to_string(),
        "--framerate",
        &number(cfg.fps),
        "--nopreview",
        "--flush",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(control_args(cfg, control));
    args.extend(["-o", "-"].map(String::from));
    args
}

/// Options for the controls that have values; manual exposure only when AeEnable is off.
pub fn control_args(cfg: &RpicamConfig, control: impl Fn(&str) -> Option<f64>) -> Vec<String> {
    let mut args = Vec::new();
    let mut push = |flag: &str, value: String| {
        args.push(flag.to_string());
        args.push(value);
    };
    let named = |names: &[&str], v: f64| names.get(v.max(0.0) as usize).map(|s| s.to_string());
    if control("AeEnable") == Some(0.0) {
        if let Some(us) = control("ExposureTime") {
            push("--shutter", format!("{}", us.round() as i64));
        }
        if let Some(gain) = control("AnalogueGain") {
            push("--gain", number(gain));
        }
    } else {
        if let Some(ev) = control("ExposureValue") {
            push("--ev", number(ev));
        }
        if let Some(mode) = control("AeExposureMode").and_then(|v| named(EXPOSURE_MODES, v)) {
            push("--exposure", mode);
        }
        if let Some(mode) = control("AeMeteringMode").and_then(|v| named(METERING_MODES, v)) {
            push("--metering", mode);
        }
    }
    if let Some(mode) = control("AwbMode").and_then(|v| named(AWB_MODES, v)) {
        push("--awb", mode);
    }
    for (control_name, flag) in [
        ("Brightness", "--brightness"),
        ("Contrast", "--contrast"),
        ("Saturation", "--saturation"),
        ("Sharpness", "--sharpness"),
    ] {
        if let Some(v) = control(control_name) {
            push(flag, number(v));
        }
    }
    if cfg.autofocus {
        let mode = control("AfMode").and_then(|v| named(AF_MODES, v));
        if let Some(range) = control("AfRange").and_then(|v| named(AF_RANGES, v)) {
            push("--autofocus-range", range);
        }
        if let Some(speed) = control("AfSpeed").and_then(|v| named(AF_SPEEDS, v)) {
            push("--autofocus-speed", speed);
        }
        if mode.as_deref() == Some("manual") {
            if let Some(pos) = control("LensPosition") {
                push("--lens-position", number(pos));
            }
        }
        if let Some(mode) = mode {
            push("--autofocus-mode", mode);
        }
    }
    args
}

/// A number as rpicam-vid's parser takes it: no exponent, no trailing zeros.
fn number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Bytes of one I420 frame, as rpicam-vid writes it.
pub fn frame_len(cfg: &RpicamConfig) -> usize {
    Frame::i420_len(cfg.width, cfg.height)
}

/// The current value of a camera control by its libcamera name.
pub type ControlLookup = Arc<dyn Fn(&str) -> Option<f64> + Send + Sync>;

pub struct RpicamSource {
    pub cfg: RpicamConfig,
    /// The current value of a camera control (`/camera/controls`).
    pub control: ControlLookup,
}

impl Source for RpicamSource {
    fn name(&self) -> &'static str {
        "rpicam"
    }

    fn delivers(&self) -> Delivers {
        Delivers::RawFrames
    }

    fn run(self: Box<Self>, mut ctx: SourceContext) {
        let cfg = self.cfg;
        if !cfg.width.is_multiple_of(64) {
            log::warn!(
                "rpicam: width {} is not a multiple of 64; libcamera may pad its rows and the frames would be misread",
                cfg.width
            );
        }
        log::info!(
            "rpicam: camera {} at {}x{}, {} fps through {}",
            cfg.camera,
            cfg.width,
            cfg.height,
            cfg.fps,
            cfg.program
        );
        let mut clock = FrameClock::new(cfg.fps, Instant::now());
        let control = self.control;
        let options_in_use = std::cell::RefCell::new(Vec::new());
        let status = Arc::clone(&ctx.status);
        let stop = Arc::clone(&ctx.stop);
        child::supervise(
            &cfg.program,
            LOG_TARGET,
            &stop,
            &status,
            SilenceLimits::default(),
            || {
                *options_in_use.borrow_mut() = control_args(&cfg, |name| control(name));
                let mut cmd = Command::new(&cfg.program);
                cmd.args(command_args(&cfg, |name| control(name)));
                cmd
            },
            |stdout| {
                read_frames(&cfg, stdout, &mut clock, &mut ctx, || {
                    control_args(&cfg, |name| control(name)) != *options_in_use.borrow()
                })
            },
        );
    }
}

/// Reads frames until the stream ends, picamd stops or `controls_changed`.
fn read_frames(
    cfg: &RpicamConfig,
    stdout: &mut ChildStdout,
    clock: &mut FrameClock,
    ctx: &mut SourceContext,
    controls_changed: impl Fn() -> bool,
) -> RunEnd {
    let len = frame_len(cfg);
    let mut frames: u64 = 0;
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            return RunEnd::Stopped;
        }
        let mut data = vec![0u8; len];
        match child::read_full(stdout, &mut data) {
            Ok(true) => {}
            Ok(false) => return RunEnd::Failed(format!("{} closed its output", cfg.program)),
            Err(e) => return RunEnd::Failed(format!("reading from {}: {e}", cfg.program)),
        }
        let (sequence, pts) = clock.stamp(Instant::now());
        (ctx.deliver)(Output::Frame(Frame {
            width: cfg.width,
            height: cfg.height,
            data: Arc::from(data),
            pts,
            capture_unix_us: clock::unix_us(),
            sequence,
        }));
        frames += 1;
        if frames.is_multiple_of(CONTROL_CHECK_FRAMES) && controls_changed() {
            return RunEnd::Restart("camera controls changed".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg() -> RpicamConfig {
        RpicamConfig {
            program: "rpicam-vid".into(),
            camera: 1,
            width: 1280,
            height: 720,
            fps: 30.0,
            autofocus: true,
        }
    }

    #[test]
    fn command_line_asks_for_raw_i420_on_stdout() {
        let none = |_: &str| None;
        assert_eq!(
            command_args(&cfg(), none).join(" "),
            "-t 0 --camera 1 --codec yuv420 --width 1280 --height 720 --framerate 30 \
             --nopreview --flush -o -"
        );
        let mut c = cfg();
        c.fps = 29.97;
        assert!(command_args(&c, none)
            .join(" ")
            .contains("--framerate 29.97 "));
    }

    #[test]
    fn controls_become_options() {
        let values: HashMap<&str, f64> = HashMap::from([
            ("AeEnable", 1.0),
            ("ExposureTime", 20000.0),
            ("AnalogueGain", 2.5),
            ("ExposureValue", -0.5),
            ("AwbMode", 5.0),
            ("Brightness", 0.1),
            ("Contrast", 1.0),
            ("AfMode", 0.0),
            ("LensPosition", 3.25),
        ]);
        let get = |n: &str| values.get(n).copied();
        assert_eq!(
            control_args(&cfg(), get).join(" "),
            "--ev -0.5 --awb daylight --brightness 0.1 --contrast 1 --lens-position 3.25 \
             --autofocus-mode manual"
        );
        let mut manual = values.clone();
        manual.insert("AeEnable", 0.0);
        manual.insert("AfMode", 2.0);
        let get = |n: &str| manual.get(n).copied();
        let args = control_args(&cfg(), get).join(" ");
        assert!(
            args.starts_with("--shutter 20000 --gain 2.5 --awb daylight"),
            "{args}"
        );
        assert!(args.ends_with("--autofocus-mode continuous"), "{args}");
        assert!(!args.contains("--lens-position"));

        let mut fixed_focus = cfg();
        fixed_focus.autofocus = false;
        let args = control_args(&fixed_focus, |n| manual.get(n).copied()).join(" ");
        assert!(!args.contains("autofocus"), "{args}");
    }

    #[test]
    fn reads_whole_frames_and_restarts_when_controls_change() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Mutex;
        let mut c = cfg();
        c.width = 64;
        c.height = 16;
        let len = frame_len(&c);
        assert_eq!(len, 64 * 16 * 3 / 2);
        // 25 frames and a half from a stand-in process.
        let mut child = Command::new("sh")
            .args(["-c", &format!("head -c {} /dev/zero", len * 25 + len / 2)])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let got: Arc<Mutex<Vec<(u64, usize)>>> = Arc::default();
        let sink = Arc::clone(&got);
        let mut ctx = SourceContext {
            stop: Arc::new(AtomicBool::new(false)),
            status: Arc::default(),
            deliver: Box::new(move |out| {
                if let Output::Frame(f) = out {
                    sink.lock().unwrap().push((f.sequence, f.data.len()));
                }
            }),
        };
        let mut clock = FrameClock::new(1000.0, Instant::now());
        let stdout = child.stdout.as_mut().unwrap();
        let end = read_frames(&c, stdout, &mut clock, &mut ctx, || false);
        assert_eq!(
            end,
            RunEnd::Failed(format!(
                "reading from rpicam-vid: stream ended mid-frame ({} of {len} bytes)",
                len / 2
            ))
        );
        assert_eq!(got.lock().unwrap().len(), 25);
        assert!(got.lock().unwrap().iter().all(|&(_, n)| n == len));
        let _ = child.wait();

        let mut child = Command::new("sh")
            .args(["-c", &format!("head -c {} /dev/zero", len * 25)])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.as_mut().unwrap();
        let end = read_frames(&c, stdout, &mut clock, &mut ctx, || true);
        assert_eq!(end, RunEnd::Restart("camera controls changed".into()));
        assert_eq!(got.lock().unwrap().len(), 35, "after ten frames");
        let _ = child.kill();
        let _ = child.wait();
    }
}
