//! FLV tag bodies for RTMP audio and video messages (FLV spec 10.1, E.4.2/E.4.3): the AVC
//! sequence header from our avcC, AVCC frames, and the AAC-LC sequence header and silent
//! frames (44.1 kHz stereo) YouTube needs for its audio track.

use super::amf0::Amf;
use crate::media::fmp4::avc_decoder_config;
use crate::media::h264::{annexb_to_avcc, avcc_len, parameter_sets, parse_sps};

/// AAC (10), 44 kHz (3), 16-bit (1), stereo (1): the FLV spec says AAC always signals these.
const AAC_HEADER: u8 = 0xAF;
/// AudioSpecificConfig: AAC LC (2), 44.1 kHz (index 4), 2 channels.
pub const AAC_LC_44100_STEREO: [u8; 2] = [0x12, 0x10];
/// One raw AAC-LC frame of digital silence, 1024 stereo samples (as hls.js and shaka
/// generate; ffmpeg decodes it without errors).
pub const SILENT_AAC_STEREO: [u8; 9] = [0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80];
/// Samples per AAC frame.
pub const AAC_FRAME_SAMPLES: u64 = 1024;
pub const AAC_SAMPLE_RATE: u64 = 44_100;
/// What onMetaData announces for the silent track (kbit/s).
const AUDIO_KBPS: f64 = 128.0;

/// The video stream's parameters, from the first IDR's SPS and PPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoConfig {
    pub width: u32,
    pub height: u32,
    /// `AVCDecoderConfigurationRecord` (the avcC payload).
    pub record: Vec<u8>,
}

impl VideoConfig {
    /// From an access unit that carries SPS and PPS (every IDR of ours does).
    pub fn from_annexb(annexb: &[u8]) -> Option<VideoConfig> {
        let (Some(sps), Some(pps)) = parameter_sets(annexb) else {
            return None;
        };
        let parsed = parse_sps(sps).ok()?;
        let mut record = Vec::with_capacity(16 + sps.len() + pps.len());
        avc_decoder_config(&mut record, sps, pps);
        Some(VideoConfig {
            width: parsed.width,
            height: parsed.height,
            record,
        })
    }
}

/// Video: the AVC sequence header.
pub fn avc_sequence_header(cfg: &VideoConfig) -> Vec<u8> {
    let mut body = Vec::with_capacity(5 + cfg.record.len());
    body.extend_from_slice(&[0x17, 0x00, 0, 0, 0]);
    body.extend_from_slice(&cfg.record);
    body
}

/// Video: one access unit as AVCC NAL units (AUD, SPS and PPS dropped), composition time 0
/// (our encoders emit no B-frames).
pub fn avc_frame(annexb: &[u8], keyframe: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(5 + avcc_len(annexb));
    body.extend_from_slice(&[if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0]);
    annexb_to_avcc(annexb, &mut body);
    body
}

/// Audio: the AAC sequence header (AudioSpecificConfig).
pub fn aac_sequence_header() -> Vec<u8> {
    let mut body = vec![AAC_HEADER, 0x00];
    body.extend_from_slice(&AAC_LC_44100_STEREO);
    body
}

/// Audio: one silent AAC frame.
pub fn aac_silent_frame() -> Vec<u8> {
    let mut body = vec![AAC_HEADER, 0x01];
    body.extend_from_slice(&SILENT_AAC_STEREO);
    body
}

/// Milliseconds of AAC frame `n` from the sample count (never accumulated from a rounded
/// 23 ms).
pub fn aac_frame_ms(n: u64) -> u64 {
    n * AAC_FRAME_SAMPLES * 1000 / AAC_SAMPLE_RATE
}

/// The `@setDataFrame onMetaData` values, as ffmpeg's FLV muxer names them.
pub fn metadata(video: &VideoConfig, fps: f64, video_kbps: f64) -> Vec<Amf> {
    let n = Amf::Number;
    vec![
        Amf::str("@setDataFrame"),
        Amf::str("onMetaData"),
        Amf::EcmaArray(vec![
            ("duration".into(), n(0.0)),
            ("width".into(), n(f64::from(video.width))),
            ("height".into(), n(f64::from(video.height))),
            ("videodatarate".into(), n(video_kbps)),
            ("framerate".into(), n(fps)),
            ("videocodecid".into(), n(7.0)),
            ("audiodatarate".into(), n(AUDIO_KBPS)),
            ("audiosamplerate".into(), n(AAC_SAMPLE_RATE as f64)),
            ("audiosamplesize".into(), n(16.0)),
            ("stereo".into(), Amf::Bool(true)),
            ("audiocodecid".into(), n(10.0)),
            ("encoder".into(), Amf::str("picamd")),
            ("filesize".into(), n(0.0)),
        ]),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::media::test_vectors::{annexb, hex, OPENH264_720P_PPS, OPENH264_720P_SPS};

    pub(crate) fn idr() -> Vec<u8> {
        let (sps, pps) = (hex(OPENH264_720P_SPS), hex(OPENH264_720P_PPS));
        annexb(
            &[&[0x09, 0xF0], &sps, &pps, &[0x65, 0x88, 0x84, 0x21]],
            true,
        )
    }

    #[test]
    fn video_bodies() {
        let idr = idr();
        let cfg = VideoConfig::from_annexb(&idr).expect("SPS and PPS");
        assert_eq!((cfg.width, cfg.height), (1280, 720));
        let seq = avc_sequence_header(&cfg);
        assert_eq!(&seq[..5], &[0x17, 0, 0, 0, 0]);
        assert_eq!(seq[5], 1, "configurationVersion");
        let frame = avc_frame(&idr, true);
        assert_eq!(&frame[..5], &[0x17, 1, 0, 0, 0]);
        // Only the slice is left, length-prefixed: no AUD, SPS or PPS.
        assert_eq!(&frame[5..], &[0, 0, 0, 4, 0x65, 0x88, 0x84, 0x21]);
        assert_eq!(avc_frame(&idr, false)[0], 0x27);
        assert!(VideoConfig::from_annexb(&[0, 0, 0, 1, 0x65, 0x88]).is_none());
    }

    #[test]
    fn audio_bodies_and_timing() {
        assert_eq!(aac_sequence_header(), [0xAF, 0, 0x12, 0x10]);
        assert_eq!(aac_silent_frame()[..2], [0xAF, 1]);
        assert_eq!(aac_frame_ms(0), 0);
        assert_eq!(aac_frame_ms(1), 23);
        assert_eq!(aac_frame_ms(43), 998);
        // An hour of frames lands within one frame of the hour: no drift from rounding.
        let frames_per_hour = 3600 * AAC_SAMPLE_RATE / AAC_FRAME_SAMPLES;
        assert!(aac_frame_ms(frames_per_hour).abs_diff(3_600_000) < 24);
    }
}
