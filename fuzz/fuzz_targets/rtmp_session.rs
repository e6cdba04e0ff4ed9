//! The RTMP publisher on arbitrary bytes from an ingest server: the chunk reader, AMF0 decoder
//! and session state machine answer every input with events or an error, never a panic, and
//! never hold more than their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::fuzz::{amf0_decode_all, RtmpSession, RtmpTarget};

fuzz_target!(|data: &[u8]| {
    let _ = amf0_decode_all(data);
    let mut session = RtmpSession::new(RtmpTarget {
        app: "live2".into(),
        tc_url: "rtmp://127.0.0.1:1935/live2".into(),
        key: "key".into(),
    });
    // Split as a socket might, in uneven reads.
    let split = data.first().map_or(1, |b| usize::from(*b % 64) + 1);
    for piece in data.chunks(split) {
        if session.handle_input(piece).is_err() {
            break;
        }
        session.output().clear();
    }
});
