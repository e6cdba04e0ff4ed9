//! A V4L2 capture device (UVC webcams, the legacy Pi camera stack) as a picamd source: raw
//! frames converted to I420 by `capture`, reopened with backoff when the device goes away
//! (`capture_loop`), timestamped on the frame grid like the other live sources. The API's camera
//! controls are set on the device as they change, and again after every reopening.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::camera::rpicam::ControlLookup;
use crate::camera::source::{FrameClock, Output, Source, SourceContext};
use crate::camera::status::Delivers;
use crate::v4l2::device::Device;
use capture::CaptureConfig;
use controls::{map_controls, MappedControl};

pub mod capture;
pub mod capture_loop;
pub mod controls;

/// Buffers queued on the device: enough to ride out a scheduling hiccup, few enough to keep
/// latency low.
const BUFFERS: u32 = 4;

pub struct V4l2Source {
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The current API setting of a control, None when the camera has no such control.
    pub control: ControlLookup,
}

/// The API controls `device` supports. A control whose query fails counts as missing.
pub fn device_controls(device: &Device) -> Vec<MappedControl> {
    map_controls(|id| match device.query_control(id) {
        Ok(info) => info,
        Err(e) => {
            log::warn!("camera: {e}");
            None
        }
    })
}

/// Which controls to set: those whose API value changed since they were last set on the
/// open device. No I/O: the capture thread passes the device's S_EXT_CTRLS in.
struct ControlApplier {
    mapped: Vec<MappedControl>,
    applied: BTreeMap<&'static str, f64>,
    failed: BTreeSet<&'static str>,
}

impl ControlApplier {
    fn new() -> ControlApplier {
        ControlApplier {
            mapped: Vec::new(),
            applied: BTreeMap::new(),
            failed: BTreeSet::new(),
        }
    }

    /// A fresh device (or the same one reopened) has its own ranges and settings: every
    /// control is set again.
    fn opened(&mut self, mapped: Vec<MappedControl>) {
        self.mapped = mapped;
        self.applied.clear();
    }

    /// Sets the changed controls with `set(id, device value)`; the failures to log, each
    /// control's only until it succeeds again.
    fn apply(
        &mut self,
        control: &dyn Fn(&str) -> Option<f64>,
        mut set: impl FnMut(u32, i64) -> Result<(), String>,
    ) -> Vec<String> {
        let mut news = Vec::new();
        for m in &self.mapped {
            let Some(want) = control(m.name) else {
                continue;
            };
            // Cameras refuse (or ignore) a manual exposure time while auto exposure is on;
            // it is set when AeEnable goes off, as rpicam-vid gets it.
            if m.name == "ExposureTime" && control("AeEnable").is_some_and(|ae| ae != 0.0) {
                continue;
            }
            if self.applied.get(m.name) == Some(&want) {
                continue;
            }
            // Recorded even on failure: a refused value is not retried every frame.
            self.applied.insert(m.name, want);
            let value = m.to_device(want);
            match set(m.info.id, value) {
                Ok(()) => {
                    self.failed.remove(m.name);
                }
                Err(e) => {
                    if self.failed.insert(m.name) {
                        news.push(format!(
                            "setting {} ({}) to {value}: {e}",
                            m.name, m.info.name
                        ));
                    }
                }
            }
        }
        news
    }
}

/// Applies the controls on `device`, logging new failures (the error names the device).
fn apply_on(applier: &mut ControlApplier, device: &Device, control: &dyn Fn(&str) -> Option<f64>) {
    let set = |id, value| {
        device
            .set_controls(&[(id, value)])
            .map_err(|e| e.to_string())
    };
    for failure in applier.apply(control, set) {
        log::warn!("camera: {failure}");
    }
}

