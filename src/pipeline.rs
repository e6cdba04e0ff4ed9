//! Wires the threads together: camera source → encoder → LL-HLS muxer, or for a source
//! that delivers H.264 itself (pipe), source → muxer.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::camera::continuity::Continuity;
use crate::camera::controls::CameraControls;
use crate::camera::pipe::PipeSource;
use crate::camera::power::SwitchError;
use crate::camera::rpicam::{RpicamConfig, RpicamSource};
use crate::camera::select::{self, Choice, Found};
use crate::camera::source::{self, Output, Source, SourceContext};
use crate::camera::status::Delivers;
use crate::camera::testsrc::{TestSource, TestSourceConfig};
use crate::camera::v4l2::{device_controls, V4l2Source};
use crate::config::Config;
use crate::config::EncoderKind;
use crate::encode::encoder_thread::ENCODER_MAX_SILENCE;
use crate::encode::openh264::{self, H264Config};
use crate::encode::v4l2_m2m::{self, M2mH264Config};
use crate::fanout::Fanout;
use crate::media::llhls::SegmenterConfig;
use crate::media::AccessUnit;
use crate::media::Frame;
use crate::preview;
use crate::runtime::MediaState;
use crate::sync::LockExt;
use crate::v4l2::device::Device;
use crate::v4l2::fourcc;
use crate::v4l2::m2m::{self, FindEncoderError};
use crate::v4l2::V4l2Error;

/// Frames the encoder may have queued: more only adds latency.
const ENCODER_QUEUE: usize = 2;
/// Access units the muxer may have queued (two seconds at 30 fps).
const MUXER_QUEUE: usize = 60;

/// Why the pipeline did not start.
#[derive(Debug)]
pub enum PipelineError {
    /// A thread could not be started.
    Thread(io::Error),
    /// `--encoder v4l2` found no V4L2 M2M H.264 encoder; why.
    NoHardwareEncoder(FindEncoderError),
    /// The hardware encoder asked for could not be opened.
    HardwareEncoder(V4l2Error),
    /// OpenH264 could not be started.
    SoftwareEncoder(openh264::StartError),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Thread(e) => e.fmt(f),
            PipelineError::NoHardwareEncoder(why) => {
                write!(f, "--encoder v4l2: no V4L2 M2M H.264 encoder: {why}")
            }
            PipelineError::HardwareEncoder(e) => e.fmt(f),
            PipelineError::SoftwareEncoder(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PipelineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PipelineError::Thread(e) => Some(e),
            PipelineError::NoHardwareEncoder(e) => Some(e),
            PipelineError::HardwareEncoder(e) => Some(e),
            PipelineError::SoftwareEncoder(e) => Some(e),
        }
    }
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> PipelineError {
        PipelineError::Thread(e)
    }
}

pub struct Pipeline {
    threads: Vec<JoinHandle<()>>,
    media: Arc<MediaState>,
    /// The encoder's input; the starter holds it weakly, so that dropping this (and the
    /// running source's delivery) ends the encoder.
    frames: Arc<Fanout<Frame>>,
    muxer_stop: Arc<AtomicBool>,
}

/// Teaches the camera switch how to start a run of the source: a fresh source and delivery
/// each time, on one timeline (see `camera::continuity`).
fn install_starter(
    cfg: &Config,
    media: &Arc<MediaState>,
    choice: Choice,
    frames: &Arc<Fanout<Frame>>,
    units: Arc<Fanout<Arc<AccessUnit>>>,
) {
    let cfg = cfg.clone();
    let frames = Arc::downgrade(frames);
    let live = Arc::clone(media);
    let timeline = Arc::new(Mutex::new(Continuity::default()));
    media.power.install(Box::new(move |stop| {
        let frames = frames
            .upgrade()
            .ok_or_else(|| io::Error::other("the pipeline has stopped"))?;
        let source = make_source(&cfg, &live, choice.clone())?;
        timeline.lock_unpoisoned().new_run();
        let deliver = deliverer(
            Arc::clone(&live),
            frames,
            Arc::clone(&units),
            Arc::clone(&timeline),
        );
        let ctx = SourceContext {
            stop,
            status: Arc::clone(&live.source),
            deliver: Box::new(deliver),
        };
        source::spawn(source, ctx)
    }));
}

