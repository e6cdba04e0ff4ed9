//! The `pipe:<command>` source: a shell command writing H.264 Annex B to its stdout
//! (ffmpeg, `rpicam-vid --codec h264 -o -`, gstreamer ...). Its access units go to the
//! LL-HLS muxer as they are, without picamd's encoder, so there are no raw frames and no
//! stills. The stream must come in real time, without B-frames (decode order is taken as
//! presentation order), with an IDR at every segment boundary (e.g. `-g 30` at 30 fps and
//! 1 s segments).

use std::fmt;
use std::io::Read;
use std::process::{ChildStdout, Command};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::child::{self, RunEnd, SilenceLimits};
use super::source::{FrameClock, Output, Source, SourceContext};
use super::status::Delivers;
use crate::clock;
use crate::media::h264::{self, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SEI, NAL_SPS};
use crate::media::AccessUnit;

pub const LOG_TARGET: &str = "picamd::camera::pipe";

/// A single NAL unit larger than this means the input is not H.264.
const MAX_BUFFER: usize = 16 << 20;

/// One picture's NAL units, as found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Annex B with 4-byte start codes; an IDR carries SPS and PPS.
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// The command's output is not H.264: no start code in this many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnnexB {
    pub buffered: usize,
}

impl fmt::Display for NotAnnexB {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no H.264 start code in {} bytes: is the command writing Annex B H.264?",
            self.buffered
        )
    }
}

impl std::error::Error for NotAnnexB {}

/// Splits an Annex B byte stream into access units (H.264 §7.4.1.2.3): a new one starts
/// at an AUD, SPS, PPS or SEI after a slice, or at a slice whose first_mb_in_slice is 0.
#[derive(Debug, Default)]
pub struct AccessUnitSplitter {
    /// Bytes not yet split into NAL units, starting at a start code once one was seen.
    pending: Vec<u8>,
    current: Vec<u8>,
    current_has_slice: bool,
    current_idr: bool,
    current_has_sps: bool,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl AccessUnitSplitter {
    /// Feeds bytes; appends every access unit they completed to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Picture>) -> Result<(), NotAnnexB> {
        self.pending.extend_from_slice(bytes);
        // Every complete NAL unit is followed by the next start code.
        let mut starts = Vec::new();
        let mut i = 0;
        while let Some(p) = self.pending[i..].windows(3).position(|w| w == [0, 0, 1]) {
            starts.push(i + p);
            i += p + 3;
        }
        if starts.len() < 2 {
            if self.pending.len() > MAX_BUFFER {
                return Err(NotAnnexB {
                    buffered: self.pending.len(),
                });
            }
            return Ok(());
        }
        for pair in starts.windows(2) {
            let nal = trim_trailing_zeros(&self.pending[pair[0] + 3..pair[1]]);
            let nal = nal.to_vec();
            self.take_nal(&nal, out);
        }
        let last = *starts.last().expect("two or more");
        self.pending.drain(..last);
        Ok(())
    }

    fn take_nal(&mut self, nal: &[u8], out: &mut Vec<Picture>) {
        let Some(kind) = h264::nal_type(nal) else {
            return;
        };
        let is_slice = (1..=5).contains(&kind);
        let starts_picture = match kind {
            NAL_AUD | NAL_SPS | NAL_PPS | NAL_SEI | 14..=18 => true,
            // first_mb_in_slice is ue(v): 0 is coded as a single 1 bit.
            1..=5 => nal.get(1).is_some_and(|b| b & 0x80 != 0),
            _ => false,
        };
        if self.current_has_slice && starts_picture {
            self.finish(out);
        }
        match kind {
            NAL_SPS => self.sps = Some(nal.to_vec()),
            NAL_PPS => self.pps = Some(nal.to_vec()),
            _ => {}
        }
        if kind == NAL_SPS {
            self.current_has_sps = true;
        }
        if kind == NAL_IDR && !self.current_has_sps {
            // Players joining at this IDR need the parameter sets in front of it.
            if let (Some(sps), Some(pps)) = (self.sps.clone(), self.pps.clone()) {
                append_nal(&mut self.current, &sps);
                append_nal(&mut self.current, &pps);
                self.current_has_sps = true;
            }
        }
        append_nal(&mut self.current, nal);
        self.current_has_slice |= is_slice;
        self.current_idr |= kind == NAL_IDR;
    }

