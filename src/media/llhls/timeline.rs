//! The sliding window of segments and parts that a live playlist describes.
//!
//! Sans-IO: the segmenter pushes finished parts in, HTTP asks what exists. Media sequence
//! numbers and part indexes are assigned here, so they cannot disagree with the playlist.
//!
//! One timeline serves one playlist URL for the life of the process, across encoder
//! sessions (restarts, hibernation, a new SPS/PPS): a new session only adds an init segment,
//! and its first segment carries EXT-X-DISCONTINUITY. Media sequence numbers run on by one and
//! segments of earlier sessions stay listed and downloadable until they age out
//! (RFC 8216 §6.2.2).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::media::TIMESCALE;

/// Fixed properties of one muxer session. They never change while the session is live:
/// players (AVPlayer above all) give up when PART-TARGET or the hold-backs move.
#[derive(Debug, Clone)]
pub struct TimelineConfig {
    /// Prefix carried by every file name: new for every timeline (every process start).
    pub prefix: String,
    /// PART-TARGET in 90 kHz ticks: a whole number of frames.
    pub part_target: u32,
    /// Nominal segment duration in ticks (the encoder's IDR period).
    pub segment_target: u32,
    /// Complete segments listed in the playlist.
    pub window_segments: usize,
    /// Media sequence number of the first segment. A restarted stream must continue above
    /// where the last one stopped (RFC 8216 §6.2.1), so the muxer seeds it from the clock.
    pub first_msn: u64,
}

/// How many complete segments a session needs before a playlist request without blocking
/// directives is answered. GStreamer 1.22's hlsdemux2 cannot sync to a playlist with a single
/// segment and freezes for good; with two it starts.
pub const SEGMENTS_TO_START: usize = 2;

impl TimelineConfig {
    /// EXT-X-TARGETDURATION in whole seconds.
    pub fn target_duration_secs(&self) -> u64 {
        u64::from(self.segment_target)
            .div_ceil(u64::from(TIMESCALE))
            .max(1)
    }

    /// How far ahead a part request may be before it is answered 400 (the Advance Part Limit).
    pub fn advance_part_limit(&self) -> u64 {
        if u64::from(self.part_target) < u64::from(TIMESCALE) {
            (3 * u64::from(TIMESCALE)).div_ceil(u64::from(self.part_target.max(1)))
        } else {
            3
        }
    }

    fn nominal_parts_per_segment(&self) -> u64 {
        u64::from(self.segment_target)
            .div_ceil(u64::from(self.part_target.max(1)))
            .max(1)
    }
}

/// One published part: a `moof`+`mdat` fragment.
#[derive(Debug)]
pub struct Part {
    pub msn: u64,
    pub index: u32,
    /// Duration in ticks.
    pub duration: u32,
    /// Starts with an IDR picture.
    pub independent: bool,
    pub data: Arc<[u8]>,
    /// Wall-clock capture time of the first frame, µs since the epoch.
    pub capture_unix_us: u64,
    /// PROGRAM-DATE-TIME of the part's start (from media time), µs since the epoch.
    pub program_date_us: u64,
}

/// A finished part as the segmenter hands it over.
#[derive(Debug, Clone)]
pub struct NewPart {
    pub duration: u32,
    pub independent: bool,
    pub data: Arc<[u8]>,
    pub capture_unix_us: u64,
    pub program_date_us: u64,
}

#[cfg(test)]
impl NewPart {
    /// A part whose date is `unix_us` (capture and program date alike).
    pub fn at(duration: u32, independent: bool, data: Arc<[u8]>, unix_us: u64) -> NewPart {
        NewPart {
            duration,
            independent,
            data,
            capture_unix_us: unix_us,
            program_date_us: unix_us,
        }
    }
}

/// One encoder session: what its segments are decoded with.
#[derive(Debug)]
pub struct Session {
    /// Counts sessions from 0 within the timeline: the discontinuity sequence number of
    /// the session's segments.
    pub number: u64,
    pub init: Arc<[u8]>,
    pub codec: String,
}

