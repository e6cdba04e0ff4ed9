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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};

    fn types(annexb: &[u8]) -> Vec<u8> {
        h264::nal_units(annexb).filter_map(h264::nal_type).collect()
    }

    #[test]
    fn puts_the_sei_before_the_first_slice() {
        let (sps, pps) = (hex(OPENH264_720P_SPS), hex(OPENH264_720P_PPS));
        let idr = annexb(&[&sps, &pps, &[0x65, 0x88], &[0x65, 0x99]], true);
        let out = with_timestamp(&idr, 1_234_567, None);
        assert_eq!(types(&out), [7, 8, 6, 5, 5]);
        assert_eq!(h264::find_timestamp_sei(&out), Some(1_234_567));
        assert_eq!(
            parameter_sets_annexb(&idr).map(|ps| types(&ps)),
            Some(vec![7, 8])
        );
    }

    #[test]
    fn repeats_parameter_sets_ahead_of_a_bare_idr() {
        let (sps, pps) = (hex(OPENH264_720P_SPS), hex(OPENH264_720P_PPS));
        let ps = parameter_sets_annexb(&annexb(&[&sps, &pps], true)).unwrap();
        let bare = annexb(&[&[0x65, 0x88]], false);
        assert_eq!(types(&with_timestamp(&bare, 1, Some(&ps))), [7, 8, 6, 5]);
        let p = annexb(&[&[0x41, 0x9a]], false);
        assert_eq!(
            types(&with_timestamp(&p, 1, Some(&ps))),
            [6, 1],
            "P frames stay bare"
        );
        assert_eq!(parameter_sets_annexb(&p), None);
    }
}
