//! The live preview: the muxer thread that turns access units into LL-HLS, and the gate
//! that starts and stops encoding on demand.

pub mod gate;
mod muxer;

pub use gate::{PreviewGate, PreviewHold};
pub use muxer::{publish, spawn_muxer, MuxerCounters, MuxerSink};
