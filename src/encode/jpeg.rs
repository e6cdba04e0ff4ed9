//! JPEG stills from raw I420 frames: 4:2:0 straight from the planes (no RGB round trip),
//! optional box-filtered down-scaling, and an EXIF APP1 segment built here.
//!
//! Frames carry video-range YCbCr (Y 16–235, C 16–240, as H.264 and our sources use) while
//! JFIF decoders assume full range, so samples are stretched through a lookup table on the way
//! in; without it blacks would come out grey and colours washed out.

use std::fmt;

use jpeg_encoder::{Encoder, EncodingError, ImageBuffer, JpegColorType, SamplingFactor};

use crate::media::Frame;

/// How to encode one still.
#[derive(Debug, Clone, PartialEq)]
pub struct JpegOptions {
    /// 1 (smallest) to 100 (best).
    pub quality: u8,
    /// Scale down (never up), keeping the aspect ratio, to fit within these bounds.
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    pub exif: Option<Exif>,
}

impl JpegOptions {
    /// Full size, no EXIF.
    pub fn plain(quality: u8) -> JpegOptions {
        JpegOptions {
            quality,
            max_width: None,
            max_height: None,
            exif: None,
        }
    }
}

/// What goes into the EXIF segment besides the image size.
#[derive(Debug, Clone, PartialEq)]
pub struct Exif {
    pub make: String,
    pub software: String,
    /// Written as DateTime in UTC.
    pub datetime_unix_us: u64,
    pub exposure_time_us: Option<u32>,
}

#[derive(Debug)]
pub enum JpegError {
    /// Width or height is zero.
    EmptyFrame,
    /// JPEG cannot hold more than 65535 pixels per side.
    TooLarge {
        width: u32,
        height: u32,
    },
    /// The frame's data is shorter than its size says.
    ShortData {
        len: usize,
        need: usize,
    },
    /// Quality outside 1..=100 or a zero bound.
    BadOptions(&'static str),
    Encode(EncodingError),
}

impl fmt::Display for JpegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JpegError::EmptyFrame => write!(f, "frame has no pixels"),
            JpegError::TooLarge { width, height } => {
                write!(f, "frame {width}x{height} is too large for JPEG")
            }
            JpegError::ShortData { len, need } => {
                write!(f, "frame data is {len} bytes, I420 needs {need}")
            }
            JpegError::BadOptions(why) => write!(f, "bad JPEG options: {why}"),
            JpegError::Encode(e) => write!(f, "JPEG encoding failed: {e}"),
        }
    }
}

impl std::error::Error for JpegError {}

impl From<EncodingError> for JpegError {
    fn from(e: EncodingError) -> Self {
        JpegError::Encode(e)
    }
}

/// Encode a frame as a baseline 4:2:0 JPEG.
pub fn encode_i420(frame: &Frame, opts: &JpegOptions) -> Result<Vec<u8>, JpegError> {
    encode(frame, opts, false)
}

/// Like [`encode_i420`], with optimized Huffman tables: a second pass over the coefficients
/// buys a few percent in size, worth it for small pictures such as thumbnails.
pub fn encode_i420_optimized(frame: &Frame, opts: &JpegOptions) -> Result<Vec<u8>, JpegError> {
    encode(frame, opts, true)
}

/// The size `width`x`height` becomes when fitted within the bounds: unchanged if it already
/// fits (or is empty), else scaled down keeping the aspect ratio and rounded down to even
/// sides (at least 2).
pub fn fit_size(
    width: u32,
    height: u32,
    max_width: Option<u32>,
    max_height: Option<u32>,
) -> (u32, u32) {
    let (w, h) = (u64::from(width), u64::from(height));
    let max_w = max_width.map_or(w, u64::from);
    let max_h = max_height.map_or(h, u64::from);
    let empty = w == 0 || h == 0;
    if empty || (w <= max_w && h <= max_h) {
        return (width, height);
    }
    let even = |v: u64| (v & !1).max(2);
    let (max_w, max_h) = (even(max_w), even(max_h));
    // The side that overshoots by more decides; the other follows, rounded to nearest.
    let (out_w, out_h) = if w * max_h >= h * max_w {
        (max_w, (h * max_w + w / 2) / w)
    } else {
        ((w * max_h + h / 2) / h, max_h)
    };
    // Each is at most the larger of its bound and 2, so it fits in u32.
    (even(out_w) as u32, even(out_h) as u32)
}

