//! YouTube live: our own RTMP(S) publisher. Sans-IO cores (the handshake, chunk streams,
//! AMF0, the publishing session, FLV tag bodies and the audio/video muxer with silent AAC),
//! and the edges: the socket (TCP or rustls), the stream thread and the service the API
//! drives. No ffmpeg or other child process.

pub mod amf0;
pub mod chunk;
pub mod flv;
pub mod handshake;
pub mod mux;
pub mod service;
pub mod session;
pub mod status;
mod transport;
mod worker;

pub use service::{StreamError, StreamInfo, VideoInfo, YoutubeStreams};
pub use status::{Ended, State};
