//! One buffer queue of a device with MMAP memory: REQBUFS, QUERYBUF and mmap at start,
//! QBUF/DQBUF while streaming, STREAMOFF, munmap and REQBUFS 0 on drop.

use std::io;
use std::ptr::NonNull;
use std::sync::Arc;

use super::device::{is_mplane, Handle};
use super::error::V4l2Error;
use super::ioctl;
use super::sys::*;

/// One mapped plane.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

/// A buffer the driver handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dequeued {
    pub index: usize,
    /// Bytes used in each plane, after the plane's data offset.
    pub bytesused: Vec<u32>,
    /// Where each plane's payload starts (multi-planar `data_offset`; 0 otherwise).
    pub data_offset: Vec<u32>,
    pub flags: u32,
    pub sequence: u32,
    /// The buffer's timestamp in µs. M2M drivers copy it from the OUTPUT buffer that made
    /// this CAPTURE buffer, so it works as a tag carried through the encoder.
    pub timestamp_us: u64,
}

impl Dequeued {
    pub fn is_last(&self) -> bool {
        self.flags & BUF_FLAG_LAST != 0
    }

    pub fn is_error(&self) -> bool {
        self.flags & BUF_FLAG_ERROR != 0
    }

    pub fn is_keyframe(&self) -> bool {
        self.flags & BUF_FLAG_KEYFRAME != 0
    }
}

/// What DQBUF gave.
#[derive(Debug)]
pub enum Dequeue {
    Buffer(Dequeued),
    /// Nothing ready yet (EAGAIN on our non-blocking fd).
    NotReady,
    /// EPIPE: the last buffer was already dequeued after a drain.
    Drained,
}

pub struct MmapQueue {
    handle: Arc<Handle>,
    buf_type: u32,
    buffers: Vec<Vec<Mapping>>,
    queued: Vec<bool>,
    streaming: bool,
}

// SAFETY: the mappings are plain memory owned by this value alone.
unsafe impl Send for MmapQueue {}

impl MmapQueue {
    /// Requests `count` MMAP buffers of `buf_type` and maps every plane.
    pub fn new(handle: &Arc<Handle>, buf_type: u32, count: u32) -> Result<MmapQueue, V4l2Error> {
        let mut req: v4l2_requestbuffers = zeroed();
        req.count = count;
        req.type_ = buf_type;
        req.memory = MEMORY_MMAP;
        // SAFETY: the structure REQBUFS expects.
        unsafe { handle.ioctl(ioctl::VIDIOC_REQBUFS, &mut req) }?;
        if req.count == 0 {
            return Err(V4l2Error::unsupported(
                handle.path(),
                "VIDIOC_REQBUFS granted no MMAP buffers",
            ));
        }
        let mut queue = MmapQueue {
            handle: Arc::clone(handle),
            buf_type,
            buffers: Vec::new(),
            queued: vec![false; req.count as usize],
            streaming: false,
        };
        for index in 0..req.count {
            let mut planes = [zeroed::<v4l2_plane>(); VIDEO_MAX_PLANES];
            let mut buf = queue.buffer_struct(index, &mut planes);
            // SAFETY: the structure QUERYBUF expects; `planes` outlives the call.
            unsafe { handle.ioctl(ioctl::VIDIOC_QUERYBUF, &mut buf) }?;
            let layout: Vec<(u32, usize)> = if queue.mplane() {
                planes[..buf.length as usize]
                    // SAFETY: MMAP planes carry `mem_offset`.
                    .iter()
                    .map(|p| (unsafe { p.m.mem_offset }, p.length as usize))
                    .collect()
            } else {
                // SAFETY: MMAP single-planar buffers carry `offset`.
                vec![(unsafe { buf.m.offset }, buf.length as usize)]
            };
            let mut maps = Vec::new();
            for (offset, len) in layout {
                maps.push(map(handle, offset, len)?);
            }
            // Pushed as soon as mapped so Drop unmaps whatever succeeded.
            queue.buffers.push(maps);
        }
        Ok(queue)
    }

    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    pub fn mplane(&self) -> bool {
        is_mplane(self.buf_type)
    }

    /// Buffers not currently with the driver.
    pub fn free_index(&self) -> Option<usize> {
        self.queued.iter().position(|q| !q)
    }

    pub fn plane(&self, index: usize, plane: usize) -> &[u8] {
        let m = &self.buffers[index][plane];
        // SAFETY: a live mapping of `len` bytes.
        unsafe { std::slice::from_raw_parts(m.ptr.as_ptr(), m.len) }
    }

    pub fn plane_mut(&mut self, index: usize, plane: usize) -> &mut [u8] {
        let m = &self.buffers[index][plane];
        // SAFETY: a live mapping of `len` bytes, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(m.ptr.as_ptr(), m.len) }
    }

    pub fn plane_count(&self, index: usize) -> usize {
        self.buffers[index].len()
    }

    /// Hands buffer `index` to the driver; `bytesused` per plane (ignored by capture queues).
    pub fn queue(&mut self, index: usize, bytesused: &[u32]) -> Result<(), V4l2Error> {
        self.queue_tagged(index, bytesused, 0)
    }

