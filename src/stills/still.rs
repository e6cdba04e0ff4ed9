//! Stills of the running camera: the JPEG with its EXIF, the RELab image metadata, and the
//! preview thumbnail refreshed from them.

use std::path::PathBuf;

use crate::encode::jpeg::{self, Exif, JpegOptions};
use crate::media::Frame;
use crate::runtime::{Runtime, STILL_QUALITY};
use crate::stills::metadata::{CameraProperties, CaptureMetadata, ImageMetadata, ImageProperties};
use crate::stills::thumbnail;

impl Runtime {
    /// A full-resolution JPEG of `frame` with EXIF (make, software, time, exposure).
    pub fn encode_still(&self, frame: &Frame) -> Result<Vec<u8>, String> {
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
        jpeg::encode_i420(frame, &opts).map_err(|e| e.to_string())
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

    pub fn thumbnail_dir(&self) -> PathBuf {
        self.config.relab.image_path.join(thumbnail::DIR_NAME)
    }

    /// Rewrites the cached preview thumbnail; a failure keeps the previous one.
    pub fn refresh_thumbnail(&self, frame: &Frame) {
        match thumbnail::refresh(frame, &self.thumbnail_dir()) {
            Ok(_) => {
                if let Some(uploader) = &self.thumbnail_upload {
                    uploader.offer();
                }
            }
            Err(e) => log::warn!("preview thumbnail not refreshed: {e}"),
        }
    }
}
