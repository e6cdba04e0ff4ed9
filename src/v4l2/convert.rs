//! Raw capture layouts to our I420 (`crate::media::Frame`): YUYV, NV12 and YU12, each
//! either in one buffer or split over planes. No I/O; strides as the driver reports them.

use std::fmt;

use super::fourcc::{FourCc, NV12, NV12M, YU12, YU12M, YUYV};

/// One plane of a captured picture: its bytes and its line pitch.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
}

/// The formats we convert, best (least work) first.
pub const CONVERTIBLE: [FourCc; 5] = [YU12, YU12M, NV12, NV12M, YUYV];

/// Why a captured picture could not be converted; `what` names the format or plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertError {
    NoPlanes,
    /// A multi-planar format came with fewer planes; how many it needs, as a word.
    TooFewPlanes {
        fourcc: FourCc,
        needed: &'static str,
    },
    PitchTooShort {
        what: &'static str,
        stride: usize,
        line: usize,
    },
    ShortBuffer {
        what: &'static str,
        len: usize,
        needed: usize,
    },
    Unsupported(FourCc),
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::NoPlanes => f.write_str("the buffer has no planes"),
            ConvertError::TooFewPlanes { fourcc, needed } => {
                write!(f, "{fourcc} needs {needed} planes")
            }
            ConvertError::PitchTooShort { what, stride, line } => write!(
                f,
                "{what}: line pitch {stride} is shorter than a line of {line} bytes"
            ),
            ConvertError::ShortBuffer { what, len, needed } => {
                write!(f, "{what}: the buffer holds {len} bytes, {needed} needed")
            }
            ConvertError::Unsupported(fourcc) => write!(f, "no converter from {fourcc} to I420"),
        }
    }
}

impl std::error::Error for ConvertError {}

