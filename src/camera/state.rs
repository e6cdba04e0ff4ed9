//! What the API knows about the camera: its name, its controls and how they render.

use std::sync::Mutex;

use serde_json::{Map, Value};

use super::adjust::ImageAdjust;
use super::controls::{CameraControls, ControlError, FocusMode};
use crate::sync::LockExt;

pub struct CameraState {
    /// `CameraProperties.Model`.
    model: Mutex<String>,
    pub fps: f64,
    controls: Mutex<CameraControls>,
    /// Read by the source thread on every frame; kept apart so it never waits on the API.
    adjust: Mutex<ImageAdjust>,
}

impl CameraState {
    pub fn new(model: &'static str, fps: f64, controls: CameraControls) -> CameraState {
        let adjust = controls.image_adjust(fps);
        CameraState {
            model: Mutex::new(model.to_string()),
            fps,
            controls: Mutex::new(controls),
            adjust: Mutex::new(adjust),
        }
    }

    /// `CameraProperties.Model`: the sensor ("imx708"), or what the source is.
    pub fn model(&self) -> String {
        self.model.lock_unpoisoned().clone()
    }

    /// The camera the chosen source drives: its model and the controls it has.
    pub fn set_camera(&self, model: &str, controls: CameraControls) {
        *self.model.lock_unpoisoned() = model.to_string();
        self.with_controls(|c| *c = controls);
    }

    fn with_controls<R>(&self, f: impl FnOnce(&mut CameraControls) -> R) -> R {
        let mut c = self.controls.lock_unpoisoned();
        let r = f(&mut c);
        *self.adjust.lock_unpoisoned() = c.image_adjust(self.fps);
        r
    }

    pub fn controls_view(&self) -> Value {
        self.with_controls(|c| c.view(self.fps))
    }

    pub fn patch(&self, controls: &Map<String, Value>) -> Result<Value, ControlError> {
        self.with_controls(|c| c.patch(controls).map(|()| c.view(self.fps)))
    }

    pub fn focus(
        &self,
        mode: FocusMode,
        lens_position: Option<f64>,
        trigger_cycle: bool,
    ) -> Result<Value, ControlError> {
        self.with_controls(|c| {
            c.focus(mode, lens_position, trigger_cycle)
                .map(|()| c.view(self.fps))
        })
    }

    /// libcamera-style metadata of the frame being captured now.
    pub fn metadata(&self) -> Map<String, Value> {
        self.with_controls(|c| c.metadata(self.fps))
    }

    /// The current setting of one control (what a hardware source passes on).
    pub fn control_value(&self, name: &str) -> Option<f64> {
        self.controls.lock_unpoisoned().current(name)
    }

    pub fn image_adjust(&self) -> ImageAdjust {
        *self.adjust.lock_unpoisoned()
    }
}
