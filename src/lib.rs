//! picamd: a camera daemon for the Raspberry Pi. See README.md for the architecture.

pub mod api;
pub mod app;
pub mod auth;
pub mod banner;
pub mod base64;
pub mod camera;
pub mod clock;
pub mod config;
pub mod encode;
pub mod fanout;
pub mod housekeeping;
pub mod http;
pub mod link;
pub mod media;
pub mod pairing;
pub mod pipeline;
pub mod preview;
pub mod random;
pub mod relay;
pub mod runtime;
pub mod stills;
pub mod stop_signal;
pub mod sync;
pub mod system;
#[cfg(test)]
pub(crate) mod testutil;
pub mod upload;
pub mod v4l2;
pub mod v4l2_cli;
