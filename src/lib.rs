//! picamd: a camera daemon for the Raspberry Pi. See README.md for the architecture.

mod api;
mod app;
mod auth;
mod banner;
mod base64;
mod camera;
mod clock;
mod config;
mod encode;
mod fanout;
mod governor;
mod heartbeat;
mod housekeeping;
mod http;
mod hub;
mod in_flight;
mod link;
mod media;
mod os_signals;
mod pairing;
mod pipeline;
mod preview;
mod random;
mod record;
mod relay;
mod runtime;
mod stills;
mod stop_signal;
mod stream;
mod sync;
mod system;
#[cfg(test)]
pub(crate) mod testutil;
mod upload;
mod v4l2;
mod v4l2_cli;
mod watchdog;

/// For picamd's own binary, tests and benches; not a stable API. Every other module is
/// private to the crate: this re-exports, per module, only the items those users name.
pub mod internal {
    pub mod api {
        pub use crate::api::routes::{Auth, Guard, LocalTier};
        pub use crate::api::{handle, Api, ROUTES};
    }
    pub mod app {
        pub use crate::app::serve;
    }
    pub mod camera {
        pub use crate::camera::testsrc::Painter;
    }
    pub mod clock {
        pub use crate::clock::unix_us;
    }
    pub mod config {
        pub use crate::config::retry::RetrySchedule;
        pub use crate::config::s3::{AddressingStyle, S3Settings};
        pub use crate::config::{help, Config};
    }
    pub mod encode {
        pub mod jpeg {
            pub use crate::encode::jpeg::{encode_i420, encode_i420_optimized, Exif, JpegOptions};
        }
    }
    /// The parsers of untrusted input that `fuzz/` drives (and nothing else uses from outside).
    pub mod fuzz {
        pub use crate::http::chunked::Decoder as ChunkedDecoder;
        pub use crate::http::wire::parse_head;
        pub use crate::relay::envelope::{
            error_response as envelope_error_response, parse as parse_envelope, Incoming,
        };
        pub use crate::stream::amf0::decode_all as amf0_decode_all;
        pub use crate::stream::session::{Session as RtmpSession, Target as RtmpTarget};
    }
    pub mod http {
        pub use crate::http::server::{HttpServer, Limits};
        pub use crate::http::{Request, Response};
    }
    pub mod media {
        pub use crate::media::test_vectors;
        pub use crate::media::{AccessUnit, Frame};
        pub mod fmp4 {
            pub use crate::media::fmp4::{find_box, parse_box_tree};
        }
        pub mod h264 {
            pub use crate::media::h264::{
                add_emulation_prevention, find_timestamp_sei, nal_type, nal_units, parse_sps,
                remove_emulation_prevention, timestamp_sei_nal, NAL_SEI,
            };
        }
        pub mod llhls {
            pub use crate::media::llhls::{Directives, Segmenter, SegmenterConfig, SegmenterEvent};
        }
    }
    pub mod pairing {
        pub mod bootstrap {
            pub use crate::pairing::bootstrap::{bootstrap, show_key, KeyBootstrap};
        }
    }
    pub mod pipeline {
        pub use crate::pipeline::Pipeline;
    }
    pub mod preview {
        pub use crate::preview::{publish, MuxerSink};
    }
    pub mod random {
        pub use crate::random::{hex_id, token_urlsafe};
    }
    pub mod record {
        pub use crate::record::file::Mp4File;
        pub use crate::record::segmenter::{Output, Segmenter, SegmenterConfig};
    }
    pub mod runtime {
        pub use crate::runtime::Runtime;
    }
    pub mod stills {
        pub use crate::stills::atomic::write_atomic;
        pub use crate::stills::captures::{
            CaptureRecord, CaptureStatus, CaptureStore, UploadState,
        };
        pub use crate::stills::metadata::{ImageMetadata, ImageProperties};
        pub use crate::stills::STILL_QUALITY;
        pub mod thumbnail {
            pub use crate::stills::thumbnail::{MAX_HEIGHT, MAX_WIDTH, QUALITY};
        }
    }
    pub mod stream {
        pub use crate::stream::session::command_names;
    }
    pub mod upload {
        pub use crate::upload::index::Limits;
        pub use crate::upload::s3::key::object_key;
        pub use crate::upload::s3::S3Sink;
        pub use crate::upload::{Sink, UploadSettings, Uploads};
    }
    pub mod v4l2_cli {
        pub use crate::v4l2_cli::{capture, encode, probe, Outcome};
    }
}
