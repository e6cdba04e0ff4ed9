//! Tests of the per-frame live fragmenter.

use super::super::{find_box, parse_box_tree, SAMPLE_FLAGS_NON_SYNC, SAMPLE_FLAGS_SYNC};
use super::*;
use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};

const FD: u64 = 3000;

fn au(dts: u64, keyframe: bool) -> AccessUnit {
    let sps = hex(OPENH264_720P_SPS);
    let pps = hex(OPENH264_720P_PPS);
    let data = if keyframe {
        annexb(&[&sps, &pps, &[0x65, 0x88, 0x84, 0x00]], true)
    } else {
        annexb(&[&[0x41, 0x9a, 0x02, 0x04]], true)
    };
    AccessUnit {
        data,
        keyframe,
        dts,
        pts: dts,
        capture_unix_us: 0,
    }
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

/// (tfdt, duration, flags) of a single-sample fragment.
fn timing(frag: &[u8]) -> (u64, u32, u32) {
    let tree = parse_box_tree(frag).unwrap();
    assert_eq!(tree.len(), 2, "moof + mdat");
    let tfdt = find_box(&tree, "moof/traf/tfdt").unwrap();
    let at = tfdt.payload_offset(frag) + 4;
    let dts = u64::from_be_bytes(frag[at..at + 8].try_into().unwrap());
    let trun = find_box(&tree, "moof/traf/trun").unwrap();
    let at = trun.payload_offset(frag);
    assert_eq!(u32_at(frag, at + 4), 1, "one sample");
    (dts, u32_at(frag, at + 12), u32_at(frag, at + 20))
}

#[test]
fn waits_for_an_idr_then_writes_init_and_one_fragment_per_frame() {
    let mut live = LiveFragmenter::new(FD as u32);
    let mut out = Vec::new();
    assert_eq!(live.push(&au(0, false), &mut out), Ok(Pushed::Waiting));
    assert!(out.is_empty());
    let started = live.push(&au(FD, true), &mut out).unwrap();
    assert!(matches!(
        started,
        Pushed::Started {
            width: 1280,
            height: 720,
            ..
        }
    ));
    let tree = parse_box_tree(&out).unwrap();
    let kinds: Vec<String> = tree.iter().map(|b| b.kind_str()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "moof", "mdat"]);
    let first = &out[tree[0].size + tree[1].size..];
    assert_eq!(timing(first), (0, FD as u32, SAMPLE_FLAGS_SYNC));

    let mut dts = 0;
    for (i, gap) in [FD, FD, 2900, 3100, 10 * FD].into_iter().enumerate() {
        let mut frag = Vec::new();
        assert_eq!(
            live.push(&au(FD + gap + i as u64 * FD, false), &mut frag),
            Ok(Pushed::Fragment)
        );
        let (t, duration, flags) = timing(&frag);
        assert_eq!(flags, SAMPLE_FLAGS_NON_SYNC);
        assert!(t > dts, "decode times grow");
        dts = t;
        assert!(
            u64::from(duration) <= 2 * FD,
            "a hole shrinks to two frames"
        );
    }
}

#[test]
fn decode_times_are_continuous_and_a_new_sps_is_an_error() {
    let mut live = LiveFragmenter::new(FD as u32);
    let mut end = None;
    for i in 0..10u64 {
        let mut out = Vec::new();
        // Jitter and a lost frame in the source.
        let src = i * FD + [0, 40, 0, 0, FD, 0, 0, 90, 0, 0][i as usize];
        live.push(&au(src, i % 5 == 0), &mut out).unwrap();
        let tree = parse_box_tree(&out).unwrap();
        let frag = &out[tree[..tree.len() - 2].iter().map(|b| b.size).sum::<usize>()..];
        let (t, duration, _) = timing(frag);
        if let Some(end) = end {
            assert_eq!(t, end, "frame {i} starts where the last ended");
        }
        end = Some(t + u64::from(duration));
    }
    let mut other = au(100 * FD, true);
    other.data = annexb(
        &[
            &hex("6742c01f8c6805005ba01e1108d5"),
            &hex(OPENH264_720P_PPS),
            &[0x65, 0x88],
        ],
        true,
    );
    assert_eq!(
        live.push(&other, &mut Vec::new()),
        Err(LiveError::ParameterSetsChanged)
    );
}
