//! Errors of the V4L2 layer: each names the device and what was asked of it.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum V4l2Error {
    /// An ioctl or system call on the device failed.
    Io {
        path: String,
        what: &'static str,
        source: io::Error,
    },
    /// The device answered, but not with something we can use.
    Unsupported { path: String, reason: String },
    /// A wait ran past its deadline.
    Timeout { path: String, what: String },
}

impl V4l2Error {
    pub fn ioctl(path: &str, request: &'static str, source: io::Error) -> V4l2Error {
        V4l2Error::Io {
            path: path.to_string(),
            what: request,
            source,
        }
    }

    pub fn unsupported(path: &str, reason: impl Into<String>) -> V4l2Error {
        V4l2Error::Unsupported {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The OS error number, when the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            V4l2Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for V4l2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V4l2Error::Io { path, what, source } => {
                // Strip Rust's " (os error N)" suffix: the text is what a person reads.
                let text = source.to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                write!(f, "{path}: {what} failed: {text}")
            }
            V4l2Error::Unsupported { path, reason } => write!(f, "{path}: {reason}"),
            V4l2Error::Timeout { path, what } => write!(f, "{path}: timed out {what}"),
        }
    }
}

impl std::error::Error for V4l2Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            V4l2Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_errors_read_like_the_brief() {
        let e = V4l2Error::ioctl(
            "/dev/video0",
            "VIDIOC_S_FMT",
            io::Error::from_raw_os_error(libc::EINVAL),
        );
        assert_eq!(
            e.to_string(),
            "/dev/video0: VIDIOC_S_FMT failed: Invalid argument"
        );
    }

    #[test]
    fn timeouts_name_the_wait() {
        let e = V4l2Error::Timeout {
            path: "/dev/video11".into(),
            what: "after 2000 ms waiting for a coded buffer".into(),
        };
        assert_eq!(
            e.to_string(),
            "/dev/video11: timed out after 2000 ms waiting for a coded buffer"
        );
    }
}
