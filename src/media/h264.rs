//! H.264 (AVC) bitstream helpers: Annex B splitting, emulation prevention, SPS parsing,
//! Annex B → AVCC (length-prefixed) conversion and picamd's capture-timestamp SEI.
//!
//! Sans-IO and panic-free on untrusted input: every parser returns an error (or `None`)
//! on malformed data, indexes only through checked accessors and never allocates more
//! than a small multiple of its input size.

use std::fmt;

/// Coded slice of a non-IDR picture.
#[cfg(test)]
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
#[path = "h264_tests.rs"]
mod tests;
