//! Fragmented MP4 (ISO/IEC 14496-12 BMFF) writer for one H.264 video track.
//!
//! [`init_segment`] writes `ftyp` + `moov` once per session; [`fragment`] appends one
//! `moof` + `mdat` per part (or per frame). Track 1, timescale [`super::TIMESCALE`].
//! Samples are given as Annex B access units and stored as AVCC (4-byte lengths), with
//! AUD, SPS and PPS dropped since the parameter sets live in `avcC`.
//!
//! [`fragment`] is on the hot path: it writes straight into the caller's buffer, patches
//! box sizes in place and reserves capacity once.
//!
//! [`parse_box_tree`] is a small box walker used by the tests, integration tests and
//! benches to check what we write.

use super::h264::{annexb_to_avcc, avcc_len, parse_sps, H264Error};
use super::TIMESCALE;

/// Track ID of the single video track.
const TRACK_ID: u32 = 1;
/// `trun` sample flags of a sync sample: sample_depends_on = 2 (does not depend on
/// others), sample_is_non_sync_sample = 0.
pub const SAMPLE_FLAGS_SYNC: u32 = 0x0200_0000;
/// `trun` sample flags of a non-sync sample: sample_depends_on = 1,
/// sample_is_non_sync_sample = 1.
pub const SAMPLE_FLAGS_NON_SYNC: u32 = 0x0101_0000;
/// `tfhd` flag default-base-is-moof.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data-offset, sample-duration, sample-size, sample-flags and
/// sample-composition-time-offset present.
const TRUN_FLAGS: u32 = 0x0001 | 0x0100 | 0x0200 | 0x0400 | 0x0800;
/// Bytes per `trun` sample entry with [`TRUN_FLAGS`].
const TRUN_ENTRY_LEN: usize = 16;
/// Size of a `moof` with no samples: moof header 8, mfhd 16, traf header 8, tfhd 16,
/// tfdt (v1) 20, trun header with sample_count and data_offset 20.
const MOOF_BASE_LEN: usize = 8 + 16 + 8 + 16 + 20 + 20;

/// What the init segment needs to know about the video track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackConfig {
    /// Display width in pixels.
    pub width: u16,
    /// Display height in pixels.
    pub height: u16,
    /// SPS NAL unit (header byte included, no start code).
    pub sps: Vec<u8>,
    /// PPS NAL unit (header byte included, no start code).
    pub pps: Vec<u8>,
}

impl TrackConfig {
    /// Builds a config from SPS and PPS NAL units, taking width and height from the SPS.
    pub fn from_parameter_sets(sps: &[u8], pps: &[u8]) -> Result<TrackConfig, H264Error> {
        let parsed = parse_sps(sps)?;
        // parse_sps caps dimensions at 16,880 pixels, so these never saturate.
        Ok(TrackConfig {
            width: u16::try_from(parsed.width).unwrap_or(u16::MAX),
            height: u16::try_from(parsed.height).unwrap_or(u16::MAX),
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        })
    }
}

/// One sample (access unit) of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// The access unit as Annex B (start codes included).
    pub annexb: &'a [u8],
    /// Duration in [`super::TIMESCALE`] ticks.
    pub duration: u32,
    /// True for sync samples (IDR).
    pub keyframe: bool,
    /// PTS − DTS in ticks (may be negative: `trun` version 1).
    pub composition_offset: i32,
}

// ---------------------------------------------------------------------------------------
// Box writing primitives: all write into one Vec and patch sizes afterwards.
// ---------------------------------------------------------------------------------------

#[inline]
fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[inline]
fn patch_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = out.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

/// Starts a box: writes a size placeholder and the type; returns the box's offset.
#[inline]
fn begin(out: &mut Vec<u8>, kind: &[u8; 4]) -> usize {
    let at = out.len();
    put_u32(out, 0);
    out.extend_from_slice(kind);
    at
}

/// Starts a full box (version + 24-bit flags).
#[inline]
fn begin_full(out: &mut Vec<u8>, kind: &[u8; 4], version: u8, flags: u32) -> usize {
    let at = begin(out, kind);
    put_u32(out, (u32::from(version) << 24) | (flags & 0x00FF_FFFF));
    at
}

/// Ends the box started at `at` by patching its size.
///
/// # Panics
/// If the box is larger than 4 GiB (only `mdat` can be, and it is written separately).
#[inline]
fn end(out: &mut [u8], at: usize) {
    let size = u32::try_from(out.len() - at).expect("MP4 box larger than 4 GiB");
    patch_u32(out, at, size);
}

/// Writes a complete box with the given payload.
fn leaf(out: &mut Vec<u8>, kind: &[u8; 4], payload: &[u8]) {
    let at = begin(out, kind);
    out.extend_from_slice(payload);
    end(out, at);
}

/// The unity transformation matrix of `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

// ---------------------------------------------------------------------------------------
// Init segment
// ---------------------------------------------------------------------------------------

/// `ftyp` brands: major `iso6` (tfdt v1, trun v1 and default-base-is-moof are all
/// within iso6), compatible with `iso6`, `iso5`, `isom`, `avc1` and `mp41`. Accepted by
/// Chrome/Firefox/Safari MSE, hls.js and ffmpeg.
const MAJOR_BRAND: &[u8; 4] = b"iso6";
const COMPATIBLE_BRANDS: [&[u8; 4]; 5] = [b"iso6", b"iso5", b"isom", b"avc1", b"mp41"];

