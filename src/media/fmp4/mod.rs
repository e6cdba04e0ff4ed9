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
//! [`LiveFragmenter`] (`live.rs`) turns access units into the per-frame stream of the live
//! view: the init segment from the first IDR, then one fragment per frame.
//!
//! The box reader ([`parse_box_tree`], `reader.rs`) is a small walker used by the tests,
//! integration tests and benches to check what we write.

mod live;
mod reader;

pub use live::{LiveFragmenter, Pushed};
pub use reader::{find_box, parse_box_tree};

use super::h264::{annexb_to_avcc, avcc_len, parse_sps};
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
    #[cfg(test)]
    pub fn from_parameter_sets(
        sps: &[u8],
        pps: &[u8],
    ) -> Result<TrackConfig, super::h264::H264Error> {
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

/// The `avcC` box.
fn write_avcc(out: &mut Vec<u8>, sps: &[u8], pps: &[u8]) {
    let at = begin(out, b"avcC");
    avc_decoder_config(out, sps, pps);
    end(out, at);
}

/// Appends the `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 5.3.3.1) of `sps` and `pps`:
/// the `avcC` payload, and the body of an FLV AVC sequence header.
pub fn avc_decoder_config(out: &mut Vec<u8>, sps: &[u8], pps: &[u8]) {
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

#[cfg(test)]
#[path = "fmp4_tests.rs"]
mod tests;
