//! Puts the capture-time SEI into an access unit, before its first slice.

use crate::media::h264;

/// Rebuilds `annexb` with the capture-time SEI ahead of the first VCL NAL unit, and the
/// parameter sets ahead of an IDR that came without them.
pub fn with_timestamp(
    annexb: &[u8],
    capture_unix_us: u64,
    parameter_sets: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(annexb.len() + 64);
    let mut has_sps = false;
    let mut sei_written = false;
    for nal in h264::nal_units(annexb) {
        let kind = h264::nal_type(nal).unwrap_or(0);
        has_sps |= kind == h264::NAL_SPS;
        if (1..=5).contains(&kind) && !sei_written {
            if kind == h264::NAL_IDR && !has_sps {
                if let Some(ps) = parameter_sets {
                    out.extend_from_slice(ps);
                }
            }
            out.extend_from_slice(&h264::timestamp_sei_nal(capture_unix_us));
            sei_written = true;
        }
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// The SPS and PPS of an access unit as Annex B, to repeat ahead of later IDRs.
pub fn parameter_sets_annexb(annexb: &[u8]) -> Option<Vec<u8>> {
    let (Some(sps), Some(pps)) = h264::parameter_sets(annexb) else {
        return None;
    };
    let mut out = Vec::with_capacity(sps.len() + pps.len() + 8);
    for nal in [sps, pps] {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    Some(out)
}