/// Writes the initialisation segment (`ftyp` + `moov`) for the video track.
///
/// Parameter sets longer than 65,535 bytes (which cannot be valid) are truncated to fit
/// `avcC`; validate them with [`parse_sps`] first.
pub fn init_segment(cfg: &TrackConfig) -> Vec<u8> {
    let mut out = Vec::with_capacity(700 + cfg.sps.len() + cfg.pps.len());

    let ftyp = begin(&mut out, b"ftyp");
    out.extend_from_slice(MAJOR_BRAND);
    put_u32(&mut out, 0); // minor_version
    for brand in COMPATIBLE_BRANDS {
        out.extend_from_slice(brand);
    }
    end(&mut out, ftyp);

    let moov = begin(&mut out, b"moov");
    write_mvhd(&mut out);
    let trak = begin(&mut out, b"trak");
    write_tkhd(&mut out, cfg);
    let mdia = begin(&mut out, b"mdia");
    write_mdhd(&mut out);
    write_hdlr(&mut out);
    let minf = begin(&mut out, b"minf");
    let vmhd = begin_full(&mut out, b"vmhd", 0, 1);
    out.extend_from_slice(&[0; 8]); // graphicsmode, opcolor
    end(&mut out, vmhd);
    let dinf = begin(&mut out, b"dinf");
    let dref = begin_full(&mut out, b"dref", 0, 0);
    put_u32(&mut out, 1); // entry_count
    let url = begin_full(&mut out, b"url ", 0, 1); // self-contained
    end(&mut out, url);
    end(&mut out, dref);
    end(&mut out, dinf);
    let stbl = begin(&mut out, b"stbl");
    write_stsd(&mut out, cfg);
    for kind in [b"stts", b"stsc", b"stco"] {
        leaf(&mut out, kind, &[0; 8]); // version/flags, entry_count 0
    }
    leaf(&mut out, b"stsz", &[0; 12]); // version/flags, sample_size 0, sample_count 0
    end(&mut out, stbl);
    end(&mut out, minf);
    end(&mut out, mdia);
    end(&mut out, trak);

    let mvex = begin(&mut out, b"mvex");
    let trex = begin_full(&mut out, b"trex", 0, 0);
    put_u32(&mut out, TRACK_ID);
    put_u32(&mut out, 1); // default_sample_description_index
    put_u32(&mut out, 0); // default_sample_duration
    put_u32(&mut out, 0); // default_sample_size
    put_u32(&mut out, 0); // default_sample_flags
    end(&mut out, trex);
    end(&mut out, mvex);
    end(&mut out, moov);
    out
}

fn write_mvhd(out: &mut Vec<u8>) {
    let at = begin_full(out, b"mvhd", 0, 0);
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, TIMESCALE);
    put_u32(out, 0); // duration: unknown (fragmented)
    put_u32(out, 0x0001_0000); // rate 1.0
    put_u16(out, 0x0100); // volume 1.0
    out.extend_from_slice(&[0; 10]); // reserved
    for v in UNITY_MATRIX {
        put_u32(out, v);
    }
    out.extend_from_slice(&[0; 24]); // pre_defined
    put_u32(out, TRACK_ID + 1); // next_track_ID
    end(out, at);
}

fn write_tkhd(out: &mut Vec<u8>, cfg: &TrackConfig) {
    let at = begin_full(out, b"tkhd", 0, 0x3); // track_enabled | track_in_movie
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, TRACK_ID);
    put_u32(out, 0); // reserved
    put_u32(out, 0); // duration
    out.extend_from_slice(&[0; 8]); // reserved
    put_u16(out, 0); // layer
    put_u16(out, 0); // alternate_group
    put_u16(out, 0); // volume (video)
    put_u16(out, 0); // reserved
    for v in UNITY_MATRIX {
        put_u32(out, v);
    }
    put_u32(out, u32::from(cfg.width) << 16); // 16.16 fixed point
    put_u32(out, u32::from(cfg.height) << 16);
    end(out, at);
}

fn write_mdhd(out: &mut Vec<u8>) {
    let at = begin_full(out, b"mdhd", 0, 0);
    put_u32(out, 0); // creation_time
    put_u32(out, 0); // modification_time
    put_u32(out, TIMESCALE);
    put_u32(out, 0); // duration
                     // ISO-639-2/T "und", 5 bits per letter (minus 0x60), pad bit 0.
    let lang = b"und"
        .iter()
        .fold(0u16, |acc, &c| (acc << 5) | u16::from(c - 0x60));
    put_u16(out, lang);
    put_u16(out, 0); // pre_defined
    end(out, at);
}

fn write_hdlr(out: &mut Vec<u8>) {
    let at = begin_full(out, b"hdlr", 0, 0);
    put_u32(out, 0); // pre_defined
    out.extend_from_slice(b"vide");
    out.extend_from_slice(&[0; 12]); // reserved
    out.extend_from_slice(b"picamd video\0");
    end(out, at);
}

