//! Which camera source runs: the one the settings name, or at start-up the first that is
//! there, a libcamera camera (`rpicam-vid --list-cameras`), else a V4L2 capture device,
//! else the synthetic test camera. `decide` is the rule on what was found; `probe` looks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::SourceKind;
/// Sensors with a focus motor (Camera Module 3 and its wide variant).
const AUTOFOCUS_SENSORS: &[&str] = &["imx708"];

/// One line of `rpicam-vid --list-cameras`: `0 : imx708 [4608x2592 10-bit RGGB] (/base/...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibcameraCamera {
    pub index: u32,
    /// `imx708`, `imx708_wide_noir`, `imx219`, `ov5647`, ...
    pub sensor: String,
    /// The part in brackets: full resolution, bit depth, Bayer order.
    pub summary: String,
    /// Device-tree path, or a USB id for UVC cameras seen through libcamera.
    pub path: String,
}

impl LibcameraCamera {
    pub fn has_autofocus(&self) -> bool {
        AUTOFOCUS_SENSORS.iter().any(|s| self.sensor.starts_with(s))
    }
}

/// The cameras in `rpicam-vid --list-cameras` output ("No cameras available!" gives none).
pub fn parse_list_cameras(text: &str) -> Vec<LibcameraCamera> {
    text.lines()
        .filter_map(|line| {
            let (index, rest) = line.split_once(" : ")?;
            let index = index.trim().parse().ok()?;
            let rest = rest.trim();
            let sensor = rest.split_whitespace().next()?.to_string();
            let summary = rest
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            let path = rest
                .rsplit_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .unwrap_or_default()
                .to_string();
            Some(LibcameraCamera {
                index,
                sensor,
                summary,
                path,
            })
        })
        .collect()
}

/// A `/dev/videoN` node as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4l2Node {
    pub path: PathBuf,
    /// `/sys/class/video4linux/videoN/name`.
    pub name: String,
    /// `index`: 0 for a device's first node (UVC adds a metadata node as 1).
    pub index: u32,
}

/// Drivers of Pi nodes that are not cameras one captures from directly: the codec and
/// ISP memory-to-memory devices, and the CSI receivers libcamera drives.
const NOT_CAPTURE: &[&str] = &[
    "bcm2835-codec",
    "bcm2835-isp",
    "bcm2835-jpeg",
    "unicam",
    "rpivid",
    "rp1-cfe",
    "pispbe",
    "hevc",
    "vicodec",
];

impl V4l2Node {
    /// A guess from sysfs until capabilities are queried (VIDIOC_QUERYCAP).
    pub fn looks_like_capture(&self) -> bool {
        let name = self.name.to_ascii_lowercase();
        self.index == 0 && !NOT_CAPTURE.iter().any(|n| name.contains(n))
    }
}

/// What start-up found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The program that listed the cameras (`rpicam-vid` or `libcamera-vid`), if one ran.
    pub libcamera_program: Option<String>,
    pub libcamera_cameras: Vec<LibcameraCamera>,
    pub v4l2_nodes: Vec<V4l2Node>,
}

/// The source to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Test,
    Rpicam {
        program: String,
        camera: u32,
        autofocus: bool,
    },
    Pipe(String),
    V4l2(PathBuf),
}

/// A choice, with the words the banner uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub choice: Choice,
    /// "rpicam (libcamera camera 0: imx708)", "test (no libcamera camera, ...)".
    pub description: String,
}

/// The rule: settings first; for `auto`, libcamera camera `camera_num` (or the first),
/// else the first V4L2 capture device this build can use, else the test camera.
pub fn decide(requested: &SourceKind, camera_num: u32, found: &Found) -> Decision {
    let program = || {
        found
            .libcamera_program
            .clone()
            .unwrap_or_else(|| "rpicam-vid".into())
    };
    let camera = found
        .libcamera_cameras
        .iter()
        .find(|c| c.index == camera_num)
        .or(found.libcamera_cameras.first());
    let rpicam = |camera: &LibcameraCamera, why: &str| Decision {
        choice: Choice::Rpicam {
            program: program(),
            camera: camera.index,
            autofocus: camera.has_autofocus(),
        },
        description: format!(
            "rpicam ({why}libcamera camera {}: {})",
            camera.index, camera.sensor
        ),
    };
    match requested {
        SourceKind::Test => Decision {
            choice: Choice::Test,
            description: "test (set by --source)".into(),
        },
        SourceKind::Pipe(cmd) => Decision {
            choice: Choice::Pipe(cmd.clone()),
            description: format!("pipe (set by --source: {cmd})"),
        },
        SourceKind::V4l2(path) => Decision {
            choice: Choice::V4l2(path.clone()),
            description: format!("v4l2 (set by --source: {})", path.display()),
        },
        SourceKind::Rpicam => match camera.filter(|c| c.index == camera_num) {
            Some(c) => rpicam(c, "set by --source; "),
            None => Decision {
                choice: Choice::Rpicam {
                    program: program(),
                    camera: camera_num,
                    autofocus: false,
                },
                description: format!(
                    "rpicam (set by --source; camera {camera_num} was not listed by --list-cameras)"
                ),
            },
        },
        SourceKind::Auto => {
            if let Some(c) = camera {
                return rpicam(c, "");
            }
            let capture = found.v4l2_nodes.iter().find(|n| n.looks_like_capture());
            let libcamera = if found.libcamera_program.is_some() {
                "no libcamera camera"
            } else {
                "no rpicam-vid"
            };
            match capture {
                Some(node) => Decision {
                    choice: Choice::V4l2(node.path.clone()),
                    description: format!(
                        "v4l2 ({libcamera}; {}: {})",
                        node.path.display(),
                        node.name
                    ),
                },
                None => Decision {
                    choice: Choice::Test,
                    description: format!("test ({libcamera}, no V4L2 capture device)"),
                },
            }
        }
    }
}

