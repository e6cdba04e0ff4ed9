//! Real H.264 parameter sets, for tests and benchmarks.

/// OpenH264 (openh264 crate 0.9, defaults) at 1280x720: Constrained Baseline, level 3.1.
/// 42 c0 1f; 8c: sps_id=0, log2_max_frame_num_minus4=11; 68: poc_type=2,
/// max_num_ref_frames=1, gaps=0; width_mbs_minus1=79 (1280); height_map_units_minus1=44
/// (720); frame_mbs_only=1, direct_8x8=1, cropping=0, vui=1.
pub const OPENH264_720P_SPS: &str = "6742c01f8c6805005ba01e1108d4";
pub const OPENH264_720P_PPS: &str = "68ce3c80";
/// x264 (ffmpeg -profile:v high -level 4.0) at 1920x1080: High, level 4.0.
/// ac: sps_id=0, chroma_format_idc=1, bit depths 8, no scaling matrix;
/// d9 40: log2_max_frame_num_minus4=0, poc_type=0, lsb_minus4=2, max_num_ref_frames=4;
/// 78: width_mbs_minus1=119 (1920); 02 27: height_map_units_minus1=67 (1088),
/// frame_mbs_only=1, direct_8x8=1, cropping=1; e5: crop 0,0,0,4 → 1088 - 2*4 = 1080.
/// Contains two emulation prevention bytes (00 00 03).
pub const X264_1080P_SPS: &str = "67640028acd940780227e5ffc000c00104000003000400000300f03c60c658";
pub const X264_1080P_PPS: &str = "68ebe3cb22c0";
/// x264 High 4:2:2 10-bit (yuv422p10le, cqm=jvt) at 1280x720, level 3.1.
pub const X264_422_10BIT_SPS: &str = "677a001fb6cd9405005bbff0003000410000030001000003003c0f183196";

/// Bytes from hex digits (white space ignored). Panics on bad input: test data only.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// NAL units joined into an Annex B stream with 3- or 4-byte start codes.
pub fn annexb(nals: &[&[u8]], four_byte: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        if four_byte {
            out.push(0);
        }
        out.extend_from_slice(&[0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}
