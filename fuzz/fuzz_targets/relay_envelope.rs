//! The relay's envelope codec on arbitrary text frames from the backend: every frame is
//! classified (ping, pong, request, malformed, ignored) without a panic, and a request that
//! parses can be answered with an envelope that is valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::fuzz::{envelope_error_response, parse_envelope, Incoming};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Incoming::Request(cmd) = parse_envelope(&text) {
        let answer = envelope_error_response(&cmd.id, 400, "fuzz");
        serde_json::from_str::<serde_json::Value>(&answer).expect("our answer is JSON");
    }
});
