//! Tests of the recorder's segmenter: files start at an IDR with tfdt 0, fragments start at
//! IDRs and after the fragment length, rotation waits for the first IDR after the file length,
//! gaps are shortened, and the durations add up.

use super::*;
use crate::media::fmp4::{find_box, parse_box_tree};
use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};

const FD: u64 = 3000; // 30 fps

fn au(dts: u64, keyframe: bool) -> Arc<AccessUnit> {
    let data = if keyframe {
        let (sps, pps) = (hex(OPENH264_720P_SPS), hex(OPENH264_720P_PPS));
        annexb(&[&sps, &pps, &[0x65, 0x88, 0x84, 0x00]], true)
    } else {
        annexb(&[&[0x41, 0x9a, 0x02, 0x04]], true)
    };
    Arc::new(AccessUnit {
        data,
        keyframe,
        dts,
        pts: dts,
        capture_unix_us: 0,
    })
}

fn cfg(rotate_s: Option<u64>) -> SegmenterConfig {
    SegmenterConfig {
        frame_duration: FD as u32,
        fragment_ticks: 90_000,
        rotate_ticks: rotate_s.map(|s| s * 90_000),
        max_gap_ticks: 90_000,
    }
}

/// Feeds `frames` frames starting at `dts0`, an IDR every `gop` frames.
fn feed(seg: &mut Segmenter, dts0: u64, frames: u64, gop: u64) -> Vec<Output> {
    let mut out = Vec::new();
    for i in 0..frames {
        seg.push(&au(dts0 + i * FD, i % gop == 0), &mut out);
    }
    out
}

fn tfdt(frag: &[u8]) -> u64 {
    let tree = parse_box_tree(frag).unwrap();
    let b = find_box(&tree, "moof/traf/tfdt").unwrap();
    let at = b.payload_offset(frag) + 4;
    u64::from_be_bytes(frag[at..at + 8].try_into().unwrap())
}

#[test]
fn waits_for_an_idr_then_starts_at_zero() {
    let mut seg = Segmenter::new(cfg(None));
    let mut out = Vec::new();
    seg.push(&au(1_000_000, false), &mut out);
    assert!(out.is_empty() && !seg.in_file());
    assert_eq!(seg.skipped, 1);
    // 2 s at 30 fps, an IDR each second: a fragment per GOP.
    for i in 0..60 {
        seg.push(&au(1_003_000 + i * FD, i % 30 == 0), &mut out);
    }
    seg.finish(&mut out);
    assert!(matches!(
        out[0],
        Output::Open {
            width: 1280,
            height: 720,
            ..
        }
    ));
    let frags: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Fragment { bytes, samples, .. } => Some((tfdt(bytes), *samples)),
            _ => None,
        })
        .collect();
    assert_eq!(frags, vec![(0, 30), (90_000, 30)]);
    assert_eq!(out.last(), Some(&Output::Close { duration: 180_000 }));
}

#[test]
fn long_gops_are_cut_into_fragments_of_the_fragment_length() {
    let mut seg = Segmenter::new(cfg(None));
    let mut out = feed(&mut seg, 0, 100, 1000);
    seg.finish(&mut out);
    let sizes: Vec<usize> = out
        .iter()
        .filter_map(|o| match o {
            Output::Fragment { samples, .. } => Some(*samples),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![30, 30, 30, 10]);
}

#[test]
fn rotates_at_the_first_idr_after_the_length_and_rebases() {
    let mut seg = Segmenter::new(cfg(Some(2)));
    // IDR every 45 frames (1.5 s): 2 s is passed at frame 60, the next IDR is frame 90.
    let mut out = feed(&mut seg, 5_000_000, 200, 45);
    seg.finish(&mut out);
    // (first tfdt, samples, duration) per file.
    let mut files: Vec<(Option<u64>, usize, u64)> = Vec::new();
    for o in &out {
        match o {
            Output::Open { .. } => files.push((None, 0, 0)),
            Output::Fragment { bytes, samples, .. } => {
                let f = files.last_mut().unwrap();
                f.0.get_or_insert(tfdt(bytes));
                f.1 += samples;
            }
            Output::Close { duration } => files.last_mut().unwrap().2 = *duration,
        }
    }
    // Files of frames 0..90, 90..180, 180..200, each from tfdt 0.
    assert_eq!(
        files,
        vec![
            (Some(0), 90, 90 * FD),
            (Some(0), 90, 90 * FD),
            (Some(0), 20, 20 * FD)
        ]
    );
}

#[test]
fn gaps_are_shortened_and_a_new_sps_starts_a_new_file() {
    let mut seg = Segmenter::new(cfg(None));
    let mut out = feed(&mut seg, 0, 10, 30);
    // A 60 s pause (preview stopped), then the stream goes on.
    seg.push(&au(9 * FD + 60 * 90_000, true), &mut out);
    seg.finish(&mut out);
    let closes: Vec<_> = out
        .iter()
        .filter(|o| matches!(o, Output::Close { .. }))
        .collect();
    assert_eq!(
        closes,
        vec![&Output::Close {
            duration: 9 * FD + 90_000 + FD
        }]
    );

    let mut seg = Segmenter::new(cfg(None));
    let mut out = feed(&mut seg, 0, 10, 30);
    let other_sps = annexb(
        &[
            &hex(crate::media::test_vectors::X264_1080P_SPS),
            &hex(crate::media::test_vectors::X264_1080P_PPS),
            &[0x65, 0x88],
        ],
        true,
    );
    let idr = Arc::new(AccessUnit {
        data: other_sps,
        keyframe: true,
        dts: 10 * FD,
        pts: 10 * FD,
        capture_unix_us: 0,
    });
    seg.push(&idr, &mut out);
    let opens = out
        .iter()
        .filter(|o| matches!(o, Output::Open { .. }))
        .count();
    assert_eq!(opens, 2);
    assert!(matches!(
        out.last(),
        Some(Output::Open {
            width: 1920,
            height: 1080,
            ..
        })
    ));
}
