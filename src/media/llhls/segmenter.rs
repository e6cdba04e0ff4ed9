//! Cuts access units into LL-HLS parts and segments.
//!
//! Parts hold a fixed whole number of frames, so PART-TARGET is known before the first frame
//! and never changes. A part is published the moment its last frame arrives (its last
//! sample gets the nominal frame duration), and a part closes early rather than grow past
//! the target when frames were dropped.
//!
//! Media time tracks the capture clock: dropped frames never delete time. Decode time stays
//! continuous, because MSE treats a jump in decode time as a discontinuity and throws away
//! everything up to the next IDR. So a gap inside a part lengthens the sample before it, and
//! a gap at a part boundary (the part before it is already out) makes the next part start
//! where the last one ended, its first sample lasting longer. No sample outlasts the
//! PART-TARGET budget, so a stall longer than a part is caught up over the next few frames,
//! each shown for at most a part. A stall keeps at most half a segment on the timeline (see
//! `push`): beyond that the segment holding it would outgrow TARGETDURATION.
//!
//! Segments start on an IDR once the current one is at least half a segment long. A new
//! SPS/PPS, or [`Segmenter::end_session`], starts a new session with a new init segment; its
//! media time continues where the last session's ended, and its PROGRAM-DATE-TIME is anchored
//! afresh on its first frame's capture time.

use crate::media::fmp4::{self, Sample, TrackConfig};
use crate::media::h264;
use crate::media::AccessUnit;
use std::sync::Arc;

/// An access unit waiting in the open part, with its (possibly corrected) decode time.
struct Pending {
    au: Arc<AccessUnit>,
    dts: u64,
    pts: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct SegmenterConfig {
    /// Nominal frame duration in 90 kHz ticks.
    pub frame_duration: u32,
    /// Frames per part.
    pub part_frames: u32,
    /// Frames per segment (the encoder's IDR period).
    pub segment_frames: u32,
}

impl SegmenterConfig {
    pub fn part_target(&self) -> u32 {
        self.frame_duration * self.part_frames
    }

    pub fn segment_target(&self) -> u32 {
        self.frame_duration * self.segment_frames
    }
}

#[derive(Debug)]
pub enum SegmenterEvent {
    /// A new stream begins: its init segment and what it carries.
    Start {
        init: Vec<u8>,
        codec: String,
        width: u32,
        height: u32,
    },
    /// A finished part (`moof` + `mdat`).
    Part {
        duration: u32,
        independent: bool,
        data: Arc<[u8]>,
        /// Wall-clock capture time of the part's first frame, µs since the epoch.
        capture_unix_us: u64,
        /// PROGRAM-DATE-TIME of the part's start: the session's anchor plus media time since
        /// it, so that consecutive dates differ by exactly the durations in between.
        program_date_us: u64,
    },
    /// The segment that the preceding parts belong to is complete.
    SegmentEnd,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SegmenterStats {
    /// Access units dropped while waiting for the first IDR or because they were unparseable.
    pub dropped: u64,
    pub parts: u64,
    pub segments: u64,
}

pub struct Segmenter {
    cfg: SegmenterConfig,
    parameter_sets: Option<(Vec<u8>, Vec<u8>)>,
    pending: Vec<Pending>,
    /// Duration of the closed parts of the current segment, in ticks.
    segment_ticks: u64,
    /// Source decode time minus output decode time. Set when a session starts, so that it
    /// continues where the last one ended; it moves only when the source clock steps back.
    offset: i64,
    /// Output decode time at which the last published part ended, across sessions.
    part_end: Option<u64>,
    /// The session's first frame: (output decode time, wall-clock capture time in µs).
    anchor: Option<(u64, u64)>,
    sequence: u32,
    stats: SegmenterStats,
    buffer: Vec<u8>,
}

impl Segmenter {
    pub fn new(cfg: SegmenterConfig) -> Segmenter {
        Segmenter {
            cfg,
            parameter_sets: None,
            pending: Vec::new(),
            segment_ticks: 0,
            offset: 0,
            part_end: None,
            anchor: None,
            sequence: 0,
            stats: SegmenterStats::default(),
            buffer: Vec::new(),
        }
    }

