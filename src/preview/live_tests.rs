//! Viewers of the live stream on real threads, fed through the fan-out: a slow one loses frames
//! up to the next IDR without holding up a fast one.

use std::io;
use std::thread;
use std::time::Instant;

use super::*;
use crate::media::fmp4::{find_box, parse_box_tree};
use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};
use crate::preview::PreviewGate;

/// Frame `i` (< 16,384) of a stream with an IDR every 10 frames; its number is in the last two
/// bytes of the slice, 7 bits each with the top bit set (no zero byte, so no start code).
fn au(i: u32) -> Arc<AccessUnit> {
    let keyframe = i.is_multiple_of(10);
    let slice = [
        if keyframe { 0x65 } else { 0x41 },
        0x88,
        0x80 | (i >> 7) as u8,
        0x80 | (i & 0x7f) as u8,
    ];
    let sps = hex(OPENH264_720P_SPS);
    let pps = hex(OPENH264_720P_PPS);
    let data = if keyframe {
        annexb(&[&sps, &pps, &slice], true)
    } else {
        annexb(&[&slice], true)
    };
    Arc::new(AccessUnit {
        data,
        keyframe,
        dts: u64::from(i) * 3000,
        pts: u64::from(i) * 3000,
        capture_unix_us: crate::clock::unix_us(),
    })
}

/// A client that takes `delay` per write, and counts its writes.
struct Slow {
    data: Vec<u8>,
    delay: Duration,
    writes: Arc<AtomicUsize>,
}

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        thread::sleep(self.delay);
        self.data.extend_from_slice(buf);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The frame numbers in a viewer's stream, and whether each was a sync sample.
fn frames(stream: &[u8]) -> Vec<(u32, bool)> {
    let tree = parse_box_tree(stream).unwrap();
    assert_eq!(tree[0].kind_str(), "ftyp");
    assert_eq!(tree[1].kind_str(), "moov");
    let mut out = Vec::new();
    let mut at = tree[0].size + tree[1].size;
    for pair in tree[2..].chunks(2) {
        assert_eq!(pair[0].kind_str(), "moof");
        assert_eq!(pair[1].kind_str(), "mdat");
        let moof = &stream[at..at + pair[0].size];
        let sub = parse_box_tree(moof).unwrap();
        let trun = find_box(&sub, "moof/traf/trun").unwrap();
        let flags_at = trun.payload_offset(moof) + 20;
        let sync = moof[flags_at..flags_at + 4] == [2, 0, 0, 0];
        let mdat_end = at + pair[0].size + pair[1].size;
        let n = &stream[mdat_end - 2..mdat_end];
        out.push(((u32::from(n[0] & 0x7f) << 7) | u32::from(n[1] & 0x7f), sync));
        at = mdat_end;
    }
    out
}

#[test]
fn a_slow_viewer_drops_to_the_next_idr_and_a_fast_one_gets_every_frame() {
    let units = Arc::new(Fanout::with_backlog());
    let counters = Arc::new(LiveCounters::default());
    let gate = PreviewGate::new(None);
    let spawn = |delay: Duration, writes: Arc<AtomicUsize>| {
        let viewer = LiveViewer {
            units: Arc::clone(&units),
            counters: Arc::clone(&counters),
            frame_duration: 3000,
            hold: gate.hold(Instant::now(), "test"),
        };
        thread::spawn(move || {
            let mut out = Slow {
                data: Vec::new(),
                delay,
                writes,
            };
            viewer.run(&mut out).unwrap();
            out.data
        })
    };
    let fast_writes = Arc::new(AtomicUsize::new(0));
    let fast = spawn(Duration::ZERO, Arc::clone(&fast_writes));
    // Writes of 40 ms while a frame comes every millisecond: more than its queue (15) piles up.
    let slow = spawn(Duration::from_millis(40), Arc::default());
    while units.subscriber_count() < 2 {
        thread::yield_now();
    }
    assert_eq!(counters.viewers.load(Ordering::Relaxed), 2);
    assert_eq!(gate.holds(), 2, "each viewer keeps the encoder awake");
    for i in 0..200 {
        units.send(&au(i));
        // The fast viewer writes each frame before the next comes (however busy the machine),
        // so it can lose none; the slow one gets no such wait.
        let deadline = Instant::now() + Duration::from_secs(10);
        while fast_writes.load(Ordering::Relaxed) <= i as usize {
            assert!(Instant::now() < deadline, "the fast viewer is stuck");
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(1));
    }
    drop(units); // the encoder went away: the viewers' streams end
    let fast = frames(&fast.join().unwrap());
    let slow = frames(&slow.join().unwrap());

    assert_eq!(fast.len(), 200);
    assert!(fast.iter().enumerate().all(|(i, f)| f.0 == i as u32));
    assert!(slow.len() < 200, "the slow viewer lost frames");
    assert_eq!(slow[0], (0, true));
    for pair in slow.windows(2) {
        let (prev, next) = (pair[0].0, pair[1].0);
        assert!(
            next == prev + 1 || (next.is_multiple_of(10) && pair[1].1),
            "after a loss the slow viewer resumes at an IDR: {prev} then {next:?}"
        );
    }
    assert!(
        slow.windows(2).any(|p| p[1].0 != p[0].0 + 1),
        "it resumed after a loss at least once: {slow:?}"
    );
    let dropped = counters.units_dropped.load(Ordering::Relaxed);
    assert_eq!(dropped, 200 - slow.len() as u64, "every lost frame counted");
    assert_eq!(
        counters.fragments_sent.load(Ordering::Relaxed),
        200 + slow.len() as u64
    );
    assert_eq!(counters.viewers.load(Ordering::Relaxed), 0);
    assert_eq!(gate.holds(), 0);
}
