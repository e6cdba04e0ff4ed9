//! The stills service: everything made from the newest raw frame, owned in one place (the
//! capture store, the shared `/frame` JPEG, the MJPEG hub, the timelapse and the preview
//! thumbnail with its request queue), and the still JPEG with its EXIF and RELab metadata.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::captures::CaptureStore;
use super::latest_jpeg::LatestJpeg;
use super::metadata::{CameraProperties, CaptureMetadata, ImageMetadata, ImageProperties};
use super::mjpeg::MjpegHub;
use super::thumbnail;
use super::timelapse::{Timelapse, TimelapseSettings};
use crate::camera::{CameraState, LatestFrame};
use crate::config::stills::StillsSettings;
use crate::encode::jpeg::{self, Exif, JpegOptions};
use crate::in_flight::InFlight;
use crate::media::Frame;

/// JPEG quality of stills and `/frame` (the plugin's).
pub const STILL_QUALITY: u8 = 90;
/// JPEG quality of MJPEG and timelapse frames: smaller files, same look at viewing size.
pub const STREAM_QUALITY: u8 = 75;

pub struct Stills {
    pub captures: Arc<CaptureStore>,
    /// `POST /captures` under way, which a stop lets finish.
    pub captures_in_flight: InFlight,
    /// `GET /frame`'s shared JPEG of the newest frame.
    pub latest_jpeg: Arc<LatestJpeg>,
    pub mjpeg: Arc<MjpegHub>,
    pub timelapse: Arc<Timelapse>,
    camera: Arc<CameraState>,
    latest: LatestFrame,
    thumbnail_dir: PathBuf,
    /// Frames to turn into the thumbnail, newest only (captures queue them, so that they do
    /// not wait for it; the housekeeping thread makes it).
    thumbnail_tx: Sender<Frame>,
    thumbnail_rx: Receiver<Frame>,
    /// Told after every refreshed thumbnail (the backend uploader, while paired).
    on_thumbnail: Option<Box<dyn Fn() + Send + Sync>>,
}

impl Stills {
    /// Opens the capture store under `IMAGE_PATH` and starts the on-demand workers (MJPEG,
    /// timelapse, `/frame`). The timelapse keeps settings changed at run time in
    /// `timelapse_state`.
    pub fn start(
        settings: &StillsSettings,
        timelapse_state: PathBuf,
        camera: Arc<CameraState>,
        latest: LatestFrame,
        on_thumbnail: Option<Box<dyn Fn() + Send + Sync>>,
    ) -> std::io::Result<Stills> {
        let image_path = &settings.image_path;
        std::fs::create_dir_all(image_path)?;
        let frames = {
            let latest = latest.clone();
            move || latest.get()
        };
        let stream_jpeg =
            Arc::new(|frame: &Frame| jpeg::encode_i420(frame, &JpegOptions::plain(STREAM_QUALITY)));
        let captures = Arc::new(CaptureStore::open(image_path.join("captures"))?);
        let mjpeg = MjpegHub::start(frames.clone(), stream_jpeg.clone(), settings.mjpeg_max_fps);
        let timelapse = Timelapse::start(
            image_path.join("timelapse"),
            TimelapseSettings {
                interval_s: settings.timelapse_interval_s,
                keep: settings.timelapse_keep,
                max_age_s: settings.timelapse_max_age_s,
            },
            frames,
            stream_jpeg,
            timelapse_state,
        );
        let latest_jpeg = LatestJpeg::start(Arc::new(|frame: &Frame| {
            jpeg::encode_i420(frame, &JpegOptions::plain(STILL_QUALITY))
        }));
        let (thumbnail_tx, thumbnail_rx) = bounded(1);
        Ok(Stills {
            captures,
            captures_in_flight: InFlight::default(),
            latest_jpeg,
            mjpeg,
            timelapse,
            camera,
            latest,
            thumbnail_dir: image_path.join(thumbnail::DIR_NAME),
            thumbnail_tx,
            thumbnail_rx,
            on_thumbnail,
        })
    }

    /// The newest raw frame from the camera.
    pub fn latest_frame(&self) -> Option<Frame> {
        self.latest.get()
    }

    /// A full-resolution JPEG of `frame` with EXIF (make, software, time, exposure).
    pub fn encode_still(&self, frame: &Frame) -> Result<Vec<u8>, jpeg::JpegError> {
        let exposure = self
            .camera
            .metadata()
            .get("ExposureTime")
            .and_then(|v| v.as_u64());
        let opts = JpegOptions {
            quality: STILL_QUALITY,
            max_width: None,
            max_height: None,
            exif: Some(Exif {
                make: "Raspberry Pi".into(),
                software: format!("picamd {}", env!("CARGO_PKG_VERSION")),
                datetime_unix_us: frame.capture_unix_us,
                exposure_time_us: exposure.map(|e| e as u32),
            }),
        };
        jpeg::encode_i420(frame, &opts)
    }

    /// `ImageMetadata` of a still taken from `frame`.
    pub fn image_metadata(&self, frame: &Frame) -> ImageMetadata {
        let capture_metadata: CaptureMetadata =
            serde_json::from_value(serde_json::Value::Object(self.camera.metadata()))
                .unwrap_or_default();
        ImageMetadata {
            camera_properties: CameraProperties {
                camera_model: Some(self.camera.model()),
                unit_cell_size: None,
                pixel_array_size: Some([frame.width, frame.height]),
                sensor_sensitivity: None,
            },
            capture_metadata,
            image_properties: ImageProperties {
                width: frame.width,
                height: frame.height,
                capture_time_unix_us: frame.capture_unix_us,
            },
        }
    }

    pub fn thumbnail_dir(&self) -> &Path {
        &self.thumbnail_dir
    }

    /// Rewrites the cached preview thumbnail; a failure keeps the previous one.
    pub fn refresh_thumbnail(&self, frame: &Frame) {
        match thumbnail::refresh(frame, &self.thumbnail_dir) {
            Ok(_) => {
                if let Some(hook) = &self.on_thumbnail {
                    hook();
                }
            }
            Err(e) => log::warn!("preview thumbnail not refreshed: {e}"),
        }
    }

    /// Asks for the thumbnail to be made from `frame` soon. A frame still waiting is
    /// replaced: only the newest matters.
    pub fn request_thumbnail(&self, frame: Frame) {
        if let Err(TrySendError::Full(frame)) = self.thumbnail_tx.try_send(frame) {
            let _ = self.thumbnail_rx.try_recv();
            let _ = self.thumbnail_tx.try_send(frame);
        }
    }

    /// Frames waiting to become the thumbnail (see [`Stills::request_thumbnail`]).
    pub fn thumbnail_requests(&self) -> &Receiver<Frame> {
        &self.thumbnail_rx
    }
}
