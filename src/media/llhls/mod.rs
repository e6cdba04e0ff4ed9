//! LL-HLS: the segmenter (access units → parts and segments), the sliding timeline,
//! playlist rendering, delivery directives and the blocking store that HTTP workers park on.

pub mod directives;
pub mod names;
pub mod playlist;
pub mod segmenter;
pub mod store;
pub mod timeline;

#[cfg(test)]
mod stream_tests;

pub use directives::Directives;
pub use names::HlsFile;
pub use segmenter::{Segmenter, SegmenterConfig, SegmenterEvent};
pub use store::{HlsError, HlsStore, Polled};
pub use timeline::{NewPart, TimelineConfig};
