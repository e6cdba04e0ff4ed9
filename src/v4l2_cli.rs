//! The `picamd v4l2-probe`, `v4l2-capture` and `v4l2-encode` subcommands (over `v4l2` and
//! `camera::v4l2::capture`), used by the
//! in-guest test against vivid and vicodec. Each prints JSON lines on stdout.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::camera::testsrc::Painter;
use crate::camera::v4l2::capture::{Capture, CaptureConfig};
use crate::clock;
use crate::media::Frame;
use crate::v4l2::codec_controls::{EncoderSettings, H264Profile};
use crate::v4l2::device::Device;
use crate::v4l2::fourcc::{FourCc, FWHT, H264, NV12, YU12, YUYV};
use crate::v4l2::m2m::{self, M2mEncoder};
use crate::v4l2::sys::*;
use crate::v4l2::V4l2Error;

const FRAME_TIMEOUT: Duration = Duration::from_secs(5);
const ENCODE_TIMEOUT: Duration = Duration::from_secs(10);

/// Result of a subcommand: JSON lines to print and the exit code.
pub struct Outcome {
    pub lines: Vec<Value>,
    pub code: u8,
    /// For stderr.
    pub note: Option<String>,
}

impl Outcome {
    fn ok(value: Value) -> Outcome {
        Outcome {
            lines: vec![value],
            code: 0,
            note: None,
        }
    }

    fn failed(error: impl std::fmt::Display, code: u8) -> Outcome {
        Outcome {
            lines: vec![json!({"ok": false, "error": error.to_string()})],
            code,
            note: None,
        }
    }
}

/// `v4l2-probe`: one line per `/dev/videoN`.
pub fn probe() -> Outcome {
    let lines: Vec<Value> = m2m::video_nodes().iter().map(|p| describe(p)).collect();
    let note = lines
        .is_empty()
        .then(|| "no V4L2 devices (/dev/video*)".to_string());
    Outcome {
        lines,
        code: 0,
        note,
    }
}

fn describe(path: &str) -> Value {
    let result = (|| {
        let dev = Device::open(path)?;
        let caps = dev.capabilities()?;
        let (capture, output) = if caps.has(CAP_VIDEO_M2M_MPLANE) {
            (
                Some(BUF_TYPE_VIDEO_CAPTURE_MPLANE),
                Some(BUF_TYPE_VIDEO_OUTPUT_MPLANE),
            )
        } else if caps.has(CAP_VIDEO_M2M) {
            (Some(BUF_TYPE_VIDEO_CAPTURE), Some(BUF_TYPE_VIDEO_OUTPUT))
        } else if caps.has(CAP_VIDEO_CAPTURE) {
            (Some(BUF_TYPE_VIDEO_CAPTURE), None)
        } else if caps.has(CAP_VIDEO_CAPTURE_MPLANE) {
            (Some(BUF_TYPE_VIDEO_CAPTURE_MPLANE), None)
        } else if caps.has(CAP_VIDEO_OUTPUT_MPLANE) {
            (None, Some(BUF_TYPE_VIDEO_OUTPUT_MPLANE))
        } else if caps.has(CAP_VIDEO_OUTPUT) {
            (None, Some(BUF_TYPE_VIDEO_OUTPUT))
        } else {
            (None, None)
        };
        let names = |t: Option<u32>| -> Result<Vec<String>, V4l2Error> {
            Ok(match t {
                Some(t) => dev
                    .formats(t)?
                    .iter()
                    .map(|d| d.fourcc.to_string())
                    .collect(),
                None => Vec::new(),
            })
        };
        let mut line = json!({
            "device": path,
            "driver": caps.driver,
            "card": caps.card,
            "caps": caps.names(),
            "formats": names(capture)?,
        });
        if output.is_some() {
            line["output_formats"] = json!(names(output)?);
        }
        Ok::<Value, V4l2Error>(line)
    })();
    result.unwrap_or_else(|e| json!({"device": path, "error": e.to_string()}))
}

#[derive(Debug, PartialEq)]
pub struct CaptureArgs {
    pub device: String,
    pub frames: u32,
    pub format: Option<FourCc>,
    pub size: (u32, u32),
}

#[derive(Debug, PartialEq)]
pub struct EncodeArgs {
    pub codec: FourCc,
    pub frames: u32,
    pub size: (u32, u32),
    pub device: Option<String>,
}

/// What is wrong with a subcommand's flags; printed as the usage error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    UnexpectedArgument(String),
    MissingValue(String),
    UnknownFlag(String),
    Required(&'static str),
    BadValue {
        flag: &'static str,
        wants: &'static str,
        got: String,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnexpectedArgument(arg) => write!(f, "unexpected argument {arg:?}"),
            UsageError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            UsageError::UnknownFlag(flag) => write!(f, "unknown flag {flag}"),
            UsageError::Required(flag) => write!(f, "{flag} is required"),
            UsageError::BadValue { flag, wants, got } => {
                write!(f, "{flag} wants {wants}, got {got:?}")
            }
        }
    }
}

