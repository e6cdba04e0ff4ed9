//! Per-frame fMP4 for the live view: one `moof` + `mdat` per access unit, behind an init
//! segment taken from the first IDR. Sans-IO: access units in, bytes out.
//!
//! Decode times are continuous: each fragment starts where the previous one ended. A sample's
//! duration must be written before the next frame exists, so it is the gap between this frame
//! and the one before (the nominal frame duration for the first), clamped to at most two
//! nominal frames. Over time the sum of durations therefore follows the camera's clock, and a
//! hole (frames the viewer lost, an encoder pause) shrinks to one frame instead of leaving a
//! gap that would make a Media Source buffer wait for the next IDR.

use super::{fragment, init_segment, Sample, TrackConfig};
use crate::media::h264::{self, parse_sps};
use crate::media::AccessUnit;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveError {
    /// An IDR came with other SPS/PPS (the camera restarted with other settings): the
    /// stream needs a new init segment, so the consumer starts over.
    ParameterSetsChanged,
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::ParameterSetsChanged => f.write_str("the H.264 parameter sets changed"),
        }
    }
}

impl std::error::Error for LiveError {}

/// What [`LiveFragmenter::push`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Nothing: still waiting for an IDR with usable parameter sets.
    Waiting,
    /// The init segment and the first fragment (an IDR). `codec` is the `avc1.PPCCLL` string.
    Started {
        codec: String,
        width: u32,
        height: u32,
    },
    /// One more fragment.
    Fragment,
}

pub struct LiveFragmenter {
    /// Nominal frame duration in 90 kHz ticks.
    frame_duration: u32,
    parameter_sets: Option<(Vec<u8>, Vec<u8>)>,
    sequence: u32,
    /// Output decode time of the next fragment.
    next_dts: u64,
    last_source_dts: Option<u64>,
}

impl LiveFragmenter {
    pub fn new(frame_duration: u32) -> LiveFragmenter {
        LiveFragmenter {
            frame_duration: frame_duration.max(1),
            parameter_sets: None,
            sequence: 0,
            next_dts: 0,
            last_source_dts: None,
        }
    }

    /// Appends what `au` turns into to `out`: nothing before the first usable IDR, then the
    /// init segment with the first fragment, then one fragment per access unit.
    pub fn push(&mut self, au: &AccessUnit, out: &mut Vec<u8>) -> Result<Pushed, LiveError> {
        let mut pushed = Pushed::Fragment;
        if au.keyframe {
            if let (Some(sps), Some(pps)) = h264::parameter_sets(&au.data) {
                match &self.parameter_sets {
                    Some((s, p)) if s.as_slice() == sps && p.as_slice() == pps => {}
                    Some(_) => return Err(LiveError::ParameterSetsChanged),
                    None => match start(sps, pps, out) {
                        Some(started) => {
                            self.parameter_sets = Some((sps.to_vec(), pps.to_vec()));
                            pushed = started;
                        }
                        None => return Ok(Pushed::Waiting),
                    },
                }
            }
        }
        if self.parameter_sets.is_none() {
            return Ok(Pushed::Waiting);
        }
        let fd = u64::from(self.frame_duration);
        let duration = self
            .last_source_dts
            .map_or(fd, |last| au.dts.saturating_sub(last).clamp(1, 2 * fd));
        self.last_source_dts = Some(au.dts);
        self.sequence = self.sequence.wrapping_add(1);
        let sample = Sample {
            annexb: &au.data,
            // At most two frame durations, so it fits.
            duration: u32::try_from(duration).unwrap_or(self.frame_duration),
            keyframe: au.keyframe,
            composition_offset: i32::try_from(au.pts.saturating_sub(au.dts)).unwrap_or(0),
        };
        fragment(self.sequence, self.next_dts, &[sample], out);
        self.next_dts += duration;
        Ok(pushed)
    }
}

/// Writes the init segment for these parameter sets; `None` when the SPS is unusable.
fn start(sps: &[u8], pps: &[u8], out: &mut Vec<u8>) -> Option<Pushed> {
    let info = match parse_sps(sps) {
        Ok(info) => info,
        Err(e) => {
            log::warn!("live view: ignoring an IDR whose SPS cannot be parsed: {e}");
            return None;
        }
    };
    let (Ok(width), Ok(height)) = (u16::try_from(info.width), u16::try_from(info.height)) else {
        return None;
    };
    out.extend_from_slice(&init_segment(&TrackConfig {
        width,
        height,
        sps: sps.to_vec(),
        pps: pps.to_vec(),
    }));
    Some(Pushed::Started {
        codec: info.codec_string(),
        width: info.width,
        height: info.height,
    })
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