/// Converts one picture into `out` (resized to the I420 length).
pub fn to_i420(
    fourcc: FourCc,
    width: usize,
    height: usize,
    planes: &[Plane<'_>],
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
    out.clear();
    out.resize(width * height + 2 * cw * ch, 0);
    let (y_out, chroma) = out.split_at_mut(width * height);
    let (u_out, v_out) = chroma.split_at_mut(cw * ch);
    let first = planes.first().ok_or(ConvertError::NoPlanes)?;
    match fourcc {
        f if f == YUYV => {
            let line = 2 * width.next_multiple_of(2);
            need(first, line, height, "YUYV")?;
            for row in 0..height {
                let src = &first.data[row * first.stride..][..line];
                for (x, y) in y_out[row * width..][..width].iter_mut().enumerate() {
                    *y = src[2 * x];
                }
            }
            for row in 0..ch {
                let a = &first.data[2 * row * first.stride..][..line];
                let b_row = (2 * row + 1).min(height - 1);
                let b = &first.data[b_row * first.stride..][..line];
                for x in 0..cw {
                    u_out[row * cw + x] = avg(a[4 * x + 1], b[4 * x + 1]);
                    v_out[row * cw + x] = avg(a[4 * x + 3], b[4 * x + 3]);
                }
            }
        }
        f if f == NV12 || f == NV12M => {
            let uv = if f == NV12 {
                need(first, width, height + ch, "NV12")?;
                Plane {
                    data: &first.data[height * first.stride..],
                    stride: first.stride,
                }
            } else {
                need(first, width, height, "NV12M luma")?;
                *planes.get(1).ok_or(ConvertError::TooFewPlanes {
                    fourcc: NV12M,
                    needed: "two",
                })?
            };
            need(&uv, 2 * cw, ch, "NV12 chroma")?;
            copy_rows(first, width, height, y_out);
            for row in 0..ch {
                let src = &uv.data[row * uv.stride..][..2 * cw];
                for x in 0..cw {
                    u_out[row * cw + x] = src[2 * x];
                    v_out[row * cw + x] = src[2 * x + 1];
                }
            }
        }
        f if f == YU12 || f == YU12M => {
            let (u, v) = if f == YU12 {
                let cs = first.stride.div_ceil(2);
                need(first, width, height, "YU12")?;
                let base = height * first.stride;
                let u = Plane {
                    data: first.data.get(base..).unwrap_or(&[]),
                    stride: cs,
                };
                let v = Plane {
                    data: first.data.get(base + cs * ch..).unwrap_or(&[]),
                    stride: cs,
                };
                (u, v)
            } else {
                need(first, width, height, "YU12M luma")?;
                let too_few = ConvertError::TooFewPlanes {
                    fourcc: YU12M,
                    needed: "three",
                };
                let u = *planes.get(1).ok_or(too_few.clone())?;
                let v = *planes.get(2).ok_or(too_few)?;
                (u, v)
            };
            need(&u, cw, ch, "YU12 U")?;
            need(&v, cw, ch, "YU12 V")?;
            copy_rows(first, width, height, y_out);
            copy_rows(&u, cw, ch, u_out);
            copy_rows(&v, cw, ch, v_out);
        }
        other => return Err(ConvertError::Unsupported(other)),
    }
    Ok(())
}

fn avg(a: u8, b: u8) -> u8 {
    (a as u16 + b as u16).div_ceil(2) as u8
}

fn copy_rows(src: &Plane<'_>, width: usize, rows: usize, out: &mut [u8]) {
    if src.stride == width {
        out[..width * rows].copy_from_slice(&src.data[..width * rows]);
        return;
    }
    for (row, dst) in out.chunks_exact_mut(width).take(rows).enumerate() {
        dst.copy_from_slice(&src.data[row * src.stride..][..width]);
    }
}

/// Checks that `plane` holds `rows` lines of `line` bytes at its stride.
fn need(
    plane: &Plane<'_>,
    line: usize,
    rows: usize,
    what: &'static str,
) -> Result<(), ConvertError> {
    if plane.stride < line {
        return Err(ConvertError::PitchTooShort {
            what,
            stride: plane.stride,
            line,
        });
    }
    let needed = if rows == 0 {
        0
    } else {
        (rows - 1) * plane.stride + line
    };
    if plane.data.len() < needed {
        return Err(ConvertError::ShortBuffer {
            what,
            len: plane.data.len(),
            needed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], stride: usize) -> Plane<'_> {
        Plane { data, stride }
    }

    #[test]
    fn yuyv_takes_luma_and_averages_chroma_over_two_rows() {
        // 4x2, stride 10 (2 bytes of padding per line).
        let data = [
            10, 100, 11, 200, 12, 102, 13, 202, 0, 0, //
            20, 110, 21, 210, 22, 112, 23, 212, 0, 0,
        ];
        let mut out = Vec::new();
        to_i420(YUYV, 4, 2, &[plane(&data, 10)], &mut out).unwrap();
        assert_eq!(
            out,
            vec![10, 11, 12, 13, 20, 21, 22, 23, 105, 107, 205, 207]
        );
    }

    #[test]
    fn nv12_single_buffer_deinterleaves_chroma() {
        // 4x2 with stride 6: two luma lines, then one UV line.
        let data = [1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, 50, 60, 51, 61, 0, 0];
        let mut out = Vec::new();
        to_i420(NV12, 4, 2, &[plane(&data, 6)], &mut out).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7, 8, 50, 51, 60, 61]);
    }

    #[test]
    fn nv12_two_planes() {
        let y = [1, 2, 3, 4, 5, 6, 7, 8];
        let uv = [50, 60, 51, 61];
        let mut out = Vec::new();
        to_i420(NV12M, 4, 2, &[plane(&y, 4), plane(&uv, 4)], &mut out).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7, 8, 50, 51, 60, 61]);
    }

    #[test]
    fn yu12_with_padding_drops_the_padding() {
        // 2x2, luma stride 4, chroma stride 2.
        let data = [1, 2, 0, 0, 3, 4, 0, 0, 9, 0, 7, 0];
        let mut out = Vec::new();
        to_i420(YU12, 2, 2, &[plane(&data, 4)], &mut out).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4, 9, 7]);
    }

    #[test]
    fn yu12_tight_is_a_copy() {
        let data: Vec<u8> = (0..24).collect();
        let mut out = Vec::new();
        to_i420(YU12, 4, 4, &[plane(&data, 4)], &mut out).unwrap();
        assert_eq!(out, data);
        let (y, u, v) = (&data[..16], &data[16..20], &data[20..]);
        to_i420(
            YU12M,
            4,
            4,
            &[plane(y, 4), plane(u, 2), plane(v, 2)],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn odd_heights_use_the_last_row_for_chroma() {
        let data = [10, 100, 11, 200, 20, 110, 21, 210, 30, 120, 31, 220];
        let mut out = Vec::new();
        to_i420(YUYV, 2, 3, &[plane(&data, 4)], &mut out).unwrap();
        assert_eq!(out, vec![10, 11, 20, 21, 30, 31, 105, 120, 205, 220]);
    }

    #[test]
    fn short_buffers_and_unknown_formats_are_errors() {
        let mut out = Vec::new();
        let err = to_i420(YUYV, 4, 2, &[plane(&[0; 10], 8)], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "YUYV: the buffer holds 10 bytes, 16 needed"
        );
        let err = to_i420(FourCc::new(b"MJPG"), 4, 2, &[plane(&[0; 64], 8)], &mut out).unwrap_err();
        assert_eq!(err.to_string(), "no converter from MJPG to I420");
        let err = to_i420(NV12M, 4, 2, &[plane(&[0; 8], 4)], &mut out).unwrap_err();
        assert_eq!(err.to_string(), "NM12 needs two planes");
    }
}
