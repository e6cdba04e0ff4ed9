//! Access units in, FLV tags out in timestamp order: from the first IDR on, the metadata and
//! both sequence headers at 0 ms, then each video frame preceded by the silent AAC frames due
//! up to its time (AAC frame n at n·1024/44100 s). No IO.

use super::amf0::Amf;
use super::flv::{self, VideoConfig};
use crate::media::{AccessUnit, TIMESCALE};

#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    /// `@setDataFrame onMetaData` (an AMF0 data message at 0 ms).
    Meta(Vec<Amf>),
    Video {
        ms: u32,
        body: Vec<u8>,
    },
    Audio {
        ms: u32,
        body: Vec<u8>,
    },
}

#[cfg(test)]
impl Tag {
    pub fn ms(&self) -> u32 {
        match self {
            Tag::Meta(_) => 0,
            Tag::Video { ms, .. } | Tag::Audio { ms, .. } => *ms,
        }
    }
}

pub struct FlvMux {
    fps: f64,
    video_kbps: f64,
    /// The first IDR's presentation time (90 kHz): 0 ms on the wire.
    start_pts: Option<u64>,
    config: Option<VideoConfig>,
    /// The next AAC frame to send.
    audio_frames: u64,
}

impl FlvMux {
    pub fn new(fps: f64, video_kbps: f64) -> FlvMux {
        FlvMux {
            fps,
            video_kbps,
            start_pts: None,
            config: None,
            audio_frames: 0,
        }
    }

    /// Whether the first IDR has been seen.
    #[cfg(test)]
    pub fn started(&self) -> bool {
        self.start_pts.is_some()
    }

    /// The tags `au` adds; nothing before the first IDR that carries SPS and PPS.
    pub fn push(&mut self, au: &AccessUnit, out: &mut Vec<Tag>) {
        if au.keyframe {
            if let Some(cfg) = VideoConfig::from_annexb(&au.data) {
                if self.start_pts.is_none() {
                    self.start_pts = Some(au.pts);
                    out.push(Tag::Meta(flv::metadata(&cfg, self.fps, self.video_kbps)));
                    out.push(Tag::Video {
                        ms: 0,
                        body: flv::avc_sequence_header(&cfg),
                    });
                    out.push(Tag::Audio {
                        ms: 0,
                        body: flv::aac_sequence_header(),
                    });
                    self.config = Some(cfg);
                } else if self.config.as_ref() != Some(&cfg) {
                    // New parameter sets mid-stream (an encoder restart): a new header.
                    let ms = self.ms_of(au.pts);
                    out.push(Tag::Video {
                        ms,
                        body: flv::avc_sequence_header(&cfg),
                    });
                    self.config = Some(cfg);
                }
            }
        }
        if self.start_pts.is_none() {
            return;
        }
        let ms = self.ms_of(au.pts);
        while flv::aac_frame_ms(self.audio_frames) <= u64::from(ms) {
            out.push(Tag::Audio {
                ms: flv::aac_frame_ms(self.audio_frames) as u32,
                body: flv::aac_silent_frame(),
            });
            self.audio_frames += 1;
        }
        out.push(Tag::Video {
            ms,
            body: flv::avc_frame(&au.data, au.keyframe),
        });
    }

    fn ms_of(&self, pts: u64) -> u32 {
        let start = self.start_pts.unwrap_or(pts);
        (pts.saturating_sub(start) * 1000 / u64::from(TIMESCALE)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::flv::tests::idr;

    fn au(keyframe: bool, frame: u64) -> AccessUnit {
        let data = if keyframe {
            idr()
        } else {
            vec![0, 0, 0, 1, 0x41, 0x9A, 0x02]
        };
        AccessUnit {
            data,
            keyframe,
            dts: 1_000_000 + frame * 3000,
            pts: 1_000_000 + frame * 3000,
            capture_unix_us: 0,
        }
    }

    #[test]
    fn starts_at_the_first_idr_and_interleaves_by_time() {
        let mut mux = FlvMux::new(30.0, 2000.0);
        let mut tags = Vec::new();
        mux.push(&au(false, 0), &mut tags);
        assert!(tags.is_empty() && !mux.started());
        for i in 1..=300 {
            mux.push(&au(i % 30 == 1, i), &mut tags);
        }
        assert!(matches!(tags[0], Tag::Meta(_)));
        // Non-decreasing timestamps throughout.
        assert!(tags.windows(2).all(|w| w[0].ms() <= w[1].ms()));
        let video = tags
            .iter()
            .filter(|t| matches!(t, Tag::Video { body, .. } if body[1] == 1))
            .count();
        let audio: Vec<u32> = tags
            .iter()
            .filter_map(|t| match t {
                Tag::Audio { ms, body } if body[1] == 1 => Some(*ms),
                _ => None,
            })
            .collect();
        assert_eq!(video, 300);
        // 299 frame intervals = 9.966 s: frames 0..=429 of AAC are due.
        assert_eq!(audio.len(), 430);
        assert_eq!(audio[0], 0);
        assert_eq!(*audio.last().unwrap(), 9961);
        // Headers at 0 ms, video's first.
        assert!(matches!(&tags[1], Tag::Video { ms: 0, body } if body[..2] == [0x17, 0]));
        assert!(matches!(&tags[2], Tag::Audio { ms: 0, body } if body[1] == 0));
    }
}