fn encode(frame: &Frame, opts: &JpegOptions, optimize: bool) -> Result<Vec<u8>, JpegError> {
    check_options(opts)?;
    let planes = Planes::of_frame(frame)?;
    let (out_w, out_h) = fit_size(frame.width, frame.height, opts.max_width, opts.max_height);
    let scaled;
    let planes = if (out_w, out_h) == (frame.width, frame.height) {
        planes
    } else {
        scaled = ScaledI420::new(&planes, out_w, out_h);
        scaled.planes()
    };

    let mut out = Vec::with_capacity(planes.y.len() / 4);
    let mut encoder = Encoder::new(&mut out, opts.quality);
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    encoder.set_optimized_huffman_tables(optimize);
    if let Some(exif) = &opts.exif {
        encoder.add_app_segment(1, &exif_segment(exif, out_w, out_h))?;
    }
    encoder.encode_image(planes)?;
    Ok(out)
}

fn check_options(opts: &JpegOptions) -> Result<(), JpegError> {
    if !(1..=100).contains(&opts.quality) {
        return Err(JpegError::BadOptions("quality must be 1 to 100"));
    }
    if opts.max_width == Some(0) || opts.max_height == Some(0) {
        return Err(JpegError::BadOptions("maximum size must be positive"));
    }
    Ok(())
}

/// Borrowed I420 planes, validated against their size.
#[derive(Clone, Copy)]
struct Planes<'a> {
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    width: u16,
    height: u16,
}

impl<'a> Planes<'a> {
    fn of_frame(frame: &'a Frame) -> Result<Planes<'a>, JpegError> {
        if frame.width == 0 || frame.height == 0 {
            return Err(JpegError::EmptyFrame);
        }
        let (Ok(width), Ok(height)) = (u16::try_from(frame.width), u16::try_from(frame.height))
        else {
            return Err(JpegError::TooLarge {
                width: frame.width,
                height: frame.height,
            });
        };
        let need = Frame::i420_len(frame.width, frame.height);
        if frame.data.len() < need {
            return Err(JpegError::ShortData {
                len: frame.data.len(),
                need,
            });
        }
        Ok(Planes {
            y: frame.y(),
            u: frame.u(),
            v: frame.v(),
            width,
            height,
        })
    }

    fn chroma_width(&self) -> usize {
        usize::from(self.width).div_ceil(2)
    }

    fn chroma_height(&self) -> usize {
        usize::from(self.height).div_ceil(2)
    }
}

/// The encoder asks for full-resolution rows of every component and point-samples every
/// second chroma value for 4:2:0, so doubling each chroma sample hands it the planes as they
/// are: no colour conversion and no loss.
impl ImageBuffer for Planes<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, row: u16, buffers: &mut [Vec<u8>; 4]) {
        let width = usize::from(self.width);
        let luma_start = usize::from(row) * width;
        let luma = &self.y[luma_start..luma_start + width];
        for (out, &y) in grow(&mut buffers[0], width).iter_mut().zip(luma) {
            *out = LUMA_TO_FULL[usize::from(y)];
        }
        let cw = self.chroma_width();
        let chroma_start = usize::from(row / 2) * cw;
        for (plane, buffer) in [(self.u, 1), (self.v, 2)] {
            let line = &plane[chroma_start..chroma_start + cw];
            let out = grow(&mut buffers[buffer], width);
            let mut pairs = out.chunks_exact_mut(2);
            for (pair, &c) in (&mut pairs).zip(line) {
                let full = CHROMA_TO_FULL[usize::from(c)];
                pair[0] = full;
                pair[1] = full;
            }
            // An odd width leaves one pixel, under the last chroma sample.
            if let ([last], Some(&c)) = (pairs.into_remainder(), line.last()) {
                *last = CHROMA_TO_FULL[usize::from(c)];
            }
        }
    }
}

