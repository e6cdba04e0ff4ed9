//! A stateful memory-to-memory encoder (bcm2835-codec H.264, vicodec FWHT, any driver of
//! the V4L2 stateful encoder interface): raw YU12 frames into the OUTPUT queue, coded
//! packets out of the CAPTURE queue, MMAP memory on both, single- or multi-planar.

use std::fmt;
use std::time::{Duration, Instant};

use super::codec_controls::{
    self, EncoderSettings, CID_MPEG_VIDEO_BITRATE, CID_MPEG_VIDEO_FORCE_KEY_FRAME,
};
use super::device::{Capabilities, Device, PixFormat};
use super::error::V4l2Error;
use super::fourcc::{FourCc, H264, YU12};
use super::queue::{Dequeue, MmapQueue};
use super::sys::*;
use crate::media::Frame;

/// The card name of the Raspberry Pi's encoder node.
pub const BCM2835_ENCODER_CARD: &str = "bcm2835-codec-encode";

const OUTPUT_BUFFERS: u32 = 4;
const CAPTURE_BUFFERS: u32 = 8;
/// Room for an H.264 key frame at 1080p (uStreamer raises `sizeimage` to the same).
const H264_MIN_CODED_SIZE: u32 = 1536 * 1024;

/// One coded packet.
#[derive(Debug, Clone)]
pub struct Packet {
    pub data: Vec<u8>,
    pub keyframe: bool,
    /// The `tag` of the frame this packet codes (the driver copies it through).
    pub tag: u64,
}

/// A candidate node as enumeration saw it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: String,
    pub caps: Capabilities,
    /// Formats of its CAPTURE (coded) queue.
    pub coded_formats: Vec<FourCc>,
}

/// The encoder node for `codec`: bcm2835-codec-encode first, then the first M2M node
/// (by number) whose CAPTURE queue offers the codec.
pub fn pick_encoder(candidates: &[Candidate], codec: FourCc) -> Option<&Candidate> {
    let fits = |c: &&Candidate| c.caps.is_m2m() && c.coded_formats.contains(&codec);
    candidates
        .iter()
        .filter(fits)
        .find(|c| c.caps.card == BCM2835_ENCODER_CARD)
        .or_else(|| candidates.iter().find(fits))
}

/// Every `/dev/videoN`, in numeric order.
pub fn video_nodes() -> Vec<String> {
    let mut nodes: Vec<(u32, String)> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("video")?.parse().ok()?;
            Some((n, format!("/dev/{name}")))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

fn queue_types(caps: &Capabilities) -> (u32, u32) {
    if caps.has(CAP_VIDEO_M2M_MPLANE) {
        (BUF_TYPE_VIDEO_OUTPUT_MPLANE, BUF_TYPE_VIDEO_CAPTURE_MPLANE)
    } else {
        (BUF_TYPE_VIDEO_OUTPUT, BUF_TYPE_VIDEO_CAPTURE)
    }
}

/// Why no encoder for a codec was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindEncoderError {
    /// No V4L2 device could be opened and asked what it is.
    NoDevices(FourCc),
    /// None of the devices seen (each as `path (card, capabilities)`) encodes `codec`.
    NoEncoder { codec: FourCc, seen: Vec<String> },
}

impl fmt::Display for FindEncoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FindEncoderError::NoDevices(codec) => {
                write!(f, "no V4L2 devices to find a {codec} encoder on")
            }
            FindEncoderError::NoEncoder { codec, seen } => write!(
                f,
                "no memory-to-memory {codec} encoder among {}",
                seen.join(", ")
            ),
        }
    }
}

impl std::error::Error for FindEncoderError {}

