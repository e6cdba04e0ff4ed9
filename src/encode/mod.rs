//! Encoders: raw frames in, H.264 access units or JPEG stills out.
//!
//! Both H.264 encoders (OpenH264 in software, a V4L2 M2M device in hardware) implement
//! [`H264Encode`] and run on the one thread loop of [`spawn_encoder`], which puts their key
//! frames on the segment grid ([`IdrGrid`]), applies the bitrate the thermal governor asks for
//! ([`BitrateControl`]) and counts into [`EncoderStats`]. Each encoder is opened before its
//! thread starts, so the pipeline gets the error and can fall back.

pub mod bitrate;
pub mod encoder_thread;
pub mod idr_grid;
pub mod jpeg;
pub mod openh264;
pub mod sei;
pub mod v4l2_m2m;

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::heartbeat::Heartbeat;
use crate::media::{AccessUnit, Frame};
use crate::v4l2::V4l2Error;

pub use bitrate::BitrateControl;
pub use encoder_thread::{spawn_encoder, Bitrate, OnGrid};
pub use idr_grid::IdrGrid;

/// Counters of the H.264 encoder thread, read by `/system` and the housekeeping log.
#[derive(Debug, Default)]
pub struct EncoderStats {
    pub frames_encoded: AtomicU64,
    pub frames_skipped: AtomicU64,
    pub errors: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Beaten on every turn of the encoder loop (see `watchdog`).
    pub heartbeat: Arc<Heartbeat>,
}

/// An H.264 encoder as the encoder thread drives it.
pub trait H264Encode: Send {
    /// Encodes `frame`, as an IDR when `force_idr`. Returns the access units that came out:
    /// this frame's for a synchronous encoder (none when it skipped the frame), earlier
    /// frames' as a rule for a pipelined one.
    fn encode(&mut self, frame: &Frame, force_idr: bool) -> Result<Vec<AccessUnit>, EncodeError>;

    /// Changes the target bitrate from the next frame on, in the same stream: no new
    /// parameter sets, no forced IDR.
    fn set_bitrate(&mut self, bps: u32) -> Result<(), EncodeError>;

    /// Drains the encoder at the end of the stream: the access units still inside.
    fn finish(&mut self) -> Result<Vec<AccessUnit>, EncodeError> {
        Ok(Vec::new())
    }

    /// Whether access units come out after later frames went in. When not, a frame that
    /// yields nothing was skipped.
    fn pipelined(&self) -> bool {
        false
    }
}

/// Why an encoder could not encode a frame (or drain).
#[derive(Debug)]
pub enum EncodeError {
    OpenH264(::openh264::Error),
    V4l2(V4l2Error),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::OpenH264(e) => e.fmt(f),
            EncodeError::V4l2(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EncodeError::OpenH264(e) => Some(e),
            EncodeError::V4l2(e) => Some(e),
        }
    }
}

impl From<::openh264::Error> for EncodeError {
    fn from(e: ::openh264::Error) -> EncodeError {
        EncodeError::OpenH264(e)
    }
}

impl From<V4l2Error> for EncodeError {
    fn from(e: V4l2Error) -> EncodeError {
        EncodeError::V4l2(e)
    }
}
