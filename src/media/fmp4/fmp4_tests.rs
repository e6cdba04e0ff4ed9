//! Tests of the fMP4 writer and box reader.

use super::super::h264::{nal_type, nal_units, timestamp_sei_nal, NAL_AUD, NAL_PPS, NAL_SPS};
use super::reader::{container_skip, BoxNode};
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
    assert!(err.to_string().contains("mvhd"), "{err}");
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
