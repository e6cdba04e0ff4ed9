//! The H.264 readers on arbitrary Annex B bytes (NAL splitting, SPS, the capture-time SEI),
//! and the emulation-prevention round trip: removing what adding inserted gives the input back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::media::h264::{
    add_emulation_prevention, find_timestamp_sei, nal_type, nal_units, parse_sps,
    remove_emulation_prevention,
};

fuzz_target!(|data: &[u8]| {
    for nal in nal_units(data) {
        if nal_type(nal) == Some(7) {
            let _ = parse_sps(nal);
        }
    }
    let _ = find_timestamp_sei(data);
    assert_eq!(
        remove_emulation_prevention(&add_emulation_prevention(data)),
        data
    );
});
