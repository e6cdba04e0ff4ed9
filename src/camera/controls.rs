//! Camera controls as the RELab API names them (libcamera's names), with their ranges, the
//! current settings and the per-frame metadata they produce. The synthetic camera honours
//! them for real through `ImageAdjust`; the hardware sources map them to V4L2 controls or
//! `rpicam-vid` options.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::adjust::{ImageAdjust, AUTO_EXPOSURE_US};

const AF_MODES: &[&str] = &["manual", "auto", "continuous"];
/// libcamera AfState: Idle, Scanning, Focused, Failed.
const AF_STATE_IDLE: i64 = 0;
const AF_STATE_FOCUSED: i64 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Bool,
    Int(i64, i64),
    Float(f64, f64),
    /// Named values, stored as their index (libcamera enums are integers).
    Enum(&'static [&'static str]),
}

/// One control: its API name, type and range, and its default in API units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: f64,
}

/// The control set of the synthetic camera: what a Camera Module 3 offers, minus the
/// controls that only make sense with a real sensor (ScalerCrop, HDR, ...).
const SYNTHETIC: &[Spec] = &[
    spec("AeEnable", Kind::Bool, 1.0),
    spec("AeExposureMode", Kind::Int(0, 3), 0.0),
    spec("AeMeteringMode", Kind::Int(0, 3), 0.0),
    spec("AeConstraintMode", Kind::Int(0, 3), 0.0),
    spec("ExposureTime", Kind::Int(26, 1_000_000), 10_000.0),
    spec("ExposureValue", Kind::Float(-8.0, 8.0), 0.0),
    spec("AnalogueGain", Kind::Float(1.0, 16.0), 1.0),
    spec("AwbEnable", Kind::Bool, 1.0),
    spec("AwbMode", Kind::Int(0, 7), 0.0),
    spec("Brightness", Kind::Float(-1.0, 1.0), 0.0),
    spec("Contrast", Kind::Float(0.0, 32.0), 1.0),
    spec("Saturation", Kind::Float(0.0, 32.0), 1.0),
    spec("Sharpness", Kind::Float(0.0, 16.0), 1.0),
    spec("NoiseReductionMode", Kind::Int(0, 4), 0.0),
    spec("AfMode", Kind::Enum(AF_MODES), 0.0),
    spec("AfRange", Kind::Int(0, 2), 0.0),
    spec("AfSpeed", Kind::Int(0, 1), 0.0),
    spec("AfTrigger", Kind::Int(0, 1), 0.0),
    spec("LensPosition", Kind::Float(0.0, 15.0), 1.0),
];

/// The synthetic set without the autofocus controls (which come last), for cameras
/// without a focus motor.
const FIXED_FOCUS: &[Spec] = SYNTHETIC.split_at(SYNTHETIC.len() - 5).0;

pub const fn spec(name: &'static str, kind: Kind, default: f64) -> Spec {
    Spec {
        name,
        kind,
        default,
    }
}

/// Colour temperature per AwbMode (Auto, Incandescent, Tungsten, Fluorescent, Indoor,
/// Daylight, Cloudy, Custom), what the synthetic scene "measures".
const AWB_KELVIN: [i64; 8] = [5000, 2700, 3000, 4000, 4500, 5500, 6500, 5000];
/// The synthetic scene's illuminance.
const SCENE_LUX: f64 = 400.0;

