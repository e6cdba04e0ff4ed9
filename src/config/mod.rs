//! Settings: command-line flags, then the environment, then `.env` in the working directory,
//! then defaults. picamd's own options live here; the RELab plugin's variables in [`relab`],
//! grouped into one section per reader (`http`, `auth`, `camera`, `stills`, `upload`, `s3`,
//! `retry`, `backend`, `pairing`, `relay`, `compat`). This module is a leaf: it imports nothing
//! else from the crate but `media::TIMESCALE`.

pub mod action_limits;
pub mod app_env;
pub mod auth;
pub mod backend;
pub mod camera;
pub mod compat;
pub mod deprecated;
mod dotenv;
pub mod error;
pub mod http;
pub mod hub;
pub mod pairing;
pub mod pairing_api;
pub mod record;
pub mod relab;
pub mod relay;
pub mod retry;
pub mod s3;
pub mod secret;
pub mod stills;
pub mod stream;
pub mod upload;
pub mod url;
pub mod vars;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use dotenv::parse_dotenv;
pub use error::ConfigError;
pub use relab::RelabSettings;
pub use upload::ImageSink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A libcamera camera, else a V4L2 capture device, else the test camera.
    Auto,
    /// The built-in synthetic camera.
    Test,
    /// `rpicam-vid` writing raw YUV 4:2:0 to a pipe.
    Rpicam,
    /// A shell command writing H.264 Annex B to its standard output.
    Pipe(String),
    /// A V4L2 capture device such as `/dev/video0`.
    V4l2(PathBuf),
}

impl SourceKind {
    pub fn parse(s: &str) -> Option<SourceKind> {
        match s {
            "auto" => Some(SourceKind::Auto),
            "test" | "testsrc" => Some(SourceKind::Test),
            "rpicam" => Some(SourceKind::Rpicam),
            _ => {
                if let Some(command) = s.strip_prefix("pipe:") {
                    let command = command.trim();
                    (!command.is_empty()).then(|| SourceKind::Pipe(command.to_string()))
                } else {
                    let device = s.strip_prefix("v4l2:")?;
                    device
                        .starts_with("/dev/")
                        .then(|| SourceKind::V4l2(PathBuf::from(device)))
                }
            }
        }
    }
}

/// Which H.264 encoder encodes raw frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderKind {
    /// A V4L2 M2M H.264 encoder when one exists (bcm2835-codec on a Pi 4), else OpenH264.
    Auto,
    /// Software H.264 (the only choice on a Pi 5 and on x86).
    OpenH264,
    /// A V4L2 M2M encoder: this node, or the first one found.
    V4l2(Option<PathBuf>),
}

