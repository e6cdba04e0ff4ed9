//! A raw picture from a source: the unit every camera source delivers and every encoder
//! takes. It lives here, at the bottom, so the driver (`v4l2`) and `encode` need nothing
//! from `camera`.

use std::sync::Arc;

/// One raw picture in planar YUV 4:2:0 (I420): the Y plane, then U, then V, no padding.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub data: Arc<[u8]>,
    /// Capture time on the monotonic media clock, 90 kHz.
    pub pts: u64,
    /// Wall-clock capture time, µs since the Unix epoch.
    pub capture_unix_us: u64,
    /// Frame number since the source started.
    pub sequence: u64,
}

impl Frame {
    /// Bytes an I420 picture of this size takes.
    pub fn i420_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
    }

    pub fn y(&self) -> &[u8] {
        &self.data[..self.luma_len()]
    }

    pub fn u(&self) -> &[u8] {
        let start = self.luma_len();
        &self.data[start..start + self.chroma_len()]
    }

    pub fn v(&self) -> &[u8] {
        let start = self.luma_len() + self.chroma_len();
        &self.data[start..start + self.chroma_len()]
    }

    fn luma_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    fn chroma_len(&self) -> usize {
        (self.width as usize).div_ceil(2) * (self.height as usize).div_ceil(2)
    }
}

impl crate::fanout::SyncPoint for Frame {
    fn is_sync_point(&self) -> bool {
        true
    }
}
