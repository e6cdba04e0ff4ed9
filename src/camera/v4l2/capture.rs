//! A V4L2 capture device (single- or multi-planar queue) delivering I420 frames.
//! MJPEG and H.264 capture formats are not handled: only YUYV, NV12 and YU12 layouts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock;
use crate::media::Frame;
use crate::media::TIMESCALE;
use crate::v4l2::convert::{self, Plane};
use crate::v4l2::device::{Device, PixFormat};
use crate::v4l2::error::V4l2Error;
use crate::v4l2::fourcc::FourCc;
use crate::v4l2::negotiate::{self, Offer};
use crate::v4l2::queue::{Dequeue, MmapQueue};
use crate::v4l2::sys::*;

#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Only this raw format (None: the cheapest to convert that the device offers).
    pub format: Option<FourCc>,
    pub buffers: u32,
}

pub struct Capture {
    // Field order is drop order: the queue (STREAMOFF, munmap, REQBUFS 0) before the fd.
    queue: MmapQueue,
    device: Device,
    format: PixFormat,
    mplane: bool,
    started: Instant,
    sequence: u64,
    scratch: Vec<u8>,
}

impl Capture {
    /// Opens the device, negotiates the format and starts streaming.
    pub fn open(cfg: &CaptureConfig) -> Result<Capture, V4l2Error> {
        let device = Device::open(&cfg.device)?;
        let path = device.path().to_string();
        let caps = device.capabilities()?;
        if !caps.is_capture() {
            return Err(V4l2Error::unsupported(
                &path,
                format!(
                    "{} ({}) is not a video capture device (capabilities: {})",
                    caps.card,
                    caps.driver,
                    caps.names().join(", ")
                ),
            ));
        }
        if !caps.has(CAP_STREAMING) {
            return Err(V4l2Error::unsupported(
                &path,
                "the device cannot stream (no MMAP I/O)",
            ));
        }
        let mplane = !caps.has(CAP_VIDEO_CAPTURE);
        let buf_type = if mplane {
            BUF_TYPE_VIDEO_CAPTURE_MPLANE
        } else {
            BUF_TYPE_VIDEO_CAPTURE
        };
        let mut offers = Vec::new();
        for desc in device.formats(buf_type)? {
            let sizes = device.frame_sizes(desc.fourcc)?;
            offers.push(Offer {
                fourcc: desc.fourcc,
                sizes,
            });
        }
        let choice = negotiate::choose(&offers, cfg.width, cfg.height, cfg.format)
            .map_err(|reason| V4l2Error::unsupported(&path, reason.to_string()))?;
        let wanted = PixFormat::new(choice.width, choice.height, choice.fourcc);
        let format = device.set_format(buf_type, &wanted)?;
        if format.fourcc != choice.fourcc {
            return Err(V4l2Error::unsupported(
                &path,
                format!(
                    "VIDIOC_S_FMT answered {} when {} was asked for",
                    format.fourcc, choice.fourcc
                ),
            ));
        }
        let fps = match device.set_frame_rate(buf_type, cfg.fps) {
            Ok(f) => f,
            Err(e) => {
                log::info!("{e}; keeping the device's frame rate");
                0.0
            }
        };
        let mut queue = MmapQueue::new(device.handle(), buf_type, cfg.buffers.max(2))?;
        for index in 0..queue.len() {
            queue.queue(index, &[])?;
        }
        queue.stream_on()?;
        log::info!(
            "{path}: capturing {} {}x{} ({}) at {fps:.2} fps from {} ({})",
            format.fourcc,
            format.width,
            format.height,
            if mplane {
                "multi-planar"
            } else {
                "single-planar"
            },
            caps.card,
            caps.driver
        );
        Ok(Capture {
            queue,
            device,
            format,
            mplane,
            started: Instant::now(),
            sequence: 0,
            scratch: Vec::new(),
        })
    }

    pub fn format(&self) -> &PixFormat {
        &self.format
    }

    pub fn is_mplane(&self) -> bool {
        self.mplane
    }

    /// The device, for its controls.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Waits up to `timeout` for the next picture and returns it as I420.
    pub fn next_frame(&mut self, timeout: Duration) -> Result<Frame, V4l2Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let buf = match self.queue.dequeue()? {
                Dequeue::Buffer(b) => b,
                Dequeue::NotReady | Dequeue::Drained => {
                    self.wait(deadline, timeout)?;
                    continue;
                }
            };
            let unix_us = clock::unix_us();
            // Why a frame is dropped, as the log line gives it.
            let converted = if buf.is_error() {
                Err("the driver flagged the buffer as corrupt".to_string())
            } else {
                let planes: Vec<Plane<'_>> = (0..self.queue.plane_count(buf.index))
                    .map(|p| {
                        let data = self.queue.plane(buf.index, p);
                        let start = buf.data_offset.get(p).copied().unwrap_or(0) as usize;
                        let used = buf.bytesused.get(p).copied().unwrap_or(0) as usize;
                        let end = if used > start {
                            used.min(data.len())
                        } else {
                            data.len()
                        };
                        Plane {
                            data: &data[start.min(end)..end],
                            stride: self.format.planes.get(p).map_or(0, |f| f.0 as usize),
                        }
                    })
                    .collect();
                convert::to_i420(
                    self.format.fourcc,
                    self.format.width as usize,
                    self.format.height as usize,
                    &planes,
                    &mut self.scratch,
                )
                .map_err(|e| e.to_string())
            };
            self.queue.queue(buf.index, &[])?;
            match converted {
                Ok(()) => {}
                Err(reason) => {
                    log::warn!("{}: dropped a frame: {reason}", self.device.path());
                    continue;
                }
            }
            let elapsed = self.started.elapsed();
            let frame = Frame {
                width: self.format.width,
                height: self.format.height,
                data: Arc::from(self.scratch.as_slice()),
                pts: (elapsed.as_secs_f64() * f64::from(TIMESCALE)) as u64,
                capture_unix_us: unix_us,
                sequence: self.sequence,
            };
            self.sequence += 1;
            return Ok(frame);
        }
    }

    fn wait(&self, deadline: Instant, timeout: Duration) -> Result<(), V4l2Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = self.device.handle().poll(libc::POLLIN, left)?;
        if ready == 0 {
            return Err(V4l2Error::Timeout {
                path: self.device.path().to_string(),
                what: format!("after {} ms waiting for a frame", timeout.as_millis()),
            });
        }
        if ready & (libc::POLLERR | libc::POLLHUP) != 0 && ready & libc::POLLIN == 0 {
            return Err(V4l2Error::unsupported(
                self.device.path(),
                "poll reported an error on the capture queue (was the device removed?)",
            ));
        }
        Ok(())
    }
}