impl std::error::Error for UsageError {}

fn bad_value(flag: &'static str, wants: &'static str, got: &str) -> UsageError {
    UsageError::BadValue {
        flag,
        wants,
        got: got.to_string(),
    }
}

fn flags(args: &[String]) -> Result<Vec<(&str, &str)>, UsageError> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if !flag.starts_with("--") {
            return Err(UsageError::UnexpectedArgument(flag.clone()));
        }
        let value = it
            .next()
            .ok_or_else(|| UsageError::MissingValue(flag.clone()))?;
        out.push((flag.as_str(), value.as_str()));
    }
    Ok(out)
}

fn parse_size(text: &str) -> Result<(u32, u32), UsageError> {
    let bad = || bad_value("--size", "WIDTHxHEIGHT", text);
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err(bad());
    }
    Ok((w, h))
}

fn parse_frames(text: &str) -> Result<u32, UsageError> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad_value("--frames", "a positive number", text)),
    }
}

pub fn parse_capture(args: &[String]) -> Result<CaptureArgs, UsageError> {
    let (mut device, mut frames, mut format, mut size) = (None, None, None, (640, 480));
    for (flag, value) in flags(args)? {
        match flag {
            "--device" => device = Some(value.to_string()),
            "--frames" => frames = Some(parse_frames(value)?),
            "--format" => {
                format = Some(match value {
                    "YUYV" => YUYV,
                    "NV12" => NV12,
                    "YU12" | "YUV420" => YU12,
                    other => return Err(bad_value("--format", "YUYV, NV12 or YU12", other)),
                })
            }
            "--size" => size = parse_size(value)?,
            other => return Err(UsageError::UnknownFlag(other.to_string())),
        }
    }
    Ok(CaptureArgs {
        device: device.ok_or(UsageError::Required("--device"))?,
        frames: frames.ok_or(UsageError::Required("--frames"))?,
        format,
        size,
    })
}

pub fn parse_encode(args: &[String]) -> Result<EncodeArgs, UsageError> {
    let (mut codec, mut frames, mut size, mut device) = (None, None, (640, 480), None);
    for (flag, value) in flags(args)? {
        match flag {
            "--codec" => {
                codec = Some(match value {
                    "H264" => H264,
                    "FWHT" => FWHT,
                    other => return Err(bad_value("--codec", "H264 or FWHT", other)),
                })
            }
            "--frames" => frames = Some(parse_frames(value)?),
            "--size" => size = parse_size(value)?,
            "--device" => device = Some(value.to_string()),
            other => return Err(UsageError::UnknownFlag(other.to_string())),
        }
    }
    Ok(EncodeArgs {
        codec: codec.ok_or(UsageError::Required("--codec"))?,
        frames: frames.ok_or(UsageError::Required("--frames"))?,
        size,
        device,
    })
}

/// `v4l2-capture --device /dev/videoN --frames N [--format YUYV|NV12|YU12] [--size WxH]`.
pub fn capture(args: &[String]) -> Outcome {
    let args = match parse_capture(args) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e, 2),
    };
    let cfg = CaptureConfig {
        device: args.device,
        width: args.size.0,
        height: args.size.1,
        fps: 30.0,
        format: args.format,
        buffers: 4,
    };
    let run = || -> Result<Value, V4l2Error> {
        let mut cap = Capture::open(&cfg)?;
        let first = cap.next_frame(FRAME_TIMEOUT)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &first.data);
        let prefix: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let started = Instant::now();
        for _ in 1..args.frames {
            cap.next_frame(FRAME_TIMEOUT)?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let fps = if args.frames > 1 && elapsed > 0.0 {
            f64::from(args.frames - 1) / elapsed
        } else {
            0.0
        };
        let format = cap.format();
        Ok(json!({
            "ok": true,
            "frames": args.frames,
            "format": format.fourcc.to_string(),
            "width": format.width,
            "height": format.height,
            "mplane": cap.is_mplane(),
            "fps": (fps * 100.0).round() / 100.0,
            "first_frame_sha256_prefix": prefix,
        }))
    };
    match run() {
        Ok(v) => Outcome::ok(v),
        Err(e) => Outcome::failed(e, 1),
    }
}