#[derive(Debug)]
pub struct Segment {
    pub msn: u64,
    pub parts: Vec<Arc<Part>>,
    pub complete: bool,
    pub session: Arc<Session>,
}

impl Segment {
    /// Duration in ticks: the sum of its parts.
    pub fn duration(&self) -> u64 {
        self.parts.iter().map(|p| u64::from(p.duration)).sum()
    }

    /// PROGRAM-DATE-TIME of the segment, µs since the epoch.
    pub fn program_date_us(&self) -> u64 {
        self.parts.first().map_or(0, |p| p.program_date_us)
    }
}

/// The live window. Segments leave the playlist after `window_segments`, but their data
/// stays downloadable for as long again (RFC 8216 §6.2.2: a removed segment must remain
/// available for its duration plus the playlist's).
#[derive(Debug)]
pub struct Timeline {
    cfg: TimelineConfig,
    session: Arc<Session>,
    /// Whether the session is producing media (false once its encoder stopped).
    running: bool,
    /// Complete segments of the current session.
    session_segments: usize,
    /// Oldest first; the last one may be open (incomplete).
    segments: VecDeque<Segment>,
    next_msn: u64,
}

impl Timeline {
    pub fn new(cfg: TimelineConfig, init: Arc<[u8]>, codec: String) -> Timeline {
        Timeline {
            session: Arc::new(Session {
                number: 0,
                init,
                codec,
            }),
            running: true,
            session_segments: 0,
            next_msn: cfg.first_msn,
            segments: VecDeque::new(),
            cfg,
        }
    }

    /// Starts the next encoder session on the same timeline: its segments follow on with
    /// the next MSN, behind a discontinuity and a new init segment.
    pub fn start_session(&mut self, init: Arc<[u8]>, codec: String) {
        self.end_session();
        self.session = Arc::new(Session {
            number: self.session.number + 1,
            init,
            codec,
        });
        self.running = true;
        self.session_segments = 0;
    }

    /// The encoder stopped: completes the open segment, if it has parts.
    pub fn end_session(&mut self) {
        self.close_segment();
        self.running = false;
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Whether a playlist request without blocking directives may be answered: the running
    /// session has [`SEGMENTS_TO_START`] complete segments.
    pub fn is_ready(&self) -> bool {
        self.running && self.session_segments >= SEGMENTS_TO_START
    }

    /// The init segment of session `number`, while any of its segments is retained.
    pub fn session_init(&self, number: u64) -> Option<&Arc<[u8]>> {
        if self.session.number == number {
            return Some(&self.session.init);
        }
        self.segments
            .iter()
            .find(|s| s.session.number == number)
            .map(|s| &s.session.init)
    }

    /// The current session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn config(&self) -> &TimelineConfig {
        &self.cfg
    }

    pub fn prefix(&self) -> &str {
        &self.cfg.prefix
    }

    /// The current session's init segment.
    pub fn init(&self) -> &Arc<[u8]> {
        &self.session.init
    }

    /// RFC 6381 codec string of the video track, e.g. `avc1.42c01f`.
    pub fn codec(&self) -> &str {
        &self.session.codec
    }

    /// Appends a finished part to the open segment (opening one if needed); returns it.
    pub fn push_part(&mut self, new: NewPart) -> Arc<Part> {
        if self.segments.back().is_none_or(|s| s.complete) {
            self.segments.push_back(Segment {
                msn: self.next_msn,
                parts: Vec::new(),
                complete: false,
                session: Arc::clone(&self.session),
            });
            self.next_msn += 1;
        }
        let seg = self
            .segments
            .back_mut()
            .expect("an open segment was just ensured");
        let part = Arc::new(Part {
            msn: seg.msn,
            index: seg.parts.len() as u32,
            duration: new.duration,
            independent: new.independent,
            data: new.data,
            capture_unix_us: new.capture_unix_us,
            program_date_us: new.program_date_us,
        });
        seg.parts.push(Arc::clone(&part));
        part
    }

