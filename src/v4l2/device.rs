//! An open V4L2 device node and the ioctls that do not touch buffers.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use super::error::V4l2Error;
use super::fourcc::FourCc;
use super::ioctl::{self, call, Request};
use super::sys::*;

/// The file descriptor and the path errors name. Shared with the buffer queues, which must
/// not outlive it.
#[derive(Debug)]
pub struct Handle {
    fd: OwnedFd,
    path: String,
}

impl Handle {
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// # Safety
    /// `T` must be the structure `request` expects.
    pub unsafe fn ioctl<T>(&self, request: Request, arg: &mut T) -> Result<(), V4l2Error> {
        call(self.fd(), &self.path, request, arg)
    }

    /// Waits up to `timeout` for any of `events` (POLLIN, POLLOUT, ...); the ready ones, or
    /// none on timeout.
    pub fn poll(&self, events: i16, timeout: Duration) -> Result<i16, V4l2Error> {
        let mut pfd = libc::pollfd {
            fd: self.fd(),
            events,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        loop {
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc >= 0 {
                return Ok(if rc == 0 { 0 } else { pfd.revents });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(V4l2Error::ioctl(&self.path, "poll", err));
            }
        }
    }
}

/// What VIDIOC_QUERYCAP says about a device.
#[derive(Debug, Clone)]
pub struct Capabilities {
    pub driver: String,
    pub card: String,
    /// The capabilities of this node (`device_caps` when the driver gives it).
    pub caps: u32,
}

impl Capabilities {
    pub fn from_raw(raw: &v4l2_capability) -> Capabilities {
        let caps = if raw.capabilities & CAP_DEVICE_CAPS != 0 {
            raw.device_caps
        } else {
            raw.capabilities
        };
        Capabilities {
            driver: c_text(&raw.driver),
            card: c_text(&raw.card),
            caps,
        }
    }

    pub fn has(&self, cap: u32) -> bool {
        self.caps & cap != 0
    }

    pub fn is_m2m(&self) -> bool {
        self.has(CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE)
    }

    /// A plain capture node (not the capture side of a memory-to-memory device).
    pub fn is_capture(&self) -> bool {
        !self.is_m2m() && self.has(CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE)
    }

    /// Names for the capability bits we care about, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        const NAMES: [(u32, &str); 9] = [
            (CAP_VIDEO_CAPTURE, "capture"),
            (CAP_VIDEO_CAPTURE_MPLANE, "capture_mplane"),
            (CAP_VIDEO_OUTPUT, "output"),
            (CAP_VIDEO_OUTPUT_MPLANE, "output_mplane"),
            (CAP_VIDEO_M2M, "m2m"),
            (CAP_VIDEO_M2M_MPLANE, "m2m_mplane"),
            (CAP_META_CAPTURE, "meta_capture"),
            (CAP_READWRITE, "readwrite"),
            (CAP_STREAMING, "streaming"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, n)| *n)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDesc {
    pub fourcc: FourCc,
    pub description: String,
}

/// One answer of VIDIOC_ENUM_FRAMESIZES.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSizes {
    Discrete {
        width: u32,
        height: u32,
    },
    /// Continuous ranges come as steps of 1.
    Stepwise(v4l2_frmsize_stepwise_value),
}

/// `v4l2_frmsize_stepwise`, comparable.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct v4l2_frmsize_stepwise_value {
    pub min_width: u32,
    pub max_width: u32,
    pub step_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    pub step_height: u32,
}

impl FrameSizes {
    pub fn allows(&self, width: u32, height: u32) -> bool {
        match *self {
            FrameSizes::Discrete {
                width: w,
                height: h,
            } => (w, h) == (width, height),
            FrameSizes::Stepwise(s) => {
                let fits = |v: u32, min: u32, max: u32, step: u32| {
                    v >= min && v <= max && (v - min).is_multiple_of(step.max(1))
                };
                fits(width, s.min_width, s.max_width, s.step_width)
                    && fits(height, s.min_height, s.max_height, s.step_height)
            }
        }
    }
}

/// The format of one queue, single- or multi-planar alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixFormat {
    pub width: u32,
    pub height: u32,
    pub fourcc: FourCc,
    /// (bytes per line, bytes per plane); one entry for single-planar queues.
    pub planes: Vec<(u32, u32)>,
}

impl PixFormat {
    pub fn new(width: u32, height: u32, fourcc: FourCc) -> PixFormat {
        PixFormat {
            width,
            height,
            fourcc,
            planes: Vec::new(),
        }
    }

