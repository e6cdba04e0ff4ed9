//! The kernel's V4L2 structures and constants, written by hand after `linux/videodev2.h`.
//!
//! Layouts hold on LP64 (x86_64, aarch64) and ILP32 ARM (armv7): the unions that hold a
//! pointer or an `unsigned long` take its size and alignment, which is what moves offsets
//! between the two; `timeval` comes from `libc`, so it follows the target's `time_t`.

#![allow(non_camel_case_types)]

use libc::{c_ulong, c_void, timeval};

pub const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
pub const CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;
pub const CAP_VIDEO_CAPTURE_MPLANE: u32 = 0x0000_1000;
pub const CAP_VIDEO_OUTPUT_MPLANE: u32 = 0x0000_2000;
pub const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
pub const CAP_VIDEO_M2M: u32 = 0x0000_8000;
pub const CAP_META_CAPTURE: u32 = 0x0080_0000;
pub const CAP_READWRITE: u32 = 0x0100_0000;
pub const CAP_STREAMING: u32 = 0x0400_0000;
pub const CAP_DEVICE_CAPS: u32 = 0x8000_0000;

pub const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;
pub const BUF_TYPE_VIDEO_OUTPUT: u32 = 2;
pub const BUF_TYPE_VIDEO_CAPTURE_MPLANE: u32 = 9;
pub const BUF_TYPE_VIDEO_OUTPUT_MPLANE: u32 = 10;

pub const MEMORY_MMAP: u32 = 1;
pub const FIELD_NONE: u32 = 1;

pub const FRMSIZE_TYPE_DISCRETE: u32 = 1;
pub const FRMSIZE_TYPE_CONTINUOUS: u32 = 2;

pub const BUF_FLAG_KEYFRAME: u32 = 0x0000_0008;
pub const BUF_FLAG_ERROR: u32 = 0x0000_0040;
pub const BUF_FLAG_LAST: u32 = 0x0010_0000;

pub const ENC_CMD_STOP: u32 = 1;

pub const CTRL_FLAG_DISABLED: u32 = 0x0001;
pub const CTRL_WHICH_CUR_VAL: u32 = 0;

