//! picamd: a camera daemon for the Raspberry Pi. See README.md for the architecture.

pub mod api;
pub mod camera;
pub mod clock;
pub mod config;
pub mod encode;
pub mod fanout;
pub mod http;
pub mod media;
pub mod pipeline;
pub mod preview;
pub mod runtime;
pub mod stills;