/// Looks for cameras: what `decide` needs for `requested` (nothing for test and pipe).
pub fn probe(requested: &SourceKind) -> Found {
    let mut found = Found::default();
    if matches!(requested, SourceKind::Auto | SourceKind::Rpicam) {
        for program in ["rpicam-vid", "libcamera-vid"] {
            if let Some(text) = run_for_output(program, &["--list-cameras"]) {
                found.libcamera_program = Some(program.to_string());
                found.libcamera_cameras = parse_list_cameras(&text);
                break;
            }
        }
    }
    if *requested == SourceKind::Auto {
        // sysfs names the nodes; QUERYCAP says which really capture (not codecs, not
        // metadata or output nodes).
        found.v4l2_nodes = v4l2_nodes(Path::new("/sys/class/video4linux"))
            .into_iter()
            .filter(|n| can_capture(&n.path))
            .collect();
    }
    found
}

/// Whether the node is a video capture device (single- or multi-planar, not memory to
/// memory), by its capabilities; a node that cannot be opened does not count.
fn can_capture(path: &Path) -> bool {
    crate::v4l2::device::Device::open(&path.to_string_lossy())
        .and_then(|dev| dev.capabilities())
        .is_ok_and(|caps| caps.is_capture())
}

/// The `/dev/videoN` nodes sysfs lists under `class_dir`, by number.
pub fn v4l2_nodes(class_dir: &Path) -> Vec<V4l2Node> {
    let Ok(entries) = std::fs::read_dir(class_dir) else {
        return Vec::new();
    };
    let mut nodes: Vec<(u32, V4l2Node)> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let number: u32 = file.strip_prefix("video")?.parse().ok()?;
            let read = |f: &str| std::fs::read_to_string(e.path().join(f)).unwrap_or_default();
            Some((
                number,
                V4l2Node {
                    path: PathBuf::from("/dev").join(&file),
                    name: read("name").trim().to_string(),
                    index: read("index").trim().parse().unwrap_or(0),
                },
            ))
        })
        .collect();
    nodes.sort_by_key(|(n, _)| *n);
    nodes.into_iter().map(|(_, node)| node).collect()
}

/// Stdout and stderr of `program args` (rpicam-apps print the list on either, depending
/// on the version), or `None` when it cannot run; killed after 10 s.
fn run_for_output(program: &str, args: &[&str]) -> Option<String> {
    let mut command = Command::new(program);
    super::child::without_service_variables(&mut command);
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let mut stderr = child.stderr.take()?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let mut err_text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                log::warn!("{program} --list-cameras did not finish in 10 s; stopped it");
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let text = out.join().unwrap_or_default();
    err_text.push_str(&err.join().unwrap_or_default());
    Some(text + &err_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PI4_CM3: &str = "\
Available cameras
-----------------
0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)
    Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]
                             2304x1296 [56.03 fps - (0, 0)/4608x2592 crop]
                             4608x2592 [14.35 fps - (0, 0)/4608x2592 crop]

1 : imx219 [3280x2464 10-bit RGGB] (/base/soc/i2c0mux/i2c@0/imx219@10)
    Modes: 'SRGGB10_CSI2P' : 640x480 [206.65 fps - (1000, 752)/1280x960 crop]