/// Why a control change was refused; the text is the 422 response's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// An empty patch.
    NoControls,
    /// Names this camera does not have, sorted.
    Unknown(Vec<String>),
    NoAutofocus,
    NoLensPosition,
    /// A value of the wrong type or out of range; what the control takes.
    InvalidValue {
        control: &'static str,
        value: Value,
        expected: String,
    },
    /// An enum control given a name it does not have.
    UnsupportedValue {
        control: &'static str,
        value: String,
    },
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NoControls => f.write_str("At least one control is required"),
            ControlError::Unknown(names) => {
                write!(f, "Unknown camera controls: {}", names.join(", "))
            }
            ControlError::NoAutofocus => f.write_str("Camera does not support autofocus controls"),
            ControlError::NoLensPosition => {
                f.write_str("Camera does not support LensPosition control")
            }
            ControlError::InvalidValue {
                control,
                value,
                expected,
            } => write!(
                f,
                "Invalid value for {control}: {value} (expected {expected})"
            ),
            ControlError::UnsupportedValue { control, value } => {
                write!(f, "Unsupported {control} value: {value}")
            }
        }
    }
}

impl std::error::Error for ControlError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FocusMode {
    Continuous,
    Auto,
    Manual,
}

impl FocusMode {
    pub fn parse(s: &str) -> Option<FocusMode> {
        match s {
            "continuous" => Some(FocusMode::Continuous),
            "auto" => Some(FocusMode::Auto),
            "manual" => Some(FocusMode::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CameraControls {
    specs: Arc<[Spec]>,
    values: BTreeMap<&'static str, f64>,
    af_state: i64,
}

impl CameraControls {
    /// The synthetic camera's controls, with autofocus in continuous mode as the RELab
    /// plugin sets it when it opens a camera that has autofocus.
    pub fn synthetic() -> CameraControls {
        let mut c = CameraControls::with_specs(SYNTHETIC.to_vec());
        c.values.insert("AfMode", 2.0);
        c.af_state = AF_STATE_FOCUSED;
        c
    }

    /// The controls of a camera without autofocus: `/camera/focus` answers that it has none.
    pub fn fixed_focus() -> CameraControls {
        CameraControls::with_specs(FIXED_FOCUS.to_vec())
    }

    /// The controls a real camera reported, each set to its default.
    pub fn with_specs(specs: Vec<Spec>) -> CameraControls {
        CameraControls {
            values: specs.iter().map(|s| (s.name, s.default)).collect(),
            specs: specs.into(),
            af_state: AF_STATE_IDLE,
        }
    }

    /// No controls at all: for sources whose picture picamd cannot change (a pipe, a V4L2
    /// device without any control we map), so the API does not offer settings that would
    /// do nothing. A PATCH names every control as unknown.
    pub fn none() -> CameraControls {
        CameraControls::with_specs(Vec::new())
    }

    fn spec(&self, name: &str) -> Option<&Spec> {
        self.specs.iter().find(|s| s.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.spec(name).is_some()
    }

    /// Sets several controls at once: all of them or, on any error, none.
    pub fn patch(&mut self, controls: &Map<String, Value>) -> Result<(), ControlError> {
        if controls.is_empty() {
            return Err(ControlError::NoControls);
        }
        let mut unknown: Vec<String> = controls.keys().filter(|k| !self.has(k)).cloned().collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(ControlError::Unknown(unknown));
        }
        let mut next = self.values.clone();
        for (name, value) in controls {
            let spec = self.spec(name).expect("checked above");
            next.insert(spec.name, coerce(spec, value)?);
        }
        self.values = next;
        self.settle_autofocus(controls.contains_key("AfTrigger"));
        Ok(())
    }

    /// `PUT /camera/focus`.
    pub fn focus(
        &mut self,
        mode: FocusMode,
        lens_position: Option<f64>,
        trigger_cycle: bool,
    ) -> Result<(), ControlError> {
        if !self.has("AfMode") {
            return Err(ControlError::NoAutofocus);
        }
        let mut patch = Map::new();
        match mode {
            FocusMode::Continuous => {
                patch.insert("AfMode".into(), json!(2));
            }
            FocusMode::Auto => {
                patch.insert("AfMode".into(), json!(1));
                if trigger_cycle {
                    patch.insert("AfTrigger".into(), json!(0));
                }
            }
            FocusMode::Manual => {
                patch.insert("AfMode".into(), json!(0));
                if let Some(pos) = lens_position {
                    if !self.has("LensPosition") {
                        return Err(ControlError::NoLensPosition);
                    }
                    patch.insert("LensPosition".into(), json!(pos));
                }
            }
        }
        self.patch(&patch)
    }

    /// The synthetic lens focuses instantly: continuous and triggered auto modes report
    /// Focused, manual and untriggered auto report Idle.
    fn settle_autofocus(&mut self, triggered: bool) {
        self.af_state = match self.values.get("AfMode").copied().unwrap_or(0.0) as i64 {
            2 => AF_STATE_FOCUSED,
            1 if triggered => AF_STATE_FOCUSED,
            1 => self.af_state,
            _ => AF_STATE_IDLE,
        };
    }

    /// The current setting of `name`, if the camera has that control.
    pub fn current(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    fn value(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }

    fn auto_exposure(&self) -> bool {
        self.value("AeEnable") != 0.0
    }

    /// Exposure time in µs the synthetic sensor uses for a frame of `frame_us`.
    fn exposure_us(&self, frame_us: f64) -> f64 {
        if self.auto_exposure() {
            let ev = 2f64.powf(self.value("ExposureValue"));
            (AUTO_EXPOSURE_US * ev).min(frame_us)
        } else {
            self.value("ExposureTime").min(frame_us)
        }
    }

    fn gain(&self) -> f64 {
        if self.auto_exposure() {
            1.0
        } else {
            self.value("AnalogueGain")
        }
    }

    /// How the synthetic camera renders with these settings.
    pub fn image_adjust(&self, fps: f64) -> ImageAdjust {
        let frame_us = 1e6 / fps;
        ImageAdjust {
            exposure: self.exposure_us(frame_us) * self.gain() / AUTO_EXPOSURE_US,
            brightness: self.value("Brightness"),
            contrast: self.value("Contrast"),
            saturation: self.value("Saturation"),
        }
    }

    /// libcamera-style per-frame metadata (PascalCase keys), as a still would carry.
    pub fn metadata(&self, fps: f64) -> Map<String, Value> {
        let frame_us = 1e6 / fps;
        let awb = self.value("AwbMode") as usize;
        let kelvin = if self.value("AwbEnable") != 0.0 {
            AWB_KELVIN[0]
        } else {
            AWB_KELVIN[awb.min(AWB_KELVIN.len() - 1)]
        };
        let mut m = Map::new();
        m.insert(
            "ExposureTime".into(),
            json!(self.exposure_us(frame_us).round() as i64),
        );
        m.insert("FrameDuration".into(), json!(frame_us.round() as i64));
        m.insert("AnalogueGain".into(), json!(self.gain()));
        m.insert("DigitalGain".into(), json!(1.0));
        m.insert("ColourTemperature".into(), json!(kelvin));
        m.insert("Lux".into(), json!(SCENE_LUX));
        if self.has("AfMode") {
            m.insert("AfState".into(), json!(self.af_state));
            m.insert("LensPosition".into(), json!(self.value("LensPosition")));
        }
        m
    }

    /// `CameraControlsView`: the controls with their ranges, and the current values.
    pub fn view(&self, fps: f64) -> Value {
        let controls: Map<String, Value> = self
            .specs
            .iter()
            .map(|s| (s.name.to_string(), info(s)))
            .collect();
        let mut values: Map<String, Value> = self
            .values
            .iter()
            .map(|(name, v)| {
                let spec = self.spec(name).expect("values only hold known controls");
                (name.to_string(), to_json(spec, *v))
            })
            .collect();
        values.extend(self.metadata(fps));
        json!({ "supported": true, "controls": controls, "values": values })
    }
}

fn info(s: &Spec) -> Value {
    let (value_type, min, max, options) = match s.kind {
        Kind::Bool => ("boolean", json!(false), json!(true), Value::Null),
        Kind::Int(lo, hi) => ("integer", json!(lo), json!(hi), Value::Null),
        Kind::Float(lo, hi) => ("number", json!(lo), json!(hi), Value::Null),
        Kind::Enum(names) => (
            "enum",
            json!(names[0]),
            json!(names[names.len() - 1]),
            json!(names),
        ),
    };
    json!({
        "name": s.name,
        "namespace": "picamd",
        "value_type": value_type,
        "minimum": min,
        "maximum": max,
        "default": to_json(s, s.default),
        "options": options,
        "read_only": false,
    })
}

fn to_json(s: &Spec, v: f64) -> Value {
    match s.kind {
        Kind::Bool => json!(v != 0.0),
        Kind::Int(..) => json!(v as i64),
        Kind::Float(..) => json!(v),
        Kind::Enum(names) => json!(names.get(v as usize).copied().unwrap_or(names[0])),
    }
}

/// Checks a JSON value against a control's type and range.
fn coerce(s: &Spec, v: &Value) -> Result<f64, ControlError> {
    let bad = |expected: String| {
        Err(ControlError::InvalidValue {
            control: s.name,
            value: v.clone(),
            expected,
        })
    };
    match s.kind {
        Kind::Bool => match v {
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(n.as_f64().unwrap_or(0.0))
            }
            _ => bad("true or false".into()),
        },
        // A whole number written as a float (10000.0) is an integer, as in JSON Schema.
        Kind::Int(lo, hi) => match v.as_f64() {
            Some(x) if x.fract() == 0.0 && (lo as f64..=hi as f64).contains(&x) => Ok(x),
            _ => bad(format!("an integer from {lo} to {hi}")),
        },
        Kind::Float(lo, hi) => match v.as_f64() {
            Some(x) if x.is_finite() && (lo..=hi).contains(&x) => Ok(x),
            _ => bad(format!("a number from {lo} to {hi}")),
        },
        Kind::Enum(names) => match v {
            Value::String(text) => {
                let t = text.to_ascii_lowercase();
                let t = t.strip_prefix("afmodeenum.").unwrap_or(&t);
                names
                    .iter()
                    .position(|n| *n == t)
                    .map(|i| i as f64)
                    .ok_or_else(|| ControlError::UnsupportedValue {
                        control: s.name,
                        value: text.clone(),
                    })
            }
            Value::Number(n) => match n.as_u64() {
                Some(i) if (i as usize) < names.len() => Ok(i as f64),
                _ => bad(format!("0 to {}", names.len() - 1)),
            },
            _ => bad(names.join(", ")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_without_controls_offers_none_and_refuses_every_patch() {
        let mut c = CameraControls::none();
        assert!(!c.has("Brightness"));
        let mut patch = Map::new();
        patch.insert("Brightness".into(), json!(0.3));
        assert_eq!(
            c.patch(&patch).unwrap_err().to_string(),
            "Unknown camera controls: Brightness"
        );
        assert!(c.focus(FocusMode::Manual, Some(1.0), false).is_err());
    }

    fn patch(c: &mut CameraControls, v: Value) -> Result<(), ControlError> {
        c.patch(v.as_object().unwrap())
    }

    #[test]
    fn view_has_the_contract_shape() {
        let v = CameraControls::synthetic().view(30.0);
        assert_eq!(v["supported"], true);
        assert_eq!(
            v["controls"]["AfMode"]["options"],
            json!(["manual", "auto", "continuous"])
        );
        assert_eq!(v["controls"]["ExposureTime"]["value_type"], "integer");
        assert_eq!(v["controls"]["AeEnable"]["default"], true);
        assert_eq!(v["values"]["AfMode"], "continuous");
        assert_eq!(v["values"]["FrameDuration"], 33333);
    }

    #[test]
    fn patch_validates_everything_before_changing_anything() {
        let mut c = CameraControls::synthetic();
        let err = patch(&mut c, json!({"Zoom": 1, "Brightness": 0.5, "Alpha": 2})).unwrap_err();
        assert_eq!(err.to_string(), "Unknown camera controls: Alpha, Zoom");
        let err = patch(&mut c, json!({"Brightness": 0.5, "Contrast": 99})).unwrap_err();
        assert!(err.to_string().contains("Contrast"), "{err}");
        assert_eq!(c.image_adjust(30.0).brightness, 0.0, "nothing applied");
        assert!(patch(&mut c, json!({})).is_err());
        for bad in [json!({"ExposureTime": 1.5}), json!({"AeEnable": "yes"})] {
            assert!(patch(&mut c, bad).is_err());
        }
        assert!(patch(&mut c, json!({"ExposureTime": f64::MAX})).is_err());
        patch(&mut c, json!({"Brightness": 0.5, "ExposureTime": 10000.0})).unwrap();
        assert_eq!(c.image_adjust(30.0).brightness, 0.5);
    }

    #[test]
    fn manual_exposure_changes_the_picture_and_the_metadata() {
        let mut c = CameraControls::synthetic();
        assert_eq!(c.image_adjust(30.0).exposure, 1.0);
        patch(
            &mut c,
            json!({"AeEnable": false, "ExposureTime": 5000, "AnalogueGain": 4.0}),
        )
        .unwrap();
        assert_eq!(c.image_adjust(30.0).exposure, 2.0);
        let m = c.metadata(30.0);
        assert_eq!(m["ExposureTime"], 5000);
        assert_eq!(m["AnalogueGain"], 4.0);
        patch(&mut c, json!({"ExposureTime": 100_000})).unwrap();
        assert_eq!(
            c.metadata(30.0)["ExposureTime"],
            33333,
            "bounded by the frame"
        );
    }

    #[test]
    fn af_mode_names() {
        let mut c = CameraControls::synthetic();
        for (v, want) in [
            ("Manual", "manual"),
            ("AfModeEnum.Auto", "auto"),
            ("CONTINUOUS", "continuous"),
        ] {
            patch(&mut c, json!({ "AfMode": v })).unwrap();
            assert_eq!(c.view(30.0)["values"]["AfMode"], want);
        }
        let err = patch(&mut c, json!({"AfMode": "sideways"})).unwrap_err();
        assert_eq!(err.to_string(), "Unsupported AfMode value: sideways");
    }

    #[test]
    fn focus_modes() {
        let mut c = CameraControls::synthetic();
        c.focus(FocusMode::Manual, Some(1.5), false).unwrap();
        let v = c.view(30.0);
        assert_eq!(
            (&v["values"]["AfMode"], &v["values"]["LensPosition"]),
            (&json!("manual"), &json!(1.5))
        );
        assert_eq!(v["values"]["AfState"], AF_STATE_IDLE);
        c.focus(FocusMode::Auto, None, true).unwrap();
        assert_eq!(c.view(30.0)["values"]["AfState"], AF_STATE_FOCUSED);
        assert!(c.focus(FocusMode::Manual, Some(99.0), false).is_err());
        assert_eq!(FocusMode::parse("sideways"), None);
    }

    #[test]
    fn fixed_focus_cameras_have_no_autofocus_controls() {
        let mut c = CameraControls::fixed_focus();
        assert!(c.has("Brightness") && c.has("ExposureTime"));
        for name in ["AfMode", "AfRange", "AfSpeed", "AfTrigger", "LensPosition"] {
            assert!(!c.has(name), "{name}");
            assert!(CameraControls::synthetic().has(name), "{name}");
        }
        assert_eq!(FIXED_FOCUS.len() + 5, SYNTHETIC.len());
        let err = c.focus(FocusMode::Manual, Some(1.0), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Camera does not support autofocus controls"
        );
        assert!(!c.metadata(30.0).contains_key("AfState"));
    }
}
