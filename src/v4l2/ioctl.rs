//! V4L2 request numbers, computed the way `_IOR`/`_IOW`/`_IOWR` do, and the one place that
//! calls `ioctl(2)`.

use std::mem::size_of;
use std::os::fd::RawFd;

use super::error::V4l2Error;
use super::sys::*;

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, 'V', nr, size)` in the generic encoding that x86_64, arm and aarch64 share.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}

const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, nr, size_of::<T>())
}

const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, nr, size_of::<T>())
}

const fn iowr<T>(nr: u32) -> u32 {
    ioc(IOC_READ | IOC_WRITE, nr, size_of::<T>())
}

/// One V4L2 request: its number and the name errors show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub code: u32,
    pub name: &'static str,
}

macro_rules! requests {
    ($($name:ident = $make:ident::<$t:ty>($nr:expr);)*) => {
        $(pub const $name: Request = Request { code: $make::<$t>($nr), name: stringify!($name) };)*
    };
}

requests! {
    VIDIOC_QUERYCAP = ior::<v4l2_capability>(0);
    VIDIOC_ENUM_FMT = iowr::<v4l2_fmtdesc>(2);
    VIDIOC_S_FMT = iowr::<v4l2_format>(5);
    VIDIOC_REQBUFS = iowr::<v4l2_requestbuffers>(8);
    VIDIOC_QUERYBUF = iowr::<v4l2_buffer>(9);
    VIDIOC_QBUF = iowr::<v4l2_buffer>(15);
    VIDIOC_DQBUF = iowr::<v4l2_buffer>(17);
    VIDIOC_STREAMON = iow::<i32>(18);
    VIDIOC_STREAMOFF = iow::<i32>(19);
    VIDIOC_S_PARM = iowr::<v4l2_streamparm>(22);
    VIDIOC_QUERYCTRL = iowr::<v4l2_queryctrl>(36);
    VIDIOC_S_EXT_CTRLS = iowr::<v4l2_ext_controls>(72);
    VIDIOC_ENUM_FRAMESIZES = iowr::<v4l2_frmsizeenum>(74);
    VIDIOC_ENCODER_CMD = iowr::<v4l2_encoder_cmd>(77);
    VIDIOC_QUERY_EXT_CTRL = iowr::<v4l2_query_ext_ctrl>(103);
}

/// Calls `request` on `fd` with `arg`, retrying on EINTR. `path` names the device in errors.
///
/// # Safety
/// `T` must be the structure the request expects; the request numbers above carry its size.
pub unsafe fn call<T>(
    fd: RawFd,
    path: &str,
    request: Request,
    arg: &mut T,
) -> Result<(), V4l2Error> {
    debug_assert_eq!(((request.code >> 16) & 0x3fff) as usize, size_of::<T>());
    loop {
        // The request type is `c_ulong` on glibc and `c_int` on musl.
        let rc = libc::ioctl(fd, request.code as _, arg as *mut T);
        if rc >= 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(V4l2Error::ioctl(path, request.name, err));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_independent_numbers_match_videodev2_h() {
        assert_eq!(VIDIOC_QUERYCAP.code, 0x8068_5600);
        assert_eq!(VIDIOC_ENUM_FMT.code, 0xc040_5602);
        assert_eq!(VIDIOC_REQBUFS.code, 0xc014_5608);
        assert_eq!(VIDIOC_STREAMON.code, 0x4004_5612);
        assert_eq!(VIDIOC_STREAMOFF.code, 0x4004_5613);
        assert_eq!(VIDIOC_S_PARM.code, 0xc0cc_5616);
        assert_eq!(VIDIOC_QUERYCTRL.code, 0xc044_5624);
        assert_eq!(VIDIOC_ENUM_FRAMESIZES.code, 0xc02c_564a);
        assert_eq!(VIDIOC_ENCODER_CMD.code, 0xc028_564d);
        assert_eq!(VIDIOC_QUERY_EXT_CTRL.code, 0xc0e8_5667);
    }

    /// Printed by a C program including the system's linux/videodev2.h on x86_64.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn lp64_numbers_match_videodev2_h() {
        assert_eq!(VIDIOC_S_FMT.code, 0xc0d0_5605);
        assert_eq!(VIDIOC_QUERYBUF.code, 0xc058_5609);
        assert_eq!(VIDIOC_QBUF.code, 0xc058_560f);
        assert_eq!(VIDIOC_DQBUF.code, 0xc058_5611);
        assert_eq!(VIDIOC_S_EXT_CTRLS.code, 0xc020_5648);
    }

    #[cfg(all(target_pointer_width = "32", target_arch = "arm"))]
    #[test]
    fn ilp32_arm_numbers() {
        assert_eq!(VIDIOC_S_FMT.code, 0xc0cc_5605);
        assert_eq!(VIDIOC_QUERYBUF.code, 0xc044_5609);
        assert_eq!(VIDIOC_QBUF.code, 0xc044_560f);
        assert_eq!(VIDIOC_DQBUF.code, 0xc044_5611);
        assert_eq!(VIDIOC_S_EXT_CTRLS.code, 0xc018_5648);
    }

    #[test]
    fn requests_carry_their_names() {
        assert_eq!(VIDIOC_S_FMT.name, "VIDIOC_S_FMT");
    }

    #[test]
    fn a_failed_call_names_the_device_and_the_request() {
        if std::env::var_os("PICAMD_QEMU_USER").is_some() {
            // qemu-user answers ioctls it does not translate with ENOSYS, before the kernel
            // could see the bad descriptor (scripts/test-arm.sh sets this).
            eprintln!("skipped under qemu-user: it does not pass V4L2 ioctls on");
            return;
        }
        let mut cap: v4l2_capability = zeroed();
        // SAFETY: -1 is never a valid fd, so the kernel only returns EBADF.
        let err = unsafe { call(-1, "/dev/video9", VIDIOC_QUERYCAP, &mut cap) }.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/dev/video9: VIDIOC_QUERYCAP failed: Bad file descriptor"),
            "{err}"
        );
        assert_eq!(err.errno(), Some(libc::EBADF));
    }
}