    pub fn config(&self) -> &SegmenterConfig {
        &self.cfg
    }

    pub fn stats(&self) -> SegmenterStats {
        self.stats
    }

    /// Feeds one access unit; appends what it completed to `events`.
    pub fn push(&mut self, au: Arc<AccessUnit>, events: &mut Vec<SegmenterEvent>) {
        if au.keyframe {
            self.check_parameter_sets(&au, events);
        }
        if self.parameter_sets.is_none() {
            self.stats.dropped += 1;
            return;
        }
        let fd = u64::from(self.cfg.frame_duration);
        if self.anchor.is_none() {
            if let Some(end) = self.part_end {
                self.offset = i64::try_from(i128::from(au.dts) - i128::from(end)).unwrap_or(0);
            }
        }
        let mut dts = self.output_time(au.dts);
        // Inside a part decode time must rise: a clock that stepped back continues one frame on.
        if let Some(last) = self
            .pending
            .last()
            .map(|p| p.dts)
            .filter(|&last| dts <= last)
        {
            self.shift_timeline(dts, last + fd);
            dts = last + fd;
        }
        // A stall keeps at most half a segment on the media timeline; the rest is closed up.
        // Segments start on the encoder's IDRs, which follow the capture clock, so a longer
        // gap would make the segment that holds it longer than TARGETDURATION allows.
        let max_gap = u64::from(self.cfg.segment_target()) / 2;
        let expected = self.pending.last().map(|p| p.dts + fd).or(self.part_end);
        if let Some(expected) = expected.filter(|&e| dts > e + max_gap) {
            self.shift_timeline(dts, expected + max_gap);
            dts = expected + max_gap;
        }

        let part_target = u64::from(self.cfg.part_target());
        // Encoders cut on the segment grid; frames dropped before the encoder make a segment
        // short on our timeline, so any IDR past half a segment starts the next one.
        let cut_at = u64::from(self.cfg.segment_target()) / 2;
        if let Some(first) = self.pending.first() {
            let open = dts - first.dts;
            if au.keyframe && self.segment_ticks + open >= cut_at {
                self.close_part(Some(dts), events);
                self.end_segment(events);
            } else if open + fd > part_target {
                self.close_part(Some(dts), events);
            }
        } else if au.keyframe && self.segment_ticks > 0 {
            // The gap since the last part is the new segment's if it is cut here.
            let gap = self.part_end.map_or(0, |end| dts.saturating_sub(end));
            if self.segment_ticks + gap >= cut_at {
                self.end_segment(events);
            }
        }
        // A new part continues exactly where the last one ended: a jump in decode time at a
        // part boundary would make MSE players drop everything up to the next IDR. A gap
        // (dropped frames, a stall) becomes a longer first sample and stays on the media
        // timeline; only a clock that stepped back by a frame or more moves the timeline.
        if self.pending.is_empty() {
            if let Some(end) = self.part_end {
                if end.saturating_sub(dts) >= fd {
                    self.shift_timeline(dts, end);
                }
                dts = end;
            }
        }
        if self.anchor.is_none() {
            self.anchor = Some((dts, au.capture_unix_us));
        }
        let pts = dts + au.pts.saturating_sub(au.dts);
        let au = Pending { dts, pts, au };
        self.pending.push(au);
        let first = self.pending[0].dts;
        let last = self.pending[self.pending.len() - 1].dts;
        if last - first + fd >= part_target {
            self.close_part(None, events);
        }
    }

    /// The source's decode time on our output timeline.
    fn output_time(&self, source_dts: u64) -> u64 {
        u64::try_from(i128::from(source_dts) - i128::from(self.offset)).unwrap_or(0)
    }