/// `v4l2-encode --codec FWHT|H264 --frames N [--size WxH] [--device /dev/videoN]`.
pub fn encode(args: &[String]) -> Outcome {
    let args = match parse_encode(args) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e, 2),
    };
    let (width, height) = args.size;
    let settings = EncoderSettings {
        width,
        height,
        fps: 30.0,
        bitrate: 2_000_000,
        idr_period: 30,
        profile: H264Profile::Main,
    };
    let run = || -> Result<Value, V4l2Error> {
        let mut enc = M2mEncoder::open(args.device.as_deref(), args.codec, &settings)?;
        let painter = Painter::new(width, height);
        let (mut packets, mut bytes) = (0usize, 0usize);
        // The driver copies each frame's tag (its number) to its packet.
        let mut tags = Vec::new();
        for n in 0..u64::from(args.frames) {
            let unix_us = clock::unix_us();
            let frame = Frame {
                width,
                height,
                data: painter.paint(n, unix_us).into(),
                pts: n * 3000,
                capture_unix_us: unix_us,
                sequence: n,
            };
            for p in enc.encode(&frame, n, n == 0, ENCODE_TIMEOUT)? {
                packets += 1;
                bytes += p.data.len();
                tags.push(p.tag);
            }
        }
        for p in enc.finish(ENCODE_TIMEOUT)? {
            packets += 1;
            bytes += p.data.len();
            tags.push(p.tag);
        }
        Ok(json!({
            "ok": true,
            "device": enc.path(),
            "codec": enc.codec().to_string(),
            "frames_in": args.frames,
            "packets_out": packets,
            "bytes_out": bytes,
            "tags_in_order": tags.iter().enumerate().all(|(i, &t)| t == i as u64),
        }))
    };
    match run() {
        Ok(v) => Outcome::ok(v),
        Err(e) => Outcome::failed(e, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn capture_flags() {
        let a = parse_capture(&args(&[
            "--device",
            "/dev/video0",
            "--frames",
            "30",
            "--format",
            "NV12",
            "--size",
            "1280x720",
        ]))
        .unwrap();
        assert_eq!(
            a,
            CaptureArgs {
                device: "/dev/video0".into(),
                frames: 30,
                format: Some(NV12),
                size: (1280, 720)
            }
        );
        let a = parse_capture(&args(&["--frames", "1", "--device", "/dev/video2"])).unwrap();
        assert_eq!((a.format, a.size), (None, (640, 480)));
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        assert_eq!(
            parse_capture(&args(&["--frames", "3"]))
                .unwrap_err()
                .to_string(),
            "--device is required"
        );
        assert_eq!(
            parse_capture(&args(&["--device", "/dev/video0", "--frames", "0"]))
                .unwrap_err()
                .to_string(),
            "--frames wants a positive number, got \"0\""
        );
        assert_eq!(
            parse_capture(&args(&[
                "--device", "x", "--frames", "1", "--format", "MJPG"
            ]))
            .unwrap_err()
            .to_string(),
            "--format wants YUYV, NV12 or YU12, got \"MJPG\""
        );
        assert_eq!(
            parse_encode(&args(&["--codec", "VP8", "--frames", "1"]))
                .unwrap_err()
                .to_string(),
            "--codec wants H264 or FWHT, got \"VP8\""
        );
        assert_eq!(
            parse_encode(&args(&[
                "--codec", "FWHT", "--frames", "1", "--size", "640"
            ]))
            .unwrap_err()
            .to_string(),
            "--size wants WIDTHxHEIGHT, got \"640\""
        );
        assert_eq!(
            parse_encode(&args(&["--codec"])).unwrap_err().to_string(),
            "--codec needs a value"
        );
    }

    #[test]
    fn encode_flags() {
        let a = parse_encode(&args(&[
            "--codec", "FWHT", "--frames", "10", "--size", "320x240",
        ]))
        .unwrap();
        assert_eq!(
            (a.codec, a.frames, a.size, a.device),
            (FWHT, 10, (320, 240), None)
        );
    }

    #[test]
    fn capture_from_a_missing_device_fails_as_json() {
        let out = capture(&args(&[
            "--device",
            "/dev/video-missing-for-test",
            "--frames",
            "1",
        ]));
        assert_eq!(out.code, 1);
        assert_eq!(
            out.lines,
            vec![
                json!({"ok": false, "error": "/dev/video-missing-for-test: open failed: No such file or directory"})
            ]
        );
    }

    #[test]
    fn capture_from_a_non_v4l2_node_names_the_ioctl() {
        let out = capture(&args(&["--device", "/dev/null", "--frames", "1"]));
        assert_eq!(out.code, 1);
        let error = out.lines[0]["error"].as_str().unwrap();
        assert!(
            error.starts_with("/dev/null: VIDIOC_QUERYCAP failed: "),
            "{error}"
        );
    }

    #[test]
    fn encode_with_a_named_non_device_fails_clearly() {
        let out = encode(&args(&[
            "--codec",
            "FWHT",
            "--frames",
            "1",
            "--device",
            "/dev/null",
        ]));
        assert_eq!(out.code, 1);
        let error = out.lines[0]["error"].as_str().unwrap();
        assert!(
            error.starts_with("/dev/null: VIDIOC_QUERYCAP failed: "),
            "{error}"
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(encode(&args(&["--frames", "1"])).code, 2);
    }
}
