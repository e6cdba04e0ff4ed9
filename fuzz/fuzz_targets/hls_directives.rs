//! LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) from arbitrary query
//! strings: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::media::llhls::Directives;

fuzz_target!(|data: &[u8]| {
    let _ = Directives::parse(&String::from_utf8_lossy(data));
});