fn write_stsd(out: &mut Vec<u8>, cfg: &TrackConfig) {
    let stsd = begin_full(out, b"stsd", 0, 0);
    put_u32(out, 1); // entry_count

    let avc1 = begin(out, b"avc1");
    out.extend_from_slice(&[0; 6]); // reserved
    put_u16(out, 1); // data_reference_index
    put_u16(out, 0); // pre_defined
    put_u16(out, 0); // reserved
    out.extend_from_slice(&[0; 12]); // pre_defined
    put_u16(out, cfg.width);
    put_u16(out, cfg.height);
    put_u32(out, 0x0048_0000); // horizresolution 72 dpi
    put_u32(out, 0x0048_0000); // vertresolution 72 dpi
    put_u32(out, 0); // reserved
    put_u16(out, 1); // frame_count
    let mut compressor = [0u8; 32];
    let name = b"picamd";
    compressor[0] = name.len() as u8;
    compressor[1..=name.len()].copy_from_slice(name);
    out.extend_from_slice(&compressor);
    put_u16(out, 0x0018); // depth
    put_u16(out, 0xFFFF); // pre_defined = -1

    write_avcc(out, &cfg.sps, &cfg.pps);

    let pasp = begin(out, b"pasp");
    put_u32(out, 1); // hSpacing
    put_u32(out, 1); // vSpacing
    end(out, pasp);

    end(out, avc1);
    end(out, stsd);
}

/// `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 5.3.3.1).
fn write_avcc(out: &mut Vec<u8>, sps: &[u8], pps: &[u8]) {
    let at = begin(out, b"avcC");
    let profile = sps.get(1).copied().unwrap_or(0);
    out.push(1); // configurationVersion
    out.push(profile); // AVCProfileIndication
    out.push(sps.get(2).copied().unwrap_or(0)); // profile_compatibility
    out.push(sps.get(3).copied().unwrap_or(0)); // AVCLevelIndication
    out.push(0xFF); // reserved 6 bits + lengthSizeMinusOne = 3
    out.push(0xE1); // reserved 3 bits + numOfSequenceParameterSets = 1
    let sps = sps.get(..usize::from(u16::MAX)).unwrap_or(sps);
    put_u16(out, sps.len() as u16);
    out.extend_from_slice(sps);
    out.push(1); // numOfPictureParameterSets
    let pps = pps.get(..usize::from(u16::MAX)).unwrap_or(pps);
    put_u16(out, pps.len() as u16);
    out.extend_from_slice(pps);
    if matches!(profile, 100 | 110 | 122 | 244) {
        let (chroma, luma, chroma_depth) = parse_sps(sps)
            .map(|s| (s.chroma_format_idc, s.bit_depth_luma, s.bit_depth_chroma))
            .unwrap_or((1, 8, 8));
        out.push(0xFC | (chroma & 0x3)); // reserved 6 bits + chroma_format
        out.push(0xF8 | (luma.wrapping_sub(8) & 0x7)); // reserved 5 bits + bit_depth_luma_minus8
        out.push(0xF8 | (chroma_depth.wrapping_sub(8) & 0x7));
        out.push(0); // numOfSequenceParameterSetExt
    }
    end(out, at);
}

// ---------------------------------------------------------------------------------------
// Fragments
// ---------------------------------------------------------------------------------------

/// Size of the `moof` box [`fragment`] writes for `sample_count` samples.
pub fn moof_len(sample_count: usize) -> usize {
    MOOF_BASE_LEN + TRUN_ENTRY_LEN * sample_count
}

/// Writes an `mdat` header for a payload of `payload_len` bytes: 8 bytes, or 16 with a
/// 64-bit largesize when the box would not fit in 32 bits. Returns the header length.
fn write_mdat_header(out: &mut Vec<u8>, payload_len: u64) -> usize {
    match u32::try_from(payload_len + 8) {
        Ok(size) => {
            put_u32(out, size);
            out.extend_from_slice(b"mdat");
            8
        }
        Err(_) => {
            put_u32(out, 1);
            out.extend_from_slice(b"mdat");
            put_u64(out, payload_len + 16);
            16
        }
    }
}

