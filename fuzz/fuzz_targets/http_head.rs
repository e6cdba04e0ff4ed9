//! The HTTP/1.1 request-head parser on arbitrary bytes: it must answer (a head, "need more", or
//! an error with a 4xx/5xx status) and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::fuzz::parse_head;

fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Ok(Some(head)) => assert!(head.head_len <= data.len()),
        Ok(None) => {}
        Err(e) => assert!((400..600).contains(&e.status), "status {}", e.status),
    }
});
