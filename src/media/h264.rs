//! H.264 (AVC) bitstream helpers: Annex B splitting, emulation prevention, SPS parsing,
//! Annex B → AVCC (length-prefixed) conversion and picamd's capture-timestamp SEI.
//!
//! Sans-IO and panic-free on untrusted input: every parser returns an error (or `None`)
//! on malformed data, indexes only through checked accessors and never allocates more
//! than a small multiple of its input size.

use std::fmt;

/// Coded slice of a non-IDR picture.
pub const NAL_SLICE: u8 = 1;
/// Coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// Supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// Picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// SEI payload type `user_data_unregistered`.
const SEI_USER_DATA_UNREGISTERED: u64 = 5;

/// UUID (`uuid_iso_iec_11578`) identifying picamd's capture-timestamp SEI message,
/// `7f1c3a52-9d4e-4b8a-b6e1-2c5f0a93d7e4`.
///
/// It was generated at random once and must never change: players and the latency
/// benchmarks look for exactly these 16 bytes. The message payload is this UUID
/// followed by the capture wall-clock time as a big-endian `u64` of microseconds since
/// the Unix epoch (24 bytes in all).
pub const PICAMD_SEI_UUID: [u8; 16] = [
    0x7f, 0x1c, 0x3a, 0x52, 0x9d, 0x4e, 0x4b, 0x8a, 0xb6, 0xe1, 0x2c, 0x5f, 0x0a, 0x93, 0xd7, 0xe4,
];

/// Largest picture dimension accepted, in macroblocks: `sqrt(8 * MaxFS)` for level 6.2
/// (H.264 A.3.1), i.e. 16,880 pixels.
const MAX_DIMENSION_MBS: u64 = 1055;
/// Largest frame size accepted, in macroblocks (MaxFS of level 6.2).
const MAX_FRAME_MBS: u64 = 139_264;

/// Errors from H.264 parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H264Error {
    /// The NAL unit is empty.
    Empty,
    /// The NAL header's forbidden_zero_bit is set.
    ForbiddenBit,
    /// The NAL unit is not of the expected type.
    WrongNalType {
        /// Type that was expected.
        expected: u8,
        /// Type that was found.
        found: u8,
    },
    /// The data ended in the middle of a syntax element.
    Truncated,
    /// An Exp-Golomb code has more than 31 leading zero bits.
    ExpGolombOverflow,
    /// A syntax element is outside the range the standard (or picamd) allows.
    OutOfRange {
        /// Name of the syntax element, as in the standard.
        field: &'static str,
        /// Value found.
        value: i64,
    },
    /// The cropping window is empty or larger than the coded picture.
    InvalidCropping,
}

impl fmt::Display for H264Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H264Error::Empty => write!(f, "empty NAL unit"),
            H264Error::ForbiddenBit => write!(f, "NAL forbidden_zero_bit is set"),
            H264Error::WrongNalType { expected, found } => {
                write!(f, "expected NAL unit type {expected}, found {found}")
            }
            H264Error::Truncated => write!(f, "H.264 data truncated"),
            H264Error::ExpGolombOverflow => write!(f, "Exp-Golomb code longer than 32 bits"),
            H264Error::OutOfRange { field, value } => {
                write!(f, "H.264 syntax element {field} out of range: {value}")
            }
            H264Error::InvalidCropping => write!(f, "SPS frame cropping exceeds the picture"),
        }
    }
}

impl std::error::Error for H264Error {}

// ---------------------------------------------------------------------------------------
// Annex B
// ---------------------------------------------------------------------------------------

/// Index of the first byte of the next `00 00 01` at or after `from`, if any.
#[inline]
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    // Test 64 candidate positions at a time with a branch-free, vectorisable check
    // (each window carries the two bytes after it, so start codes straddling windows
    // are found), and locate the exact position only in the window that has one.
    const CHUNK: usize = 64;
    let mut i = from;
    while let Some(w) = data.get(i..i.saturating_add(CHUNK + 2)) {
        let hit = w
            .iter()
            .zip(w.iter().skip(1))
            .zip(w.iter().skip(2))
            .fold(false, |acc, ((&a, &b), &c)| {
                acc | ((a == 0) & (b == 0) & (c == 1))
            });
        if hit {
            break;
        }
        i += CHUNK;
    }
    data.get(i..)?
        .windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|p| i + p)
}

/// Iterator over the NAL units of an Annex B byte stream; see [`nal_units`].
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Index of the first byte after the last start code found (`data.len()` when done).
    pos: usize,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let start = self.pos;
            if start >= self.data.len() {
                return None;
            }
            let end = match find_start_code(self.data, start) {
                Some(sc) => {
                    self.pos = sc + 3;
                    sc
                }
                None => {
                    self.pos = self.data.len();
                    self.data.len()
                }
            };
            let nal = self.data.get(start..end).unwrap_or(&[]);
            // Zero bytes before a start code (or at the end of the stream) are
            // trailing_zero_8bits / the leading zero of a 4-byte start code.
            let trimmed_len = nal.len() - nal.iter().rev().take_while(|&&b| b == 0).count();
            if let Some(nal) = nal.get(..trimmed_len).filter(|n| !n.is_empty()) {
                return Some(nal);
            }
        }
    }
}

impl std::iter::FusedIterator for NalUnits<'_> {}

/// Iterates over the NAL units (payloads without start codes, header byte included) of an
/// Annex B byte stream.
///
/// Accepts 3- and 4-byte start codes. Zero bytes right before a start code (or at the end
/// of the data) belong to the start code, not to the NAL unit; bytes before the first
/// start code are skipped; empty NAL units are not reported.
pub fn nal_units(annexb: &[u8]) -> NalUnits<'_> {
    let pos = find_start_code(annexb, 0).map_or(annexb.len(), |sc| sc + 3);
    NalUnits { data: annexb, pos }
}

/// The `nal_unit_type` (low 5 bits of the header byte), or `None` for an empty slice.
#[inline]
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| b & 0x1F)
}

/// Removes emulation prevention bytes: every `00 00 03` becomes `00 00`.
///
/// Takes the bytes of a NAL unit after its header (or any EBSP) and returns the RBSP.
pub fn remove_emulation_prevention(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len());
    let mut zeros = 0usize;
    for &b in rbsp {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Inserts emulation prevention bytes so the result contains no `00 00 0x` (x ≤ 3) and
/// does not end in `00 00`: an `03` goes after every two zero bytes followed by a byte
/// ≤ 3, and after a final `00 00` (as the standard does for trailing cabac_zero_words).
///
/// `remove_emulation_prevention(&add_emulation_prevention(x)) == x` for every `x`.
pub fn add_emulation_prevention(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 2 + 1);
    let mut zeros = 0usize;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    if zeros >= 2 {
        out.push(3);
    }
    out
}