    /// As `queue`, with `timestamp_us` in the buffer's timestamp.
    pub fn queue_tagged(
        &mut self,
        index: usize,
        bytesused: &[u32],
        timestamp_us: u64,
    ) -> Result<(), V4l2Error> {
        let mut planes = [zeroed::<v4l2_plane>(); VIDEO_MAX_PLANES];
        let mut buf = self.buffer_struct(index as u32, &mut planes);
        buf.timestamp = libc::timeval {
            tv_sec: (timestamp_us / 1_000_000) as libc::time_t,
            tv_usec: (timestamp_us % 1_000_000) as libc::suseconds_t,
        };
        if self.mplane() {
            buf.length = self.buffers[index].len() as u32;
            for (p, &used) in planes.iter_mut().zip(bytesused) {
                p.bytesused = used;
            }
            for (p, m) in planes.iter_mut().zip(&self.buffers[index]) {
                p.length = m.len as u32;
            }
        } else {
            buf.bytesused = bytesused.first().copied().unwrap_or(0);
        }
        if matches!(
            self.buf_type,
            BUF_TYPE_VIDEO_OUTPUT | BUF_TYPE_VIDEO_OUTPUT_MPLANE
        ) {
            buf.field = FIELD_NONE;
        }
        // SAFETY: the structure QBUF expects; `planes` outlives the call.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_QBUF, &mut buf) }?;
        self.queued[index] = true;
        Ok(())
    }

    pub fn dequeue(&mut self) -> Result<Dequeue, V4l2Error> {
        let mut planes = [zeroed::<v4l2_plane>(); VIDEO_MAX_PLANES];
        let mut buf = self.buffer_struct(0, &mut planes);
        // SAFETY: the structure DQBUF expects; `planes` outlives the call.
        match unsafe { self.handle.ioctl(ioctl::VIDIOC_DQBUF, &mut buf) } {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EAGAIN) => return Ok(Dequeue::NotReady),
            Err(e) if e.errno() == Some(libc::EPIPE) => return Ok(Dequeue::Drained),
            Err(e) => return Err(e),
        }
        let index = buf.index as usize;
        if let Some(q) = self.queued.get_mut(index) {
            *q = false;
        }
        let (bytesused, data_offset) = if self.mplane() {
            let n = self.buffers.get(index).map_or(0, Vec::len);
            (
                planes[..n].iter().map(|p| p.bytesused).collect(),
                planes[..n].iter().map(|p| p.data_offset).collect(),
            )
        } else {
            (vec![buf.bytesused], vec![0])
        };
        Ok(Dequeue::Buffer(Dequeued {
            index,
            bytesused,
            data_offset,
            flags: buf.flags,
            sequence: buf.sequence,
            timestamp_us: (buf.timestamp.tv_sec as u64)
                .wrapping_mul(1_000_000)
                .wrapping_add(buf.timestamp.tv_usec as u64),
        }))
    }

    pub fn stream_on(&mut self) -> Result<(), V4l2Error> {
        let mut t = self.buf_type as i32;
        // SAFETY: STREAMON takes the buffer type as an int.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_STREAMON, &mut t) }?;
        self.streaming = true;
        Ok(())
    }

    /// Stops streaming; the driver gives every buffer back.
    pub fn stream_off(&mut self) -> Result<(), V4l2Error> {
        let mut t = self.buf_type as i32;
        // SAFETY: STREAMOFF takes the buffer type as an int.
        let result = unsafe { self.handle.ioctl(ioctl::VIDIOC_STREAMOFF, &mut t) };
        self.streaming = false;
        self.queued.iter_mut().for_each(|q| *q = false);
        result
    }

    fn buffer_struct(
        &self,
        index: u32,
        planes: &mut [v4l2_plane; VIDEO_MAX_PLANES],
    ) -> v4l2_buffer {
        let mut buf: v4l2_buffer = zeroed();
        buf.index = index;
        buf.type_ = self.buf_type;
        buf.memory = MEMORY_MMAP;
        if self.mplane() {
            buf.m.planes = planes.as_mut_ptr();
            buf.length = VIDEO_MAX_PLANES as u32;
        }
        buf
    }
}

impl Drop for MmapQueue {
    fn drop(&mut self) {
        if self.streaming {
            if let Err(e) = self.stream_off() {
                teardown_failed(&e);
            }
        }
        for maps in self.buffers.drain(..) {
            for m in maps {
                // SAFETY: a mapping made by `map` and not yet unmapped.
                unsafe { libc::munmap(m.ptr.as_ptr().cast(), m.len) };
            }
        }
        let mut req: v4l2_requestbuffers = zeroed();
        req.type_ = self.buf_type;
        req.memory = MEMORY_MMAP;
        // SAFETY: the structure REQBUFS expects; count 0 frees the buffers.
        if let Err(e) = unsafe { self.handle.ioctl(ioctl::VIDIOC_REQBUFS, &mut req) } {
            teardown_failed(&e);
        }
    }
}

/// A device that went away (ENODEV) has freed everything already; anything else is news.
fn teardown_failed(e: &V4l2Error) {
    if e.errno() == Some(libc::ENODEV) {
        log::debug!("{e}");
    } else {
        log::warn!("{e}");
    }
}

fn map(handle: &Handle, offset: u32, len: usize) -> Result<Mapping, V4l2Error> {
    // SAFETY: a shared mapping of the device at the offset QUERYBUF gave.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            handle.fd(),
            offset as libc::off_t,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(V4l2Error::ioctl(
            handle.path(),
            "mmap",
            io::Error::last_os_error(),
        ));
    }
    Ok(Mapping {
        ptr: NonNull::new(ptr.cast()).expect("mmap returned a non-null address"),
        len,
    })
}