    /// Completes the open segment, if it has any part. Returns its MSN.
    pub fn close_segment(&mut self) -> Option<u64> {
        let seg = self
            .segments
            .back_mut()
            .filter(|s| !s.complete && !s.parts.is_empty())?;
        seg.complete = true;
        let msn = seg.msn;
        self.session_segments += 1;
        let retained = self.cfg.window_segments.saturating_mul(2).max(1);
        while self.complete_count() > retained {
            self.segments.pop_front();
        }
        Some(msn)
    }

    fn complete_count(&self) -> usize {
        self.segments.iter().filter(|s| s.complete).count()
    }

    /// The segments the playlist lists: the last `window_segments` complete ones and the open one.
    pub fn listed(&self) -> impl Iterator<Item = &Segment> {
        let complete = self.complete_count();
        let skip = complete.saturating_sub(self.cfg.window_segments);
        self.segments.iter().skip(skip)
    }

    /// True once at least one complete segment exists: blocking requests can be answered.
    pub fn is_playable(&self) -> bool {
        self.segments.iter().any(|s| s.complete)
    }

    /// The newest part, as (msn, index).
    pub fn last_part(&self) -> Option<(u64, u32)> {
        let seg = self.segments.iter().rev().find(|s| !s.parts.is_empty())?;
        Some((seg.msn, seg.parts.len() as u32 - 1))
    }

    /// The newest complete segment's MSN.
    pub fn last_complete_msn(&self) -> Option<u64> {
        self.segments
            .iter()
            .rev()
            .find(|s| s.complete)
            .map(|s| s.msn)
    }

    /// MSN of the segment being filled (or about to be opened).
    pub fn current_msn(&self) -> u64 {
        match self.segments.back() {
            Some(s) if !s.complete => s.msn,
            _ => self.next_msn,
        }
    }

    /// The part the next EXT-X-PRELOAD-HINT names. Once the open segment has reached its
    /// target the next part is expected to start the next segment (on the encoder's IDR).
    pub fn next_part(&self) -> (u64, u32) {
        match self.segments.back() {
            Some(s) if !s.complete => {
                let half_part = u64::from(self.cfg.part_target / 2);
                if s.duration() + half_part >= u64::from(self.cfg.segment_target) {
                    (s.msn + 1, 0)
                } else {
                    (s.msn, s.parts.len() as u32)
                }
            }
            _ => (self.next_msn, 0),
        }
    }

    pub fn part(&self, msn: u64, index: u32) -> Option<Arc<Part>> {
        let seg = self.segment_entry(msn)?;
        seg.parts.get(index as usize).cloned()
    }

    /// A complete segment's parts, in order (a segment is its parts back to back).
    pub fn segment(&self, msn: u64) -> Option<Vec<Arc<[u8]>>> {
        let seg = self.segment_entry(msn).filter(|s| s.complete)?;
        Some(seg.parts.iter().map(|p| Arc::clone(&p.data)).collect())
    }

    fn segment_entry(&self, msn: u64) -> Option<&Segment> {
        let first = self.segments.front()?.msn;
        let offset = usize::try_from(msn.checked_sub(first)?).ok()?;
        self.segments.get(offset)
    }

    /// Whether part `index` of segment `msn`, or anything after it, has been published.
    /// An index past the last part of a complete segment means part 0 of the next one.
    pub fn has_part_at_or_after(&self, msn: u64, index: u32) -> bool {
        self.last_part().is_some_and(|last| last >= (msn, index))
    }