/// Enumerates the M2M nodes and finds the encoder for `codec`.
pub fn find_encoder(codec: FourCc) -> Result<String, FindEncoderError> {
    let mut candidates = Vec::new();
    let mut seen = Vec::new();
    for path in video_nodes() {
        let Ok(dev) = Device::open(&path) else {
            continue;
        };
        let Ok(caps) = dev.capabilities() else {
            continue;
        };
        seen.push(format!(
            "{path} ({}, {})",
            caps.card,
            caps.names().join("+")
        ));
        if !caps.is_m2m() {
            continue;
        }
        let (_, capture) = queue_types(&caps);
        let coded_formats = dev
            .formats(capture)
            .map(|f| f.into_iter().map(|d| d.fourcc).collect())
            .unwrap_or_default();
        candidates.push(Candidate {
            path,
            caps,
            coded_formats,
        });
    }
    match pick_encoder(&candidates, codec) {
        Some(c) => Ok(c.path.clone()),
        None if seen.is_empty() => Err(FindEncoderError::NoDevices(codec)),
        None => Err(FindEncoderError::NoEncoder { codec, seen }),
    }
}

/// How many luma rows precede the U plane of a one-buffer YU12 picture. Drivers may pad the
/// height (bcm2835-codec aligns it to 16), which only `sizeimage` reveals.
pub fn yu12_luma_rows(height: u32, bytesperline: u32, sizeimage: u32) -> usize {
    if bytesperline == 0 {
        return height as usize;
    }
    let from_size = (u64::from(sizeimage) * 2 / (3 * u64::from(bytesperline))) as usize;
    from_size.max(height as usize)
}

/// Why a frame does not fit the encoder's YU12 input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yu12Error {
    /// The line pitch or row count is too small for the frame.
    Layout {
        bytesperline: usize,
        luma_rows: usize,
        width: usize,
        height: usize,
    },
    /// The buffer is shorter than the layout.
    ShortBuffer { len: usize, needed: usize },
}

impl fmt::Display for Yu12Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Yu12Error::Layout {
                bytesperline,
                luma_rows,
                width,
                height,
            } => write!(
                f,
                "the encoder's YU12 layout (pitch {bytesperline}, {luma_rows} rows) cannot hold {width}x{height}"
            ),
            Yu12Error::ShortBuffer { len, needed } => write!(
                f,
                "the encoder's input buffer holds {len} bytes, {needed} needed"
            ),
        }
    }
}

impl std::error::Error for Yu12Error {}

/// Writes an I420 frame into a one-buffer YU12 layout with the given line pitch and luma
/// rows: the one copy of the frame on the encode path. Returns the bytes used.
pub fn write_yu12(
    frame: &Frame,
    bytesperline: usize,
    luma_rows: usize,
    dst: &mut [u8],
) -> Result<usize, Yu12Error> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let cstride = bytesperline / 2;
    let chroma_rows = luma_rows / 2;
    let used = bytesperline * luma_rows + 2 * cstride * chroma_rows;
    if bytesperline < w || cstride < cw || luma_rows < h || chroma_rows < ch {
        return Err(Yu12Error::Layout {
            bytesperline,
            luma_rows,
            width: w,
            height: h,
        });
    }
    if dst.len() < used {
        return Err(Yu12Error::ShortBuffer {
            len: dst.len(),
            needed: used,
        });
    }
    let planes = [
        (frame.y(), w, h, 0),
        (frame.u(), cw, ch, bytesperline * luma_rows),
        (
            frame.v(),
            cw,
            ch,
            bytesperline * luma_rows + cstride * chroma_rows,
        ),
    ];
    for (i, (src, width, rows, base)) in planes.into_iter().enumerate() {
        let stride = if i == 0 { bytesperline } else { cstride };
        if stride == width {
            dst[base..base + width * rows].copy_from_slice(src);
        } else {
            for r in 0..rows {
                dst[base + r * stride..][..width].copy_from_slice(&src[r * width..][..width]);
            }
        }
    }
    Ok(used)
}

pub struct M2mEncoder {
    // Field order is drop order: both queues go (STREAMOFF, munmap, REQBUFS 0) before the fd.
    output: MmapQueue,
    capture: MmapQueue,
    device: Device,
    codec: FourCc,
    input: PixFormat,
    luma_rows: usize,
    force_key_supported: bool,
    drained: bool,
}