    fn finish(&mut self, out: &mut Vec<Picture>) {
        out.push(Picture {
            data: std::mem::take(&mut self.current),
            keyframe: self.current_idr,
        });
        self.current_has_slice = false;
        self.current_idr = false;
        self.current_has_sps = false;
    }
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &nal[..end]
}

fn append_nal(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1]);
    out.extend_from_slice(nal);
}

/// Notices a pipe whose frame rate is not `--fps`: its timestamps assume `--fps`, so the
/// preview would play too fast or too slow.
#[derive(Debug)]
pub struct RateCheck {
    fps: f64,
    start: Option<Instant>,
    frames: u64,
    done: bool,
}

/// How long to count before judging the rate.
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

impl RateCheck {
    pub fn new(fps: f64) -> RateCheck {
        RateCheck {
            fps,
            start: None,
            frames: 0,
            done: false,
        }
    }

    /// Counts a picture arriving at `now`; once, after a few seconds, the measured rate
    /// when it is more than 15% off.
    pub fn picture(&mut self, now: Instant) -> Option<f64> {
        let start = *self.start.get_or_insert(now);
        self.frames += 1;
        let elapsed = now.saturating_duration_since(start);
        if self.done || elapsed < RATE_WINDOW {
            return None;
        }
        self.done = true;
        let measured = (self.frames - 1) as f64 / elapsed.as_secs_f64();
        ((measured / self.fps - 1.0).abs() > 0.15).then_some(measured)
    }
}

pub struct PipeSource {
    pub command: String,
    pub fps: f64,
}

impl Source for PipeSource {
    fn name(&self) -> &'static str {
        "pipe"
    }

    fn delivers(&self) -> Delivers {
        Delivers::H264
    }

    fn run(self: Box<Self>, mut ctx: SourceContext) {
        log::info!("pipe source: sh -c {:?}", self.command);
        let mut clock = FrameClock::new(self.fps, Instant::now());
        let status = Arc::clone(&ctx.status);
        let stop = Arc::clone(&ctx.stop);
        child::supervise(
            "the pipe command",
            LOG_TARGET,
            &stop,
            &status,
            SilenceLimits::default(),
            || {
                let mut cmd = Command::new("sh");
                cmd.args(["-c", &self.command]);
                cmd
            },
            |stdout| read_units(stdout, &mut clock, &mut ctx),
        );
    }
}

