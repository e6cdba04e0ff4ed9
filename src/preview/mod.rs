//! The live preview: the muxer thread that turns access units into LL-HLS, the per-frame
//! live view streams, and the gate that starts and stops encoding on demand.

pub mod gate;
pub mod live;
mod muxer;

pub use gate::{PreviewGate, PreviewHold};
pub use live::LiveCounters;
pub use muxer::{muxer_max_silence, publish, spawn_muxer, MuxerCounters, MuxerSink};