/// Appends one fragment — `moof` + `mdat` — holding `samples` to `out`.
///
/// `sequence_number` goes into `mfhd` (start at 1, +1 per fragment); `base_decode_time`
/// is the DTS of the first sample in [`super::TIMESCALE`] ticks (`tfdt` v1). The
/// `trun` data offset is relative to the `moof` (default-base-is-moof), so fragments can
/// be appended to any buffer and served from any byte position.
///
/// # Panics
/// If the `moof` would exceed 4 GiB (more than 268 million samples).
pub fn fragment(
    sequence_number: u32,
    base_decode_time: u64,
    samples: &[Sample<'_>],
    out: &mut Vec<u8>,
) {
    let moof_size = moof_len(samples.len());
    let sample_count = u32::try_from(samples.len()).expect("too many samples in one fragment");
    // One reservation: AVCC is at most the Annex B size for 4-byte start codes (minus the
    // dropped AUD/SPS/PPS); the exact reserve below is a no-op unless 3-byte start codes
    // made the payload grow.
    let annexb_total = samples
        .iter()
        .fold(0usize, |acc, s| acc.saturating_add(s.annexb.len()));
    out.reserve(moof_size.saturating_add(16).saturating_add(annexb_total));

    let moof = begin(out, b"moof");

    let mfhd = begin_full(out, b"mfhd", 0, 0);
    put_u32(out, sequence_number);
    end(out, mfhd);

    let traf = begin(out, b"traf");
    let tfhd = begin_full(out, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
    put_u32(out, TRACK_ID);
    end(out, tfhd);
    let tfdt = begin_full(out, b"tfdt", 1, 0);
    put_u64(out, base_decode_time);
    end(out, tfdt);

    let trun = begin_full(out, b"trun", 1, TRUN_FLAGS);
    put_u32(out, sample_count);
    let data_offset_at = out.len();
    put_u32(out, 0); // data_offset, patched below once the mdat header size is known
    let mut payload_len = 0u64;
    for s in samples {
        let len = avcc_len(s.annexb);
        payload_len += len as u64;
        put_u32(out, s.duration);
        // A sample can only exceed 4 GiB with a 4 GiB access unit; clamp rather than
        // wrap (the mdat would be unusable either way).
        put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
        put_u32(
            out,
            if s.keyframe {
                SAMPLE_FLAGS_SYNC
            } else {
                SAMPLE_FLAGS_NON_SYNC
            },
        );
        put_u32(out, s.composition_offset as u32); // signed in trun v1
    }
    end(out, trun);
    end(out, traf);
    end(out, moof);
    debug_assert_eq!(out.len() - moof, moof_size);

    let payload_usize = usize::try_from(payload_len).unwrap_or(usize::MAX);
    out.reserve(payload_usize.saturating_add(16));
    let mdat_header = write_mdat_header(out, payload_len);
    // moof_size < 4 GiB is checked by end() above.
    patch_u32(out, data_offset_at, (moof_size + mdat_header) as u32);
    let payload_start = out.len();
    for s in samples {
        annexb_to_avcc(s.annexb, out);
    }
    debug_assert_eq!((out.len() - payload_start) as u64, payload_len);
}

// ---------------------------------------------------------------------------------------
// Box walker
// ---------------------------------------------------------------------------------------

/// One box found by [`parse_box_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxNode {
    /// Four-character box type.
    pub kind: [u8; 4],
    /// Offset of the box's first byte (its size field) in the parsed buffer.
    pub offset: usize,
    /// Total size of the box, header included.
    pub size: usize,
    /// Child boxes, for the container types the walker knows.
    pub children: Vec<BoxNode>,
}

impl BoxNode {
    /// The box type as a string (lossy).
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }

    /// Offset just past the header (8 bytes, or 16 with a largesize), given the buffer
    /// the node was parsed from.
    pub fn payload_offset(&self, data: &[u8]) -> usize {
        let large = data.get(self.offset..self.offset + 4) == Some(&[0, 0, 0, 1][..]);
        self.offset + if large { 16 } else { 8 }
    }

    /// The first descendant at `path`, e.g. `"mdia/minf/stbl"` (relative to this box).
    pub fn find(&self, path: &str) -> Option<&BoxNode> {
        find_box(&self.children, path)
    }
}

/// The first box at `path` (types separated by `/`, e.g. `"moov/trak/tkhd"`) in `nodes`.
pub fn find_box<'a>(nodes: &'a [BoxNode], path: &str) -> Option<&'a BoxNode> {
    let (first, rest) = match path.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    let node = nodes.iter().find(|n| n.kind[..] == *first.as_bytes())?;
    match rest {
        Some(rest) => find_box(&node.children, rest),
        None => Some(node),
    }
}

/// For container boxes: bytes between the header and the first child.
fn container_skip(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"dinf" | b"stbl" | b"mvex" | b"moof" | b"traf"
        | b"edts" => Some(0),
        b"dref" | b"stsd" => Some(8),  // version/flags + entry_count
        b"avc1" | b"avc3" => Some(78), // VisualSampleEntry fields
        _ => None,
    }
}

/// Parses the box structure of `data` (a whole init segment, fragment or file),
/// descending into the containers picamd writes. Every box must fit exactly in its
/// parent; anything else is an error describing where it went wrong.
pub fn parse_box_tree(data: &[u8]) -> Result<Vec<BoxNode>, String> {
    parse_boxes(data, 0, data.len(), 0)
}