fn read_units(stdout: &mut ChildStdout, clock: &mut FrameClock, ctx: &mut SourceContext) -> RunEnd {
    let mut splitter = AccessUnitSplitter::default();
    let mut rate = RateCheck::new(clock.fps());
    let mut pictures = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            return RunEnd::Stopped;
        }
        let n = match stdout.read(&mut buf) {
            Ok(0) => return RunEnd::Failed("the pipe command closed its output".into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return RunEnd::Failed(format!("reading the pipe command: {e}")),
        };
        if let Err(e) = splitter.push(&buf[..n], &mut pictures) {
            return RunEnd::Failed(e.to_string());
        }
        for picture in pictures.drain(..) {
            let now = Instant::now();
            if let Some(measured) = rate.picture(now) {
                log::warn!(
                    "the pipe command delivers about {measured:.1} fps, not the {} of --fps: set --fps to its rate, or the preview plays at the wrong speed",
                    clock.fps()
                );
            }
            let (_, pts) = clock.stamp(now);
            (ctx.deliver)(Output::Unit(AccessUnit {
                data: picture.data,
                keyframe: picture.keyframe,
                dts: pts,
                pts,
                capture_unix_us: clock::unix_us(),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    /// Slices with first_mb_in_slice 0 (top bit set) and 1 (`010`).
    const IDR: &[u8] = &[0x65, 0x88, 0x84, 0x21];
    const IDR_SECOND_SLICE: &[u8] = &[0x65, 0x40, 0x11];
    const P: &[u8] = &[0x41, 0x9a, 0x02];
    const SEI: &[u8] = &[0x06, 0x05, 0x01, 0x80];

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, nal) in nals.iter().enumerate() {
            // Mixed 3- and 4-byte start codes, as encoders write them.
            if i % 2 == 0 {
                out.push(0);
            }
            out.extend_from_slice(&[0, 0, 1]);
            out.extend_from_slice(nal);
        }
        out
    }

    fn four_byte(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for nal in nals {
            append_nal(&mut out, nal);
        }
        out
    }

    #[test]
    fn splits_pictures_in_any_chunking() {
        let stream = annexb(&[
            SPS,
            PPS,
            IDR,
            IDR_SECOND_SLICE,
            P,
            SEI,
            P,
            P,
            SPS,
            PPS,
            IDR,
            P,
            P,
        ]);
        for chunk in [1, 2, 3, 7, stream.len()] {
            let mut s = AccessUnitSplitter::default();
            let mut out = Vec::new();
            for c in stream.chunks(chunk) {
                s.push(c, &mut out).unwrap();
            }
            // A picture is complete once the next one begins, and a NAL unit once the next
            // start code arrives: the last two P pictures stay open.
            assert_eq!(out.len(), 5, "chunk {chunk}");
            assert_eq!(out[0].data, four_byte(&[SPS, PPS, IDR, IDR_SECOND_SLICE]));
            assert!(out[0].keyframe);
            assert_eq!(out[1].data, four_byte(&[P]));
            assert_eq!(out[2].data, four_byte(&[SEI, P]));
            assert!(!out[2].keyframe);
            assert_eq!(out[4].data, four_byte(&[SPS, PPS, IDR]));
        }
    }

    #[test]
    fn parameter_sets_are_put_before_an_idr_that_lacks_them() {
        let stream = annexb(&[SPS, PPS, IDR, P, IDR, P, P]);
        let mut s = AccessUnitSplitter::default();
        let mut out = Vec::new();
        s.push(&stream, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].data, four_byte(&[SPS, PPS, IDR]));
        assert!(out[2].keyframe);
    }

    #[test]
    fn rate_check_speaks_up_once_when_the_rate_is_off() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let mut right = RateCheck::new(30.0);
        let mut wrong = RateCheck::new(30.0);
        let mut warnings = Vec::new();
        for n in 0..200u64 {
            assert_eq!(right.picture(at(n * 1000 / 30)), None);
            warnings.extend(wrong.picture(at(n * 40)));
        }
        assert_eq!(warnings.len(), 1);
        assert!((warnings[0] - 25.0).abs() < 0.1, "{warnings:?}");
    }

    #[test]
    fn refuses_a_stream_without_start_codes() {
        let mut s = AccessUnitSplitter::default();
        let junk = vec![0xffu8; MAX_BUFFER + 1];
        let err = s.push(&junk, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("Annex B"), "{err}");
    }

    #[test]
    fn splits_openh264_output_into_its_access_units() {
        use crate::camera::testsrc::Painter;
        use crate::encode::openh264::{H264Config, H264Encoder};
        use crate::encode::OnGrid;
        use crate::media::Frame;
        let cfg = H264Config {
            bitrate: 300_000,
            fps: 30.0,
            idr_interval: 10 * 3000,
        };
        let mut encoder = OnGrid::new(H264Encoder::new(cfg).unwrap(), cfg.idr_interval);
        let painter = Painter::new(160, 96);
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for n in 0..21u64 {
            let frame = Frame {
                width: 160,
                height: 96,
                data: Arc::from(painter.paint(n, n)),
                pts: n * 3000,
                capture_unix_us: n,
                sequence: n,
            };
            let au = encoder.encode(&frame).unwrap().pop().unwrap();
            stream.extend_from_slice(&au.data);
            expected.push(au.keyframe);
        }
        let mut s = AccessUnitSplitter::default();
        let mut out = Vec::new();
        for c in stream.chunks(1000) {
            s.push(c, &mut out).unwrap();
        }
        let keyframes: Vec<bool> = out.iter().map(|p| p.keyframe).collect();
        assert_eq!(keyframes, expected[..20]);
        for p in out.iter().filter(|p| p.keyframe) {
            let (sps, pps) = h264::parameter_sets(&p.data);
            assert!(sps.is_some() && pps.is_some());
        }
    }
}
