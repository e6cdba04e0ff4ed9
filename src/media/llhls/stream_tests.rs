//! The segmenter, timeline and playlist together, as a client reads the result: dates
//! against durations, and one continuous playlist across encoder sessions.

use std::sync::Arc;

use super::playlist::render;
use super::timeline::{NewPart, Timeline, TimelineConfig};
use super::{Segmenter, SegmenterConfig, SegmenterEvent};
use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};
use crate::media::AccessUnit;

const FD: u64 = 3000;

fn config(window_segments: usize) -> TimelineConfig {
    TimelineConfig {
        prefix: "s".into(),
        part_target: 18_000,
        segment_target: 90_000,
        window_segments,
        first_msn: 100,
    }
}

fn au(frame: u64, jitter_us: u64) -> Arc<AccessUnit> {
    let keyframe = frame.is_multiple_of(30);
    let (sps, pps) = (hex(OPENH264_720P_SPS), hex(OPENH264_720P_PPS));
    let slice = [if keyframe { 0x65 } else { 0x41 }, 0x88, 0x84];
    let nals: Vec<&[u8]> = if keyframe {
        vec![&sps, &pps, &slice]
    } else {
        vec![&slice]
    };
    Arc::new(AccessUnit {
        data: annexb(&nals, true),
        keyframe,
        dts: frame * FD,
        pts: frame * FD,
        capture_unix_us: 1_763_725_552_000_000 + frame * 33_333 + jitter_us,
    })
}

/// Feeds frames through a segmenter into a timeline, as the muxer thread does.
struct Stream {
    seg: Segmenter,
    tl: Option<Timeline>,
    window: usize,
}

impl Stream {
    fn new() -> Stream {
        Stream::with_window(7)
    }

    fn with_window(window: usize) -> Stream {
        Stream {
            window,
            seg: Segmenter::new(SegmenterConfig {
                frame_duration: 3000,
                part_frames: 6,
                segment_frames: 30,
            }),
            tl: None,
        }
    }

    fn push(&mut self, frames: impl IntoIterator<Item = (u64, u64)>) {
        let mut events = Vec::new();
        for (frame, jitter) in frames {
            self.seg.push(au(frame, jitter), &mut events);
        }
        self.apply(events);
    }

    fn end_session(&mut self) {
        let mut events = Vec::new();
        self.seg.end_session(&mut events);
        self.apply(events);
        self.tl.as_mut().unwrap().end_session();
    }

    fn apply(&mut self, events: Vec<SegmenterEvent>) {
        for e in events {
            match e {
                SegmenterEvent::Start { init, codec, .. } => match self.tl.as_mut() {
                    Some(tl) => tl.start_session(Arc::from(init), codec),
                    None => {
                        let cfg = config(self.window);
                        self.tl = Some(Timeline::new(cfg, Arc::from(init), codec));
                    }
                },
                SegmenterEvent::Part {
                    duration,
                    independent,
                    data,
                    capture_unix_us,
                    program_date_us,
                } => {
                    self.tl.as_mut().unwrap().push_part(NewPart {
                        duration,
                        independent,
                        data,
                        capture_unix_us,
                        program_date_us,
                    });
                }
                SegmenterEvent::SegmentEnd => {
                    self.tl.as_mut().unwrap().close_segment();
                }
            }
        }
    }

    fn playlist(&self, skip: bool) -> String {
        render(self.tl.as_ref().unwrap(), skip)
    }
}

/// Milliseconds since the epoch from `2025-11-21T11:45:52.123Z` (same day only).
fn pdt_ms(line: &str) -> i64 {
    let t = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:").unwrap();
    let (h, m, s) = (&t[11..13], &t[14..16], &t[17..23]);
    let secs: f64 = s.parse().unwrap();
    (h.parse::<i64>().unwrap() * 3600 + m.parse::<i64>().unwrap() * 60) * 1000
        + (secs * 1000.0).round() as i64
}

