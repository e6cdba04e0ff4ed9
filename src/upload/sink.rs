//! Where captures go: the interface every sink implements (S3 and the RELab backend).

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use super::index::Blame;
use crate::stills::metadata::ImageMetadata;

/// One capture to deliver.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The local id (32 hex characters).
    pub image_id: &'a str,
    /// Where it goes, as [`Sink::destination`] fixed it before the first attempt.
    pub destination: &'a str,
    pub jpeg: &'a [u8],
    pub metadata: &'a ImageMetadata,
    /// The body of `POST /captures`.
    pub upload_metadata: &'a Map<String, Value>,
}

/// What the sink says about a delivered capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The sink's id for the image (the backend's); the local id when the sink has none.
    pub image_id: String,
    pub image_url: Option<String>,
}

/// A failed attempt: who is to blame decides whether the capture uses up an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    pub blame: Blame,
    /// Names the request that failed and why, e.g. `S3 PutObject of 'rpi-cam/42/….jpg'
    /// answered 403 SignatureDoesNotMatch: …`.
    pub message: String,
}

impl SinkError {
    /// The sink is unreachable, unready or refuses everyone (network, 5xx, credentials).
    pub fn sink(message: impl Into<String>) -> SinkError {
        SinkError {
            blame: Blame::Sink,
            message: message.into(),
        }
    }

    /// The sink refused this capture.
    pub fn capture(message: impl Into<String>) -> SinkError {
        SinkError {
            blame: Blame::Capture,
            message: message.into(),
        }
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SinkError {}

/// A destination for captures. Called from the upload worker thread only, one capture at a
/// time; a put must be idempotent for the same destination, since a crash between a put and
/// the queue's note of it repeats the put after restart.
pub trait Sink: Send + Sync {
    /// `"s3"`, `"backend"`: for logs, metrics and telemetry.
    fn name(&self) -> &'static str;

    /// Where this capture will go (an S3 key), fixed and stored with the capture before its
    /// first attempt so that retries and restarts repeat the same put.
    fn destination(&self, image_id: &str, upload_metadata: &Map<String, Value>) -> String;

    fn put(&self, upload: &Upload<'_>) -> Result<Delivered, SinkError>;

    /// One line for the start-up log: where captures go.
    fn describe(&self) -> String;

    /// The least time `POST /captures` waits for the upload before answering `queued`
    /// (`UPLOAD_WAIT_MS` may ask for more).
    fn answer_wait(&self) -> Duration {
        Duration::ZERO
    }
}
