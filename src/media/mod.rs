//! Media formats: raw frames, H.264 bitstream handling, fragmented MP4 boxes and the LL-HLS
//! segmenter. Everything here is sans-IO (plain data in, plain data out, time passed in)
//! except `llhls::store`, the blocking edge: the LL-HLS state that HTTP workers wait on, with
//! a lock, a condition variable and its own clock for the wait deadlines.

pub mod fmp4;
pub mod frame;
pub mod h264;
pub mod llhls;
pub mod test_vectors;

pub use frame::Frame;

/// Media timescale used everywhere in picamd (ticks per second).
pub const TIMESCALE: u32 = 90_000;

/// One encoded picture as an Annex B byte stream, with its timing.
#[derive(Clone, Debug)]
pub struct AccessUnit {
    /// Annex B NAL units (start codes included), SPS/PPS present on every IDR.
    pub data: Vec<u8>,
    /// True when the access unit holds an IDR picture.
    pub keyframe: bool,
    /// Decode timestamp, 90 kHz, monotonic.
    pub dts: u64,
    /// Presentation timestamp, 90 kHz, `pts >= dts`.
    pub pts: u64,
    /// Wall-clock capture time, microseconds since the Unix epoch.
    pub capture_unix_us: u64,
}

impl crate::fanout::SyncPoint for std::sync::Arc<AccessUnit> {
    fn is_sync_point(&self) -> bool {
        self.keyframe
    }
}
