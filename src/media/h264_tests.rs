//! Tests of the H.264 bitstream helpers.

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