    /// Whether a request for (msn, index) is further ahead than the Advance Part Limit allows.
    pub fn is_too_far_ahead(&self, msn: u64, index: Option<u32>) -> bool {
        let current = self.current_msn();
        let last_listed = self.last_complete_msn().unwrap_or(current);
        if msn > last_listed + 2 {
            return true;
        }
        let Some(index) = index else { return false };
        let (last_msn, last_index) = self.last_part().unwrap_or((current, 0));
        let per_segment = self.cfg.nominal_parts_per_segment();
        let wanted = msn
            .saturating_mul(per_segment)
            .saturating_add(u64::from(index));
        let have = last_msn.saturating_mul(per_segment) + u64::from(last_index);
        wanted > have + self.cfg.advance_part_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn config() -> TimelineConfig {
        TimelineConfig {
            prefix: "abc".into(),
            part_target: 18_000,
            segment_target: 90_000,
            window_segments: 3,
            first_msn: 0,
        }
    }

    fn data() -> Arc<[u8]> {
        Arc::from(&b"moof"[..])
    }

    /// Pushes whole 1 s segments of five 200 ms parts.
    fn fill(tl: &mut Timeline, segments: usize) {
        for _ in 0..segments {
            for i in 0..5 {
                tl.push_part(NewPart::at(18_000, i == 0, data(), 0));
            }
            tl.close_segment();
        }
    }

    #[test]
    fn numbers_parts_and_segments() {
        let mut tl = Timeline::new(config(), data(), "avc1.42c01f".into());
        assert_eq!(tl.next_part(), (0, 0));
        let p = tl.push_part(NewPart::at(18_000, true, data(), 5));
        assert_eq!((p.msn, p.index), (0, 0));
        assert_eq!(tl.next_part(), (0, 1));
        for _ in 0..4 {
            tl.push_part(NewPart::at(18_000, false, data(), 5));
        }
        assert_eq!(
            tl.next_part(),
            (1, 0),
            "a full segment hints the next segment"
        );
        assert!(!tl.is_playable());
        assert_eq!(tl.close_segment(), Some(0));
        assert_eq!(tl.close_segment(), None, "nothing open to close");
        assert!(tl.is_playable());
        assert_eq!(tl.next_part(), (1, 0));
        assert_eq!(tl.segment(0).map(|s| s.len()), Some(5));
        assert!(tl.segment(1).is_none());
    }

    #[test]
    fn window_lists_and_retains() {
        let mut tl = Timeline::new(config(), data(), String::new());
        fill(&mut tl, 10);
        tl.push_part(NewPart::at(18_000, true, data(), 0));
        let listed: Vec<u64> = tl.listed().map(|s| s.msn).collect();
        assert_eq!(listed, vec![7, 8, 9, 10]);
        assert!(
            tl.segment(4).is_some(),
            "evicted segments stay downloadable for a while"
        );
        assert!(tl.segment(3).is_none());
        assert!(tl.part(4, 4).is_some());
        assert!(tl.part(10, 1).is_none());
    }

    #[test]
    fn availability_follows_part_order() {
        let mut tl = Timeline::new(config(), data(), String::new());
        fill(&mut tl, 1);
        assert!(tl.has_part_at_or_after(0, 4));
        assert!(
            !tl.has_part_at_or_after(0, 5),
            "past the last part means part 0 of msn 1"
        );
        assert!(!tl.has_part_at_or_after(1, 0));
        tl.push_part(NewPart::at(18_000, true, data(), 0));
        assert!(tl.has_part_at_or_after(0, 5));
        assert!(tl.has_part_at_or_after(1, 0));
        assert!(!tl.has_part_at_or_after(1, 1));
    }

    #[test]
    fn advance_limits() {
        let mut tl = Timeline::new(config(), data(), String::new());
        fill(&mut tl, 2);
        assert_eq!(tl.config().advance_part_limit(), 15);
        // The last listed (complete) segment is 1: up to msn 3 may be waited for.
        assert!(!tl.is_too_far_ahead(3, None));
        assert!(tl.is_too_far_ahead(4, None));
        assert!(!tl.is_too_far_ahead(2, Some(0)));
        // The last part is 1.4; 15 parts ahead of it (3.9 on a 5-part grid) is the limit.
        assert!(
            !tl.is_too_far_ahead(3, Some(9)),
            "15 parts ahead is the limit"
        );
        assert!(tl.is_too_far_ahead(3, Some(10)));
    }
}