    /// Moves the output timeline so that output time `from` becomes `to`.
    fn shift_timeline(&mut self, from: u64, to: u64) {
        self.offset += i64::try_from(i128::from(from) - i128::from(to)).unwrap_or(0);
    }

    /// Publishes whatever is pending and completes the segment (the source is stopping).
    pub fn flush(&mut self, events: &mut Vec<SegmenterEvent>) {
        self.close_part(None, events);
        if self.segment_ticks > 0 {
            self.end_segment(events);
        }
    }

    /// Ends the session (the encoder stopped): flushes, and makes the next IDR start a new
    /// session with its own init segment, continuing the media timeline.
    pub fn end_session(&mut self, events: &mut Vec<SegmenterEvent>) {
        self.flush(events);
        self.parameter_sets = None;
        self.anchor = None;
    }

    /// PROGRAM-DATE-TIME, µs since the epoch, at output decode time `dts`.
    fn program_date_us(&self, dts: u64) -> u64 {
        let (anchor_dts, anchor_us) = self.anchor.unwrap_or((dts, 0));
        let since = dts.saturating_sub(anchor_dts);
        anchor_us + since * 1_000_000 / u64::from(crate::media::TIMESCALE)
    }

    fn check_parameter_sets(&mut self, au: &AccessUnit, events: &mut Vec<SegmenterEvent>) {
        let (Some(sps), Some(pps)) = h264::parameter_sets(&au.data) else {
            return;
        };
        if self
            .parameter_sets
            .as_ref()
            .is_some_and(|(s, p)| s.as_slice() == sps && p.as_slice() == pps)
        {
            return;
        }
        let Ok(info) = h264::parse_sps(sps) else {
            log::warn!("ignoring an IDR whose SPS cannot be parsed");
            return;
        };
        let (Ok(width), Ok(height)) = (u16::try_from(info.width), u16::try_from(info.height))
        else {
            log::warn!(
                "ignoring an SPS of {}x{}: too large",
                info.width,
                info.height
            );
            return;
        };
        self.flush(events);
        let track = TrackConfig {
            width,
            height,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        };
        events.push(SegmenterEvent::Start {
            init: fmp4::init_segment(&track),
            codec: info.codec_string(),
            width: info.width,
            height: info.height,
        });
        self.parameter_sets = Some((sps.to_vec(), pps.to_vec()));
        self.segment_ticks = 0;
        self.anchor = None;
    }