/// Extends `buffer` by `len` bytes and returns them, for writing by index (faster than pushing).
fn grow(buffer: &mut Vec<u8>, len: usize) -> &mut [u8] {
    let start = buffer.len();
    buffer.resize(start + len, 0);
    &mut buffer[start..]
}

const LUMA_TO_FULL: [u8; 256] = range_table(16, 235);
const CHROMA_TO_FULL: [u8; 256] = range_table(16, 240);

/// Maps `low..=high` linearly onto 0..=255 (rounded), clamping outside values.
const fn range_table(low: u32, high: u32) -> [u8; 256] {
    let span = high - low;
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let v = if (i as u32) < low {
            low
        } else if (i as u32) > high {
            high
        } else {
            i as u32
        };
        table[i] = (((v - low) * 255 + span / 2) / span) as u8;
        i += 1;
    }
    table
}

/// A down-scaled copy of a frame's planes.
struct ScaledI420 {
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    width: u16,
    height: u16,
}

impl ScaledI420 {
    /// `width` and `height` are even, at least 2 and no larger than the source (`fit_size`).
    fn new(src: &Planes, width: u32, height: u32) -> ScaledI420 {
        let (sw, sh) = (usize::from(src.width), usize::from(src.height));
        let (dw, dh) = (width as usize, height as usize);
        let (scw, sch) = (src.chroma_width(), src.chroma_height());
        ScaledI420 {
            y: box_resize(src.y, sw, sh, dw, dh),
            u: box_resize(src.u, scw, sch, dw / 2, dh / 2),
            v: box_resize(src.v, scw, sch, dw / 2, dh / 2),
            // fit_size never grows a side, so the source's u16 bound holds.
            width: width as u16,
            height: height as u16,
        }
    }

    fn planes(&self) -> Planes<'_> {
        Planes {
            y: &self.y,
            u: &self.u,
            v: &self.v,
            width: self.width,
            height: self.height,
        }
    }
}

/// Area-average (box filter) `src` (`sw`x`sh`) down to `dw`x`dh`; each output pixel is the
/// mean of the source pixels its area covers (whole pixels, at least one).
fn box_resize(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let spans = |src_len: usize, dst_len: usize| -> Vec<(usize, usize)> {
        (0..dst_len)
            .map(|i| {
                let start = i * src_len / dst_len;
                let end = ((i + 1) * src_len / dst_len).max(start + 1);
                (start, end)
            })
            .collect()
    };
    let cols = spans(sw, dw);
    let mut out = Vec::with_capacity(dw * dh);
    let mut column_sums = vec![0u32; sw];
    for (y0, y1) in spans(sh, dh) {
        column_sums.iter_mut().for_each(|s| *s = 0);
        for row in src[y0 * sw..y1 * sw].chunks_exact(sw) {
            for (sum, &p) in column_sums.iter_mut().zip(row) {
                *sum += u32::from(p);
            }
        }
        let rows = (y1 - y0) as u32;
        for &(x0, x1) in &cols {
            let total: u32 = column_sums[x0..x1].iter().sum();
            let count = rows * (x1 - x0) as u32;
            out.push(((total + count / 2) / count) as u8);
        }
    }
    out
}

const TAG_IMAGE_WIDTH: u16 = 0x0100;
const TAG_IMAGE_LENGTH: u16 = 0x0101;
const TAG_MAKE: u16 = 0x010F;
const TAG_SOFTWARE: u16 = 0x0131;
const TAG_DATETIME: u16 = 0x0132;
const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_EXPOSURE_TIME: u16 = 0x829A;
const TAG_EXIF_VERSION: u16 = 0x9000;

const TYPE_ASCII: u16 = 2;
const TYPE_LONG: u16 = 4;
const TYPE_RATIONAL: u16 = 5;
const TYPE_UNDEFINED: u16 = 7;

/// Strings longer than this are cut, keeping the segment far below the 64 KiB limit.
const MAX_EXIF_STRING: usize = 255;