/// True for NAL units that `annexb_to_avcc` drops (they live in `avcC` or are useless
/// in MP4).
#[inline]
fn dropped_in_avcc(nal: &[u8]) -> bool {
    matches!(nal_type(nal), Some(NAL_AUD | NAL_SPS | NAL_PPS))
}

/// Appends the NAL units of `annexb` to `out` as 4-byte big-endian length + payload
/// (AVCC / MP4 sample format), dropping access unit delimiters, SPS and PPS. SEI and
/// slices are kept. NAL units longer than `u32::MAX` bytes (impossible in practice)
/// are dropped too.
pub fn annexb_to_avcc(annexb: &[u8], out: &mut Vec<u8>) {
    for nal in nal_units(annexb) {
        if dropped_in_avcc(nal) {
            continue;
        }
        if let Ok(len) = u32::try_from(nal.len()) {
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(nal);
        }
    }
}

/// The number of bytes [`annexb_to_avcc`] would append for `annexb`.
pub fn avcc_len(annexb: &[u8]) -> usize {
    nal_units(annexb)
        .filter(|nal| !dropped_in_avcc(nal) && u32::try_from(nal.len()).is_ok())
        .fold(0usize, |acc, nal| acc.saturating_add(4 + nal.len()))
}

/// The first SPS and the first PPS NAL units (without start codes) found in `annexb`.
pub fn parameter_sets(annexb: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let mut sps = None;
    let mut pps = None;
    for nal in nal_units(annexb) {
        match nal_type(nal) {
            Some(NAL_SPS) if sps.is_none() => sps = Some(nal),
            Some(NAL_PPS) if pps.is_none() => pps = Some(nal),
            _ => {}
        }
        if sps.is_some() && pps.is_some() {
            break;
        }
    }
    (sps, pps)
}

// ---------------------------------------------------------------------------------------
// SPS
// ---------------------------------------------------------------------------------------

/// MSB-first bit reader over RBSP bytes with Exp-Golomb decoding.
struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    fn bit(&mut self) -> Result<u32, H264Error> {
        let byte = *self.data.get(self.pos / 8).ok_or(H264Error::Truncated)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    fn flag(&mut self) -> Result<bool, H264Error> {
        Ok(self.bit()? == 1)
    }

    /// Reads `n` ≤ 32 bits.
    fn bits(&mut self, n: u32) -> Result<u32, H264Error> {
        let mut v: u64 = 0;
        for _ in 0..n.min(32) {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    fn u8(&mut self) -> Result<u8, H264Error> {
        Ok(self.bits(8)? as u8)
    }

    /// `ue(v)`: 0 ..= 2^32 - 2.
    fn ue(&mut self) -> Result<u32, H264Error> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(H264Error::ExpGolombOverflow);
            }
        }
        let rest = u64::from(self.bits(zeros)?);
        // At most (2^31 - 1) + (2^31 - 1): fits in u32.
        Ok(((1u64 << zeros) - 1 + rest) as u32)
    }

    /// `se(v)`: -(2^31 - 1) ..= 2^31 - 1.
    fn se(&mut self) -> Result<i32, H264Error> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        Ok(v as i32)
    }

    /// `ue(v)` that must be ≤ `max`.
    fn ue_max(&mut self, field: &'static str, max: u32) -> Result<u32, H264Error> {
        let v = self.ue()?;
        if v > max {
            return Err(H264Error::OutOfRange {
                field,
                value: i64::from(v),
            });
        }
        Ok(v)
    }
}

/// The fields of a sequence parameter set that picamd needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 baseline, 77 main, 100 high, ...).
    pub profile_idc: u8,
    /// The byte holding constraint_set0..5_flag and the two reserved bits.
    pub constraint_flags: u8,
    /// `level_idc` (31 = level 3.1, ...).
    pub level_idc: u8,
    /// Width in pixels, after cropping.
    pub width: u32,
    /// Height in pixels (of a frame), after cropping.
    pub height: u32,
    /// `seq_parameter_set_id`.
    pub sps_id: u32,
    /// `chroma_format_idc` (0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4); 1 when absent.
    pub chroma_format_idc: u8,
    /// Luma bit depth (`bit_depth_luma_minus8 + 8`); 8 when absent.
    pub bit_depth_luma: u8,
    /// Chroma bit depth (`bit_depth_chroma_minus8 + 8`); 8 when absent.
    pub bit_depth_chroma: u8,
}

impl Sps {
    /// RFC 6381 codec string, `avc1.PPCCLL` in lowercase hex (e.g. `avc1.42c01f`).
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }
}

/// Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices.
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Skips one `scaling_list()` of `size` coefficients.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), H264Error> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(H264Error::OutOfRange {
                    field: "delta_scale",
                    value: i64::from(delta),
                });
            }
            next_scale = (last_scale + delta + 256).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// Parses a sequence parameter set NAL unit (header byte included, no start code).