impl M2mEncoder {
    /// Opens `path` (or finds the encoder for `codec`), sets formats and controls and
    /// starts both queues.
    pub fn open(
        path: Option<&str>,
        codec: FourCc,
        settings: &EncoderSettings,
    ) -> Result<M2mEncoder, V4l2Error> {
        let path = match path {
            Some(p) => p.to_string(),
            None => find_encoder(codec)
                .map_err(|e| V4l2Error::unsupported("/dev/video*", e.to_string()))?,
        };
        let device = Device::open(&path)?;
        let caps = device.capabilities()?;
        if !caps.is_m2m() {
            return Err(V4l2Error::unsupported(
                &path,
                format!("{} is not a memory-to-memory device", caps.card),
            ));
        }
        let (out_type, cap_type) = queue_types(&caps);
        let (w, h) = (settings.width, settings.height);

        // The stateful encoder interface: coded format on CAPTURE first, then raw on OUTPUT.
        let mut coded = PixFormat::new(w, h, codec);
        if codec == H264 {
            coded.planes = vec![(0, H264_MIN_CODED_SIZE)];
        }
        let coded = device.set_format(cap_type, &coded)?;
        if coded.fourcc != codec {
            return Err(V4l2Error::unsupported(
                &path,
                format!(
                    "the encoder answered {} when {codec} was asked for",
                    coded.fourcc
                ),
            ));
        }
        let input = device.set_format(out_type, &PixFormat::new(w, h, YU12))?;
        if input.fourcc != YU12 || input.planes.len() != 1 {
            return Err(V4l2Error::unsupported(
                &path,
                format!(
                    "the encoder does not take one-buffer YU12 input (it answered {})",
                    input.fourcc
                ),
            ));
        }
        if input.width < w || input.height < h {
            return Err(V4l2Error::unsupported(
                &path,
                format!(
                    "the encoder cannot take {w}x{h} (it offered {}x{})",
                    input.width, input.height
                ),
            ));
        }
        let (bpl, size) = input.planes[0];
        let luma_rows = yu12_luma_rows(input.height, bpl, size);
        if let Err(e) = device.set_frame_rate(out_type, settings.fps) {
            log::debug!("{e}; the encoder keeps its default rate");
        }
        for (id, value, name) in codec_controls::plan(codec, settings) {
            match device.query_control(id)? {
                Some(info) if info.flags & CTRL_FLAG_DISABLED == 0 => {
                    if let Err(e) = device.set_controls(&[(id, info.clamp(value))]) {
                        log::warn!("{e} (setting the {name} to {value})");
                    }
                }
                _ => log::debug!("{path}: no {name} control"),
            }
        }
        let force_key_supported = device
            .query_control(CID_MPEG_VIDEO_FORCE_KEY_FRAME)?
            .is_some();

        let output = MmapQueue::new(device.handle(), out_type, OUTPUT_BUFFERS)?;
        let mut capture = MmapQueue::new(device.handle(), cap_type, CAPTURE_BUFFERS)?;
        for index in 0..capture.len() {
            capture.queue(index, &[])?;
        }
        let mut enc = M2mEncoder {
            output,
            capture,
            device,
            codec,
            input,
            luma_rows,
            force_key_supported,
            drained: false,
        };
        enc.capture.stream_on()?;
        enc.output.stream_on()?;
        log::info!(
            "{path}: {} encoder ({}), {w}x{h} YU12 in, {codec} out, {} planes",
            caps.card,
            caps.driver,
            if enc.output.mplane() {
                "multi"
            } else {
                "single"
            }
        );
        Ok(enc)
    }

    pub fn path(&self) -> &str {
        self.device.path()
    }

    pub fn codec(&self) -> FourCc {
        self.codec
    }