impl Source for V4l2Source {
    fn name(&self) -> &'static str {
        "v4l2"
    }

    fn delivers(&self) -> Delivers {
        Delivers::RawFrames
    }

    fn run(self: Box<Self>, mut ctx: SourceContext) {
        let cfg = CaptureConfig {
            device: self.device.clone(),
            width: self.width,
            height: self.height,
            fps: self.fps,
            format: None,
            buffers: BUFFERS,
        };
        let mut clock = FrameClock::new(self.fps, Instant::now());
        let status = &ctx.status;
        let control = Arc::clone(&self.control);
        let applier = RefCell::new(ControlApplier::new());
        capture_loop::run(
            &cfg,
            &ctx.stop,
            |error| {
                // Back up is noted by the pipeline on the next frame.
                if let Some(error) = error {
                    status.set_down(&error);
                }
            },
            |device| {
                let mut applier = applier.borrow_mut();
                applier.opened(device_controls(device));
                apply_on(&mut applier, device, &*control);
            },
            |mut frame, device| {
                apply_on(&mut applier.borrow_mut(), device, &*control);
                let (sequence, pts) = clock.stamp(Instant::now());
                frame.sequence = sequence;
                frame.pts = pts;
                (ctx.deliver)(Output::Frame(frame));
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::controls::{CID_BRIGHTNESS, CID_CONTRAST, CID_EXPOSURE_ABSOLUTE, CID_EXPOSURE_AUTO};
    use super::*;
    use crate::v4l2::device::ControlInfo;
    use std::cell::Cell;

    fn vivid() -> Vec<MappedControl> {
        map_controls(|id| {
            (id == CID_BRIGHTNESS || id == CID_CONTRAST).then(|| ControlInfo {
                id,
                name: if id == CID_BRIGHTNESS {
                    "Brightness"
                } else {
                    "Contrast"
                }
                .into(),
                minimum: 0,
                maximum: 255,
                step: 1,
                default: 128,
                flags: 0,
            })
        })
    }

    #[test]
    fn only_changed_values_are_set_and_all_again_after_a_reopen() {
        let mut a = ControlApplier::new();
        a.opened(vivid());
        let brightness = Cell::new(0.0);
        let control = |name: &str| match name {
            "Brightness" => Some(brightness.get()),
            "Contrast" => Some(1.0),
            _ => None,
        };
        let mut sets = Vec::new();
        let mut record = |id, v| {
            sets.push((id, v));
            Ok(())
        };
        assert!(a.apply(&control, &mut record).is_empty());
        a.apply(&control, &mut record);
        brightness.set(0.5);
        a.apply(&control, &mut record);
        a.opened(vivid());
        a.apply(&control, &mut record);
        assert_eq!(
            sets,
            vec![
                (CID_BRIGHTNESS, 128),
                (CID_CONTRAST, 128),
                (CID_BRIGHTNESS, 192),
                (CID_BRIGHTNESS, 192),
                (CID_CONTRAST, 128),
            ]
        );
    }

    #[test]
    fn exposure_time_waits_for_auto_exposure_to_go_off() {
        let mut a = ControlApplier::new();
        a.opened(map_controls(|id| {
            Some(ControlInfo {
                id,
                name: String::new(),
                minimum: 0,
                maximum: 5000,
                step: 1,
                default: 3,
                flags: 0,
            })
        }));
        let ae = Cell::new(1.0);
        let control = |name: &str| match name {
            "AeEnable" => Some(ae.get()),
            "ExposureTime" => Some(10_000.0),
            _ => None,
        };
        let mut sets = Vec::new();
        let mut record = |id, v| {
            sets.push((id, v));
            Ok(())
        };
        a.apply(&control, &mut record);
        ae.set(0.0);
        a.apply(&control, &mut record);
        assert_eq!(
            sets,
            vec![
                (CID_EXPOSURE_AUTO, 3),
                (CID_EXPOSURE_AUTO, 1),
                (CID_EXPOSURE_ABSOLUTE, 100)
            ]
        );
    }

    #[test]
    fn a_refused_control_is_reported_once_until_it_works_again() {
        let mut a = ControlApplier::new();
        a.opened(vivid());
        let brightness = Cell::new(0.0);
        let control = |name: &str| (name == "Brightness").then(|| brightness.get());
        let refuse = |_, _| Err("/dev/video0: VIDIOC_S_EXT_CTRLS failed: busy".to_string());
        assert_eq!(
            a.apply(&control, refuse),
            vec!["setting Brightness (Brightness) to 128: /dev/video0: VIDIOC_S_EXT_CTRLS failed: busy"]
        );
        brightness.set(0.5);
        assert!(a.apply(&control, refuse).is_empty(), "reported once");
        brightness.set(1.0);
        assert!(a.apply(&control, |_, _| Ok(())).is_empty());
        brightness.set(-1.0);
        assert_eq!(a.apply(&control, refuse).len(), 1, "failing again is news");
    }
}