///
/// Parsing stops after `vui_parameters_present_flag`: VUI is not needed. Width and
/// height are those of the cropped frame.
pub fn parse_sps(nal: &[u8]) -> Result<Sps, H264Error> {
    let (&header, body) = nal.split_first().ok_or(H264Error::Empty)?;
    if header & 0x80 != 0 {
        return Err(H264Error::ForbiddenBit);
    }
    let found = header & 0x1F;
    if found != NAL_SPS {
        return Err(H264Error::WrongNalType {
            expected: NAL_SPS,
            found,
        });
    }
    let rbsp = remove_emulation_prevention(body);
    let mut r = BitReader::new(&rbsp);

    let profile_idc = r.u8()?;
    let constraint_flags = r.u8()?;
    let level_idc = r.u8()?;
    let sps_id = r.ue_max("seq_parameter_set_id", 31)?;

    let mut chroma_format_idc = 1u32;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma_minus8 = 0u32;
    let mut bit_depth_chroma_minus8 = 0u32;
    if has_chroma_info(profile_idc) {
        chroma_format_idc = r.ue_max("chroma_format_idc", 3)?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        bit_depth_luma_minus8 = r.ue_max("bit_depth_luma_minus8", 6)?;
        bit_depth_chroma_minus8 = r.ue_max("bit_depth_chroma_minus8", 6)?;
        let _qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            // seq_scaling_matrix_present_flag
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    let _log2_max_frame_num_minus4 = r.ue_max("log2_max_frame_num_minus4", 12)?;
    let pic_order_cnt_type = r.ue_max("pic_order_cnt_type", 2)?;
    match pic_order_cnt_type {
        0 => {
            r.ue_max("log2_max_pic_order_cnt_lsb_minus4", 12)?;
        }
        1 => {
            let _delta_pic_order_always_zero = r.flag()?;
            let _offset_for_non_ref_pic = r.se()?;
            let _offset_for_top_to_bottom_field = r.se()?;
            let cycle = r.ue_max("num_ref_frames_in_pic_order_cnt_cycle", 255)?;
            for _ in 0..cycle {
                let _offset_for_ref_frame = r.se()?;
            }
        }
        _ => {}
    }
    let _max_num_ref_frames = r.ue_max("max_num_ref_frames", 16)?;
    let _gaps_in_frame_num_allowed = r.flag()?;
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.flag()?;
    }
    let _direct_8x8_inference = r.flag()?;
    let (crop_left, crop_right, crop_top, crop_bottom) = if r.flag()? {
        (
            u64::from(r.ue()?),
            u64::from(r.ue()?),
            u64::from(r.ue()?),
            u64::from(r.ue()?),
        )
    } else {
        (0, 0, 0, 0)
    };
    let _vui_parameters_present = r.flag()?;

    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let height_mbs = height_map_units * field_factor;
    if width_mbs > MAX_DIMENSION_MBS {
        return Err(H264Error::OutOfRange {
            field: "pic_width_in_mbs_minus1",
            value: (width_mbs - 1) as i64,
        });
    }
    if height_mbs > MAX_DIMENSION_MBS || width_mbs * height_mbs > MAX_FRAME_MBS {
        return Err(H264Error::OutOfRange {
            field: "pic_height_in_map_units_minus1",
            value: (height_map_units - 1) as i64,
        });
    }

    // Crop units (H.264 7.4.2.1.1, Table 6-1).
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (crop_unit_x, crop_unit_y) = match chroma_array_type {
        0 => (1, field_factor),
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        _ => (1, field_factor),
    };
    // All terms < 2^33 * 4: no overflow in u64.
    let crop_x = crop_unit_x * (crop_left + crop_right);
    let crop_y = crop_unit_y * (crop_top + crop_bottom);
    let coded_width = width_mbs * 16;
    let coded_height = height_mbs * 16;
    if crop_x >= coded_width || crop_y >= coded_height {
        return Err(H264Error::InvalidCropping);
    }

    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        // Both ≤ 1055 * 16: fit in u32.
        width: (coded_width - crop_x) as u32,
        height: (coded_height - crop_y) as u32,
        sps_id,
        chroma_format_idc: chroma_format_idc as u8,
        bit_depth_luma: (bit_depth_luma_minus8 + 8) as u8,
        bit_depth_chroma: (bit_depth_chroma_minus8 + 8) as u8,
    })
}

// ---------------------------------------------------------------------------------------
// Capture-timestamp SEI
// ---------------------------------------------------------------------------------------

/// A complete SEI NAL unit, with a 4-byte Annex B start code, carrying one
/// `user_data_unregistered` message: [`PICAMD_SEI_UUID`] + `capture_unix_us` as a
/// big-endian u64. Emulation prevention is applied.
pub fn timestamp_sei_nal(capture_unix_us: u64) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(27);
    rbsp.push(SEI_USER_DATA_UNREGISTERED as u8); // payloadType
    rbsp.push(24); // payloadSize
    rbsp.extend_from_slice(&PICAMD_SEI_UUID);
    rbsp.extend_from_slice(&capture_unix_us.to_be_bytes());
    rbsp.push(0x80); // rbsp_trailing_bits
    let mut nal = Vec::with_capacity(5 + rbsp.len() + 8);
    nal.extend_from_slice(&[0, 0, 0, 1, (NAL_SEI)]);
    nal.extend_from_slice(&add_emulation_prevention(&rbsp));
    nal
}

/// Reads an SEI varint (`ff_byte`s then a last byte), as used by payloadType and
/// payloadSize.
fn sei_varint(rbsp: &[u8], pos: &mut usize) -> Option<usize> {
    let mut v = 0usize;
    loop {
        let b = *rbsp.get(*pos)?;
        *pos += 1;
        v = v.saturating_add(usize::from(b));
        if b != 0xFF {
            return Some(v);
        }
    }
}

/// The capture timestamp in the SEI RBSP `rbsp` (NAL header removed), if any.
fn sei_rbsp_timestamp(rbsp: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    loop {
        // more_rbsp_data(): stop at the end or at the rbsp_trailing_bits byte.
        match rbsp.get(pos..)? {
            [] | [0x80] => return None,
            _ => {}
        }
        let payload_type = sei_varint(rbsp, &mut pos)?;
        let payload_size = sei_varint(rbsp, &mut pos)?;
        let payload = rbsp.get(pos..pos.checked_add(payload_size)?)?;
        if payload_type as u64 == SEI_USER_DATA_UNREGISTERED {
            if let (Some(uuid), Some(ts)) = (payload.get(..16), payload.get(16..24)) {
                if uuid == PICAMD_SEI_UUID {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(ts);
                    return Some(u64::from_be_bytes(bytes));
                }
            }
        }
        pos += payload_size;
    }
}