    /// Changes the target bitrate while streaming: the stateful encoder interface lets
    /// controls change during encoding, for later frames, without a restart.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), V4l2Error> {
        self.device
            .set_controls(&[(CID_MPEG_VIDEO_BITRATE, i64::from(bps))])
    }

    /// Queues one frame (copied once into the OUTPUT buffer) and returns whatever packets
    /// are ready. `key_frame` asks for an IDR when the device has the control; `tag` (a
    /// µs-style value, kept below 2^63) comes back on the frame's packet.
    pub fn encode(
        &mut self,
        frame: &Frame,
        tag: u64,
        key_frame: bool,
        timeout: Duration,
    ) -> Result<Vec<Packet>, V4l2Error> {
        let mut packets = Vec::new();
        let deadline = Instant::now() + timeout;
        let index = loop {
            self.reclaim_output()?;
            if let Some(i) = self.output.free_index() {
                break i;
            }
            self.collect(&mut packets)?;
            self.wait(deadline, timeout, "for a free input buffer")?;
        };
        let (bpl, _) = self.input.planes[0];
        let used = write_yu12(
            frame,
            bpl as usize,
            self.luma_rows,
            self.output.plane_mut(index, 0),
        )
        .map_err(|e| V4l2Error::unsupported(self.device.path(), e.to_string()))?;
        if key_frame && self.force_key_supported {
            self.device
                .set_controls(&[(CID_MPEG_VIDEO_FORCE_KEY_FRAME, 1)])?;
        }
        self.output.queue_tagged(index, &[used as u32], tag)?;
        self.collect(&mut packets)?;
        Ok(packets)
    }

    /// Drains: ENCODER_CMD STOP, then packets until the driver flags the last one.
    pub fn finish(&mut self, timeout: Duration) -> Result<Vec<Packet>, V4l2Error> {
        let mut packets = Vec::new();
        if self.drained {
            return Ok(packets);
        }
        self.drained = true;
        self.device.encoder_command(ENC_CMD_STOP)?;
        let deadline = Instant::now() + timeout;
        loop {
            self.reclaim_output()?;
            match self.capture.dequeue()? {
                Dequeue::Buffer(buf) => {
                    let last = buf.is_last();
                    self.take_packet(&buf, &mut packets);
                    if last {
                        return Ok(packets);
                    }
                    self.capture.queue(buf.index, &[])?;
                }
                Dequeue::Drained => return Ok(packets),
                Dequeue::NotReady => self.wait(deadline, timeout, "for the encoder to drain")?,
            }
        }
    }

    fn reclaim_output(&mut self) -> Result<(), V4l2Error> {
        while let Dequeue::Buffer(_) = self.output.dequeue()? {}
        Ok(())
    }

    fn collect(&mut self, packets: &mut Vec<Packet>) -> Result<(), V4l2Error> {
        while let Dequeue::Buffer(buf) = self.capture.dequeue()? {
            self.take_packet(&buf, packets);
            self.capture.queue(buf.index, &[])?;
        }
        Ok(())
    }

    fn take_packet(&self, buf: &super::queue::Dequeued, packets: &mut Vec<Packet>) {
        let start = buf.data_offset.first().copied().unwrap_or(0) as usize;
        let end = buf.bytesused.first().copied().unwrap_or(0) as usize;
        if end <= start || buf.is_error() {
            return;
        }
        let data = self.capture.plane(buf.index, 0);
        packets.push(Packet {
            data: data[start..end.min(data.len())].to_vec(),
            keyframe: buf.is_keyframe(),
            tag: buf.timestamp_us,
        });
    }

    fn wait(&self, deadline: Instant, timeout: Duration, what: &str) -> Result<(), V4l2Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = self
            .device
            .handle()
            .poll(libc::POLLIN | libc::POLLOUT, left)?;
        if ready == 0 {
            return Err(V4l2Error::Timeout {
                path: self.device.path().to_string(),
                what: format!("after {} ms waiting {what}", timeout.as_millis()),
            });
        }
        if ready & (libc::POLLIN | libc::POLLOUT) == 0 {
            return Err(V4l2Error::unsupported(
                self.device.path(),
                "poll reported an error on the encoder (was the device removed?)",
            ));
        }
        Ok(())
    }
}