/// Where one run's outputs go: the newest frame and the encoder (raw sources), or the muxer
/// (H.264 sources), shifted onto the timeline.
fn deliverer(
    live: Arc<MediaState>,
    frames: Arc<Fanout<Frame>>,
    units: Arc<Fanout<Arc<AccessUnit>>>,
    timeline: Arc<Mutex<Continuity>>,
) -> impl FnMut(Output) + Send {
    // After a pause of the preview the muxer starts a fresh session: at an IDR.
    let mut wait_for_idr = true;
    move |output: Output| {
        live.stats.frames_captured.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        match output {
            Output::Frame(mut frame) => {
                let shift = timeline
                    .lock_unpoisoned()
                    .shift(frame.pts, frame.sequence, now);
                frame.pts = shift.ticks(frame.pts);
                frame.sequence = shift.sequence(frame.sequence);
                live.source.mark_output(frame.capture_unix_us);
                live.latest.set(frame.clone());
                if live.preview.is_running() {
                    frames.send(&frame);
                }
            }
            Output::Unit(mut au) => {
                let shift = timeline.lock_unpoisoned().shift(au.dts, 0, now);
                au.dts = shift.ticks(au.dts);
                au.pts = shift.ticks(au.pts);
                live.source.mark_output(au.capture_unix_us);
                if !live.preview.is_running() {
                    wait_for_idr = true;
                } else if au.keyframe || !wait_for_idr {
                    wait_for_idr = false;
                    units.send(&Arc::new(au));
                }
            }
        }
    }
}

impl Pipeline {
    /// Chooses the source (see `camera::select`), records the choice for the banner and
    /// `/health`, and starts the threads.
    pub fn start(cfg: &Config, media: &Arc<MediaState>) -> Result<Pipeline, PipelineError> {
        let decision = if cfg.relab.camera.enabled {
            let found = select::probe(&cfg.source);
            let decision = select::decide(&cfg.source, cfg.relab.camera.device_num, &found);
            log::info!("camera source: {}", decision.description);
            set_camera(media, &decision.choice, &found);
            Some(decision)
        } else {
            log::info!("camera source: none (CAMERA_ENABLED=0)");
            None
        };
        let (name, delivers) = match &decision {
            Some(d) => {
                let source = make_source(cfg, media, d.choice.clone())?;
                (source.name(), source.delivers())
            }
            None => ("none", Delivers::RawFrames),
        };

        let stats = &media.stats;
        let units = Arc::clone(&media.units);
        let unit_rx = units.subscribe("llhls-muxer", MUXER_QUEUE, Arc::clone(&stats.units_dropped));
        let segmenter = SegmenterConfig {
            frame_duration: cfg.frame_ticks(),
            part_frames: cfg.part_frames(),
            segment_frames: cfg.segment_frames(),
        };
        let muxer_beat = media
            .heartbeats
            .register("llhls-muxer", preview::muxer_max_silence(&segmenter));
        // The muxer's input lives in `MediaState`, so it never disconnects: a flag ends it.
        let muxer_stop = Arc::new(AtomicBool::new(false));
        let mut threads = vec![preview::spawn_muxer(
            media.muxer_sink(cfg.hls_segments),
            segmenter,
            unit_rx,
            muxer_beat,
            Arc::clone(&muxer_stop),
        )?];
        let frames: Arc<Fanout<Frame>> = Arc::new(Fanout::default());
        let encoder = if delivers == Delivers::RawFrames {
            let frame_rx =
                frames.subscribe("encoder", ENCODER_QUEUE, Arc::clone(&stats.frames_dropped));
            let (thread, description) = spawn_encoder(
                cfg,
                media,
                u64::from(segmenter.segment_target()),
                frame_rx,
                Arc::clone(&units),
            )?;
            threads.push(thread);
            media.heartbeats.watch(
                "h264-encoder",
                Arc::clone(&stats.encoder.heartbeat),
                ENCODER_MAX_SILENCE,
            );
            description
        } else {
            "none: the pipe command delivers H.264".to_string()
        };
        log::info!("encoder: {encoder}");
        let reason = decision.as_ref().map_or_else(
            || "disabled by CAMERA_ENABLED=0".to_string(),
            |d| d.description.clone(),
        );
        media.source.set_choice(name, &reason, &encoder, delivers);
        if let Some(decision) = decision {
            install_starter(cfg, media, decision.choice, &frames, units);
            media.power.start().map_err(|e| match e {
                SwitchError::Thread(e) => PipelineError::Thread(e),
                other => PipelineError::Thread(io::Error::other(other.to_string())),
            })?;
        }
        Ok(Pipeline {
            threads,
            media: Arc::clone(media),
            frames,
            muxer_stop,
        })
    }

