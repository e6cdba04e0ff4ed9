//! Access units in, file operations out (sans-IO): which file each access unit goes to, the
//! fragments (`moof` + `mdat`) it is written in, and when a file ends.
//!
//! - A file starts at an IDR whose SPS and PPS give its init segment; its decode times are
//!   rebased so the file starts at 0.
//! - A fragment starts at every IDR and at the first access unit a fragment length
//!   ([`SegmenterConfig::fragment_ticks`]) after the fragment's start; it is written when the
//!   next fragment begins, since a sample's duration is the gap to the next access unit. So a
//!   crash loses at most the fragment being gathered.
//! - A file ends, and the next begins, at the first IDR at least
//!   [`SegmenterConfig::rotate_ticks`] after the file's start, or at an IDR with other
//!   parameter sets (the camera restarted with other settings).
//! - A gap in the access units (the preview paused, frames lost) becomes one sample of at most
//!   [`SegmenterConfig::max_gap_ticks`]: the file shows a pause, not a hole of minutes.

use std::sync::Arc;

use crate::media::fmp4::{fragment, init_segment, Sample, TrackConfig};
use crate::media::h264::{parameter_sets, parse_sps};
use crate::media::AccessUnit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmenterConfig {
    /// Nominal frame duration (90 kHz ticks): the last sample's duration when a file ends.
    pub frame_duration: u32,
    /// Longest a fragment gathers before it is written (its samples' span).
    pub fragment_ticks: u64,
    /// A file rotates at the first IDR at least this long after its start; `None`: never.
    pub rotate_ticks: Option<u64>,
    /// Longest one sample may last (a gap in the access units is shortened to this).
    pub max_gap_ticks: u64,
}

/// What the file edge does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Create a new file and write its init segment; `width`/`height` from the SPS.
    Open {
        init: Vec<u8>,
        width: u32,
        height: u32,
    },
    /// Append one fragment to the open file; `file_ticks` is the file's duration after it.
    Fragment {
        bytes: Vec<u8>,
        samples: usize,
        file_ticks: u64,
    },
    /// End the open file; its duration in 90 kHz ticks.
    Close { duration: u64 },
}

struct OpenFile {
    sps: Vec<u8>,
    pps: Vec<u8>,
    /// Fragments written (the next `mfhd` sequence number is this + 1).
    sequence: u32,
    /// Ticks written so far: the next fragment's `tfdt`.
    written: u64,
}

pub struct Segmenter {
    cfg: SegmenterConfig,
    file: Option<OpenFile>,
    pending: Vec<Arc<AccessUnit>>,
    /// Access units skipped while waiting for a usable IDR.
    pub skipped: u64,
}

impl Segmenter {
    pub fn new(cfg: SegmenterConfig) -> Segmenter {
        Segmenter {
            cfg: SegmenterConfig {
                frame_duration: cfg.frame_duration.max(1),
                max_gap_ticks: cfg.max_gap_ticks.max(1),
                ..cfg
            },
            file: None,
            pending: Vec::new(),
            skipped: 0,
        }
    }

    /// Whether a file is open.
    #[cfg(test)]
    pub fn in_file(&self) -> bool {
        self.file.is_some()
    }

    /// Takes one access unit; appends what to do to `out`.
    pub fn push(&mut self, au: &Arc<AccessUnit>, out: &mut Vec<Output>) {
        let Some(file) = &self.file else {
            self.open(au, out);
            return;
        };
        let first_dts = self.pending.first().map_or(au.dts, |p| p.dts);
        if au.keyframe {
            let changed = match parameter_sets(&au.data) {
                (Some(sps), Some(pps)) => sps != file.sps.as_slice() || pps != file.pps.as_slice(),
                _ => false,
            };
            let elapsed = file.written + au.dts.saturating_sub(first_dts);
            let rotate = self.cfg.rotate_ticks.is_some_and(|r| elapsed >= r);
            self.flush(Some(au.dts), out);
            if changed || rotate {
                self.close(out);
                self.open(au, out);
            } else {
                self.pending.push(Arc::clone(au));
            }
            return;
        }
        if au.dts.saturating_sub(first_dts) >= self.cfg.fragment_ticks {
            self.flush(Some(au.dts), out);
        }
        self.pending.push(Arc::clone(au));
    }

    /// Writes what is pending and ends the file (recording stopped).
    pub fn finish(&mut self, out: &mut Vec<Output>) {
        if self.file.is_some() {
            self.flush(None, out);
            self.close(out);
        }
    }

    fn open(&mut self, au: &Arc<AccessUnit>, out: &mut Vec<Output>) {
        let usable = au.keyframe.then(|| parameter_sets(&au.data));
        let Some((Some(sps), Some(pps))) = usable else {
            self.skipped += 1;
            return;
        };
        let Ok(info) = parse_sps(sps) else {
            self.skipped += 1;
            return;
        };
        let (Ok(width), Ok(height)) = (u16::try_from(info.width), u16::try_from(info.height))
        else {
            self.skipped += 1;
            return;
        };
        let init = init_segment(&TrackConfig {
            width,
            height,
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        });
        out.push(Output::Open {
            init,
            width: info.width,
            height: info.height,
        });
        self.file = Some(OpenFile {
            sps: sps.to_vec(),
            pps: pps.to_vec(),
            sequence: 0,
            written: 0,
        });
        self.pending.clear();
        self.pending.push(Arc::clone(au));
    }

    fn close(&mut self, out: &mut Vec<Output>) {
        if let Some(file) = self.file.take() {
            out.push(Output::Close {
                duration: file.written,
            });
        }
        self.pending.clear();
    }

    /// Writes the pending access units as one fragment; `next_dts` is the decode time of the
    /// access unit after them (`None`: the last one lasts one nominal frame).
    fn flush(&mut self, next_dts: Option<u64>, out: &mut Vec<Output>) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        let max = self.cfg.max_gap_ticks;
        let mut durations = Vec::with_capacity(self.pending.len());
        for (i, au) in self.pending.iter().enumerate() {
            let next = self.pending.get(i + 1).map(|n| n.dts).or(next_dts);
            let d = match next {
                Some(n) => n.saturating_sub(au.dts).clamp(1, max),
                None => u64::from(self.cfg.frame_duration),
            };
            durations.push(u32::try_from(d).unwrap_or(u32::MAX));
        }
        let samples: Vec<Sample<'_>> = self
            .pending
            .iter()
            .zip(&durations)
            .map(|(au, &duration)| Sample {
                annexb: &au.data,
                duration,
                keyframe: au.keyframe,
                composition_offset: i32::try_from(au.pts.saturating_sub(au.dts)).unwrap_or(0),
            })
            .collect();
        file.sequence = file.sequence.wrapping_add(1);
        let mut bytes = Vec::new();
        fragment(file.sequence, file.written, &samples, &mut bytes);
        file.written += durations.iter().map(|&d| u64::from(d)).sum::<u64>();
        out.push(Output::Fragment {
            bytes,
            samples: samples.len(),
            file_ticks: file.written,
        });
        self.pending.clear();
    }
}

#[cfg(test)]
#[path = "segmenter_tests.rs"]
mod tests;
