//! The newest raw frame from the camera: written by the source thread, read by stills,
//! `/frame`, MJPEG, the timelapse and the thumbnail.

use std::sync::{Arc, Mutex};

use crate::media::Frame;
use crate::sync::LockExt;

#[derive(Clone, Default)]
pub struct LatestFrame(Arc<Mutex<Option<Frame>>>);

impl LatestFrame {
    pub fn get(&self) -> Option<Frame> {
        self.0.lock_unpoisoned().clone()
    }

    pub fn set(&self, frame: Frame) {
        *self.0.lock_unpoisoned() = Some(frame);
    }

    /// Forgets the frame (the camera was stopped: nothing may be taken from a stale one).
    pub fn clear(&self) {
        *self.0.lock_unpoisoned() = None;
    }
}