";

    fn camera(index: u32, sensor: &str) -> LibcameraCamera {
        LibcameraCamera {
            index,
            sensor: sensor.into(),
            summary: String::new(),
            path: String::new(),
        }
    }

    fn node(n: u32, name: &str, index: u32) -> V4l2Node {
        V4l2Node {
            path: PathBuf::from(format!("/dev/video{n}")),
            name: name.into(),
            index,
        }
    }

    #[test]
    fn parses_list_cameras() {
        let cams = parse_list_cameras(PI4_CM3);
        assert_eq!(
            cams[0],
            LibcameraCamera {
                index: 0,
                sensor: "imx708".into(),
                summary: "4608x2592 10-bit RGGB".into(),
                path: "/base/soc/i2c0mux/i2c@1/imx708@1a".into(),
            }
        );
        assert_eq!(cams.len(), 2);
        assert_eq!((cams[1].index, cams[1].sensor.as_str()), (1, "imx219"));
        assert!(cams[0].has_autofocus() && !cams[1].has_autofocus());
        assert!(parse_list_cameras("No cameras available!\n").is_empty());
        assert!(parse_list_cameras("").is_empty());
    }

    #[test]
    fn auto_prefers_libcamera_then_v4l2_then_test() {
        let pi = Found {
            libcamera_program: Some("rpicam-vid".into()),
            libcamera_cameras: parse_list_cameras(PI4_CM3),
            v4l2_nodes: vec![node(0, "unicam-image", 0), node(1, "UVC Camera", 0)],
        };
        let d = decide(&SourceKind::Auto, 0, &pi);
        assert_eq!(d.description, "rpicam (libcamera camera 0: imx708)");
        assert_eq!(
            d.choice,
            Choice::Rpicam {
                program: "rpicam-vid".into(),
                camera: 0,
                autofocus: true
            }
        );
        let d = decide(&SourceKind::Auto, 1, &pi);
        assert_eq!(d.description, "rpicam (libcamera camera 1: imx219)");

        let webcam = Found {
            libcamera_program: Some("rpicam-vid".into()),
            libcamera_cameras: vec![],
            v4l2_nodes: vec![
                node(10, "bcm2835-codec-decode", 0),
                node(2, "HD Webcam C525", 1),
                node(3, "HD Webcam C525", 0),
            ],
        };
        let d = decide(&SourceKind::Auto, 0, &webcam);
        assert_eq!(d.choice, Choice::V4l2("/dev/video3".into()));
        assert_eq!(
            d.description,
            "v4l2 (no libcamera camera; /dev/video3: HD Webcam C525)"
        );

        let nothing = Found {
            v4l2_nodes: vec![node(11, "bcm2835-codec-encode", 0)],
            ..Found::default()
        };
        let d = decide(&SourceKind::Auto, 0, &nothing);
        assert_eq!(d.choice, Choice::Test);
        assert_eq!(
            d.description,
            "test (no rpicam-vid, no V4L2 capture device)"
        );
    }

    #[test]
    fn settings_override_what_was_found() {
        let pi = Found {
            libcamera_program: Some("libcamera-vid".into()),
            libcamera_cameras: vec![camera(0, "ov5647")],
            v4l2_nodes: vec![],
        };
        assert_eq!(decide(&SourceKind::Test, 0, &pi).choice, Choice::Test);
        assert_eq!(
            decide(&SourceKind::Pipe("cat x.h264".into()), 0, &pi).choice,
            Choice::Pipe("cat x.h264".into())
        );
        let d = decide(&SourceKind::Rpicam, 0, &pi);
        assert_eq!(
            d.description,
            "rpicam (set by --source; libcamera camera 0: ov5647)"
        );
        assert_eq!(
            d.choice,
            Choice::Rpicam {
                program: "libcamera-vid".into(),
                camera: 0,
                autofocus: false
            }
        );
        let d = decide(&SourceKind::Rpicam, 2, &Found::default());
        assert_eq!(
            d.choice,
            Choice::Rpicam {
                program: "rpicam-vid".into(),
                camera: 2,
                autofocus: false
            }
        );
        assert!(d.description.contains("camera 2 was not listed"));
    }

    #[test]
    fn reads_v4l2_nodes_from_sysfs() {
        let dir = std::env::temp_dir().join(format!("picamd-v4l2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (n, name, index) in [(10, "bcm2835-codec-decode", 0), (2, "UVC Camera", 0)] {
            let d = dir.join(format!("video{n}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
            std::fs::write(d.join("index"), format!("{index}\n")).unwrap();
        }
        std::fs::create_dir_all(dir.join("v4l-subdev0")).unwrap();
        let nodes = v4l2_nodes(&dir);
        assert_eq!(
            nodes,
            [
                node(2, "UVC Camera", 0),
                node(10, "bcm2835-codec-decode", 0)
            ]
        );
        assert!(nodes[0].looks_like_capture() && !nodes[1].looks_like_capture());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(v4l2_nodes(&dir).is_empty());
    }
}