impl EncoderKind {
    pub fn parse(s: &str) -> Option<EncoderKind> {
        match s {
            "auto" => Some(EncoderKind::Auto),
            "openh264" | "software" => Some(EncoderKind::OpenH264),
            "v4l2" => Some(EncoderKind::V4l2(None)),
            _ => {
                let device = s.strip_prefix("v4l2:")?;
                device
                    .starts_with("/dev/")
                    .then(|| EncoderKind::V4l2(Some(PathBuf::from(device))))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub source: SourceKind,
    pub encoder: EncoderKind,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub bitrate: u32,
    pub part_ms: u32,
    pub segment_ms: u32,
    pub hls_segments: usize,
    pub max_connections: usize,
    /// Connections one peer address may hold at once.
    pub max_connections_per_address: usize,
    /// LL-HLS requests parked in the HTTP responder at once (`None`: as many as connections;
    /// 0: none, every waiting request keeps its own thread).
    pub max_parked: Option<usize>,
    /// Serve the web UI from this folder instead of the copy built into the binary.
    pub www_dir: Option<PathBuf>,
    /// The SoC temperature in millidegrees (sysfs), for telemetry and the thermal governor.
    pub temp_file: PathBuf,
    /// The thermal governor's poll period and hold times.
    pub thermal: ThermalTiming,
    /// The RELab plugin's variables (contract/plugin.md §3).
    pub relab: RelabSettings,
}

/// The thermal governor's timing in milliseconds (contract §9.5: 5, 10 and 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThermalTiming {
    pub poll_ms: u32,
    pub throttle_ms: u32,
    pub restore_ms: u32,
}

/// Every setting: flag, environment variable, default, help text.
pub const SETTINGS: &[(&str, &str, &str, &str)] = &[
    (
        "--listen",
        "PICAMD_LISTEN",
        "0.0.0.0:8018",
        "address and port to serve on",
    ),
    (
        "--data-dir",
        "PICAMD_DATA_DIR",
        "data",
        "where picamd keeps its state",
    ),
    (
        "--source",
        "PICAMD_SOURCE",
        "auto",
        "camera: auto, test, rpicam, pipe:<command> or v4l2:/dev/videoN",
    ),
    (
        "--encoder",
        "PICAMD_ENCODER",
        "auto",
        "H.264 encoder: auto (hardware V4L2 M2M if present, else OpenH264), openh264, v4l2 or v4l2:/dev/videoN",
    ),
    (
        "--resolution",
        "PICAMD_RESOLUTION",
        "1280x720",
        "frame size, WIDTHxHEIGHT",
    ),
    ("--fps", "PICAMD_FPS", "30", "frames per second"),
    (
        "--bitrate",
        "PICAMD_BITRATE",
        "2M",
        "H.264 bit rate in bit/s (k and M suffixes)",
    ),
    (
        "--part-ms",
        "PICAMD_PART_MS",
        "200",
        "LL-HLS part duration (rounded to whole frames)",
    ),
    (
        "--segment-ms",
        "PICAMD_SEGMENT_MS",
        "1000",
        "segment duration = IDR period (whole parts)",
    ),
    (
        "--hls-segments",
        "PICAMD_HLS_SEGMENTS",
        "7",
        "segments listed in the playlist",
    ),
    (
        "--max-connections",
        "PICAMD_MAX_CONNECTIONS",
        "1024",
        "HTTP connections served at once",
    ),
    (
        "--max-connections-per-address",
        "PICAMD_MAX_CONNECTIONS_PER_ADDRESS",
        "64",
        "HTTP connections one client address may hold at once",
    ),
    (
        "--max-parked",
        "PICAMD_MAX_PARKED",
        "",
        "waiting LL-HLS requests parked without a thread (default: --max-connections; 0: off)",
    ),
    (
        "--www-dir",
        "PICAMD_WWW_DIR",
        "",
        "serve the web UI from this folder (development)",
    ),
    (
        "--temp-file",
        "PICAMD_TEMP_FILE",
        "/sys/class/thermal/thermal_zone0/temp",
        "SoC temperature in millidegrees, for telemetry and the thermal governor",
    ),
    (
        "--thermal-poll-ms",
        "PICAMD_THERMAL_POLL_MS",
        "5000",
        "thermal governor: how often the temperature is read",
    ),
    (
        "--thermal-throttle-ms",
        "PICAMD_THERMAL_THROTTLE_MS",
        "10000",
        "thermal governor: 80 °C held this long lowers the preview bitrate",
    ),
    (
        "--thermal-restore-ms",
        "PICAMD_THERMAL_RESTORE_MS",
        "30000",
        "thermal governor: 70 °C held this long restores it",
    ),
];

impl Config {
    /// Builds the configuration from flags (`args` without the program name and command),
    /// the process environment and the `.env` file in the working directory.
    pub fn load(args: &[String]) -> Result<Config, ConfigError> {
        let dotenv = std::fs::read_to_string(".env")
            .map(|t| parse_dotenv(&t))
            .unwrap_or_default();
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::from_sources(args, &env, &dotenv)
    }

    /// Builds the configuration from explicit sources; `HOME` in `env` roots the default
    /// credentials file.
    pub fn from_sources(
        args: &[String],
        env: &HashMap<String, String>,
        dotenv: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let flags = parse_flags(args)?;
        let get = |flag: &str| -> String {
            let (_, var, default, _) = SETTINGS
                .iter()
                .find(|s| s.0 == flag)
                .expect("every flag is in SETTINGS");
            flags
                .get(flag)
                .or_else(|| env.get(*var))
                .or_else(|| dotenv.get(*var))
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        let listen = get("--listen")
            .parse()
            .map_err(|_| invalid("--listen", &get("--listen"), "ADDR:PORT, e.g. 0.0.0.0:8018"))?;
        let source = SourceKind::parse(&get("--source")).ok_or_else(|| {
            invalid(
                "--source",
                &get("--source"),
                "auto, test, rpicam, pipe:<shell command> or v4l2:/dev/videoN",
            )
        })?;
        let encoder = EncoderKind::parse(&get("--encoder")).ok_or_else(|| {
            invalid(
                "--encoder",
                &get("--encoder"),
                "auto, openh264, v4l2 or v4l2:/dev/videoN",
            )
        })?;
        let (width, height) = parse_resolution(&get("--resolution"))?;
        let fps = get("--fps")
            .parse::<f64>()
            .ok()
            .filter(|f| (1.0..=120.0).contains(f));
        let fps = fps.ok_or_else(|| invalid("--fps", &get("--fps"), "a number from 1 to 120"))?;
        let bitrate = parse_bitrate(&get("--bitrate"))?;
        let part_ms = parse_range("--part-ms", &get("--part-ms"), 20, 5000)?;
        let segment_ms = parse_range("--segment-ms", &get("--segment-ms"), 100, 10_000)?;
        let hls_segments = parse_range("--hls-segments", &get("--hls-segments"), 2, 100)? as usize;
        let max_connections =
            parse_range("--max-connections", &get("--max-connections"), 1, 100_000)? as usize;
        let max_connections_per_address = parse_range(
            "--max-connections-per-address",
            &get("--max-connections-per-address"),
            1,
            100_000,
        )? as usize;
        let max_parked = match get("--max-parked").as_str() {
            "" => None,
            n => Some(parse_range("--max-parked", n, 0, 100_000)? as usize),
        };
        let www_dir = Some(get("--www-dir"))
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        let temp_file = PathBuf::from(get("--temp-file"));
        let thermal = ThermalTiming {
            poll_ms: parse_range("--thermal-poll-ms", &get("--thermal-poll-ms"), 10, 600_000)?,
            throttle_ms: parse_range(
                "--thermal-throttle-ms",
                &get("--thermal-throttle-ms"),
                0,
                3_600_000,
            )?,
            restore_ms: parse_range(
                "--thermal-restore-ms",
                &get("--thermal-restore-ms"),
                0,
                3_600_000,
            )?,
        };
        let data_dir = PathBuf::from(get("--data-dir"));
        let home = env.get("HOME").filter(|h| !h.is_empty()).map(Path::new);
        let relab = RelabSettings::from_vars(env, dotenv, &data_dir, home)?;
        let config = Config {
            listen,
            data_dir,
            source,
            encoder,
            width,
            height,
            fps,
            bitrate,
            part_ms,
            segment_ms,
            hls_segments,
            max_connections,
            max_connections_per_address,
            max_parked,
            www_dir,
            temp_file,
            thermal,
            relab,
        };
        // A live playlist must stay at least three target durations long (RFC 8216 §6.2.2).
        let target_ms = u64::from(segment_ms.div_ceil(1000) * 1000);
        if (hls_segments as u64) * u64::from(segment_ms) < 3 * target_ms {
            return Err(ConfigError::PlaylistTooShort {
                hls_segments,
                segment_ms,
                min_ms: 3 * target_ms,
            });
        }
        if segment_ms < part_ms {
            return Err(ConfigError::SegmentShorterThanPart {
                segment_ms,
                part_ms,
            });
        }
        Ok(config)
    }

    /// Frames per LL-HLS part: the part duration rounded to whole frames.
    pub fn part_frames(&self) -> u32 {
        ((f64::from(self.part_ms) * self.fps / 1000.0).round() as u32).max(1)
    }

    /// Frames per segment: a whole number of parts.
    pub fn segment_frames(&self) -> u32 {
        let parts = (f64::from(self.segment_ms) / f64::from(self.part_ms)).round() as u32;
        parts.max(1) * self.part_frames()
    }

    /// Nominal frame duration in 90 kHz ticks.
    pub fn frame_ticks(&self) -> u32 {
        (f64::from(crate::media::TIMESCALE) / self.fps).round() as u32
    }
}

fn invalid(flag: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::invalid(flag, value, expected)
}

fn parse_flags(args: &[String]) -> Result<HashMap<String, String>, ConfigError> {
    let mut flags = HashMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        if !SETTINGS.iter().any(|s| s.0 == name) {
            return Err(ConfigError::UnknownOption(arg.clone()));
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| ConfigError::MissingValue(name.to_string()))?,
        };
        flags.insert(name.to_string(), value);
    }
    Ok(flags)
}

fn parse_resolution(s: &str) -> Result<(u32, u32), ConfigError> {
    let err = || {
        invalid(
            "--resolution",
            s,
            "WIDTHxHEIGHT with even sides from 64x64 to 3840x2160",
        )
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(err)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| err())?, h.parse().map_err(|_| err())?);
    let ok = (64..=3840).contains(&w) && (64..=2160).contains(&h) && w % 2 == 0 && h % 2 == 0;
    ok.then_some((w, h)).ok_or_else(err)
}