fn parse_boxes(
    data: &[u8],
    start: usize,
    end: usize,
    depth: usize,
) -> Result<Vec<BoxNode>, String> {
    if depth > 16 {
        return Err(format!("boxes nested too deep at offset {start}"));
    }
    let mut nodes = Vec::new();
    let mut pos = start;
    while pos < end {
        let header = data
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= end)
            .ok_or_else(|| format!("truncated box header at offset {pos}"))?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (size, header_len) = match size32 {
            0 => (end - pos, 8),
            1 => {
                let large = data
                    .get(pos + 8..pos + 16)
                    .filter(|_| pos + 16 <= end)
                    .ok_or_else(|| format!("truncated largesize at offset {pos}"))?;
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                let size = usize::try_from(u64::from_be_bytes(b))
                    .map_err(|_| format!("box at offset {pos} too large"))?;
                (size, 16)
            }
            n => (n as usize, 8),
        };
        let name = String::from_utf8_lossy(&kind).into_owned();
        if size < header_len {
            return Err(format!(
                "box '{name}' at offset {pos} has size {size} < header"
            ));
        }
        let box_end = pos.checked_add(size).filter(|&e| e <= end).ok_or_else(|| {
            format!(
                "box '{name}' at offset {pos} (size {size}) overruns its parent ending at {end}"
            )
        })?;
        let children = match container_skip(&kind) {
            Some(skip) => {
                let child_start = pos + header_len + skip;
                if child_start > box_end {
                    return Err(format!("container '{name}' at offset {pos} too small"));
                }
                parse_boxes(data, child_start, box_end, depth + 1)?
            }
            None => Vec::new(),
        };
        nodes.push(BoxNode {
            kind,
            offset: pos,
            size,
            children,
        });
        pos = box_end;
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::super::h264::{nal_type, nal_units, timestamp_sei_nal, NAL_AUD, NAL_PPS, NAL_SPS};
    use super::*;
    use crate::media::test_vectors::*;

    fn u16_at(d: &[u8], at: usize) -> u16 {
        u16::from_be_bytes(d[at..at + 2].try_into().unwrap())
    }
    fn u32_at(d: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
    }
    fn u64_at(d: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(d[at..at + 8].try_into().unwrap())
    }

    /// Renders a tree as `a b(c d(e))` for shape comparisons.
    fn shape(nodes: &[BoxNode]) -> String {
        nodes
            .iter()
            .map(|n| {
                if n.children.is_empty() {
                    n.kind_str()
                } else {
                    format!("{}({})", n.kind_str(), shape(&n.children))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Checks that every container's children exactly fill it and the top level fills
    /// the buffer.
    fn assert_sizes_add_up(data: &[u8], nodes: &[BoxNode]) {
        let total: usize = nodes.iter().map(|n| n.size).sum();
        assert_eq!(total, data.len());
        fn check(data: &[u8], n: &BoxNode) {
            if let Some(skip) = container_skip(&n.kind) {
                let children: usize = n.children.iter().map(|c| c.size).sum();
                let header = n.payload_offset(data) - n.offset;
                assert_eq!(header + skip + children, n.size, "{}", n.kind_str());
                let mut pos = n.offset + header + skip;
                for c in &n.children {
                    assert_eq!(c.offset, pos);
                    pos += c.size;
                    check(data, c);
                }
            }
        }
        let mut pos = 0;
        for n in nodes {
            assert_eq!(n.offset, pos);
            pos += n.size;
            check(data, n);
        }
    }

    fn cfg_1080p() -> TrackConfig {
        TrackConfig::from_parameter_sets(&hex(X264_1080P_SPS), &hex(X264_1080P_PPS)).unwrap()
    }

    // ---- init segment ----

    #[test]
    fn track_config_from_parameter_sets() {
        let cfg = cfg_1080p();
        assert_eq!((cfg.width, cfg.height), (1920, 1080));
        assert_eq!(cfg.sps, hex(X264_1080P_SPS));
        assert_eq!(cfg.pps, hex(X264_1080P_PPS));
        assert!(TrackConfig::from_parameter_sets(&hex(X264_1080P_PPS), &[]).is_err());
    }

    #[test]
    fn init_segment_tree_shape_and_sizes() {
        let init = init_segment(&cfg_1080p());
        let tree = parse_box_tree(&init).unwrap();
        assert_eq!(
            shape(&tree),
            "ftyp moov(mvhd trak(tkhd mdia(mdhd hdlr minf(vmhd dinf(dref(url )) \
             stbl(stsd(avc1(avcC pasp)) stts stsc stco stsz)))) mvex(trex))"
        );
        assert_sizes_add_up(&init, &tree);
    }

    #[test]
    fn init_segment_field_values() {
        let cfg = cfg_1080p();
        let init = init_segment(&cfg);
        let tree = parse_box_tree(&init).unwrap();
        let at = |path: &str| {
            let n = find_box(&tree, path).unwrap_or_else(|| panic!("{path}"));
            (n.payload_offset(&init), n.size)
        };

        let (p, size) = at("ftyp");
        assert_eq!(&init[p..p + 4], b"iso6");
        assert_eq!(u32_at(&init, p + 4), 0);
        let brands: Vec<&[u8]> = init[p + 8..size].chunks(4).collect();
        assert_eq!(
            brands,
            vec![&b"iso6"[..], b"iso5", b"isom", b"avc1", b"mp41"]
        );

        let (p, size) = at("moov/mvhd");
        assert_eq!(size, 108);
        assert_eq!(u32_at(&init, p), 0); // version 0, flags 0
        assert_eq!(u32_at(&init, p + 12), 90_000); // timescale
        assert_eq!(u32_at(&init, p + 16), 0); // duration
        assert_eq!(u32_at(&init, p + 20), 0x0001_0000); // rate
        assert_eq!(u32_at(&init, p + 96), 2); // next_track_ID

        let (p, size) = at("moov/trak/tkhd");
        assert_eq!(size, 92);
        assert_eq!(u32_at(&init, p), 3); // v0, enabled | in_movie
        assert_eq!(u32_at(&init, p + 12), 1); // track_ID
        assert_eq!(u32_at(&init, p + 36), 0); // layer, alternate_group
        assert_eq!(u32_at(&init, p + 40), 0x0001_0000); // matrix a
        assert_eq!(u32_at(&init, p + 76), 1920 << 16);
        assert_eq!(u32_at(&init, p + 80), 1080 << 16);

        let (p, size) = at("moov/trak/mdia/mdhd");
        assert_eq!(size, 32);
        assert_eq!(u32_at(&init, p + 12), 90_000);
        assert_eq!(u32_at(&init, p + 16), 0);
        assert_eq!(u16_at(&init, p + 20), 0x55C4); // "und"

        let (p, size) = at("moov/trak/mdia/hdlr");
        assert_eq!(&init[p + 8..p + 12], b"vide");
        assert_eq!(&init[p + 24..size + p - 8], b"picamd video\0");

        let (p, size) = at("moov/trak/mdia/minf/vmhd");
        assert_eq!((u32_at(&init, p), size), (1, 20));
        let (p, size) = at("moov/trak/mdia/minf/dinf/dref");
        assert_eq!((u32_at(&init, p + 4), size), (1, 28));
        let (p, size) = at("moov/trak/mdia/minf/dinf/dref/url ");
        assert_eq!((u32_at(&init, p), size), (1, 12));

        let (p, _) = at("moov/trak/mdia/minf/stbl/stsd");
        assert_eq!(u32_at(&init, p + 4), 1); // entry_count
        let (p, _) = at("moov/trak/mdia/minf/stbl/stsd/avc1");
        assert_eq!(u16_at(&init, p + 6), 1); // data_reference_index
        assert_eq!((u16_at(&init, p + 24), u16_at(&init, p + 26)), (1920, 1080));
        assert_eq!(u32_at(&init, p + 28), 0x0048_0000);
        assert_eq!(u32_at(&init, p + 32), 0x0048_0000);
        assert_eq!(u16_at(&init, p + 40), 1); // frame_count
        assert_eq!(init[p + 42], 6);
        assert_eq!(&init[p + 43..p + 49], b"picamd");
        assert_eq!(u16_at(&init, p + 74), 0x18);
        assert_eq!(u16_at(&init, p + 76), 0xFFFF);

        let (p, _) = at("moov/trak/mdia/minf/stbl/stsd/avc1/pasp");
        assert_eq!((u32_at(&init, p), u32_at(&init, p + 4)), (1, 1));

        for (path, size) in [("stts", 16), ("stsc", 16), ("stco", 16), ("stsz", 20)] {
            let (p, s) = at(&format!("moov/trak/mdia/minf/stbl/{path}"));
            assert_eq!(s, size);
            assert!(init[p..p + size - 8].iter().all(|&b| b == 0), "{path}");
        }

        let (p, size) = at("moov/mvex/trex");
        assert_eq!(size, 32);
        assert_eq!(u32_at(&init, p + 4), 1); // track_ID
        assert_eq!(u32_at(&init, p + 8), 1); // default_sample_description_index
        assert_eq!(&init[p + 12..p + 24], &[0; 12]);
    }

    /// The avcC payload of an init segment.
    fn avcc_of(init: &[u8]) -> Vec<u8> {
        let tree = parse_box_tree(init).unwrap();
        let n = find_box(&tree, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC").unwrap();
        init[n.offset + 8..n.offset + n.size].to_vec()
    }

    #[test]
    fn avcc_high_profile_has_chroma_extension() {
        let sps = hex(X264_1080P_SPS);
        let pps = hex(X264_1080P_PPS);
        let avcc = avcc_of(&init_segment(&cfg_1080p()));
        let mut want = vec![1, 0x64, 0x00, 0x28, 0xFF, 0xE1];
        want.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        want.extend_from_slice(&sps);
        want.push(1);
        want.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        want.extend_from_slice(&pps);
        want.extend_from_slice(&[0xFD, 0xF8, 0xF8, 0x00]);
        assert_eq!(avcc, want);
        // Profile/compat/level are SPS bytes 1..4.
        assert_eq!(&avcc[1..4], &sps[1..4]);
    }

    #[test]
    fn avcc_baseline_has_no_extension_and_422_10bit_does() {
        let sps = hex(OPENH264_720P_SPS);
        let pps = hex(OPENH264_720P_PPS);
        let cfg = TrackConfig::from_parameter_sets(&sps, &pps).unwrap();
        assert_eq!((cfg.width, cfg.height), (1280, 720));
        let avcc = avcc_of(&init_segment(&cfg));
        assert_eq!(&avcc[..6], &[1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1]);
        assert_eq!(avcc.len(), 6 + 2 + sps.len() + 1 + 2 + pps.len());

        let sps = hex(X264_422_10BIT_SPS);
        let cfg = TrackConfig::from_parameter_sets(&sps, &pps).unwrap();
        let avcc = avcc_of(&init_segment(&cfg));
        assert_eq!(&avcc[1..4], &[122, 0x00, 0x1F]);
        // chroma_format 2, bit depths 10.
        assert_eq!(&avcc[avcc.len() - 4..], &[0xFE, 0xFA, 0xFA, 0x00]);

        // An unparsable high-profile SPS falls back to 4:2:0 8-bit.
        let cfg = TrackConfig {
            width: 16,
            height: 16,
            sps: vec![0x67, 100, 0, 40],
            pps: pps.clone(),
        };
        let avcc = avcc_of(&init_segment(&cfg));
        assert_eq!(&avcc[avcc.len() - 4..], &[0xFD, 0xF8, 0xF8, 0x00]);
        // Degenerate SPS: still a well-formed tree, no panic.
        let cfg = TrackConfig {
            width: 0,
            height: 0,
            sps: vec![],
            pps: vec![],
        };
        let init = init_segment(&cfg);
        assert_sizes_add_up(&init, &parse_box_tree(&init).unwrap());
    }

    // ---- fragments ----

    /// A GOP-like set of access units: an IDR with AUD/SPS/PPS/SEI, P frames with 3-byte
    /// start codes and multi-slice pictures, a B frame with a negative composition offset.
    fn test_access_units() -> Vec<Vec<u8>> {
        let sps = hex(X264_1080P_SPS);
        let pps = hex(X264_1080P_PPS);
        let mut idr = annexb(&[&[0x09, 0x10], &sps, &pps], true);
        idr.extend_from_slice(&timestamp_sei_nal(1_700_000_000_000_003));
        let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8 + 1).collect();
        let mut slice = vec![0x65];
        slice.extend_from_slice(&big);
        idr.extend_from_slice(&annexb(&[&slice], true));
        let p1 = annexb(
            &[&[0x09, 0x30], &[0x41, 0x9a, 0x00, 0x00, 0x03, 0x01, 0x77]],
            false,
        );
        let p2 = annexb(&[&[0x41, 0x9a, 0x11], &[0x41, 0x9b, 0x22, 0x33]], false);
        let b = annexb(&[&[0x09, 0x50], &[0x01, 0x9e, 0x44]], true);
        vec![idr, p1, p2, b]
    }

    fn samples(aus: &[Vec<u8>]) -> Vec<Sample<'_>> {
        let offsets = [3000, 6000, 9000, -3000];
        aus.iter()
            .enumerate()
            .map(|(i, au)| Sample {
                annexb: au,
                duration: 3000 + i as u32,
                keyframe: i == 0,
                composition_offset: offsets[i % 4],
            })
            .collect()
    }

    /// Parsed trun entries: (duration, size, flags, composition offset).
    fn trun_entries(data: &[u8], traf: &BoxNode) -> (u32, Vec<(u32, u32, u32, i32)>) {
        let trun = traf.find("trun").unwrap();
        let p = trun.offset + 8;
        assert_eq!(u32_at(data, p), 0x0100_0F01); // version 1, flags
        let count = u32_at(data, p + 4) as usize;
        let data_offset = u32_at(data, p + 8);
        assert_eq!(trun.size, 8 + 12 + 16 * count);
        let entries = (0..count)
            .map(|i| {
                let e = p + 12 + 16 * i;
                (
                    u32_at(data, e),
                    u32_at(data, e + 4),
                    u32_at(data, e + 8),
                    u32_at(data, e + 12) as i32,
                )
            })
            .collect();
        (data_offset, entries)
    }

    /// Checks one moof + mdat pair starting at `moof` in `data` against `samples`.
    fn check_fragment(
        data: &[u8],
        moof: &BoxNode,
        mdat: &BoxNode,
        seq: u32,
        bdt: u64,
        samples: &[Sample<'_>],
    ) {
        assert_eq!(&moof.kind, b"moof");
        assert_eq!(&mdat.kind, b"mdat");
        assert_eq!(
            shape(std::slice::from_ref(moof)),
            "moof(mfhd traf(tfhd tfdt trun))"
        );
        assert_eq!(moof.size, moof_len(samples.len()));
        assert_eq!(mdat.offset, moof.offset + moof.size);

        let mfhd = moof.find("mfhd").unwrap();
        assert_eq!(u32_at(data, mfhd.offset + 8), 0);
        assert_eq!(u32_at(data, mfhd.offset + 12), seq);

        let traf = moof.find("traf").unwrap();
        let tfhd = traf.find("tfhd").unwrap();
        assert_eq!(tfhd.size, 16);
        assert_eq!(u32_at(data, tfhd.offset + 8), 0x0002_0000);
        assert_eq!(u32_at(data, tfhd.offset + 12), 1);
        let tfdt = traf.find("tfdt").unwrap();
        assert_eq!(tfdt.size, 20);
        assert_eq!(u32_at(data, tfdt.offset + 8), 0x0100_0000);
        assert_eq!(u64_at(data, tfdt.offset + 12), bdt);

        let (data_offset, entries) = trun_entries(data, traf);
        let payload_start = mdat.payload_offset(data);
        assert_eq!(moof.offset + data_offset as usize, payload_start);
        let payload = &data[payload_start..mdat.offset + mdat.size];
        let total: usize = entries.iter().map(|e| e.1 as usize).sum();
        assert_eq!(total, payload.len());

        assert_eq!(entries.len(), samples.len());
        let mut pos = 0usize;
        for (entry, s) in entries.iter().zip(samples) {
            let (duration, size, flags, cto) = *entry;
            assert_eq!(duration, s.duration);
            assert_eq!(cto, s.composition_offset);
            assert_eq!(flags, if s.keyframe { 0x0200_0000 } else { 0x0101_0000 });
            let bytes = &payload[pos..pos + size as usize];
            pos += size as usize;
            // Length-prefixed NALs, exactly those of the Annex B minus AUD/SPS/PPS.
            let want: Vec<&[u8]> = nal_units(s.annexb)
                .filter(|n| !matches!(nal_type(n), Some(NAL_AUD | NAL_SPS | NAL_PPS)))
                .collect();
            let mut got = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let len = u32_at(rest, 0) as usize;
                got.push(&rest[4..4 + len]);
                rest = &rest[4 + len..];
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn fragment_tree_offsets_sizes_flags() {
        let aus = test_access_units();
        let samples = samples(&aus);
        let mut out = Vec::new();
        let bdt = 0x1_2345_6789u64; // needs 64 bits
        fragment(7, bdt, &samples, &mut out);
        let tree = parse_box_tree(&out).unwrap();
        assert_eq!(shape(&tree), "moof(mfhd traf(tfhd tfdt trun)) mdat");
        assert_sizes_add_up(&out, &tree);
        check_fragment(&out, &tree[0], &tree[1], 7, bdt, &samples);
        // The first data_offset is moof size + 8.
        let (data_offset, entries) = trun_entries(&out, tree[0].find("traf").unwrap());
        assert_eq!(data_offset as usize, tree[0].size + 8);
        // The IDR keeps its SEI and slice; AUD/SPS/PPS are gone.
        let sei_len = timestamp_sei_nal(1_700_000_000_000_003).len() - 4;
        assert_eq!(entries[0].1 as usize, (4 + sei_len) + (4 + 5001));
        // Negative composition offset survives as a signed value.
        assert_eq!(entries[3].3, -3000);
    }

    #[test]
    fn fragments_append_to_existing_buffer() {
        let aus = test_access_units();
        let samples = samples(&aus);
        let mut out = init_segment(&cfg_1080p());
        let init_len = out.len();
        fragment(1, 0, &samples[..2], &mut out);
        fragment(2, 6001, &samples[2..], &mut out);
        fragment(3, 12003, &[], &mut out);
        let tree = parse_box_tree(&out).unwrap();
        assert_eq!(
            shape(&tree)
                .split(' ')
                .filter(|s| s.starts_with("mdat"))
                .count(),
            3
        );
        assert_sizes_add_up(&out, &tree);
        assert_eq!(tree[2].offset, init_len);
        check_fragment(&out, &tree[2], &tree[3], 1, 0, &samples[..2]);
        check_fragment(&out, &tree[4], &tree[5], 2, 6001, &samples[2..]);
        check_fragment(&out, &tree[6], &tree[7], 3, 12003, &[]);
        assert_eq!(tree[7].size, 8);
    }

    #[test]
    fn fragment_single_large_access_unit() {
        // ~150 KB IDR, 1080p-sized, with emulation-prevented zeros sprinkled in.
        let mut slice = vec![0x65];
        let mut x = 0x1234_5678u32;
        for _ in 0..150_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            slice.push(x as u8);
        }
        let ebsp = super::super::h264::add_emulation_prevention(&slice[1..]);
        let mut nal = vec![0x65];
        nal.extend_from_slice(&ebsp);
        let au = annexb(
            &[
                &[0x09, 0x10],
                &hex(X264_1080P_SPS),
                &hex(X264_1080P_PPS),
                &nal,
            ],
            true,
        );
        let s = [Sample {
            annexb: &au,
            duration: 3000,
            keyframe: true,
            composition_offset: 0,
        }];
        let mut out = Vec::new();
        fragment(1, 0, &s, &mut out);
        assert!(
            out.capacity() - out.len() < 200,
            "reserved once, close to size"
        );
        let tree = parse_box_tree(&out).unwrap();
        assert_sizes_add_up(&out, &tree);
        check_fragment(&out, &tree[0], &tree[1], 1, 0, &s);
        assert_eq!(tree[1].size, 8 + 4 + nal.len());
    }

    #[test]
    fn mdat_header_uses_largesize_only_beyond_u32() {
        let mut out = Vec::new();
        assert_eq!(write_mdat_header(&mut out, 100), 8);
        assert_eq!(out, [0, 0, 0, 108, b'm', b'd', b'a', b't']);
        out.clear();
        assert_eq!(write_mdat_header(&mut out, u64::from(u32::MAX) - 8), 8);
        assert_eq!(u32_at(&out, 0), u32::MAX);
        out.clear();
        assert_eq!(write_mdat_header(&mut out, u64::from(u32::MAX) - 7), 16);
        assert_eq!(u32_at(&out, 0), 1);
        assert_eq!(&out[4..8], b"mdat");
        assert_eq!(u64_at(&out, 8), u64::from(u32::MAX) + 9);
    }

    // ---- box walker ----

    #[test]
    fn box_walker_largesize_size_zero_and_errors() {
        // largesize box containing nothing special, then a size-0 box to the end.
        let mut data = vec![0, 0, 0, 1];
        data.extend_from_slice(b"free");
        data.extend_from_slice(&20u64.to_be_bytes());
        data.extend_from_slice(&[9, 9, 9, 9]);
        data.extend_from_slice(&[0, 0, 0, 0]);
        data.extend_from_slice(b"mdat");
        data.extend_from_slice(&[1, 2, 3]);
        let tree = parse_box_tree(&data).unwrap();
        assert_eq!(shape(&tree), "free mdat");
        assert_eq!((tree[0].size, tree[0].payload_offset(&data)), (20, 16));
        assert_eq!((tree[1].offset, tree[1].size), (20, 11));

        assert!(parse_box_tree(&[0, 0, 0, 9, b'f']).is_err()); // truncated header
        assert!(parse_box_tree(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']).is_err()); // size < 8
        assert!(parse_box_tree(&[0, 0, 0, 9, b'f', b'r', b'e', b'e']).is_err()); // overrun
                                                                                 // Child overrunning its container.
        let mut bad = vec![0, 0, 0, 16];
        bad.extend_from_slice(b"moov");
        bad.extend_from_slice(&[0, 0, 0, 9]);
        bad.extend_from_slice(b"mvhd");
        let err = parse_box_tree(&bad).unwrap_err();
        assert!(err.contains("mvhd"), "{err}");
        // Deep nesting is refused, not a stack overflow.
        let mut deep = Vec::new();
        for i in 0..40u32 {
            deep.extend_from_slice(&(8 * (40 - i)).to_be_bytes());
            deep.extend_from_slice(b"moov");
        }
        assert!(parse_box_tree(&deep).is_err());
        assert_eq!(parse_box_tree(&[]).unwrap(), vec![]);
    }

    #[test]
    fn box_walker_never_panics_on_mutations() {
        let aus = test_access_units();
        let samples = samples(&aus);
        let mut good = init_segment(&cfg_1080p());
        fragment(1, 0, &samples, &mut good);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut data = good.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            data.truncate((next() as usize) % (data.len() + 1));
            if let Ok(tree) = parse_box_tree(&data) {
                let total: usize = tree.iter().map(|n| n.size).sum();
                assert_eq!(total, data.len());
            }
        }
    }
}