    /// Turns the pending frames into a part. `next_dts` is the decode time of the frame that
    /// follows, when known; otherwise the last frame lasts one nominal frame.
    fn close_part(&mut self, next_dts: Option<u64>, events: &mut Vec<SegmenterEvent>) {
        if self.pending.is_empty() {
            return;
        }
        let fd = self.cfg.frame_duration;
        let budget = self.cfg.part_target();
        let mut total: u32 = 0;
        let mut samples = Vec::with_capacity(self.pending.len());
        for (i, p) in self.pending.iter().enumerate() {
            let end = self.pending.get(i + 1).map(|n| n.dts).or(next_dts);
            let natural = end.map_or(fd, |e| u32::try_from(e - p.dts).unwrap_or(u32::MAX));
            // Never let a part outgrow PART-TARGET: what a late frame leaves over starts the
            // next part early (see `push`).
            let remaining = budget.saturating_sub(total).max(1);
            let duration = natural.clamp(1, remaining);
            total += duration;
            samples.push(Sample {
                annexb: &p.au.data,
                duration,
                keyframe: p.au.keyframe,
                composition_offset: i32::try_from(p.pts.saturating_sub(p.dts)).unwrap_or(i32::MAX),
            });
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.buffer.clear();
        fmp4::fragment(
            self.sequence,
            self.pending[0].dts,
            &samples,
            &mut self.buffer,
        );
        events.push(SegmenterEvent::Part {
            duration: total,
            // INDEPENDENT=YES belongs on every part that contains an IDR (an early one can
            // land mid-part).
            independent: self.pending.iter().any(|p| p.au.keyframe),
            data: Arc::from(self.buffer.as_slice()),
            capture_unix_us: self.pending[0].au.capture_unix_us,
            program_date_us: self.program_date_us(self.pending[0].dts),
        });
        self.segment_ticks += u64::from(total);
        self.part_end = Some(self.pending[0].dts + u64::from(total));
        self.stats.parts += 1;
        self.pending.clear();
    }

    fn end_segment(&mut self, events: &mut Vec<SegmenterEvent>) {
        events.push(SegmenterEvent::SegmentEnd);
        self.segment_ticks = 0;
        self.stats.segments += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::fmp4::parse_box_tree;

    use crate::media::test_vectors::{
        annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS, X264_1080P_SPS,
    };
    const FD: u64 = 3000;

    fn cfg() -> SegmenterConfig {
        SegmenterConfig {
            frame_duration: 3000,
            part_frames: 6,
            segment_frames: 30,
        }
    }

    fn au(frame: u64, keyframe: bool, sps: &str) -> Arc<AccessUnit> {
        let (sps, pps) = (hex(sps), hex(OPENH264_720P_PPS));
        let slice = [if keyframe { 0x65 } else { 0x41 }, 0x88, 0x84];
        let nals: Vec<&[u8]> = if keyframe {
            vec![&sps, &pps, &slice]
        } else {
            vec![&slice]
        };
        let data = annexb(&nals, true);
        Arc::new(AccessUnit {
            data,
            keyframe,
            dts: frame * FD,
            pts: frame * FD,
            capture_unix_us: 1_000_000 + frame * 33_333,
        })
    }

    struct Run {
        seg: Segmenter,
        events: Vec<SegmenterEvent>,
    }

    impl Run {
        fn new() -> Run {
            Run {
                seg: Segmenter::new(cfg()),
                events: Vec::new(),
            }
        }

        /// Pushes frame numbers; IDR every 30 frames. Returns the events of each push.
        fn push(&mut self, frames: impl IntoIterator<Item = u64>) -> Vec<Vec<SegmenterEvent>> {
            frames
                .into_iter()
                .map(|f| {
                    self.seg
                        .push(au(f, f % 30 == 0, OPENH264_720P_SPS), &mut self.events);
                    std::mem::take(&mut self.events)
                })
                .collect()
        }
    }

    fn parts(events: &[SegmenterEvent]) -> Vec<(u32, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                SegmenterEvent::Part {
                    duration,
                    independent,
                    ..
                } => Some((*duration, *independent)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_part_is_published_with_its_last_frame() {
        let mut run = Run::new();
        let per_push = run.push(0..60);
        assert!(matches!(
            per_push[0][0],
            SegmenterEvent::Start {
                width: 1280,
                height: 720,
                ..
            }
        ));
        for (i, events) in per_push.iter().enumerate() {
            let published = parts(events);
            if i % 6 == 5 {
                assert_eq!(published, vec![(18_000, i % 30 == 5)], "frame {i}");
            } else {
                assert!(published.is_empty(), "frame {i}");
            }
        }
        // The segment ends when the next IDR arrives.
        assert!(matches!(per_push[30][0], SegmenterEvent::SegmentEnd));
        assert_eq!(run.seg.stats().segments, 1);
        assert_eq!(run.seg.stats().parts, 10);
    }

    #[test]
    fn waits_for_an_idr_and_makes_valid_fragments() {
        let mut run = Run::new();
        let early = run.push(25..30);
        assert!(early.iter().all(|e| e.is_empty()));
        assert_eq!(run.seg.stats().dropped, 5);
        let events: Vec<SegmenterEvent> = run.push(30..36).into_iter().flatten().collect();
        let SegmenterEvent::Start { init, codec, .. } = &events[0] else {
            panic!("no start")
        };
        assert_eq!(codec, "avc1.42c01f");
        assert!(parse_box_tree(init).is_ok());
        let SegmenterEvent::Part {
            data,
            independent: true,
            capture_unix_us,
            ..
        } = &events[1]
        else {
            panic!("no part")
        };
        assert_eq!(*capture_unix_us, 1_000_000 + 30 * 33_333);
        let tree = parse_box_tree(data).unwrap();
        let kinds: Vec<String> = tree.iter().map(|b| b.kind_str()).collect();
        assert_eq!(kinds, ["moof", "mdat"]);
    }

    /// The base decode time of a part.
    fn tfdt(part: &[u8]) -> u64 {
        let tree = parse_box_tree(part).unwrap();
        let tfdt = crate::media::fmp4::find_box(&tree, "moof/traf/tfdt").unwrap();
        let at = tfdt.payload_offset(part) + 4;
        u64::from_be_bytes(part[at..at + 8].try_into().unwrap())
    }

    /// Random frame drops (before the encoder, so IDRs stay on the grid): every part stays
    /// within PART-TARGET, parts inside a segment stay at or above 85% of it, every IDR
    /// starts a segment, and the decode timeline runs on without a gap or an overlap.
    #[test]
    fn dropped_frames_never_stretch_a_part_or_break_the_timeline() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50 {
            let mut run = Run::new();
            let keep = 2 + round % 5;
            let frames: Vec<u64> = (0..600)
                .filter(|f| f % 30 == 0 || rand() % keep != 0)
                .collect();
            let events: Vec<SegmenterEvent> = run.push(frames).into_iter().flatten().collect();
            let mut segment: Vec<(u32, bool)> = Vec::new();
            let mut segments = 0;
            let mut next_tfdt = None;
            for e in &events {
                match e {
                    SegmenterEvent::Part {
                        duration,
                        independent,
                        data,
                        ..
                    } => {
                        assert!(*duration <= 18_000);
                        let start = tfdt(data);
                        assert_eq!(next_tfdt.unwrap_or(start), start, "parts are contiguous");
                        next_tfdt = Some(start + u64::from(*duration));
                        segment.push((*duration, *independent));
                    }
                    SegmenterEvent::SegmentEnd => {
                        let (_, rest) = segment.split_last().unwrap();
                        assert!(rest.iter().all(|(d, _)| *d >= 15_300), "{segment:?}");
                        assert!(segment[0].1, "segments start with an independent part");
                        assert!(segment.iter().skip(1).all(|p| !p.1), "one IDR per segment");
                        segments += 1;
                        segment.clear();
                    }
                    SegmenterEvent::Start { .. } => {}
                }
            }
            assert_eq!(
                segments, 19,
                "each of the 20 IDRs but the last closes a segment"
            );
        }
    }

    #[test]
    fn a_new_sps_starts_a_new_session() {
        let mut run = Run::new();
        run.push(0..33);
        let mut events = Vec::new();
        run.seg.push(au(33, true, X264_1080P_SPS), &mut events);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                SegmenterEvent::Start { .. } => "start",
                SegmenterEvent::Part { .. } => "part",
                SegmenterEvent::SegmentEnd => "end",
            })
            .collect();
        assert_eq!(
            kinds,
            ["part", "end", "start"],
            "flush the old stream, then restart"
        );
    }

    /// (start tfdt, duration, capture time of the first frame, program date) of every part.
    fn part_times(events: &[SegmenterEvent]) -> Vec<(u64, u32, u64, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                SegmenterEvent::Part {
                    duration,
                    data,
                    capture_unix_us,
                    program_date_us,
                    ..
                } => Some((tfdt(data), *duration, *capture_unix_us, *program_date_us)),
                _ => None,
            })
            .collect()
    }