    pub fn to_raw(&self, buf_type: u32) -> v4l2_format {
        let mut raw: v4l2_format = zeroed();
        raw.type_ = buf_type;
        if is_mplane(buf_type) {
            let mut mp: v4l2_pix_format_mplane = zeroed();
            mp.width = self.width;
            mp.height = self.height;
            mp.pixelformat = self.fourcc.0;
            mp.field = FIELD_NONE;
            mp.num_planes = self.planes.len().min(VIDEO_MAX_PLANES) as u8;
            for (slot, &(bpl, size)) in mp.plane_fmt.iter_mut().zip(&self.planes) {
                slot.bytesperline = bpl;
                slot.sizeimage = size;
            }
            raw.fmt.pix_mp = mp;
        } else {
            let mut pix: v4l2_pix_format = zeroed();
            pix.width = self.width;
            pix.height = self.height;
            pix.pixelformat = self.fourcc.0;
            pix.field = FIELD_NONE;
            if let Some(&(bpl, size)) = self.planes.first() {
                pix.bytesperline = bpl;
                pix.sizeimage = size;
            }
            raw.fmt.pix = pix;
        }
        raw
    }

    pub fn from_raw(raw: &v4l2_format) -> PixFormat {
        if is_mplane(raw.type_) {
            // SAFETY: the kernel filled the multi-planar member for a multi-planar type.
            let mp = unsafe { raw.fmt.pix_mp };
            let n = (mp.num_planes as usize).min(VIDEO_MAX_PLANES);
            PixFormat {
                width: mp.width,
                height: mp.height,
                fourcc: FourCc(mp.pixelformat),
                planes: mp.plane_fmt[..n]
                    .iter()
                    .map(|p| (p.bytesperline, p.sizeimage))
                    .collect(),
            }
        } else {
            // SAFETY: as above, the single-planar member.
            let pix = unsafe { raw.fmt.pix };
            PixFormat {
                width: pix.width,
                height: pix.height,
                fourcc: FourCc(pix.pixelformat),
                planes: vec![(pix.bytesperline, pix.sizeimage)],
            }
        }
    }
}

pub fn is_mplane(buf_type: u32) -> bool {
    matches!(
        buf_type,
        BUF_TYPE_VIDEO_CAPTURE_MPLANE | BUF_TYPE_VIDEO_OUTPUT_MPLANE
    )
}

/// What QUERY_EXT_CTRL (or QUERYCTRL on old drivers) says about a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlInfo {
    pub id: u32,
    pub name: String,
    pub minimum: i64,
    pub maximum: i64,
    pub step: u64,
    pub default: i64,
    pub flags: u32,
}

impl ControlInfo {
    pub fn clamp(&self, value: i64) -> i64 {
        value.clamp(self.minimum, self.maximum.max(self.minimum))
    }
}

/// An open V4L2 device node.
#[derive(Debug, Clone)]
pub struct Device {
    handle: Arc<Handle>,
}