/// One IFD entry before layout: the value bytes go inline when they fit in 4, else after
/// the IFD, and the entry points at them.
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    value: Vec<u8>,
}

impl Entry {
    fn long(tag: u16, v: u32) -> Entry {
        Entry {
            tag,
            kind: TYPE_LONG,
            count: 1,
            value: v.to_le_bytes().to_vec(),
        }
    }

    fn ascii(tag: u16, text: &str) -> Entry {
        let mut value: Vec<u8> = text
            .chars()
            .map(|c| {
                if c.is_ascii() && c != '\0' {
                    c as u8
                } else {
                    b'?'
                }
            })
            .take(MAX_EXIF_STRING)
            .collect();
        value.push(0);
        Entry {
            tag,
            kind: TYPE_ASCII,
            count: value.len() as u32,
            value,
        }
    }

    fn rational(tag: u16, numerator: u32, denominator: u32) -> Entry {
        let mut value = numerator.to_le_bytes().to_vec();
        value.extend_from_slice(&denominator.to_le_bytes());
        Entry {
            tag,
            kind: TYPE_RATIONAL,
            count: 1,
            value,
        }
    }
}

/// The APP1 payload: `Exif\0\0`, then a little-endian TIFF with IFD0 (size, Make, Software,
/// DateTime) and an Exif sub-IFD (ExifVersion, ExposureTime when known).
fn exif_segment(exif: &Exif, width: u32, height: u32) -> Vec<u8> {
    let mut exif_ifd = vec![Entry {
        tag: TAG_EXIF_VERSION,
        kind: TYPE_UNDEFINED,
        count: 4,
        value: b"0230".to_vec(),
    }];
    if let Some(us) = exif.exposure_time_us {
        let (num, den) = reduce(us, 1_000_000);
        exif_ifd.insert(0, Entry::rational(TAG_EXPOSURE_TIME, num, den));
    }
    let ifd0 = vec![
        Entry::long(TAG_IMAGE_WIDTH, width),
        Entry::long(TAG_IMAGE_LENGTH, height),
        Entry::ascii(TAG_MAKE, &exif.make),
        Entry::ascii(TAG_SOFTWARE, &exif.software),
        Entry::ascii(
            TAG_DATETIME,
            &crate::clock::exif_datetime(exif.datetime_unix_us),
        ),
        // Patched below once IFD0's size is known.
        Entry::long(TAG_EXIF_IFD, 0),
    ];

    let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    let pointer_at = write_ifd(&mut tiff, &ifd0, TAG_EXIF_IFD);
    let exif_ifd_offset = tiff.len() as u32;
    if let Some(at) = pointer_at {
        tiff[at..at + 4].copy_from_slice(&exif_ifd_offset.to_le_bytes());
    }
    write_ifd(&mut tiff, &exif_ifd, 0);

    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    segment
}

/// Append an IFD (entries sorted by tag, as TIFF requires) and its out-of-line values at
/// the end of `tiff`, with no next IFD. Returns where the value of `patch_tag` was written.
fn write_ifd(tiff: &mut Vec<u8>, entries: &[Entry], patch_tag: u16) -> Option<usize> {
    let start = tiff.len();
    let mut data_offset = start + 2 + entries.len() * 12 + 4;
    let mut data = Vec::new();
    let mut patch_at = None;
    tiff.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for entry in entries {
        tiff.extend_from_slice(&entry.tag.to_le_bytes());
        tiff.extend_from_slice(&entry.kind.to_le_bytes());
        tiff.extend_from_slice(&entry.count.to_le_bytes());
        if entry.tag == patch_tag {
            patch_at = Some(tiff.len());
        }
        if entry.value.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..entry.value.len()].copy_from_slice(&entry.value);
            tiff.extend_from_slice(&inline);
        } else {
            tiff.extend_from_slice(&(data_offset as u32).to_le_bytes());
            data.extend_from_slice(&entry.value);
            // Values start on word boundaries.
            if entry.value.len() % 2 == 1 {
                data.push(0);
            }
            data_offset = start + 2 + entries.len() * 12 + 4 + data.len();
        }
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&data);
    patch_at
}