    /// Ticks to µs.
    fn us(ticks: u64) -> u64 {
        ticks * 100 / 9
    }

    /// Runs `frames` (a gap in them is a stall) and checks what every stall must keep: decode
    /// time continuous and no part beyond PART-TARGET. Returns (media, capture) time from
    /// the first part to the last, in µs.
    fn stalled_run(frames: impl Iterator<Item = u64>) -> (u64, u64) {
        let mut run = Run::new();
        let events: Vec<SegmenterEvent> = run.push(frames).into_iter().flatten().collect();
        let parts = part_times(&events);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].0 + u64::from(pair[0].1), pair[1].0, "{parts:?}");
        }
        assert!(parts.iter().all(|p| p.1 <= 18_000), "{parts:?}");
        let (first, last) = (parts[0], parts[parts.len() - 1]);
        (us(last.0 - first.0), last.2 - first.2)
    }

    /// A 500 ms stall (15 frames lost before the encoder): media time keeps tracking the
    /// capture clock, decode time runs on without a gap, and no part outgrows PART-TARGET.
    #[test]
    fn a_stall_keeps_media_time_on_the_capture_clock() {
        let (media, capture) = stalled_run((0..47).chain(62..150));
        assert!(
            media.abs_diff(capture) <= 33_334,
            "media {media} µs, capture {capture} µs"
        );
    }

    /// A 3 s stall keeps half a segment (0.5 s) on the media timeline: the rest is closed
    /// up, decode time stays continuous, and no part outgrows PART-TARGET.
    #[test]
    fn a_long_stall_keeps_half_a_segment() {
        let (media, capture) = stalled_run((0..47).chain(137..200));
        let closed_up = 3_000_000 - 500_000;
        assert!(
            media.abs_diff(capture - closed_up) <= 33_334,
            "media {media} µs, capture {capture} µs"
        );
    }

    /// PROGRAM-DATE-TIME runs on media time: dates step by exactly the part durations,
    /// whatever the capture clock's jitter, and stay within a frame of capture time.
    #[test]
    fn program_dates_follow_media_time() {
        let mut seg = Segmenter::new(cfg());
        let mut events = Vec::new();
        for f in (0..90u64).filter(|f| f % 7 != 3) {
            let mut au = Arc::unwrap_or_clone(au(f, f % 30 == 0, OPENH264_720P_SPS));
            au.capture_unix_us += (f * 7919 % 9_000).saturating_sub(4_500);
            seg.push(Arc::new(au), &mut events);
        }
        let parts = part_times(&events);
        for pair in parts.windows(2) {
            let step = pair[1].3 - pair[0].3;
            assert!(step.abs_diff(us(u64::from(pair[0].1))) <= 1, "{parts:?}");
        }
        for p in &parts {
            assert!(p.3.abs_diff(p.2) <= 33_334 + 4_500, "{p:?}");
        }
    }

    /// After the encoder stopped, the next session starts with a new init, decode time goes
    /// on from where the last part ended, and dates are anchored on the new capture time.
    #[test]
    fn a_new_session_continues_the_media_timeline() {
        let mut run = Run::new();
        let mut events: Vec<SegmenterEvent> = run.push(0..36).into_iter().flatten().collect();
        run.seg.end_session(&mut events);
        let ended = part_times(&events);
        let end = ended.last().map(|p| p.0 + u64::from(p.1)).unwrap();
        let after: Vec<SegmenterEvent> = run.push(300..312).into_iter().flatten().collect();
        assert!(matches!(after[0], SegmenterEvent::Start { .. }));
        let parts = part_times(&after);
        assert_eq!(parts[0].0, end, "decode time continues");
        assert_eq!(parts[0].3, 1_000_000 + 300 * 33_333, "dates re-anchored");
    }

    #[test]
    fn a_clock_stepping_back_keeps_decode_time_rising() {
        let mut run = Run::new();
        run.push(0..5);
        let mut events = Vec::new();
        run.seg.push(au(2, false, OPENH264_720P_SPS), &mut events);
        let [SegmenterEvent::Part { duration, .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(*duration, 18_000);
    }
}