impl Device {
    /// Opens `path` read-write and non-blocking (DQBUF returns EAGAIN; waits use poll).
    pub fn open(path: &str) -> Result<Device, V4l2Error> {
        let c_path = CString::new(path)
            .map_err(|_| V4l2Error::unsupported(path, "the path holds a NUL byte"))?;
        // SAFETY: a valid C string and plain flags.
        let fd = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(V4l2Error::ioctl(path, "open", io::Error::last_os_error()));
        }
        Ok(Device {
            handle: Arc::new(Handle {
                // SAFETY: a fresh fd we own.
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                path: path.to_string(),
            }),
        })
    }

    pub fn handle(&self) -> &Arc<Handle> {
        &self.handle
    }

    pub fn path(&self) -> &str {
        self.handle.path()
    }

    pub fn capabilities(&self) -> Result<Capabilities, V4l2Error> {
        let mut raw: v4l2_capability = zeroed();
        // SAFETY: the structure QUERYCAP expects.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_QUERYCAP, &mut raw) }?;
        Ok(Capabilities::from_raw(&raw))
    }

    /// Every pixel format of the queue `buf_type`.
    pub fn formats(&self, buf_type: u32) -> Result<Vec<FormatDesc>, V4l2Error> {
        let mut out = Vec::new();
        for index in 0.. {
            let mut raw: v4l2_fmtdesc = zeroed();
            raw.index = index;
            raw.type_ = buf_type;
            // SAFETY: the structure ENUM_FMT expects.
            match unsafe { self.handle.ioctl(ioctl::VIDIOC_ENUM_FMT, &mut raw) } {
                Ok(()) => out.push(FormatDesc {
                    fourcc: FourCc(raw.pixelformat),
                    description: c_text(&raw.description),
                }),
                Err(e) if e.errno() == Some(libc::EINVAL) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The frame sizes offered for `fourcc`; empty when the driver does not enumerate them.
    pub fn frame_sizes(&self, fourcc: FourCc) -> Result<Vec<FrameSizes>, V4l2Error> {
        let mut out = Vec::new();
        for index in 0.. {
            let mut raw: v4l2_frmsizeenum = zeroed();
            raw.index = index;
            raw.pixel_format = fourcc.0;
            // SAFETY: the structure ENUM_FRAMESIZES expects.
            match unsafe { self.handle.ioctl(ioctl::VIDIOC_ENUM_FRAMESIZES, &mut raw) } {
                Ok(()) => {}
                Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::ENOTTY)) => break,
                Err(e) => return Err(e),
            }
            // SAFETY: `type_` says which member the kernel filled.
            let sizes = unsafe {
                if raw.type_ == FRMSIZE_TYPE_DISCRETE {
                    FrameSizes::Discrete {
                        width: raw.size.discrete.width,
                        height: raw.size.discrete.height,
                    }
                } else {
                    let s = raw.size.stepwise;
                    let continuous = raw.type_ == FRMSIZE_TYPE_CONTINUOUS;
                    FrameSizes::Stepwise(v4l2_frmsize_stepwise_value {
                        min_width: s.min_width,
                        max_width: s.max_width,
                        step_width: if continuous { 1 } else { s.step_width },
                        min_height: s.min_height,
                        max_height: s.max_height,
                        step_height: if continuous { 1 } else { s.step_height },
                    })
                }
            };
            let last = raw.type_ != FRMSIZE_TYPE_DISCRETE;
            out.push(sizes);
            if last {
                break;
            }
        }
        Ok(out)
    }

    /// Sets the format and returns what the driver made of it (it may change the size).
    pub fn set_format(&self, buf_type: u32, format: &PixFormat) -> Result<PixFormat, V4l2Error> {
        let mut raw = format.to_raw(buf_type);
        // SAFETY: the structure S_FMT expects.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_S_FMT, &mut raw) }?;
        Ok(PixFormat::from_raw(&raw))
    }

    /// Asks for `fps` frames a second (as 1000/(fps*1000)); returns the rate the driver set.
    pub fn set_frame_rate(&self, buf_type: u32, fps: f64) -> Result<f64, V4l2Error> {
        let mut raw: v4l2_streamparm = zeroed();
        raw.type_ = buf_type;
        let mut parm: v4l2_streamparm_common = zeroed();
        parm.timeperframe = v4l2_fract {
            numerator: 1000,
            denominator: (fps * 1000.0).round().max(1.0) as u32,
        };
        raw.parm.capture = parm;
        // SAFETY: the structure S_PARM expects.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_S_PARM, &mut raw) }?;
        // SAFETY: capture and output share one layout.
        let t = unsafe { raw.parm.capture.timeperframe };
        Ok(if t.numerator == 0 {
            0.0
        } else {
            t.denominator as f64 / t.numerator as f64
        })
    }

    /// Describes control `id`, or None when the device does not have it.
    pub fn query_control(&self, id: u32) -> Result<Option<ControlInfo>, V4l2Error> {
        let mut ext: v4l2_query_ext_ctrl = zeroed();
        ext.id = id;
        // SAFETY: the structure QUERY_EXT_CTRL expects.
        match unsafe { self.handle.ioctl(ioctl::VIDIOC_QUERY_EXT_CTRL, &mut ext) } {
            Ok(()) => {
                return Ok(Some(ControlInfo {
                    id: ext.id,
                    name: c_text(&ext.name),
                    minimum: ext.minimum,
                    maximum: ext.maximum,
                    step: ext.step,
                    default: ext.default_value,
                    flags: ext.flags,
                }))
            }
            Err(e) if e.errno() == Some(libc::EINVAL) => return Ok(None),
            Err(e) if e.errno() == Some(libc::ENOTTY) => {}
            Err(e) => return Err(e),
        }
        let mut old: v4l2_queryctrl = zeroed();
        old.id = id;
        // SAFETY: the structure QUERYCTRL expects.
        match unsafe { self.handle.ioctl(ioctl::VIDIOC_QUERYCTRL, &mut old) } {
            Ok(()) => Ok(Some(ControlInfo {
                id: old.id,
                name: c_text(&old.name),
                minimum: old.minimum as i64,
                maximum: old.maximum as i64,
                step: old.step as u64,
                default: old.default_value as i64,
                flags: old.flags,
            })),
            Err(e) if e.errno() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets integer controls in one S_EXT_CTRLS call.
    pub fn set_controls(&self, controls: &[(u32, i64)]) -> Result<(), V4l2Error> {
        let mut list: Vec<v4l2_ext_control> = controls
            .iter()
            .map(|&(id, value)| v4l2_ext_control {
                id,
                size: 0,
                reserved2: [0],
                // 32-bit controls read `value`, 64-bit ones `value64`; our controls are
                // 32-bit, so a value that fits goes in `value` (upper half zero).
                value: match i32::try_from(value) {
                    Ok(v) => {
                        let mut u = v4l2_ext_control_value { value64: 0 };
                        u.value = v;
                        u
                    }
                    Err(_) => v4l2_ext_control_value { value64: value },
                },
            })
            .collect();
        let mut raw: v4l2_ext_controls = zeroed();
        raw.which = CTRL_WHICH_CUR_VAL;
        raw.count = list.len() as u32;
        raw.controls = list.as_mut_ptr();
        // SAFETY: `controls` points at `count` entries that live across the call.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_S_EXT_CTRLS, &mut raw) }
    }

    pub fn encoder_command(&self, cmd: u32) -> Result<(), V4l2Error> {
        let mut raw: v4l2_encoder_cmd = zeroed();
        raw.cmd = cmd;
        // SAFETY: the structure ENCODER_CMD expects.
        unsafe { self.handle.ioctl(ioctl::VIDIOC_ENCODER_CMD, &mut raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::fourcc::{NV12M, YUYV};

    fn caps(capabilities: u32, device_caps: u32) -> Capabilities {
        let mut raw: v4l2_capability = zeroed();
        raw.driver[..5].copy_from_slice(b"vivid");
        raw.capabilities = capabilities;
        raw.device_caps = device_caps;
        Capabilities::from_raw(&raw)
    }

    #[test]
    fn device_caps_win_when_flagged() {
        let c = caps(
            CAP_DEVICE_CAPS | CAP_VIDEO_CAPTURE | CAP_VIDEO_OUTPUT | CAP_STREAMING,
            CAP_VIDEO_CAPTURE | CAP_STREAMING,
        );
        assert_eq!(c.driver, "vivid");
        assert_eq!(c.names(), vec!["capture", "streaming"]);
        assert!(c.is_capture());
        let old = caps(CAP_VIDEO_CAPTURE | CAP_VIDEO_OUTPUT, 0);
        assert_eq!(old.names(), vec!["capture", "output"]);
    }

    #[test]
    fn m2m_nodes_are_not_capture_sources() {
        let c = caps(CAP_DEVICE_CAPS, CAP_VIDEO_M2M_MPLANE | CAP_STREAMING);
        assert!(c.is_m2m());
        assert!(!c.is_capture());
    }

    #[test]
    fn frame_size_ranges() {
        let d = FrameSizes::Discrete {
            width: 640,
            height: 480,
        };
        assert!(d.allows(640, 480));
        assert!(!d.allows(640, 360));
        let s = FrameSizes::Stepwise(v4l2_frmsize_stepwise_value {
            min_width: 16,
            max_width: 1920,
            step_width: 16,
            min_height: 16,
            max_height: 1080,
            step_height: 2,
        });
        assert!(s.allows(1280, 720));
        assert!(!s.allows(1288, 720));
        assert!(!s.allows(3840, 2160));
    }

    #[test]
    fn formats_round_trip_through_the_kernel_structures() {
        let single = PixFormat {
            width: 640,
            height: 480,
            fourcc: YUYV,
            planes: vec![(1280, 614_400)],
        };
        let raw = single.to_raw(BUF_TYPE_VIDEO_CAPTURE);
        assert_eq!(PixFormat::from_raw(&raw), single);
        let multi = PixFormat {
            width: 640,
            height: 480,
            fourcc: NV12M,
            planes: vec![(640, 307_200), (640, 153_600)],
        };
        let raw = multi.to_raw(BUF_TYPE_VIDEO_CAPTURE_MPLANE);
        // SAFETY: just written as multi-planar.
        assert_eq!(unsafe { raw.fmt.pix_mp.num_planes }, 2);
        assert_eq!(PixFormat::from_raw(&raw), multi);
    }

    #[test]
    fn opening_a_missing_node_names_it() {
        let err = Device::open("/dev/video-missing-for-test").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/video-missing-for-test: open failed: No such file or directory"
        );
    }

    #[test]
    fn ioctls_on_a_non_v4l2_file_fail_with_the_request_name() {
        let dev = Device::open("/dev/null").unwrap();
        let err = dev.capabilities().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/dev/null: VIDIOC_QUERYCAP failed: "),
            "{err}"
        );
    }
}