/// Finds picamd's capture-timestamp SEI message (see [`timestamp_sei_nal`]) in an Annex B
/// access unit and returns its microseconds since the Unix epoch.
///
/// Every SEI NAL unit is searched, and every message in each; malformed SEI is skipped.
pub fn find_timestamp_sei(annexb: &[u8]) -> Option<u64> {
    nal_units(annexb)
        .filter(|nal| nal_type(nal) == Some(NAL_SEI))
        .find_map(|nal| sei_rbsp_timestamp(&remove_emulation_prevention(nal.get(1..)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::test_vectors::*;

    /// x264 High 4:4:4 Predictive (yuv444p, cqm=jvt) at 352x288, level 1.3.
    const X264_444_SPS: &str = "67f4000d919b282c12d81080000003008000001e078a14cb";
    /// x264 interlaced (frame_mbs_only=0, MBAFF) High at 720x576.
    const X264_INTERLACED_SPS: &str = "6764001facd940b424dff80080007880000003008000001e0f8b16cb";
    /// x264 Constrained Baseline at 642x362 (cropping right 14 px and bottom 6 px).
    const X264_ODD_SPS: &str = "6742c01ed900a42fe224ffc0b500f0c4000003000400000300f03c58b920";

    /// MSB-first bit writer with Exp-Golomb, for building synthetic SPSs.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        bits: usize,
    }

    impl BitWriter {
        fn bit(&mut self, b: bool) -> &mut Self {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if b {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
            self
        }
        fn u(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bit((v >> i) & 1 == 1);
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let x = v + 1;
            let len = 64 - x.leading_zeros();
            self.u(len - 1, 0);
            self.u(len, x)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            let k = if v > 0 { 2 * v - 1 } else { -2 * v };
            self.ue(k as u64)
        }
        /// Adds rbsp_trailing_bits and wraps into an SPS NAL with emulation prevention.
        fn sps_nal(&mut self) -> Vec<u8> {
            self.bit(true);
            while !self.bits.is_multiple_of(8) {
                self.bit(false);
            }
            let mut nal = vec![0x67];
            nal.extend_from_slice(&add_emulation_prevention(&self.bytes));
            nal
        }
    }

    /// Parameters for a synthetic SPS.
    #[derive(Clone)]
    struct SpsSpec {
        profile: u8,
        sps_id: u64,
        chroma: u64,
        separate_planes: bool,
        depth_luma_m8: u64,
        depth_chroma_m8: u64,
        /// Per list: None = not present, Some(deltas).
        scaling: Option<Vec<Option<Vec<i64>>>>,
        poc_type: u64,
        poc_cycle: Vec<i64>,
        width_mbs: u64,
        height_map_units: u64,
        frame_mbs_only: bool,
        crop: Option<[u64; 4]>,
    }

    impl Default for SpsSpec {
        fn default() -> Self {
            SpsSpec {
                profile: 100,
                sps_id: 0,
                chroma: 1,
                separate_planes: false,
                depth_luma_m8: 0,
                depth_chroma_m8: 0,
                scaling: None,
                poc_type: 0,
                poc_cycle: vec![],
                width_mbs: 120,
                height_map_units: 68,
                frame_mbs_only: true,
                crop: None,
            }
        }
    }

    fn build_sps(s: &SpsSpec) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.u(8, u64::from(s.profile)).u(8, 0).u(8, 40).ue(s.sps_id);
        if has_chroma_info(s.profile) {
            w.ue(s.chroma);
            if s.chroma == 3 {
                w.bit(s.separate_planes);
            }
            w.ue(s.depth_luma_m8).ue(s.depth_chroma_m8).bit(false);
            match &s.scaling {
                None => {
                    w.bit(false);
                }
                Some(lists) => {
                    w.bit(true);
                    for list in lists {
                        match list {
                            None => {
                                w.bit(false);
                            }
                            Some(deltas) => {
                                w.bit(true);
                                for &d in deltas {
                                    w.se(d);
                                }
                            }
                        }
                    }
                }
            }
        }
        w.ue(0).ue(s.poc_type);
        match s.poc_type {
            0 => {
                w.ue(2);
            }
            1 => {
                w.bit(false).se(-3).se(5).ue(s.poc_cycle.len() as u64);
                for &o in &s.poc_cycle {
                    w.se(o);
                }
            }
            _ => {}
        }
        w.ue(4)
            .bit(false)
            .ue(s.width_mbs - 1)
            .ue(s.height_map_units - 1);
        w.bit(s.frame_mbs_only);
        if !s.frame_mbs_only {
            w.bit(true);
        }
        w.bit(true);
        match s.crop {
            None => {
                w.bit(false);
            }
            Some(c) => {
                w.bit(true).ue(c[0]).ue(c[1]).ue(c[2]).ue(c[3]);
            }
        }
        w.bit(false);
        w.sps_nal()
    }

    // ---- Annex B ----

    #[test]
    fn nal_units_three_and_four_byte_start_codes() {
        let data = hex("00000001 6742 000001 68ce 00000001 65aabb 000001 41cc");
        let nals: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(
            nals,
            vec![
                &[0x67, 0x42][..],
                &[0x68, 0xce],
                &[0x65, 0xaa, 0xbb],
                &[0x41, 0xcc]
            ]
        );
    }

    #[test]
    fn nal_units_trailing_zeros_belong_to_start_code() {
        // Trailing zero bytes (trailing_zero_8bits) before a start code and at the end.
        let data = hex("000001 0910 0000 00000001 6501 00 000001 0602 000000");
        let nals: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(nals, vec![&[0x09, 0x10][..], &[0x65, 0x01], &[0x06, 0x02]]);
    }

    #[test]
    fn nal_units_leading_garbage_and_degenerate_inputs() {
        let data = hex("ff 12 00 34 0000 000001 6588 000001");
        let nals: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(nals, vec![&[0x65, 0x88][..]]);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 0, 1]).count(), 0);
        assert_eq!(nal_units(&[0, 0]).count(), 0);
        assert_eq!(nal_units(&[0x65, 0x88, 0x99]).count(), 0, "no start code");
        // Back-to-back start codes give no empty NALs.
        assert_eq!(
            nal_units(&hex("000001 000001 00000001 41")).collect::<Vec<_>>(),
            vec![&[0x41][..]]
        );
        // 00 00 02 and 00 00 03 are not start codes.
        assert_eq!(
            nal_units(&hex("000001 41000002 000003 01")).collect::<Vec<_>>(),
            vec![&hex("41000002 000003 01")[..]]
        );
    }

    #[test]
    fn nal_units_start_codes_across_scan_chunk_boundaries() {
        // Put start codes at every offset around the 64-byte chunk boundaries of
        // find_start_code and check against a naive splitter.
        for len in 60..200 {
            for at in 0..len - 3 {
                let mut data = vec![0x5a; len];
                data[0..3].copy_from_slice(&[0, 0, 1]);
                if at >= 4 {
                    data[at..at + 3].copy_from_slice(&[0, 0, 1]);
                }
                let got: Vec<&[u8]> = nal_units(&data).collect();
                let want: Vec<&[u8]> = naive_nal_units(&data);
                assert_eq!(got, want, "len {len} at {at}");
            }
        }
    }

    /// Byte-by-byte reference splitter.
    fn naive_nal_units(data: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        let mut i = 0;
        while i + 3 <= data.len() {
            if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
                starts.push(i);
                i += 3;
            } else {
                i += 1;
            }
        }
        let mut out = Vec::new();
        for (k, &s) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(data.len());
            let mut nal = &data[s + 3..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                out.push(nal);
            }
        }
        out
    }

    #[test]
    fn nal_type_low_five_bits() {
        assert_eq!(nal_type(&[0x67]), Some(NAL_SPS));
        assert_eq!(nal_type(&[0x68, 1]), Some(NAL_PPS));
        assert_eq!(nal_type(&[0x65]), Some(NAL_IDR));
        assert_eq!(nal_type(&[0x41]), Some(NAL_SLICE));
        assert_eq!(nal_type(&[0x06]), Some(NAL_SEI));
        assert_eq!(nal_type(&[0x09]), Some(NAL_AUD));
        assert_eq!(nal_type(&[]), None);
    }

    // ---- emulation prevention ----

    #[test]
    fn emulation_prevention_known_vectors() {
        let cases: &[(&str, &str)] = &[
            ("000000", "00000300"),
            ("000001", "00000301"),
            ("000002", "00000302"),
            ("000003", "00000303"),
            ("000004", "000004"),
            ("0000", "000003"),
            ("00", "00"),
            ("00000000", "000003000003"),
            ("000000000000", "000003000003000003"),
            ("ab0000ff", "ab0000ff"),
            ("", ""),
        ];
        for (rbsp, ebsp) in cases {
            assert_eq!(
                add_emulation_prevention(&hex(rbsp)),
                hex(ebsp),
                "add {rbsp}"
            );
            assert_eq!(
                remove_emulation_prevention(&hex(ebsp)),
                hex(rbsp),
                "remove {ebsp}"
            );
        }
        // A lone 03 after a single zero is data, not emulation prevention.
        assert_eq!(remove_emulation_prevention(&hex("0003")), hex("0003"));
        // The real SPS contains two emulation prevention bytes.
        let sps = hex(X264_1080P_SPS);
        assert_eq!(remove_emulation_prevention(&sps).len(), sps.len() - 2);
    }

    #[test]
    fn emulation_prevention_round_trip_exhaustive_small() {
        // Every sequence of up to 6 bytes over {0, 1, 2, 3, 4, 0x80}.
        let alphabet = [0u8, 1, 2, 3, 4, 0x80];
        let mut buf = Vec::new();
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                buf.clear();
                for _ in 0..len {
                    buf.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let ebsp = add_emulation_prevention(&buf);
                assert_no_start_code_emulation(&ebsp);
                assert_eq!(remove_emulation_prevention(&ebsp), buf);
            }
        }
    }

    fn assert_no_start_code_emulation(ebsp: &[u8]) {
        for w in ebsp.windows(3) {
            assert!(!(w[0] == 0 && w[1] == 0 && w[2] <= 2), "{ebsp:02x?}");
        }
        assert!(!ebsp.ends_with(&[0, 0]), "{ebsp:02x?}");
    }

    // ---- SPS ----

    #[test]
    fn sps_openh264_720p_constrained_baseline() {
        let sps = parse_sps(&hex(OPENH264_720P_SPS)).unwrap();
        assert_eq!(
            sps,
            Sps {
                profile_idc: 66,
                constraint_flags: 0xc0,
                level_idc: 31,
                width: 1280,
                height: 720,
                sps_id: 0,
                chroma_format_idc: 1,
                bit_depth_luma: 8,
                bit_depth_chroma: 8,
            }
        );
        assert_eq!(sps.codec_string(), "avc1.42c01f");
    }

    #[test]
    fn sps_x264_1080p_high_with_cropping() {
        let sps = parse_sps(&hex(X264_1080P_SPS)).unwrap();
        assert_eq!(
            (sps.profile_idc, sps.constraint_flags, sps.level_idc),
            (100, 0, 40)
        );
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!(sps.codec_string(), "avc1.640028");
    }

    #[test]
    fn sps_x264_other_real_streams() {
        let s = parse_sps(&hex(X264_422_10BIT_SPS)).unwrap();
        assert_eq!((s.profile_idc, s.width, s.height), (122, 1280, 720));
        assert_eq!(
            (s.chroma_format_idc, s.bit_depth_luma, s.bit_depth_chroma),
            (2, 10, 10)
        );
        assert_eq!(s.codec_string(), "avc1.7a001f");

        let s = parse_sps(&hex(X264_444_SPS)).unwrap();
        assert_eq!((s.profile_idc, s.width, s.height), (244, 352, 288));
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma), (3, 8));

        let s = parse_sps(&hex(X264_INTERLACED_SPS)).unwrap();
        assert_eq!((s.profile_idc, s.width, s.height), (100, 720, 576));

        let s = parse_sps(&hex(X264_ODD_SPS)).unwrap();
        assert_eq!((s.profile_idc, s.width, s.height), (66, 642, 362));
        assert_eq!(s.codec_string(), "avc1.42c01e");
    }

    #[test]
    fn sps_synthetic_matches_builder() {
        let base = SpsSpec::default();
        let s = parse_sps(&build_sps(&base)).unwrap();
        assert_eq!((s.width, s.height, s.sps_id), (1920, 1088, 0));

        // Main profile (no chroma info), 1080p cropped, sps_id 31.
        let spec = SpsSpec {
            profile: 77,
            sps_id: 31,
            crop: Some([0, 0, 0, 4]),
            ..base.clone()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!(
            (s.profile_idc, s.width, s.height, s.sps_id),
            (77, 1920, 1080, 31)
        );

        // Field coding: height = 2 * map units * 16, crop unit y = 4 for 4:2:0.
        let spec = SpsSpec {
            frame_mbs_only: false,
            height_map_units: 18,
            crop: Some([1, 2, 1, 1]),
            ..base.clone()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height), (1920 - 2 * 3, 576 - 4 * 2));

        // 4:2:2: crop unit x 2, y 1 (frame) / 2 (field).
        let spec = SpsSpec {
            profile: 122,
            chroma: 2,
            crop: Some([3, 0, 5, 0]),
            ..base.clone()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!(
            (s.width, s.height, s.chroma_format_idc),
            (1920 - 6, 1088 - 5, 2)
        );
        let spec = SpsSpec {
            frame_mbs_only: false,
            height_map_units: 34,
            ..spec
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height), (1920 - 6, 1088 - 10));

        // 4:4:4: crop units 1 x 1; with separate_colour_plane ChromaArrayType is 0 (also 1x1).
        for separate in [false, true] {
            let spec = SpsSpec {
                profile: 244,
                chroma: 3,
                separate_planes: separate,
                depth_luma_m8: 6,
                depth_chroma_m8: 4,
                crop: Some([1, 1, 1, 2]),
                ..base.clone()
            };
            let s = parse_sps(&build_sps(&spec)).unwrap();
            assert_eq!((s.width, s.height), (1918, 1085));
            assert_eq!((s.bit_depth_luma, s.bit_depth_chroma), (14, 12));
        }

        // Monochrome (ChromaArrayType 0): crop unit x 1, y 2 - frame_mbs_only.
        let spec = SpsSpec {
            chroma: 0,
            crop: Some([1, 0, 0, 3]),
            ..base.clone()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height, s.chroma_format_idc), (1919, 1085, 0));

        // Every high-profile idc goes through the chroma branch.
        for profile in [
            100u8, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135,
        ] {
            let spec = SpsSpec {
                profile,
                chroma: 2,
                ..base.clone()
            };
            let s = parse_sps(&build_sps(&spec)).unwrap();
            assert_eq!(
                (s.profile_idc, s.width, s.chroma_format_idc),
                (profile, 1920, 2)
            );
        }
    }

    #[test]
    fn sps_scaling_lists() {
        // 8 lists for 4:2:0: some absent, one "use default" (first delta makes nextScale 0),
        // one full 16-entry list with varied deltas, one full 64-entry list, and one that
        // stops early when nextScale hits 0 after a few entries.
        let full16: Vec<i64> = (0..16).map(|i| if i % 2 == 0 { 3 } else { -2 }).collect();
        let full64: Vec<i64> = (0..64).map(|i| (i % 5) - 2).collect();
        // From lastScale 8: +10 → 18, -18 → 0 (stop: remaining entries repeat lastScale).
        let early_stop = vec![10, -18];
        let use_default = vec![-8];
        let lists = vec![
            Some(full16.clone()),
            None,
            Some(use_default.clone()),
            Some(early_stop.clone()),
            None,
            Some(vec![
                127, -128, 127, -128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]),
            Some(full64.clone()),
            Some(use_default.clone()),
        ];
        let spec = SpsSpec {
            scaling: Some(lists),
            crop: Some([0, 0, 0, 4]),
            ..SpsSpec::default()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height), (1920, 1080));

        // 4:4:4 has 12 lists.
        let lists: Vec<Option<Vec<i64>>> = (0..12)
            .map(|i| {
                if i < 6 {
                    Some(full16.clone())
                } else {
                    Some(full64.clone())
                }
            })
            .collect();
        let spec = SpsSpec {
            profile: 244,
            chroma: 3,
            scaling: Some(lists),
            ..SpsSpec::default()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height), (1920, 1088));

        // delta_scale outside -128..=127 is rejected.
        let spec = SpsSpec {
            scaling: Some(vec![Some(vec![128])]),
            ..SpsSpec::default()
        };
        assert_eq!(
            parse_sps(&build_sps(&spec)),
            Err(H264Error::OutOfRange {
                field: "delta_scale",
                value: 128
            })
        );
    }

    #[test]
    fn sps_pic_order_cnt_types() {
        for poc_type in 0..=2 {
            let spec = SpsSpec {
                poc_type,
                ..SpsSpec::default()
            };
            assert_eq!(parse_sps(&build_sps(&spec)).unwrap().width, 1920);
        }
        // Type 1 with the longest cycle and extreme offsets.
        let cycle: Vec<i64> = (0..255)
            .map(|i| match i % 3 {
                0 => i64::from(i32::MAX),
                1 => -i64::from(i32::MAX),
                _ => i,
            })
            .collect();
        let spec = SpsSpec {
            poc_type: 1,
            poc_cycle: cycle,
            crop: Some([0, 0, 0, 4]),
            ..SpsSpec::default()
        };
        let s = parse_sps(&build_sps(&spec)).unwrap();
        assert_eq!((s.width, s.height), (1920, 1080));
        // 256 entries is out of range.
        let spec = SpsSpec {
            poc_type: 1,
            poc_cycle: vec![1; 256],
            ..SpsSpec::default()
        };
        assert_eq!(
            parse_sps(&build_sps(&spec)),
            Err(H264Error::OutOfRange {
                field: "num_ref_frames_in_pic_order_cnt_cycle",
                value: 256
            })
        );
    }

    #[test]
    fn sps_errors() {
        assert_eq!(parse_sps(&[]), Err(H264Error::Empty));
        assert_eq!(parse_sps(&[0xe7, 0x42]), Err(H264Error::ForbiddenBit));
        assert_eq!(
            parse_sps(&hex(OPENH264_720P_PPS)),
            Err(H264Error::WrongNalType {
                expected: 7,
                found: 8
            })
        );
        assert_eq!(parse_sps(&[0x67]), Err(H264Error::Truncated));
        // 32 leading zero bits in seq_parameter_set_id.
        assert_eq!(
            parse_sps(&hex("6742c01f 00000003 0000 80")),
            Err(H264Error::ExpGolombOverflow)
        );
        let out_of_range = |spec: SpsSpec, field: &'static str, value: i64| {
            assert_eq!(
                parse_sps(&build_sps(&spec)),
                Err(H264Error::OutOfRange { field, value })
            );
        };
        let base = SpsSpec::default();
        out_of_range(
            SpsSpec {
                sps_id: 32,
                ..base.clone()
            },
            "seq_parameter_set_id",
            32,
        );
        out_of_range(
            SpsSpec {
                chroma: 4,
                ..base.clone()
            },
            "chroma_format_idc",
            4,
        );
        out_of_range(
            SpsSpec {
                depth_luma_m8: 7,
                ..base.clone()
            },
            "bit_depth_luma_minus8",
            7,
        );
        out_of_range(
            SpsSpec {
                poc_type: 3,
                ..base.clone()
            },
            "pic_order_cnt_type",
            3,
        );
        out_of_range(
            SpsSpec {
                width_mbs: 1056,
                ..base.clone()
            },
            "pic_width_in_mbs_minus1",
            1055,
        );
        out_of_range(
            SpsSpec {
                height_map_units: 1056,
                width_mbs: 10,
                ..base.clone()
            },
            "pic_height_in_map_units_minus1",
            1055,
        );
        // 1000 x 1000 MBs exceeds the level 6.2 frame size.
        out_of_range(
            SpsSpec {
                width_mbs: 1000,
                height_map_units: 1000,
                ..base.clone()
            },
            "pic_height_in_map_units_minus1",
            999,
        );
        // Cropping everything away, or more.
        for crop in [
            [480, 480, 0, 0],
            [0, 0, 544, 0],
            [0, 0, 0, u32::MAX as u64 - 1],
        ] {
            let spec = SpsSpec {
                crop: Some(crop),
                ..base.clone()
            };
            assert_eq!(
                parse_sps(&build_sps(&spec)),
                Err(H264Error::InvalidCropping)
            );
        }
        // Largest legal picture is accepted.
        let spec = SpsSpec {
            width_mbs: 1055,
            height_map_units: 132,
            ..base.clone()
        };
        assert_eq!(parse_sps(&build_sps(&spec)).unwrap().width, 16880);
    }

    #[test]
    fn sps_every_truncation_is_an_error_not_a_panic() {
        let sps = hex(X264_1080P_SPS);
        let rbsp_bits_needed = 11; // bytes up to and including the VUI flag (byte e5)
        for len in 0..sps.len() {
            let r = parse_sps(&sps[..len]);
            if len <= rbsp_bits_needed {
                assert!(r.is_err(), "len {len}: {r:?}");
            }
        }
        assert!(parse_sps(&sps[..12]).is_ok());
    }

    #[test]
    fn error_display() {
        let e = H264Error::OutOfRange {
            field: "chroma_format_idc",
            value: 9,
        };
        assert_eq!(
            e.to_string(),
            "H.264 syntax element chroma_format_idc out of range: 9"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(H264Error::Truncated);
        assert_eq!(boxed.to_string(), "H.264 data truncated");
        assert!(!H264Error::InvalidCropping.to_string().is_empty());
        assert!(H264Error::WrongNalType {
            expected: 7,
            found: 1
        }
        .to_string()
        .contains("found 1"));
    }

    // ---- AVCC, parameter sets ----

    #[test]
    fn avcc_drops_aud_sps_pps_keeps_sei_and_slices() {
        let sei = timestamp_sei_nal(1_700_000_000_123_456);
        let sps = hex(X264_1080P_SPS);
        let pps = hex(X264_1080P_PPS);
        let idr = hex("65 888400 000003 01ff");
        let slice2 = hex("65 0102");
        let mut au = annexb(&[&[0x09, 0x10], &sps, &pps], true);
        au.extend_from_slice(&sei);
        au.extend_from_slice(&annexb(&[&idr, &slice2], false));

        let mut out = vec![0xAA]; // appends, does not clear
        annexb_to_avcc(&au, &mut out);
        assert_eq!(out.len(), 1 + avcc_len(&au));
        let mut expected = vec![0xAA];
        for nal in [&sei[4..], &idr[..], &slice2[..]] {
            expected.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            expected.extend_from_slice(nal);
        }
        assert_eq!(out, expected);

        assert_eq!(avcc_len(&[]), 0);
        assert_eq!(avcc_len(&annexb(&[&[0x09, 0xf0]], true)), 0);
        // A 3-byte start code grows by one byte in AVCC.
        assert_eq!(avcc_len(&annexb(&[&[0x41, 1, 2]], false)), 7);
    }

    #[test]
    fn parameter_sets_first_of_each() {
        let sps = hex(OPENH264_720P_SPS);
        let pps = hex(OPENH264_720P_PPS);
        let au = annexb(
            &[
                &[0x09, 0x10],
                &pps,
                &sps,
                &hex(X264_1080P_SPS),
                &hex(X264_1080P_PPS),
                &[0x65, 1],
            ],
            true,
        );
        assert_eq!(parameter_sets(&au), (Some(&sps[..]), Some(&pps[..])));
        assert_eq!(parameter_sets(&annexb(&[&[0x65, 1]], true)), (None, None));
        assert_eq!(
            parameter_sets(&annexb(&[&sps], false)),
            (Some(&sps[..]), None)
        );
    }

    // ---- SEI ----

    #[test]
    fn timestamp_sei_layout() {
        let ts = 0x0102_0304_0506_0708u64;
        let nal = timestamp_sei_nal(ts);
        let mut want = vec![0, 0, 0, 1, 0x06, 5, 24];
        want.extend_from_slice(&PICAMD_SEI_UUID);
        want.extend_from_slice(&ts.to_be_bytes());
        want.push(0x80);
        assert_eq!(nal, want);
        assert_eq!(find_timestamp_sei(&nal), Some(ts));
        let nals: Vec<&[u8]> = nal_units(&nal).collect();
        assert_eq!(nals, vec![&nal[4..]]);
    }

    #[test]
    fn timestamp_sei_round_trip_with_emulation_prevention() {
        for ts in [
            0u64,
            1,
            0x0000_0300_0000_0100,
            0x0000_0000_0000_0003,
            0xff00_0001_0000_0200,
            0x0000_0000_0000_0000,
            u64::MAX,
            1_700_000_000_000_000,
        ] {
            let nal = timestamp_sei_nal(ts);
            assert_no_start_code_emulation(&nal[5..]);
            assert_eq!(find_timestamp_sei(&nal), Some(ts), "{ts:#x}");
            // Also inside a full access unit, after other NALs.
            let mut au = annexb(&[&[0x09, 0x10], &hex(X264_1080P_SPS)], true);
            au.extend_from_slice(&nal);
            au.extend_from_slice(&annexb(&[&[0x65, 0x88, 0x80]], false));
            assert_eq!(find_timestamp_sei(&au), Some(ts), "{ts:#x}");
        }
        // Timestamps with zero bytes really do get emulation prevention.
        let nal = timestamp_sei_nal(0x0000_0300_0000_0100);
        assert!(nal.len() > 4 + 1 + 27);
    }

    #[test]
    fn timestamp_sei_among_other_messages() {
        // One SEI NAL: a 300-byte payload of another type (0xFF continuation in
        // payloadSize), a foreign user_data_unregistered, a payload type ≥ 255, then ours.
        let ts = 0x0000_0001_0000_0003u64;
        let mut rbsp = vec![1, 0xFF, 45];
        rbsp.extend(std::iter::repeat_n(0u8, 300));
        rbsp.extend_from_slice(&[5, 24]);
        rbsp.extend_from_slice(&[0x11; 16]);
        rbsp.extend_from_slice(&7u64.to_be_bytes());
        rbsp.extend_from_slice(&[0xFF, 0x05, 3, 9, 9, 9]); // payloadType 260
        rbsp.extend_from_slice(&[5, 24]);
        rbsp.extend_from_slice(&PICAMD_SEI_UUID);
        rbsp.extend_from_slice(&ts.to_be_bytes());
        rbsp.push(0x80);
        let mut nal = vec![0x06];
        nal.extend_from_slice(&add_emulation_prevention(&rbsp));
        let au = annexb(&[&[0x09, 0x10], &nal, &[0x65, 0x88]], true);
        assert_eq!(find_timestamp_sei(&au), Some(ts));

        // Ours in a second SEI NAL after a foreign one.
        let foreign = [
            0x06, 5, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x80,
        ];
        let mut au = annexb(&[&foreign], true);
        au.extend_from_slice(&timestamp_sei_nal(42));
        assert_eq!(find_timestamp_sei(&au), Some(42));
    }

    #[test]
    fn timestamp_sei_absent_or_malformed() {
        assert_eq!(find_timestamp_sei(&[]), None);
        assert_eq!(find_timestamp_sei(&annexb(&[&[0x65, 0x88]], true)), None);
        // Payload size running past the end.
        let mut bad = vec![0x06, 5, 200];
        bad.extend_from_slice(&PICAMD_SEI_UUID);
        assert_eq!(find_timestamp_sei(&annexb(&[&bad], true)), None);
        // Truncated after the UUID.
        let nal = timestamp_sei_nal(99);
        for cut in 5..nal.len() - 1 {
            assert_eq!(find_timestamp_sei(&nal[..cut]), None, "cut {cut}");
        }
        // Our UUID in a non-SEI NAL is not a timestamp.
        let mut slice = nal.clone();
        slice[4] = 0x01;
        assert_eq!(find_timestamp_sei(&slice), None);
        // Endless 0xFF continuation.
        let ff = [0x06u8; 1]
            .iter()
            .copied()
            .chain([0xFF; 100])
            .collect::<Vec<_>>();
        assert_eq!(find_timestamp_sei(&annexb(&[&ff], true)), None);
    }

    // ---- property / fuzz ----

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn byte(&mut self) -> u8 {
            // Biased towards the bytes that matter in Annex B.
            match self.below(8) {
                0 | 1 => 0,
                2 => [1, 3, 0xFF, 0x80][self.below(4)],
                _ => self.next() as u8,
            }
        }
    }

    fn seeds() -> Vec<Vec<u8>> {
        let mut seeds: Vec<Vec<u8>> = [
            OPENH264_720P_SPS,
            X264_1080P_SPS,
            X264_422_10BIT_SPS,
            X264_444_SPS,
            X264_INTERLACED_SPS,
            X264_ODD_SPS,
        ]
        .iter()
        .map(|s| hex(s))
        .collect();
        seeds.push(build_sps(&SpsSpec {
            poc_type: 1,
            poc_cycle: vec![5, -5, 100, -100],
            scaling: Some(vec![
                Some(vec![3; 16]),
                None,
                Some(vec![-8]),
                Some(vec![1; 16]),
            ]),
            ..SpsSpec::default()
        }));
        seeds.push(timestamp_sei_nal(0x0000_0300_0001_0000));
        let mut stream = annexb(
            &[&[0x09, 0x10], &hex(X264_1080P_SPS), &hex(X264_1080P_PPS)],
            true,
        );
        stream.extend_from_slice(&timestamp_sei_nal(1_700_000_000_000_000));
        stream.extend_from_slice(&annexb(&[&hex("65888400000301ff0000030280")], false));
        stream.extend_from_slice(&annexb(&[&hex("419a0203")], true));
        seeds.push(stream);
        seeds
    }

    fn mutate(rng: &mut XorShift, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = match rng.below(10) {
            0 => (0..rng.below(300)).map(|_| rng.byte()).collect(),
            1 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            _ => seeds[rng.below(seeds.len())].clone(),
        };
        for _ in 0..1 + rng.below(4) {
            let len = data.len();
            match rng.below(8) {
                0 if len > 0 => data[rng.below(len)] ^= 1 << rng.below(8),
                1 if len > 0 => data[rng.below(len)] = rng.byte(),
                2 => data.truncate(rng.below(len + 1)),
                3 => {
                    let at = rng.below(len + 1);
                    let n = rng.below(6);
                    let ins: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                    data.splice(at..at, ins);
                }
                4 => {
                    let at = rng.below(len + 1);
                    let sc: &[u8] = if rng.below(2) == 0 {
                        &[0, 0, 1]
                    } else {
                        &[0, 0, 0, 1]
                    };
                    data.splice(at..at, sc.iter().copied());
                }
                5 if len > 0 => {
                    let a = rng.below(len);
                    let b = a + rng.below(len - a);
                    data.drain(a..b);
                }
                6 => {
                    let other = &seeds[rng.below(seeds.len())];
                    let at = rng.below(len + 1);
                    data.splice(at..at, other.iter().copied());
                }
                _ => {
                    // Prefix an SPS header byte so the SPS parser goes deep.
                    data.insert(0, 0x67);
                }
            }
        }
        data
    }

    fn check_all_parsers(data: &[u8]) {
        // nal_units: non-empty, in-bounds, ordered, disjoint subslices with no start code
        // inside and no trailing zero; same result as the naive splitter.
        let base = data.as_ptr() as usize;
        let mut last_end = 0usize;
        let nals: Vec<&[u8]> = nal_units(data).collect();
        for nal in &nals {
            let start = nal.as_ptr() as usize - base;
            let end = start + nal.len();
            assert!(!nal.is_empty() && end <= data.len() && start >= last_end + 3);
            assert!(&data[start..end] == *nal);
            assert_ne!(nal.last(), Some(&0));
            assert!(!nal.windows(3).any(|w| w == [0, 0, 1]));
            assert!(nal_type(nal).unwrap() < 32);
            last_end = end;
            check_sps(nal);
        }
        assert_eq!(nals, naive_nal_units(data));
        check_sps(data);

        // Emulation prevention.
        let ebsp = add_emulation_prevention(data);
        assert_no_start_code_emulation(&ebsp);
        assert_eq!(remove_emulation_prevention(&ebsp), data);
        assert!(remove_emulation_prevention(data).len() <= data.len());

        // AVCC.
        let mut out = Vec::new();
        annexb_to_avcc(data, &mut out);
        assert_eq!(out.len(), avcc_len(data));
        let mut rest = &out[..];
        let mut kept = nals.iter().filter(|n| !matches!(nal_type(n), Some(7..=9)));
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let nal = &rest[4..4 + len];
            assert_eq!(Some(&nal), kept.next());
            assert!(!matches!(nal_type(nal), Some(7..=9)));
            rest = &rest[4 + len..];
        }
        assert!(kept.next().is_none());

        // Parameter sets.
        let (sps, pps) = parameter_sets(data);
        assert!(sps.is_none_or(|s| nal_type(s) == Some(NAL_SPS)));
        assert!(pps.is_none_or(|p| nal_type(p) == Some(NAL_PPS)));

        // SEI.
        let _ = find_timestamp_sei(data);
    }

    fn check_sps(data: &[u8]) {
        if let Ok(sps) = parse_sps(data) {
            assert!(sps.width > 0 && sps.height > 0);
            assert!(sps.width <= 16_880 && sps.height <= 16_880);
            assert!(sps.sps_id <= 31 && sps.chroma_format_idc <= 3);
            assert_eq!(sps.codec_string().len(), 11);
        }
    }

    #[test]
    fn fuzz_parsers_never_panic() {
        let seeds = seeds();
        for s in &seeds {
            check_all_parsers(s);
        }
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut sps_ok = 0;
        let mut sei_found = 0;
        for _ in 0..20_000 {
            let data = mutate(&mut rng, &seeds);
            check_all_parsers(&data);
            sps_ok += usize::from(parse_sps(&data).is_ok());
            sei_found += usize::from(find_timestamp_sei(&data).is_some());
        }
        // The mutations must reach deep into the parsers, not just bounce off.
        assert!(sps_ok > 200, "only {sps_ok} SPS parsed");
        assert!(sei_found > 200, "only {sei_found} SEI found");
    }

    #[test]
    fn fuzz_sei_round_trip_random_timestamps() {
        let mut rng = XorShift(42);
        for _ in 0..2_000 {
            // Random timestamps with many zero bytes.
            let mut ts = rng.next();
            for i in 0..8 {
                if rng.below(2) == 0 {
                    ts &= !(0xFFu64 << (8 * i));
                }
            }
            let nal = timestamp_sei_nal(ts);
            assert_no_start_code_emulation(&nal[5..]);
            let mut au = annexb(&[&[0x09, 0x10]], rng.below(2) == 0);
            au.extend_from_slice(&nal);
            au.extend_from_slice(&annexb(&[&[0x65, 0x88, 0x01]], rng.below(2) == 0));
            assert_eq!(find_timestamp_sei(&au), Some(ts));
        }
    }
}
