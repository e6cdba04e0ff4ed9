//! Which V4L2 user/camera-class controls stand for which API (libcamera) controls, and how
//! values convert between the two. No I/O: the caller queries the device and applies.
//!
//! AnalogueGain is left out: V4L2_CID_GAIN is in device-specific units with no known
//! relation to a gain factor, so any mapping would be a guess.

use crate::camera::controls::{spec, Kind, Spec};
use crate::v4l2::device::ControlInfo;

const CID_BASE: u32 = 0x0098_0900;
pub const CID_BRIGHTNESS: u32 = CID_BASE;
pub const CID_CONTRAST: u32 = CID_BASE + 1;
pub const CID_SATURATION: u32 = CID_BASE + 2;
pub const CID_AUTO_WHITE_BALANCE: u32 = CID_BASE + 12;
pub const CID_SHARPNESS: u32 = CID_BASE + 27;
const CID_CAMERA_CLASS_BASE: u32 = 0x009a_0900;
pub const CID_EXPOSURE_AUTO: u32 = CID_CAMERA_CLASS_BASE + 1;
pub const CID_EXPOSURE_ABSOLUTE: u32 = CID_CAMERA_CLASS_BASE + 2;

/// `V4L2_EXPOSURE_MANUAL` and `V4L2_EXPOSURE_APERTURE_PRIORITY` (auto exposure time, what
/// UVC cameras offer as "auto").
const EXPOSURE_MANUAL: i64 = 1;
const EXPOSURE_APERTURE_PRIORITY: i64 = 3;
/// V4L2_EXPOSURE_ABSOLUTE counts 100 µs.
const EXPOSURE_UNIT_US: f64 = 100.0;

const CTRL_FLAG_DISABLED: u32 = 0x0001;
const CTRL_FLAG_READ_ONLY: u32 = 0x0004;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// -1..1 over min..max, 0 at the device default.
    Centered,
    /// A factor of the device default (1.0 = default).
    Scaled,
    /// µs in the API, 100 µs on the device.
    ExposureTime,
    /// Bool in the API, the exposure menu on the device.
    ExposureAuto,
    /// Bool on both sides.
    Bool,
}

/// (API name, control id, conversion), in the order they are listed and applied; AeEnable
/// before ExposureTime because a manual exposure time is refused while auto is on.
const TABLE: &[(&str, u32, Conversion)] = &[
    ("AeEnable", CID_EXPOSURE_AUTO, Conversion::ExposureAuto),
    (
        "ExposureTime",
        CID_EXPOSURE_ABSOLUTE,
        Conversion::ExposureTime,
    ),
    ("AwbEnable", CID_AUTO_WHITE_BALANCE, Conversion::Bool),
    ("Brightness", CID_BRIGHTNESS, Conversion::Centered),
    ("Contrast", CID_CONTRAST, Conversion::Scaled),
    ("Saturation", CID_SATURATION, Conversion::Scaled),
    ("Sharpness", CID_SHARPNESS, Conversion::Scaled),
];

/// An API control backed by a device control.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedControl {
    pub name: &'static str,
    pub info: ControlInfo,
    conversion: Conversion,
}

impl MappedControl {
    /// The control with its range and default in API units.
    pub fn spec(&self) -> Spec {
        let i = &self.info;
        match self.conversion {
            Conversion::Centered => spec(self.name, Kind::Float(-1.0, 1.0), 0.0),
            Conversion::Scaled => {
                let unit = scale_unit(i);
                let lo = i.minimum.max(0) as f64 / unit;
                spec(self.name, Kind::Float(lo, i.maximum as f64 / unit), 1.0)
            }
            Conversion::ExposureTime => {
                let us = |v: i64| (v as f64 * EXPOSURE_UNIT_US) as i64;
                spec(
                    self.name,
                    Kind::Int(us(i.minimum), us(i.maximum)),
                    us(i.default) as f64,
                )
            }
            Conversion::ExposureAuto => spec(
                self.name,
                Kind::Bool,
                f64::from(u8::from(i.default != EXPOSURE_MANUAL)),
            ),
            Conversion::Bool => spec(self.name, Kind::Bool, f64::from(u8::from(i.default != 0))),
        }
    }

    /// The device value for an API value, within the device's range.
    pub fn to_device(&self, value: f64) -> i64 {
        let i = &self.info;
        let v = match self.conversion {
            Conversion::Centered => {
                let span = if value >= 0.0 {
                    i.maximum - i.default
                } else {
                    i.default - i.minimum
                };
                i.default as f64 + value * span as f64
            }
            Conversion::Scaled => value * scale_unit(i),
            Conversion::ExposureTime => value / EXPOSURE_UNIT_US,
            Conversion::ExposureAuto => {
                return if value == 0.0 {
                    EXPOSURE_MANUAL
                } else {
                    EXPOSURE_APERTURE_PRIORITY
                };
            }
            Conversion::Bool => f64::from(u8::from(value != 0.0)),
        };
        i.clamp(v.round() as i64)
    }
}

