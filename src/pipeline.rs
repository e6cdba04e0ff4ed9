//! Wires the threads together: camera → encoder → LL-HLS muxer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::camera::testsrc::{self, TestSourceConfig};
use crate::camera::Frame;
use crate::config::SourceKind;
use crate::encode::openh264::{self, H264Config};
use crate::fanout::Fanout;
use crate::media::llhls::SegmenterConfig;
use crate::media::AccessUnit;
use crate::preview;
use crate::runtime::Runtime;

/// Frames the encoder may have queued: more only adds latency.
const ENCODER_QUEUE: usize = 2;
/// Access units the muxer may have queued (two seconds at 30 fps).
const MUXER_QUEUE: usize = 60;

pub struct Pipeline {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    pub fn start(rt: &Arc<Runtime>) -> std::io::Result<Pipeline> {
        let cfg = &rt.config;
        let stop = Arc::new(AtomicBool::new(false));
        let frames: Arc<Fanout<Frame>> = Arc::new(Fanout::default());
        let units: Arc<Fanout<Arc<AccessUnit>>> = Arc::new(Fanout::default());

        let stats = &rt.stats;
        let frame_rx =
            frames.subscribe("encoder", ENCODER_QUEUE, Arc::clone(&stats.frames_dropped));
        let unit_rx = units.subscribe("llhls-muxer", MUXER_QUEUE, Arc::clone(&stats.units_dropped));

        let segmenter = SegmenterConfig {
            frame_duration: cfg.frame_ticks(),
            part_frames: cfg.part_frames(),
            segment_frames: cfg.segment_frames(),
        };
        let h264 = H264Config {
            bitrate: cfg.bitrate,
            fps: cfg.fps,
            idr_interval: u64::from(segmenter.segment_target()),
        };
        let mut threads = vec![
            preview::spawn_muxer(Arc::clone(rt), segmenter, unit_rx)?,
            openh264::spawn(h264, frame_rx, units, Arc::clone(&stats.encoder))?,
        ];
        if cfg.source == SourceKind::Auto {
            // Camera detection (rpicam-vid, V4L2) comes with the cameras work; until then
            // `auto` has only one candidate.
            log::info!("source auto: using the built-in test camera (no camera support yet)");
        }
        let source = TestSourceConfig {
            width: cfg.width,
            height: cfg.height,
            fps: cfg.fps,
        };
        let runtime = Arc::clone(rt);
        let controls = Arc::clone(rt);
        threads.push(testsrc::spawn(
            source,
            Arc::clone(&stop),
            move || controls.camera.image_adjust(),
            move |frame| {
                runtime
                    .stats
                    .frames_captured
                    .fetch_add(1, Ordering::Relaxed);
                runtime.set_latest_frame(frame.clone());
                if runtime.preview.is_running() {
                    frames.send(&frame);
                }
            },
        )?);
        Ok(Pipeline { stop, threads })
    }

    /// Stops the source; the encoder and muxer drain and end after it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}