fn reduce(numerator: u32, denominator: u32) -> (u32, u32) {
    let (mut a, mut b) = (numerator, denominator);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    match a {
        0 => (0, 1),
        g => (numerator / g, denominator / g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// A frame with a horizontal luma ramp and constant chroma.
    fn ramp_frame(width: u32, height: u32, u: u8, v: u8) -> Frame {
        let (w, h) = (width as usize, height as usize);
        let chroma = w.div_ceil(2) * h.div_ceil(2);
        let mut data = Vec::with_capacity(Frame::i420_len(width, height));
        for _ in 0..h {
            data.extend((0..w).map(|x| (16 + x * 219 / w.max(1)) as u8));
        }
        data.extend(std::iter::repeat_n(u, chroma));
        data.extend(std::iter::repeat_n(v, chroma));
        frame_of(width, height, data)
    }

    fn frame_of(width: u32, height: u32, data: Vec<u8>) -> Frame {
        Frame {
            width,
            height,
            data: Arc::from(data),
            pts: 0,
            capture_unix_us: 0,
            sequence: 0,
        }
    }

    fn opts(quality: u8) -> JpegOptions {
        JpegOptions {
            quality,
            max_width: None,
            max_height: None,
            exif: None,
        }
    }

    /// Decode to RGB and return (width, height, mean of R, G, B).
    fn decode(jpeg: &[u8]) -> (u16, u16, [f64; 3]) {
        let mut decoder = jpeg_decoder::Decoder::new(jpeg);
        let pixels = decoder.decode().expect("decodes");
        let info = decoder.info().expect("info");
        assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
        let mut sums = [0f64; 3];
        for px in pixels.chunks_exact(3) {
            for (s, &c) in sums.iter_mut().zip(px) {
                *s += f64::from(c);
            }
        }
        let n = (pixels.len() / 3) as f64;
        (info.width, info.height, sums.map(|s| s / n))
    }

    /// BT.601 full-range luma of a decoded RGB mean, as JFIF defines it.
    fn luma(rgb: [f64; 3]) -> f64 {
        0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    }

    /// Mean of the frame's luma stretched to full range, what a decoder should show.
    fn full_range_mean(frame: &Frame) -> f64 {
        let sum: f64 = frame
            .y()
            .iter()
            .map(|&y| (f64::from(y.clamp(16, 235)) - 16.0) * 255.0 / 219.0)
            .sum();
        sum / frame.y().len() as f64
    }

    #[test]
    fn encodes_at_full_size_with_the_input_brightness() {
        let frame = ramp_frame(320, 240, 128, 128);
        let jpeg = encode_i420(&frame, &opts(90)).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let (w, h, rgb) = decode(&jpeg);
        assert_eq!((w, h), (320, 240));
        assert!((luma(rgb) - full_range_mean(&frame)).abs() < 1.5, "{rgb:?}");
        // Neutral chroma stays grey.
        assert!((rgb[0] - rgb[2]).abs() < 1.5, "{rgb:?}");
    }

    #[test]
    fn video_range_black_and_white_become_full_range() {
        for (y, expect) in [
            (16u8, 0.0),
            (0, 0.0),
            (235, 255.0),
            (255, 255.0),
            (126, 128.0),
        ] {
            let chroma = Frame::i420_len(16, 16) - 256;
            let mut data = vec![y; 256];
            data.extend(std::iter::repeat_n(128, chroma));
            let (_, _, rgb) = decode(&encode_i420(&frame_of(16, 16, data), &opts(95)).unwrap());
            for c in rgb {
                assert!((c - expect).abs() < 1.5, "Y {y}: {rgb:?}");
            }
        }
        assert_eq!(CHROMA_TO_FULL[128], 128);
        assert_eq!((CHROMA_TO_FULL[16], CHROMA_TO_FULL[240]), (0, 255));
        assert_eq!((CHROMA_TO_FULL[0], CHROMA_TO_FULL[255]), (0, 255));
    }

    #[test]
    fn chroma_planes_reach_the_picture() {
        // Cr high, Cb low: a red cast, so R well above B.
        let frame = ramp_frame(64, 48, 90, 200);
        let (_, _, rgb) = decode(&encode_i420(&frame, &opts(90)).unwrap());
        assert!(rgb[0] > rgb[2] + 60.0, "{rgb:?}");
        let frame = ramp_frame(64, 48, 200, 90);
        let (_, _, rgb) = decode(&encode_i420(&frame, &opts(90)).unwrap());
        assert!(rgb[2] > rgb[0] + 60.0, "{rgb:?}");
    }

    #[test]
    fn odd_sizes_encode() {
        for (w, h) in [(1, 1), (3, 5), (17, 9), (641, 361)] {
            let frame = ramp_frame(w, h, 128, 128);
            let (dw, dh, rgb) = decode(&encode_i420(&frame, &opts(85)).unwrap());
            assert_eq!((u32::from(dw), u32::from(dh)), (w, h));
            assert!(
                (luma(rgb) - full_range_mean(&frame)).abs() < 3.0,
                "{w}x{h} {rgb:?}"
            );
            // The odd last column gets real chroma too: the picture stays grey.
            assert!((rgb[0] - rgb[2]).abs() < 3.0, "{w}x{h} {rgb:?}");
            assert!((rgb[1] - rgb[2]).abs() < 3.0, "{w}x{h} {rgb:?}");
        }
    }

    #[test]
    fn scales_to_fit_keeping_aspect() {
        assert_eq!(fit_size(1920, 1080, Some(640), Some(400)), (640, 360));
        assert_eq!(fit_size(1080, 1920, Some(640), Some(400)), (224, 400));
        assert_eq!(fit_size(640, 480, Some(640), Some(400)), (532, 400));
        assert_eq!(fit_size(320, 200, Some(640), Some(400)), (320, 200));
        assert_eq!(fit_size(1920, 1080, Some(1000), None), (1000, 562));
        assert_eq!(fit_size(1920, 1080, None, Some(101)), (178, 100));
        assert_eq!(fit_size(4000, 3, Some(10), Some(10)), (10, 2));
        assert_eq!(fit_size(u32::MAX, u32::MAX, Some(640), None), (640, 640));
        // Degenerate shapes: a side never drops below 2, and zero sizes do not divide by zero.
        assert_eq!(fit_size(1, 4000, Some(10), Some(10)), (2, 10));
        assert_eq!(fit_size(0, 5, Some(2), Some(2)), (0, 5));
        assert_eq!(fit_size(5, 0, Some(2), Some(2)), (5, 0));
        let sliver = ramp_frame(1, 4000, 128, 128);
        let bounded = JpegOptions {
            max_width: Some(10),
            max_height: Some(10),
            ..opts(80)
        };
        let (w, h, _) = decode(&encode_i420(&sliver, &bounded).unwrap());
        assert_eq!((w, h), (2, 10));

        let frame = ramp_frame(1920, 1080, 128, 128);
        let scaled = JpegOptions {
            max_width: Some(640),
            max_height: Some(400),
            ..opts(72)
        };
        let (w, h, rgb) = decode(&encode_i420(&frame, &scaled).unwrap());
        assert_eq!((w, h), (640, 360));
        assert!((luma(rgb) - full_range_mean(&frame)).abs() < 1.5, "{rgb:?}");
    }

    #[test]
    fn box_filter_averages_areas() {
        let src = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110];
        // 4x3 to 2x1: left half mean of 0,10,40,50,80,90; right of 20,30,60,70,100,110.
        assert_eq!(box_resize(&src, 4, 3, 2, 1), vec![45, 65]);
        assert_eq!(box_resize(&src, 4, 3, 4, 3), src.to_vec());
        assert_eq!(box_resize(&[255; 9], 3, 3, 2, 2), vec![255; 4]);
    }

    #[test]
    fn bad_frames_are_errors() {
        let short = frame_of(64, 48, vec![0; Frame::i420_len(64, 48) - 1]);
        assert!(matches!(
            encode_i420(&short, &opts(90)),
            Err(JpegError::ShortData {
                len: 4607,
                need: 4608
            })
        ));
        assert!(matches!(
            encode_i420(&frame_of(0, 48, vec![0; 64]), &opts(90)),
            Err(JpegError::EmptyFrame)
        ));
        assert!(matches!(
            encode_i420(&frame_of(70_000, 2, vec![0; 10]), &opts(90)),
            Err(JpegError::TooLarge { .. })
        ));
        let frame = ramp_frame(16, 16, 128, 128);
        for bad in [
            opts(0),
            opts(101),
            JpegOptions {
                max_width: Some(0),
                ..opts(90)
            },
        ] {
            assert!(matches!(
                encode_i420(&frame, &bad),
                Err(JpegError::BadOptions(_))
            ));
        }
    }

    #[test]
    fn optimized_tables_decode_and_are_smaller() {
        let frame = ramp_frame(320, 240, 110, 150);
        let plain = encode_i420(&frame, &opts(72)).unwrap();
        let optimized = encode_i420_optimized(&frame, &opts(72)).unwrap();
        assert!(optimized.len() < plain.len());
        let (w, h, rgb) = decode(&optimized);
        assert_eq!((w, h), (320, 240));
        assert!((luma(rgb) - full_range_mean(&frame)).abs() < 3.0, "{rgb:?}");
    }

    /// A tiny TIFF/EXIF reader: the APP1 payload's tags as (tag -> (type, count, value bytes)),
    /// IFD0 and the Exif sub-IFD merged.
    fn read_exif(jpeg: &[u8]) -> std::collections::BTreeMap<u16, (u16, u32, Vec<u8>)> {
        let mut at = 2;
        let payload = loop {
            assert_eq!(jpeg[at], 0xFF, "marker expected at {at}");
            let marker = jpeg[at + 1];
            let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
            let body = &jpeg[at + 4..at + 2 + len];
            if marker == 0xE1 && body.starts_with(b"Exif\0\0") {
                break &body[6..];
            }
            assert_ne!(marker, 0xDA, "no EXIF before the scan");
            at += 2 + len;
        };
        assert_eq!(&payload[..4], b"II\x2a\x00");
        let u16_at = |o: usize| u16::from_le_bytes([payload[o], payload[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(payload[o..o + 4].try_into().unwrap());
        let mut tags = std::collections::BTreeMap::new();
        let mut ifds = vec![u32_at(4) as usize];
        while let Some(ifd) = ifds.pop() {
            let n = usize::from(u16_at(ifd));
            let mut last_tag = 0;
            for i in 0..n {
                let e = ifd + 2 + i * 12;
                let (tag, kind, count) = (u16_at(e), u16_at(e + 2), u32_at(e + 4));
                assert!(tag > last_tag, "tags sorted");
                last_tag = tag;
                let size = count as usize
                    * match kind {
                        2 | 7 => 1,
                        4 => 4,
                        5 => 8,
                        other => panic!("unexpected type {other}"),
                    };
                let value = if size <= 4 {
                    payload[e + 8..e + 8 + size].to_vec()
                } else {
                    let off = u32_at(e + 8) as usize;
                    assert_eq!(off % 2, 0, "word aligned");
                    payload[off..off + size].to_vec()
                };
                if tag == TAG_EXIF_IFD {
                    ifds.push(u32_at(e + 8) as usize);
                }
                tags.insert(tag, (kind, count, value));
            }
            assert_eq!(u32_at(ifd + 2 + n * 12), 0, "no next IFD");
        }
        tags
    }

    fn ascii(value: &(u16, u32, Vec<u8>)) -> String {
        assert_eq!(value.0, TYPE_ASCII);
        let (last, text) = value.2.split_last().unwrap();
        assert_eq!(*last, 0, "NUL terminated");
        String::from_utf8(text.to_vec()).unwrap()
    }

    fn long(value: &(u16, u32, Vec<u8>)) -> u32 {
        assert_eq!((value.0, value.1), (TYPE_LONG, 1));
        u32::from_le_bytes(value.2[..4].try_into().unwrap())
    }

    #[test]
    fn exif_parses_back() {
        let frame = ramp_frame(1920, 1080, 128, 128);
        let with_exif = JpegOptions {
            max_width: Some(640),
            max_height: Some(400),
            exif: Some(Exif {
                make: "Raspberry Pi".into(),
                software: "picamd".into(),
                datetime_unix_us: 1_776_852_000_250_000,
                exposure_time_us: Some(10_000),
            }),
            ..opts(90)
        };
        let jpeg = encode_i420(&frame, &with_exif).unwrap();
        assert_eq!(decode(&jpeg).0, 640);
        let tags = read_exif(&jpeg);
        assert_eq!(long(&tags[&TAG_IMAGE_WIDTH]), 640);
        assert_eq!(long(&tags[&TAG_IMAGE_LENGTH]), 360);
        assert_eq!(ascii(&tags[&TAG_MAKE]), "Raspberry Pi");
        assert_eq!(ascii(&tags[&TAG_SOFTWARE]), "picamd");
        assert_eq!(ascii(&tags[&TAG_DATETIME]), "2026:04:22 10:00:00");
        let exposure = &tags[&TAG_EXPOSURE_TIME];
        assert_eq!((exposure.0, exposure.1), (TYPE_RATIONAL, 1));
        assert_eq!(
            exposure.2,
            [1u32.to_le_bytes(), 100u32.to_le_bytes()].concat()
        );
        assert_eq!(tags[&TAG_EXIF_VERSION].2, b"0230");
    }

    #[test]
    fn exif_without_exposure_and_with_odd_strings() {
        let frame = ramp_frame(32, 32, 128, 128);
        let with_exif = JpegOptions {
            exif: Some(Exif {
                make: "Pi".into(),
                software: format!("caf\u{e9}\0{}", "x".repeat(1000)),
                datetime_unix_us: 0,
                exposure_time_us: None,
            }),
            ..opts(90)
        };
        let tags = read_exif(&encode_i420(&frame, &with_exif).unwrap());
        assert_eq!(ascii(&tags[&TAG_MAKE]), "Pi");
        let software = ascii(&tags[&TAG_SOFTWARE]);
        assert!(software.starts_with("caf??xxx"), "{software}");
        assert_eq!(software.len(), MAX_EXIF_STRING);
        assert_eq!(ascii(&tags[&TAG_DATETIME]), "1970:01:01 00:00:00");
        assert!(!tags.contains_key(&TAG_EXPOSURE_TIME));
    }

    #[test]
    fn exposure_rationals_are_reduced() {
        assert_eq!(reduce(10_000, 1_000_000), (1, 100));
        assert_eq!(reduce(33_333, 1_000_000), (33_333, 1_000_000));
        assert_eq!(reduce(2_000_000, 1_000_000), (2, 1));
        assert_eq!(reduce(0, 1_000_000), (0, 1));
    }

    /// `cargo test --release --lib jpeg -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn time_1080p_quality_90() {
        let opts = JpegOptions {
            exif: Some(Exif {
                make: "Raspberry Pi".into(),
                software: "picamd".into(),
                datetime_unix_us: 1_776_852_000_000_000,
                exposure_time_us: Some(10_000),
            }),
            ..opts(90)
        };
        let painter = crate::camera::testsrc::Painter::new(1920, 1080);
        let pattern = frame_of(1920, 1080, painter.paint(42, 1_776_852_000_000_000));
        // Noise everywhere: the worst case for the entropy coder.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let noise = (0..Frame::i420_len(1920, 1080))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 56) as u8
            })
            .collect();
        for (name, frame) in [
            ("test pattern", pattern),
            ("noise", frame_of(1920, 1080, noise)),
        ] {
            let mut size = 0;
            let mut times: Vec<f64> = (0..21)
                .map(|_| {
                    let start = Instant::now();
                    size = encode_i420(&frame, &opts).unwrap().len();
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "1920x1080 q90 {name}: {size} bytes, min {:.1} ms, p50 {:.1} ms, max {:.1} ms",
                times[0], times[10], times[20]
            );
        }
    }
}
