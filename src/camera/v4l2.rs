//! A V4L2 capture device (UVC webcams, the legacy Pi camera stack) as a picamd source: raw
//! frames converted to I420 by `crate::v4l2::capture`, reopened with backoff when the device
//! goes away, timestamped on the frame grid like the other live sources.

use std::time::Instant;

use super::source::{FrameClock, Output, Source, SourceContext};
use super::status::Delivers;
use crate::v4l2::capture::CaptureConfig;

/// Buffers queued on the device: enough to ride out a scheduling hiccup, few enough to keep
/// latency low.
const BUFFERS: u32 = 4;

pub struct V4l2Source {
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
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
        crate::v4l2::source::run(
            &cfg,
            &ctx.stop,
            |error| {
                // Back up is noted by the pipeline on the next frame.
                if let Some(error) = error {
                    status.set_down(&error);
                }
            },
            |mut frame| {
                let (sequence, pts) = clock.stamp(Instant::now());
                frame.sequence = sequence;
                frame.pts = pts;
                (ctx.deliver)(Output::Frame(frame));
            },
        );
    }
}