    /// Stops the source; the encoder drains and ends after it, and the muxer with it.
    pub fn stop(self) {
        self.media.power.stop();
        drop(self.frames);
        self.muxer_stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Starts the H.264 encoder `--encoder` asks for: a V4L2 M2M encoder (bcm2835-codec on a
/// Pi 4) when one is found or named, else OpenH264. With `auto`, a hardware encoder that
/// fails to open falls back to OpenH264 with a warning; a named one is an error, and so is an
/// OpenH264 that cannot start.
fn spawn_encoder(
    cfg: &Config,
    media: &MediaState,
    idr_interval: u64,
    frames: crossbeam_channel::Receiver<Frame>,
    units: Arc<Fanout<Arc<AccessUnit>>>,
) -> Result<(JoinHandle<()>, String), PipelineError> {
    let stats = Arc::clone(&media.stats.encoder);
    let bitrate = Arc::clone(&media.bitrate);
    let hardware = match &cfg.encoder {
        EncoderKind::OpenH264 => None,
        EncoderKind::V4l2(Some(device)) => Some(Ok(device.to_string_lossy().into_owned())),
        EncoderKind::V4l2(None) | EncoderKind::Auto => Some(m2m::find_encoder(fourcc::H264)),
    };
    let software_reason = match hardware {
        None => "OpenH264 asked for".to_string(),
        Some(Ok(device)) => {
            let m2m = M2mH264Config {
                device: Some(device.clone()),
                width: cfg.width,
                height: cfg.height,
                fps: cfg.fps,
                bitrate: bitrate.normal(),
                idr_interval,
            };
            let (out, counts, rate) =
                (Arc::clone(&units), Arc::clone(&stats), Arc::clone(&bitrate));
            match v4l2_m2m::spawn(m2m, frames.clone(), out, counts, rate) {
                Ok(thread) => {
                    return Ok((thread, format!("V4L2 M2M H.264 on {device} (hardware)")));
                }
                Err(e) if cfg.encoder == EncoderKind::Auto => {
                    log::warn!("hardware H.264 encoder unusable, using OpenH264: {e}");
                    format!("the hardware encoder failed: {e}")
                }
                Err(e) => return Err(PipelineError::HardwareEncoder(e)),
            }
        }
        Some(Err(why)) if matches!(cfg.encoder, EncoderKind::V4l2(_)) => {
            return Err(PipelineError::NoHardwareEncoder(why))
        }
        Some(Err(why)) => why.to_string(),
    };
    let h264 = H264Config {
        bitrate: bitrate.normal(),
        fps: cfg.fps,
        idr_interval,
    };
    let thread = openh264::spawn(h264, frames, units, stats, bitrate)
        .map_err(PipelineError::SoftwareEncoder)?;
    let reason = if cfg.encoder == EncoderKind::OpenH264 {
        "asked for".to_string()
    } else {
        format!("no hardware H.264 encoder: {software_reason}")
    };
    Ok((thread, format!("OpenH264 (software; {reason})")))
}

/// Tells the API which camera it is: the sensor's name and, for a camera without a focus
/// motor, no autofocus controls.
fn set_camera(media: &MediaState, choice: &Choice, found: &Found) {
    match choice {
        Choice::Test => {}
        Choice::V4l2(path) => {
            let (model, controls) = v4l2_camera(&path.to_string_lossy());
            media.camera.set_camera(&model, controls);
        }
        Choice::Rpicam {
            camera, autofocus, ..
        } => {
            let model = found
                .libcamera_cameras
                .iter()
                .find(|c| c.index == *camera)
                .map_or_else(
                    || format!("libcamera camera {camera}"),
                    |c| c.sensor.clone(),
                );
            let controls = if *autofocus {
                CameraControls::synthetic()
            } else {
                CameraControls::fixed_focus()
            };
            media.camera.set_camera(&model, controls);
        }
        Choice::Pipe(_) => media.camera.set_camera("pipe", CameraControls::none()),
    }
}

/// The card name and the API controls of a V4L2 camera; without them when it cannot be
/// asked (the capture thread reports why it cannot open the device).
fn v4l2_camera(path: &str) -> (String, CameraControls) {
    let fallback = format!("V4L2 {path}");
    match Device::open(path) {
        Ok(device) => {
            let model = device.capabilities().map_or(fallback, |c| c.card);
            let specs = device_controls(&device).iter().map(|m| m.spec()).collect();
            (model, CameraControls::with_specs(specs))
        }
        Err(e) => {
            log::warn!("camera: {e}; offering no controls");
            (fallback, CameraControls::none())
        }
    }
}

fn make_source(
    cfg: &Config,
    media: &MediaState,
    choice: Choice,
) -> std::io::Result<Box<dyn Source>> {
    Ok(match choice {
        Choice::Test => {
            let controls = Arc::clone(&media.camera);
            Box::new(TestSource {
                cfg: TestSourceConfig {
                    width: cfg.width,
                    height: cfg.height,
                    fps: cfg.fps,
                },
                adjust: Box::new(move || controls.image_adjust()),
            })
        }
        Choice::Rpicam {
            program,
            camera,
            autofocus,
        } => {
            let controls = Arc::clone(&media.camera);
            Box::new(RpicamSource {
                cfg: RpicamConfig {
                    program,
                    camera,
                    width: cfg.width,
                    height: cfg.height,
                    fps: cfg.fps,
                    autofocus,
                },
                control: Arc::new(move |name| controls.control_value(name)),
            })
        }
        Choice::Pipe(command) => Box::new(PipeSource {
            command,
            fps: cfg.fps,
        }),
        Choice::V4l2(path) => {
            let controls = Arc::clone(&media.camera);
            Box::new(V4l2Source {
                device: path.to_string_lossy().into_owned(),
                width: cfg.width,
                height: cfg.height,
                fps: cfg.fps,
                control: Arc::new(move |name| controls.control_value(name)),
            })
        }
    })
}