fn parse_bitrate(s: &str) -> Result<u32, ConfigError> {
    let err = || {
        invalid(
            "--bitrate",
            s,
            "bit/s from 100k to 50M, e.g. 2000000, 2000k or 2M",
        )
    };
    let (digits, scale) = match s.trim().strip_suffix(['k', 'K']) {
        Some(d) => (d, 1_000.0),
        None => match s.trim().strip_suffix('M') {
            Some(d) => (d, 1_000_000.0),
            None => (s.trim(), 1.0),
        },
    };
    let value = digits.parse::<f64>().map_err(|_| err())? * scale;
    (100_000.0..=50_000_000.0)
        .contains(&value)
        .then_some(value as u32)
        .ok_or_else(err)
}

fn parse_range(flag: &'static str, s: &str, min: u32, max: u32) -> Result<u32, ConfigError> {
    s.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| invalid(flag, s, &format!("a whole number from {min} to {max}")))
}

/// The `--help` text.
pub fn help() -> String {
    let mut out = String::from(
        "picamd: a camera daemon for the Raspberry Pi\n\n\
         usage: picamd [serve] [OPTIONS]     run the daemon\n       \
         picamd show-key [OPTIONS]   print the local API key (made on first use)\n       \
         picamd v4l2-probe           one JSON line per /dev/video* node\n       \
         picamd v4l2-capture --device /dev/videoN --frames N [--format YUYV|NV12|YU12] [--size WxH]\n       \
         picamd v4l2-encode --codec FWHT|H264 --frames N [--size WxH] [--device /dev/videoN]\n\n\
         Each option can also be set by its environment variable or in ./.env. The RELab\n\
         plugin's variables (AUTHORIZED_API_KEYS, IMAGE_PATH, ...) are read the same way;\n\
         see README.md.\n\n",
    );
    for (flag, var, default, text) in SETTINGS {
        let default = if default.is_empty() {
            String::new()
        } else {
            format!(" [default: {default}]")
        };
        out.push_str(&format!("  {flag:<18} {var:<24} {text}{default}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn defaults_and_precedence() {
        let none = HashMap::new();
        let c = Config::from_sources(&[], &none, &none).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8018");
        assert_eq!(
            (c.width, c.height, c.fps, c.bitrate),
            (1280, 720, 30.0, 2_000_000)
        );
        assert_eq!(
            (c.part_frames(), c.segment_frames(), c.frame_ticks()),
            (6, 30, 3000)
        );

        let dotenv = HashMap::from([("PICAMD_FPS".to_string(), "25".to_string())]);
        let env = HashMap::from([("PICAMD_LISTEN".to_string(), "127.0.0.1:9000".to_string())]);
        let c = Config::from_sources(&args(&["--listen=127.0.0.1:1"]), &env, &dotenv).unwrap();
        assert_eq!(c.listen.port(), 1, "flags beat the environment");
        assert_eq!(c.fps, 25.0, ".env fills what the environment leaves");
        let c = Config::from_sources(&[], &env, &dotenv).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!((c.part_frames(), c.segment_frames()), (5, 25));
    }

    #[test]
    fn rejects_bad_values() {
        let none = HashMap::new();
        for bad in [
            &["--listen", "nowhere"][..],
            &["--resolution", "1281x720"],
            &["--resolution", "99999x2"],
            &["--fps", "0"],
            &["--bitrate", "12"],
            &["--part-ms", "x"],
            &["--segment-ms", "100", "--part-ms", "200"],
            &["--bogus", "1"],
            &["--fps"],
            &["--source", "webcam"],
            &["--source", "pipe:"],
            &["--source", "v4l2:video0"],
            &["--hls-segments", "2"],
            &["--hls-segments", "4", "--segment-ms", "1200"],
        ] {
            assert!(
                Config::from_sources(&args(bad), &none, &none).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(parse_bitrate("2.5M").unwrap(), 2_500_000);
    }

    #[test]
    fn parses_every_source() {
        let none = HashMap::new();
        let source = |s: &str| {
            Config::from_sources(&args(&["--source", s]), &none, &none)
                .unwrap()
                .source
        };
        assert_eq!(source("auto"), SourceKind::Auto);
        assert_eq!(source("testsrc"), SourceKind::Test);
        assert_eq!(source("rpicam"), SourceKind::Rpicam);
        assert_eq!(
            source("pipe: ffmpeg -i x -f h264 -"),
            SourceKind::Pipe("ffmpeg -i x -f h264 -".into())
        );
        assert_eq!(
            source("v4l2:/dev/video2"),
            SourceKind::V4l2(PathBuf::from("/dev/video2"))
        );
        assert_eq!(parse_bitrate("800k").unwrap(), 800_000);
    }

    #[test]
    fn thermal_settings() {
        let none = HashMap::new();
        let c = Config::from_sources(&[], &none, &none).unwrap();
        assert_eq!(
            c.temp_file,
            Path::new("/sys/class/thermal/thermal_zone0/temp")
        );
        assert_eq!(
            c.thermal,
            ThermalTiming {
                poll_ms: 5000,
                throttle_ms: 10_000,
                restore_ms: 30_000
            }
        );
        let env = HashMap::from([
            ("PICAMD_TEMP_FILE".to_string(), "/tmp/t".to_string()),
            ("PICAMD_THERMAL_POLL_MS".to_string(), "100".to_string()),
        ]);
        let flags = args(&["--thermal-throttle-ms", "0", "--thermal-restore-ms=2000"]);
        let c = Config::from_sources(&flags, &env, &none).unwrap();
        assert_eq!(c.temp_file, Path::new("/tmp/t"));
        assert_eq!(
            (
                c.thermal.poll_ms,
                c.thermal.throttle_ms,
                c.thermal.restore_ms
            ),
            (100, 0, 2000)
        );
        for bad in [["--thermal-poll-ms", "0"], ["--thermal-restore-ms", "-1"]] {
            assert!(Config::from_sources(&args(&bad), &none, &none).is_err());
        }
    }

    #[test]
    fn fills_the_relab_settings() {
        let none = HashMap::new();
        let c = Config::from_sources(&args(&["--data-dir", "/srv/cam"]), &none, &none).unwrap();
        assert_eq!(c.relab.stills.image_path, Path::new("/srv/cam/images"));
        assert_eq!(
            c.relab.pairing.credentials_file,
            Path::new("/srv/cam/relay_credentials.json")
        );

        let env = HashMap::from([
            ("HOME".to_string(), "/home/pi".to_string()),
            ("camera_device_num".to_string(), "1".to_string()),
        ]);
        let dotenv = HashMap::from([("LOCAL_MODE_ENABLED".to_string(), "false".to_string())]);
        let c = Config::from_sources(&[], &env, &dotenv).unwrap();
        assert_eq!(
            c.relab.pairing.credentials_file,
            Path::new("/home/pi/.config/relab/relay_credentials.json")
        );
        assert_eq!(c.relab.camera.device_num, 1);
        assert!(!c.relab.auth.local_mode_enabled);

        let env = HashMap::from([("IMAGE_SINK".to_string(), "s3".to_string())]);
        let err = Config::from_sources(&[], &env, &none).unwrap_err();
        assert!(
            err.to_string().starts_with("IMAGE_SINK=s3 requires"),
            "{err}"
        );
    }
}
