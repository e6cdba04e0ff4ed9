//! The encoder controls we set (ids from `linux/v4l2-controls.h`) and which values a
//! configuration asks for. No I/O: the M2M encoder applies the plan to what the device has.

use super::fourcc::{FourCc, H264};

const CODEC_BASE: u32 = 0x0099_0900;
pub const CID_MPEG_VIDEO_GOP_SIZE: u32 = CODEC_BASE + 203;
pub const CID_MPEG_VIDEO_BITRATE: u32 = CODEC_BASE + 207;
pub const CID_MPEG_VIDEO_REPEAT_SEQ_HEADER: u32 = CODEC_BASE + 226;
pub const CID_MPEG_VIDEO_FORCE_KEY_FRAME: u32 = CODEC_BASE + 229;
pub const CID_MPEG_VIDEO_H264_I_PERIOD: u32 = CODEC_BASE + 358;
pub const CID_MPEG_VIDEO_H264_LEVEL: u32 = CODEC_BASE + 359;
pub const CID_MPEG_VIDEO_H264_PROFILE: u32 = CODEC_BASE + 363;

/// `V4L2_MPEG_VIDEO_H264_PROFILE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H264Profile {
    Main = 2,
}

/// `V4L2_MPEG_VIDEO_H264_LEVEL_*` values we pick from.
pub const H264_LEVEL_4_0: i64 = 11;
pub const H264_LEVEL_4_1: i64 = 12;
pub const H264_LEVEL_4_2: i64 = 13;
pub const H264_LEVEL_5_1: i64 = 15;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub bitrate: u32,
    /// Frames between key frames.
    pub idr_period: u32,
    pub profile: H264Profile,
}

/// The lowest level that holds the picture size and rate, as uStreamer picks it.
pub fn h264_level(width: u32, height: u32, fps: f64) -> i64 {
    if u64::from(width) * u64::from(height) > 1920 * 1088 {
        H264_LEVEL_5_1
    } else if fps > 30.0 {
        H264_LEVEL_4_2
    } else if u64::from(width) * u64::from(height) > 1280 * 720 {
        H264_LEVEL_4_1
    } else {
        H264_LEVEL_4_0
    }
}

/// (control id, value, name for the logs) in the order they are applied.
pub fn plan(codec: FourCc, s: &EncoderSettings) -> Vec<(u32, i64, &'static str)> {
    let mut out = vec![
        (CID_MPEG_VIDEO_BITRATE, i64::from(s.bitrate), "bitrate"),
        (CID_MPEG_VIDEO_GOP_SIZE, i64::from(s.idr_period), "GOP size"),
    ];
    if codec == H264 {
        out.extend([
            (
                CID_MPEG_VIDEO_H264_PROFILE,
                s.profile as i64,
                "H.264 profile",
            ),
            (
                CID_MPEG_VIDEO_H264_LEVEL,
                h264_level(s.width, s.height, s.fps),
                "H.264 level",
            ),
            (
                CID_MPEG_VIDEO_H264_I_PERIOD,
                i64::from(s.idr_period),
                "IDR period",
            ),
            // SPS/PPS before every IDR: a player may join at any segment.
            (CID_MPEG_VIDEO_REPEAT_SEQ_HEADER, 1, "repeat SPS/PPS"),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::fourcc::FWHT;

    /// Values printed from linux/v4l2-controls.h.
    #[test]
    fn ids_match_the_header() {
        assert_eq!(CID_MPEG_VIDEO_BITRATE, 0x0099_09cf);
        assert_eq!(CID_MPEG_VIDEO_GOP_SIZE, 0x0099_09cb);
        assert_eq!(CID_MPEG_VIDEO_REPEAT_SEQ_HEADER, 0x0099_09e2);
        assert_eq!(CID_MPEG_VIDEO_FORCE_KEY_FRAME, 0x0099_09e5);
        assert_eq!(CID_MPEG_VIDEO_H264_I_PERIOD, 0x0099_0a66);
        assert_eq!(CID_MPEG_VIDEO_H264_LEVEL, 0x0099_0a67);
        assert_eq!(CID_MPEG_VIDEO_H264_PROFILE, 0x0099_0a6b);
        assert_eq!(H264Profile::Main as i64, 2);
        assert_eq!(H264_LEVEL_4_1, 0x0c);
    }

    #[test]
    fn levels_follow_size_and_rate() {
        assert_eq!(h264_level(1280, 720, 30.0), H264_LEVEL_4_0);
        assert_eq!(h264_level(1920, 1080, 30.0), H264_LEVEL_4_1);
        assert_eq!(h264_level(1920, 1080, 60.0), H264_LEVEL_4_2);
        assert_eq!(h264_level(2592, 1944, 15.0), H264_LEVEL_5_1);
    }

    #[test]
    fn h264_gets_the_full_plan_and_fwht_only_the_generic_part() {
        let s = EncoderSettings {
            width: 1920,
            height: 1080,
            fps: 30.0,
            bitrate: 4_000_000,
            idr_period: 60,
            profile: H264Profile::Main,
        };
        let h264: Vec<(u32, i64)> = plan(H264, &s).iter().map(|&(id, v, _)| (id, v)).collect();
        assert_eq!(
            h264,
            vec![
                (CID_MPEG_VIDEO_BITRATE, 4_000_000),
                (CID_MPEG_VIDEO_GOP_SIZE, 60),
                (CID_MPEG_VIDEO_H264_PROFILE, 2),
                (CID_MPEG_VIDEO_H264_LEVEL, H264_LEVEL_4_1),
                (CID_MPEG_VIDEO_H264_I_PERIOD, 60),
                (CID_MPEG_VIDEO_REPEAT_SEQ_HEADER, 1),
            ]
        );
        assert_eq!(plan(FWHT, &s).len(), 2);
    }
}