/// (PROGRAM-DATE-TIME in ms, EXTINF in ms, preceded by a discontinuity) of each complete
/// segment listed.
fn dated_segments(text: &str) -> Vec<(i64, i64, bool)> {
    let mut out = Vec::new();
    let (mut date, mut disc) = (None, false);
    for line in text.lines() {
        if line == "#EXT-X-DISCONTINUITY" {
            disc = true;
        } else if line.starts_with("#EXT-X-PROGRAM-DATE-TIME:") {
            date = Some(pdt_ms(line));
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = d.trim_end_matches(',').parse().unwrap();
            out.push((date.take().unwrap(), (secs * 1000.0).round() as i64, disc));
            disc = false;
        }
    }
    out
}

/// RFC 8216 §4.3.2.6: without a discontinuity, a segment's date is the previous one's plus
/// its duration. Capture jitter, dropped frames and a stall must not break that.
#[test]
fn program_dates_step_by_extinf() {
    let mut s = Stream::new();
    let jitter = |f: u64| (f * 7919) % 5_000;
    s.push((0..100).filter(|f| f % 11 != 4).map(|f| (f, jitter(f))));
    s.push((115..240).map(|f| (f, jitter(f))));
    let segments = dated_segments(&s.playlist(false));
    assert!(segments.len() >= 6, "{segments:?}");
    for pair in segments.windows(2) {
        let step = pair[1].0 - pair[0].0;
        assert!((step - pair[0].1).abs() <= 1, "{segments:?}");
    }
}

/// An encoder restart continues the playlist: MSN on by one, EXT-X-DISCONTINUITY and a new
/// MAP before the new session's first segment, the preload hint naming the part that then
/// appears, old segments still listed; EXT-X-DISCONTINUITY-SEQUENCE once they left.
#[test]
fn a_session_restart_continues_the_playlist() {
    let mut s = Stream::new();
    s.push((0..91).map(|f| (f, 0)));
    s.end_session();
    let stopped = s.playlist(false);
    assert!(stopped.ends_with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s-104.0.m4s\"\n"));
    assert!(stopped.contains("s-103.m4s\n"), "{stopped}");

    // Ten minutes later the encoder is back.
    s.push((18_000..18_061).map(|f| (f, 0)));
    let text = s.playlist(false);
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:100\n"), "{text}");
    assert!(text.contains("#EXT-X-MAP:URI=\"s-init-0.mp4\"\n"));
    let boundary = "s-103.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"s-init-1.mp4\"\n\
                    #EXT-X-PROGRAM-DATE-TIME:";
    assert!(text.contains(boundary), "{text}");
    assert!(text.contains("#EXT-X-PART:DURATION=0.20000,URI=\"s-104.0.m4s\",INDEPENDENT=YES"));
    assert!(!text.contains("DISCONTINUITY-SEQUENCE"));
    let dated = dated_segments(&text);
    for pair in dated.windows(2) {
        let step = pair[1].0 - pair[0].0;
        assert!(pair[1].2 || (step - pair[0].1).abs() <= 1, "{dated:?}");
    }
    assert!(
        dated.iter().filter(|d| d.2).count() == 1,
        "one discontinuity: {dated:?}"
    );
    let tl = s.tl.as_ref().unwrap();
    assert!(tl.session_init(0).is_some() && tl.segment(100).is_some());

    // Once the old session's segments left the playlist, the sequence number says so.
    s.push((18_061..18_300).map(|f| (f, 0)));
    let later = s.playlist(false);
    assert!(
        later.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"),
        "{later}"
    );
    assert!(!later.contains("#EXT-X-DISCONTINUITY\n"));
    assert!(later.contains("#EXT-X-MAP:URI=\"s-init-1.mp4\"\n"));
}

/// A delta update never hides a discontinuity inside EXT-X-SKIP: it skips only segments of
/// the first listed session, and the first segment after the skip keeps its tags.
#[test]
fn a_delta_update_keeps_the_discontinuity() {
    let mut s = Stream::with_window(12);
    s.push((0..91).map(|f| (f, 0)));
    s.end_session();
    s.push((9_000..9_301).map(|f| (f, 0)));
    let full = s.playlist(false);
    assert_eq!(full.matches("#EXTINF").count(), 12, "{full}");
    // The discontinuity is on the third listed segment; the 6 s skip boundary lies four
    // segments beyond it.
    let delta = s.playlist(true);
    assert!(
        delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"),
        "{delta}"
    );
    assert!(
        delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"s-init-1.mp4\"\n"),
        "{delta}"
    );
}