/// What API 1.0 is on the device: its default, or its maximum when the default is no
/// usable reference.
fn scale_unit(i: &ControlInfo) -> f64 {
    if i.default > 0 {
        i.default as f64
    } else {
        i.maximum.max(1) as f64
    }
}

/// The API controls a device supports, from what `query` says about each mapped id (None
/// when the device lacks it). Disabled, read-only and unusable ones are left out.
pub fn map_controls(query: impl Fn(u32) -> Option<ControlInfo>) -> Vec<MappedControl> {
    TABLE
        .iter()
        .filter_map(|&(name, id, conversion)| {
            let info = query(id)?;
            let usable = info.flags & (CTRL_FLAG_DISABLED | CTRL_FLAG_READ_ONLY) == 0
                && info.maximum > info.minimum
                && match conversion {
                    Conversion::ExposureAuto => {
                        (info.minimum..=info.maximum).contains(&EXPOSURE_MANUAL)
                            && info.maximum >= EXPOSURE_APERTURE_PRIORITY
                    }
                    Conversion::Scaled => info.maximum > 0,
                    _ => true,
                };
            usable.then_some(MappedControl {
                name,
                info,
                conversion,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::controls::CameraControls;

    fn info(id: u32, minimum: i64, maximum: i64, default: i64) -> ControlInfo {
        ControlInfo {
            id,
            name: String::new(),
            minimum,
            maximum,
            step: 1,
            default,
            flags: 0,
        }
    }

    fn one(i: ControlInfo) -> MappedControl {
        let id = i.id;
        let mut found = map_controls(|q| (q == id).then(|| i.clone()));
        assert_eq!(found.len(), 1);
        found.remove(0)
    }

    /// Values from linux/v4l2-controls.h.
    #[test]
    fn ids_match_the_header() {
        let header = std::fs::read_to_string("/usr/include/linux/v4l2-controls.h");
        for (name, id, offset) in [
            ("V4L2_CID_BRIGHTNESS", CID_BRIGHTNESS, "V4L2_CID_BASE+0"),
            ("V4L2_CID_CONTRAST", CID_CONTRAST, "V4L2_CID_BASE+1"),
            ("V4L2_CID_SATURATION", CID_SATURATION, "V4L2_CID_BASE+2"),
            (
                "V4L2_CID_AUTO_WHITE_BALANCE",
                CID_AUTO_WHITE_BALANCE,
                "V4L2_CID_BASE+12",
            ),
            ("V4L2_CID_SHARPNESS", CID_SHARPNESS, "V4L2_CID_BASE+27"),
            (
                "V4L2_CID_EXPOSURE_AUTO",
                CID_EXPOSURE_AUTO,
                "V4L2_CID_CAMERA_CLASS_BASE+1",
            ),
            (
                "V4L2_CID_EXPOSURE_ABSOLUTE",
                CID_EXPOSURE_ABSOLUTE,
                "V4L2_CID_CAMERA_CLASS_BASE+2",
            ),
        ] {
            if let Ok(h) = &header {
                let line = h
                    .lines()
                    .find(|l| l.starts_with(&format!("#define {name}")))
                    .unwrap_or_else(|| panic!("{name} in the header"));
                let def: String = line.split_whitespace().skip(2).collect();
                assert_eq!(def, format!("({offset})"), "{name}");
            }
            let base = if offset.contains("CAMERA") {
                0x009a_0900
            } else {
                0x0098_0900
            };
            let n: u32 = offset.rsplit('+').next().unwrap().parse().unwrap();
            assert_eq!(id, base + n, "{name}");
        }
        // V4L2_CTRL_CLASS_USER | 0x900 and V4L2_CTRL_CLASS_CAMERA | 0x900.
        assert_eq!(CID_BASE, 0x0098_0000 | 0x900);
        assert_eq!(CID_CAMERA_CLASS_BASE, 0x009a_0000 | 0x900);
    }

    #[test]
    fn brightness_is_centred_on_the_device_default() {
        let b = one(info(CID_BRIGHTNESS, 0, 255, 128));
        assert_eq!(b.name, "Brightness");
        assert_eq!(b.spec(), spec("Brightness", Kind::Float(-1.0, 1.0), 0.0));
        assert_eq!(b.to_device(0.0), 128);
        assert_eq!(b.to_device(1.0), 255);
        assert_eq!(b.to_device(-1.0), 0);
        assert_eq!(b.to_device(0.5), 192);
        assert_eq!(b.to_device(-0.5), 64);
        let uvc = one(info(CID_BRIGHTNESS, -64, 64, 0));
        assert_eq!(uvc.to_device(0.5), 32);
        assert_eq!(uvc.to_device(-1.0), -64);
    }

    #[test]
    fn scaled_controls_are_factors_of_the_default_and_clamped() {
        let c = one(info(CID_CONTRAST, 0, 255, 128));
        assert_eq!(
            c.spec(),
            spec("Contrast", Kind::Float(0.0, 255.0 / 128.0), 1.0)
        );
        assert_eq!(c.to_device(1.0), 128);
        assert_eq!(c.to_device(0.5), 64);
        assert_eq!(c.to_device(32.0), 255);
        let s = one(info(CID_SHARPNESS, 0, 7, 0));
        assert_eq!(s.name, "Sharpness");
        assert_eq!(
            s.spec().kind,
            Kind::Float(0.0, 1.0),
            "no default: 1.0 is the maximum"
        );
        assert_eq!(s.to_device(0.5), 4);
    }

    #[test]
    fn exposure_time_is_in_hundreds_of_microseconds() {
        let e = one(info(CID_EXPOSURE_ABSOLUTE, 3, 2047, 250));
        assert_eq!(
            e.spec(),
            spec("ExposureTime", Kind::Int(300, 204_700), 25_000.0)
        );
        assert_eq!(e.to_device(10_000.0), 100);
        assert_eq!(e.to_device(26.0), 3, "clamped");
    }

    #[test]
    fn auto_exposure_is_the_menu_manual_or_aperture_priority() {
        let a = one(info(CID_EXPOSURE_AUTO, 0, 3, 3));
        assert_eq!(a.spec(), spec("AeEnable", Kind::Bool, 1.0));
        assert_eq!(a.to_device(0.0), 1);
        assert_eq!(a.to_device(1.0), 3);
        assert_eq!(one(info(CID_EXPOSURE_AUTO, 0, 3, 1)).spec().default, 0.0);
        let auto_only = info(CID_EXPOSURE_AUTO, 0, 1, 0);
        assert!(map_controls(|_| Some(auto_only.clone()))
            .iter()
            .all(|m| m.name != "AeEnable"));
        let awb = one(info(CID_AUTO_WHITE_BALANCE, 0, 1, 1));
        assert_eq!(awb.spec(), spec("AwbEnable", Kind::Bool, 1.0));
        assert_eq!((awb.to_device(0.0), awb.to_device(1.0)), (0, 1));
    }

    #[test]
    fn only_the_controls_the_device_has_and_can_change() {
        // What vivid offers: brightness, contrast, saturation, hue; one disabled here.
        let mut contrast = info(CID_CONTRAST, 0, 255, 128);
        contrast.flags = CTRL_FLAG_DISABLED;
        let found = map_controls(|id| match id {
            CID_BRIGHTNESS => Some(info(id, 0, 255, 128)),
            CID_CONTRAST => Some(contrast.clone()),
            CID_SATURATION => Some(info(id, 0, 255, 128)),
            CID_SHARPNESS => Some(info(id, 0, 0, 0)),
            _ => None,
        });
        let names: Vec<&str> = found.iter().map(|m| m.name).collect();
        assert_eq!(names, vec!["Brightness", "Saturation"]);
    }

    #[test]
    fn the_api_offers_what_the_device_has_in_api_units() {
        let found = map_controls(|id| match id {
            CID_BRIGHTNESS | CID_CONTRAST => Some(info(id, 0, 255, 128)),
            CID_EXPOSURE_ABSOLUTE => Some(info(id, 1, 5000, 156)),
            _ => None,
        });
        let mut c = CameraControls::with_specs(found.iter().map(MappedControl::spec).collect());
        let view = c.view(30.0);
        let offered: Vec<&String> = view["controls"].as_object().unwrap().keys().collect();
        assert_eq!(offered, vec!["ExposureTime", "Brightness", "Contrast"]);
        assert_eq!(view["controls"]["ExposureTime"]["maximum"], 500_000);
        assert_eq!(view["values"]["ExposureTime"], 15_600, "the device default");
        assert_eq!(view["values"]["Brightness"], 0.0);
        let patch = |c: &mut CameraControls, v: serde_json::Value| {
            c.patch(v.as_object().unwrap()).map_err(|e| e.to_string())
        };
        assert!(patch(&mut c, serde_json::json!({"AfMode": "auto"})).is_err());
        assert!(
            patch(&mut c, serde_json::json!({"Contrast": 2.5})).is_err(),
            "over 255"
        );
        patch(
            &mut c,
            serde_json::json!({"Brightness": 0.5, "Contrast": 1.5}),
        )
        .unwrap();
        let device: Vec<i64> = found
            .iter()
            .map(|m| m.to_device(c.current(m.name).unwrap()))
            .collect();
        assert_eq!(device, vec![156, 192, 192]);
    }
}