/// The most planes a multi-planar buffer may have (`VIDEO_MAX_PLANES`).
pub const VIDEO_MAX_PLANES: usize = 8;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_capability {
    pub driver: [u8; 16],
    pub card: [u8; 32],
    pub bus_info: [u8; 32],
    pub version: u32,
    pub capabilities: u32,
    pub device_caps: u32,
    pub reserved: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_fmtdesc {
    pub index: u32,
    pub type_: u32,
    pub flags: u32,
    pub description: [u8; 32],
    pub pixelformat: u32,
    pub mbus_code: u32,
    pub reserved: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_frmsize_stepwise {
    pub min_width: u32,
    pub max_width: u32,
    pub step_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    pub step_height: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_frmsize_discrete {
    pub width: u32,
    pub height: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_frmsize_union {
    pub discrete: v4l2_frmsize_discrete,
    pub stepwise: v4l2_frmsize_stepwise,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_frmsizeenum {
    pub index: u32,
    pub pixel_format: u32,
    pub type_: u32,
    pub size: v4l2_frmsize_union,
    pub reserved: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_pix_format {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub bytesperline: u32,
    pub sizeimage: u32,
    pub colorspace: u32,
    pub priv_: u32,
    pub flags: u32,
    pub ycbcr_enc: u32,
    pub quantization: u32,
    pub xfer_func: u32,
}

/// Packed in the kernel; every field already sits on its natural boundary, so plain
/// `repr(C)` gives the same bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_plane_pix_format {
    pub sizeimage: u32,
    pub bytesperline: u32,
    pub reserved: [u16; 6],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_pix_format_mplane {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub colorspace: u32,
    pub plane_fmt: [v4l2_plane_pix_format; VIDEO_MAX_PLANES],
    pub num_planes: u8,
    pub flags: u8,
    pub ycbcr_enc: u8,
    pub quantization: u8,
    pub xfer_func: u8,
    pub reserved: [u8; 7],
}

/// `fmt` of `v4l2_format`: 200 bytes, pointer-aligned because `v4l2_window` holds pointers.
#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_format_union {
    pub pix: v4l2_pix_format,
    pub pix_mp: v4l2_pix_format_mplane,
    pub raw_data: [u8; 200],
    pub _align: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_format {
    pub type_: u32,
    pub fmt: v4l2_format_union,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_requestbuffers {
    pub count: u32,
    pub type_: u32,
    pub memory: u32,
    pub capabilities: u32,
    pub flags: u8,
    pub reserved: [u8; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_timecode {
    pub type_: u32,
    pub flags: u32,
    pub frames: u8,
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub userbits: [u8; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_plane_m {
    pub mem_offset: u32,
    pub userptr: c_ulong,
    pub fd: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_plane {
    pub bytesused: u32,
    pub length: u32,
    pub m: v4l2_plane_m,
    pub data_offset: u32,
    pub reserved: [u32; 11],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_buffer_m {
    pub offset: u32,
    pub userptr: c_ulong,
    pub planes: *mut v4l2_plane,
    pub fd: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_buffer {
    pub index: u32,
    pub type_: u32,
    pub bytesused: u32,
    pub flags: u32,
    pub field: u32,
    pub timestamp: timeval,
    pub timecode: v4l2_timecode,
    pub sequence: u32,
    pub memory: u32,
    pub m: v4l2_buffer_m,
    pub length: u32,
    pub reserved2: u32,
    pub request_fd: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_fract {
    pub numerator: u32,
    pub denominator: u32,
}

/// `v4l2_captureparm` and `v4l2_outputparm` have the same layout; only the names of two
/// fields differ (`capturemode`/`outputmode`, `readbuffers`/`writebuffers`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_streamparm_common {
    pub capability: u32,
    pub mode: u32,
    pub timeperframe: v4l2_fract,
    pub extendedmode: u32,
    pub buffers: u32,
    pub reserved: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_streamparm_union {
    pub capture: v4l2_streamparm_common,
    pub output: v4l2_streamparm_common,
    pub raw_data: [u8; 200],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_streamparm {
    pub type_: u32,
    pub parm: v4l2_streamparm_union,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_queryctrl {
    pub id: u32,
    pub type_: u32,
    pub name: [u8; 32],
    pub minimum: i32,
    pub maximum: i32,
    pub step: i32,
    pub default_value: i32,
    pub flags: u32,
    pub reserved: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_query_ext_ctrl {
    pub id: u32,
    pub type_: u32,
    pub name: [u8; 32],
    pub minimum: i64,
    pub maximum: i64,
    pub step: u64,
    pub default_value: i64,
    pub flags: u32,
    pub elem_size: u32,
    pub elems: u32,
    pub nr_of_dims: u32,
    pub dims: [u32; 4],
    pub reserved: [u32; 32],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub union v4l2_ext_control_value {
    pub value: i32,
    pub value64: i64,
    pub ptr: *mut c_void,
}

#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct v4l2_ext_control {
    pub id: u32,
    pub size: u32,
    pub reserved2: [u32; 1],
    pub value: v4l2_ext_control_value,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_ext_controls {
    /// `ctrl_class` or `which`: the same field under two names.
    pub which: u32,
    pub count: u32,
    pub error_idx: u32,
    pub request_fd: i32,
    pub reserved: [u32; 1],
    pub controls: *mut v4l2_ext_control,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct v4l2_encoder_cmd {
    pub cmd: u32,
    pub flags: u32,
    pub data: [u32; 8],
}

/// All-zero bytes, the way the kernel expects a request to start.
///
/// # Safety
/// Only for the plain-data structures of this module, for which all-zero is a valid value.
pub fn zeroed<T: Copy>() -> T {
    // SAFETY: every type here is integers, arrays, raw pointers and unions of them.
    unsafe { std::mem::zeroed() }
}

/// A NUL-padded C string field as text.
pub fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn sizes_that_do_not_depend_on_the_pointer_width() {
        assert_eq!(size_of::<v4l2_capability>(), 104);
        assert_eq!(size_of::<v4l2_fmtdesc>(), 64);
        assert_eq!(size_of::<v4l2_frmsizeenum>(), 44);
        assert_eq!(size_of::<v4l2_pix_format>(), 48);
        assert_eq!(size_of::<v4l2_plane_pix_format>(), 20);
        assert_eq!(size_of::<v4l2_pix_format_mplane>(), 192);
        assert_eq!(size_of::<v4l2_requestbuffers>(), 20);
        assert_eq!(size_of::<v4l2_timecode>(), 16);
        assert_eq!(size_of::<v4l2_streamparm>(), 204);
        assert_eq!(size_of::<v4l2_queryctrl>(), 68);
        assert_eq!(size_of::<v4l2_query_ext_ctrl>(), 232);
        assert_eq!(offset_of!(v4l2_query_ext_ctrl, minimum), 40);
        assert_eq!(offset_of!(v4l2_query_ext_ctrl, dims), 88);
        assert_eq!(size_of::<v4l2_ext_control>(), 20);
        assert_eq!(align_of::<v4l2_ext_control>(), 1);
        assert_eq!(size_of::<v4l2_encoder_cmd>(), 40);
    }

    /// Values printed by `sizeof`/`offsetof` against the system's videodev2.h on x86_64.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn lp64_layouts_match_the_c_compiler() {
        assert_eq!(size_of::<v4l2_format>(), 208);
        assert_eq!(offset_of!(v4l2_format, fmt), 8);
        assert_eq!(size_of::<v4l2_buffer>(), 88);
        assert_eq!(offset_of!(v4l2_buffer, timestamp), 24);
        assert_eq!(offset_of!(v4l2_buffer, m), 64);
        assert_eq!(offset_of!(v4l2_buffer, length), 72);
        assert_eq!(size_of::<v4l2_plane>(), 64);
        assert_eq!(offset_of!(v4l2_plane, data_offset), 16);
        assert_eq!(size_of::<v4l2_ext_controls>(), 32);
        assert_eq!(offset_of!(v4l2_ext_controls, controls), 24);
    }

    /// ILP32 ARM with a 32-bit `time_t`: the sizes behind the well-known 32-bit request
    /// numbers (VIDIOC_QBUF = 0xc044560f, VIDIOC_S_FMT = 0xc0cc5605).
    #[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
    #[test]
    fn ilp32_arm_layouts() {
        assert_eq!(size_of::<v4l2_format>(), 204);
        assert_eq!(offset_of!(v4l2_format, fmt), 4);
        assert_eq!(size_of::<v4l2_buffer>(), 68);
        assert_eq!(offset_of!(v4l2_buffer, m), 52);
        assert_eq!(size_of::<v4l2_plane>(), 60);
        assert_eq!(size_of::<v4l2_ext_controls>(), 24);
    }

    #[test]
    fn c_text_stops_at_the_first_nul() {
        assert_eq!(c_text(b"vivid\0\0junk"), "vivid");
        assert_eq!(c_text(b"full"), "full");
    }
}
