//! Cuts access units into LL-HLS parts and segments.
//!
//! Parts hold a fixed whole number of frames, so PART-TARGET is known before the first frame
//! and never changes. A part is published the moment its last frame arrives (its last
//! sample gets the nominal frame duration), and a part closes early rather than grow past
//! the target when frames were dropped. Segments start on an IDR once the current one has
//! reached the segment duration. A new SPS/PPS starts a new session with a new init segment.

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
        data: Vec<u8>,
        capture_unix_us: u64,
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
    last_dts: Option<u64>,
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
            last_dts: None,
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
        // Decode time must rise; a source whose clock stepped back continues one frame later.
        let shift = self
            .last_dts
            .filter(|&last| au.dts <= last)
            .map_or(0, |last| last + fd - au.dts);
        let au = Pending {
            dts: au.dts + shift,
            pts: au.pts + shift,
            au,
        };
        self.last_dts = Some(au.dts);

        let part_target = u64::from(self.cfg.part_target());
        if let Some(first) = self.pending.first() {
            let open = au.dts - first.dts;
            let segment_so_far = self.segment_ticks + open;
            if au.au.keyframe && segment_so_far + fd / 2 >= u64::from(self.cfg.segment_target()) {
                self.close_part(Some(au.dts), events);
                self.end_segment(events);
            } else if open + fd > part_target {
                self.close_part(Some(au.dts), events);
            }
        } else if au.au.keyframe
            && self.segment_ticks > 0
            && self.segment_ticks + fd / 2 >= u64::from(self.cfg.segment_target())
        {
            self.end_segment(events);
        }
        self.pending.push(au);
        let first = self.pending[0].dts;
        let last = self.pending[self.pending.len() - 1].dts;
        if last - first + fd >= part_target {
            self.close_part(None, events);
        }
    }

    /// Publishes whatever is pending and completes the segment (the source is stopping).
    pub fn flush(&mut self, events: &mut Vec<SegmenterEvent>) {
        self.close_part(None, events);
        if self.segment_ticks > 0 {
            self.end_segment(events);
        }
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
            // Never let a part outgrow PART-TARGET: a late frame leaves a gap instead.
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
            independent: self.pending[0].au.keyframe,
            data: self.buffer.clone(),
            capture_unix_us: self.pending[0].au.capture_unix_us,
        });
        self.segment_ticks += u64::from(total);
        self.stats.parts += 1;
        self.pending.clear();
    }

    fn end_segment(&mut self, events: &mut Vec<SegmenterEvent>) {
        events.push(SegmenterEvent::SegmentEnd);
        self.segment_ticks = 0;
        self.stats.segments += 1;
    }
}