impl Drop for M2mEncoder {
    fn drop(&mut self) {
        if !self.drained {
            if let Err(e) = self.finish(Duration::from_secs(1)) {
                log::warn!("{e} (draining the encoder at teardown)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::fourcc::FWHT;
    use std::sync::Arc;

    fn candidate(path: &str, card: &str, caps: u32, coded: &[FourCc]) -> Candidate {
        Candidate {
            path: path.into(),
            caps: Capabilities {
                driver: "d".into(),
                card: card.into(),
                caps,
            },
            coded_formats: coded.to_vec(),
        }
    }

    #[test]
    fn prefers_bcm2835_encode_then_the_first_m2m_node_with_the_codec() {
        let list = [
            candidate("/dev/video0", "uvc", CAP_VIDEO_CAPTURE, &[H264]),
            candidate(
                "/dev/video10",
                "bcm2835-codec-decode",
                CAP_VIDEO_M2M_MPLANE,
                &[YU12],
            ),
            candidate("/dev/video5", "other-enc", CAP_VIDEO_M2M_MPLANE, &[H264]),
            candidate(
                "/dev/video11",
                BCM2835_ENCODER_CARD,
                CAP_VIDEO_M2M_MPLANE,
                &[H264],
            ),
        ];
        assert_eq!(pick_encoder(&list, H264).unwrap().path, "/dev/video11");
        assert_eq!(pick_encoder(&list[..3], H264).unwrap().path, "/dev/video5");
        assert!(pick_encoder(&list, FWHT).is_none());
        let vicodec = [candidate("/dev/video3", "vicodec", CAP_VIDEO_M2M, &[FWHT])];
        assert_eq!(pick_encoder(&vicodec, FWHT).unwrap().path, "/dev/video3");
    }

    #[test]
    fn padded_heights_come_from_sizeimage() {
        // bcm2835-codec at 1920x1080: pitch 1920, height aligned to 1088.
        assert_eq!(yu12_luma_rows(1080, 1920, 1920 * 1088 * 3 / 2), 1088);
        assert_eq!(yu12_luma_rows(480, 640, 640 * 480 * 3 / 2), 480);
        assert_eq!(yu12_luma_rows(480, 0, 0), 480);
    }

    fn frame(w: u32, h: u32) -> Frame {
        let data: Vec<u8> = (0..Frame::i420_len(w, h)).map(|i| i as u8).collect();
        Frame {
            width: w,
            height: h,
            data: Arc::from(data),
            pts: 0,
            capture_unix_us: 0,
            sequence: 0,
        }
    }

    #[test]
    fn tight_layouts_are_one_copy_of_the_frame() {
        let f = frame(4, 2);
        let mut dst = vec![0u8; 12];
        assert_eq!(write_yu12(&f, 4, 2, &mut dst).unwrap(), 12);
        assert_eq!(&dst[..], &f.data[..]);
    }

    #[test]
    fn padded_layouts_place_each_plane() {
        let f = frame(4, 2); // Y 0..8, U 8..10, V 10..12
        let mut dst = vec![0xffu8; 8 * 4 + 2 * 4 * 2];
        let used = write_yu12(&f, 8, 4, &mut dst).unwrap();
        assert_eq!(used, 48);
        assert_eq!(&dst[0..4], &[0, 1, 2, 3]);
        assert_eq!(&dst[8..12], &[4, 5, 6, 7]);
        assert_eq!(&dst[32..34], &[8, 9]);
        assert_eq!(&dst[40..42], &[10, 11]);
    }

    #[test]
    fn small_buffers_are_refused() {
        let f = frame(4, 2);
        let mut dst = vec![0u8; 11];
        assert_eq!(
            write_yu12(&f, 4, 2, &mut dst).unwrap_err().to_string(),
            "the encoder's input buffer holds 11 bytes, 12 needed"
        );
        assert!(write_yu12(&f, 2, 2, &mut dst).is_err());
    }
}
