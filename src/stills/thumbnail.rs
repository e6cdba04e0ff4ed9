//! The cached preview thumbnail (contract §9.6): the frame fitted into 640x400, JPEG quality
//! 72 with optimized Huffman tables, replaced atomically at `<dir>/current.jpg`.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use crate::encode::jpeg::{encode_i420_optimized, JpegError, JpegOptions};
use crate::media::Frame;

/// The folder under `IMAGE_PATH` that holds the thumbnail.
pub const DIR_NAME: &str = "preview-thumbnail";
pub const FILE_NAME: &str = "current.jpg";
pub const MAX_WIDTH: u32 = 640;
pub const MAX_HEIGHT: u32 = 400;
pub const QUALITY: u8 = 72;

#[derive(Debug)]
pub enum ThumbnailError {
    Encode(JpegError),
    Io(io::Error),
}

impl fmt::Display for ThumbnailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThumbnailError::Encode(e) => write!(f, "thumbnail encoding failed: {e}"),
            ThumbnailError::Io(e) => write!(f, "thumbnail write failed: {e}"),
        }
    }
}

impl std::error::Error for ThumbnailError {}

/// Encodes `frame` and replaces `<dir>/current.jpg` (creating `dir`). On failure the previous
/// thumbnail stays as it was.
pub fn refresh(frame: &Frame, dir: &Path) -> Result<PathBuf, ThumbnailError> {
    let opts = JpegOptions {
        quality: QUALITY,
        max_width: Some(MAX_WIDTH),
        max_height: Some(MAX_HEIGHT),
        exif: None,
    };
    let jpeg = encode_i420_optimized(frame, &opts).map_err(ThumbnailError::Encode)?;
    fs::create_dir_all(dir).map_err(ThumbnailError::Io)?;
    let path = dir.join(FILE_NAME);
    write_atomic(&path, &jpeg).map_err(ThumbnailError::Io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::sync::Arc;

    fn grey_frame(width: u32, height: u32, luma: u8) -> Frame {
        let mut data = vec![128u8; Frame::i420_len(width, height)];
        data[..(width * height) as usize].fill(luma);
        Frame {
            width,
            height,
            data: Arc::from(data),
            pts: 0,
            capture_unix_us: 0,
            sequence: 0,
        }
    }

    fn decoded_size_and_first_pixel(path: &Path) -> (u16, u16, u8) {
        let bytes = fs::read(path).unwrap();
        let mut decoder = jpeg_decoder::Decoder::new(&bytes[..]);
        let pixels = decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        (info.width, info.height, pixels[0])
    }

    #[test]
    fn writes_a_fitted_thumbnail_and_replaces_it() {
        let dir = TempDir::new("thumb");
        let thumbs = dir.0.join("preview-thumbnail");
        let path = refresh(&grey_frame(1920, 1080, 16), &thumbs).unwrap();
        assert_eq!(path, thumbs.join("current.jpg"));
        let (w, h, first) = decoded_size_and_first_pixel(&path);
        assert_eq!((w, h), (640, 360));
        assert!(first <= 2, "video black decodes black, got {first}");

        refresh(&grey_frame(320, 240, 235), &thumbs).unwrap();
        let (w, h, first) = decoded_size_and_first_pixel(&path);
        assert_eq!((w, h), (320, 240));
        assert!(first >= 253, "video white decodes white, got {first}");
        let names: Vec<_> = fs::read_dir(&thumbs).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_bad_frame_keeps_the_previous_thumbnail() {
        let dir = TempDir::new("thumb-bad");
        let path = refresh(&grey_frame(64, 48, 100), &dir.0).unwrap();
        let before = fs::read(&path).unwrap();
        let mut short = grey_frame(64, 48, 100);
        short.data = Arc::from(&short.data[..100]);
        let err = refresh(&short, &dir.0).unwrap_err();
        assert!(matches!(
            err,
            ThumbnailError::Encode(JpegError::ShortData { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn an_unusable_directory_is_an_io_error() {
        let dir = TempDir::new("thumb-io");
        let file = dir.0.join("a-file");
        fs::write(&file, b"x").unwrap();
        let err = refresh(&grey_frame(64, 48, 100), &file).unwrap_err();
        assert!(matches!(err, ThumbnailError::Io(_)), "{err:?}");
        assert!(err.to_string().starts_with("thumbnail write failed"));
    }
}
