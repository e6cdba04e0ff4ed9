//! A V4L2 capture device (UVC webcams, the legacy Pi camera stack) as a picamd source: raw
//! frames converted to I420 by `crate::v4l2::capture`, reopened with backoff when the device
//! goes away, timestamped on the frame grid like the other live sources. The API's camera
//! controls are set on the device as they change, and again after every reopening.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use super::rpicam::ControlLookup;
use super::source::{FrameClock, Output, Source, SourceContext};
use super::status::Delivers;
use super::v4l2_controls::{map_controls, MappedControl};
use crate::v4l2::capture::CaptureConfig;
use crate::v4l2::device::Device;

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

/// Sets the controls whose API value changed since it last set them on this device.
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

    /// A fresh device (or the same one reopened) has its own ranges and settings.
    fn opened(&mut self, device: &Device, control: &dyn Fn(&str) -> Option<f64>) {
        self.mapped = device_controls(device);
        self.applied.clear();
        self.apply(device, control);
    }

    fn apply(&mut self, device: &Device, control: &dyn Fn(&str) -> Option<f64>) {
        for m in &self.mapped {
            let Some(want) = control(m.name) else {
                continue;
            };
            if self.applied.get(m.name) == Some(&want) {
                continue;
            }
            // Recorded even on failure: a refused value is not retried every frame.
            self.applied.insert(m.name, want);
            let value = m.to_device(want);
            match device.set_controls(&[(m.info.id, value)]) {
                Ok(()) => {
                    self.failed.remove(m.name);
                }
                Err(e) => {
                    if self.failed.insert(m.name) {
                        log::warn!(
                            "camera: setting {} ({}) to {value} on {}: {e}",
                            m.name,
                            m.info.name,
                            device.path()
                        );
                    }
                }
            }
        }
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
        crate::v4l2::source::run(
            &cfg,
            &ctx.stop,
            |error| {
                // Back up is noted by the pipeline on the next frame.
                if let Some(error) = error {
                    status.set_down(&error);
                }
            },
            |device| applier.borrow_mut().opened(device, &*control),
            |mut frame, device| {
                applier.borrow_mut().apply(device, &*control);
                let (sequence, pts) = clock.stamp(Instant::now());
                frame.sequence = sequence;
                frame.pts = pts;
                (ctx.deliver)(Output::Frame(frame));
            },
        );
    }
}
