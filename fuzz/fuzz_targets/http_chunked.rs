//! The chunked request-body decoder on arbitrary bytes, fed whole and fed in two pieces split
//! at a fuzzed point: both ways end alike (same body, same error, same bytes used), and a
//! decoded body never exceeds the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picamd::internal::fuzz::ChunkedDecoder;

const LIMIT: usize = 4096;

fn decode(pieces: &[&[u8]]) -> (Result<usize, u16>, Option<Vec<u8>>) {
    let mut decoder = ChunkedDecoder::new(LIMIT);
    let mut used = 0;
    for piece in pieces {
        match decoder.feed(piece) {
            Ok(n) => used += n,
            Err(e) => return (Err(e.status), None),
        }
        if decoder.is_done() {
            break;
        }
    }
    let body = decoder.is_done().then(|| decoder.into_body());
    (Ok(used), body)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = decode(&[input]);
    let at = usize::from(split).min(input.len());
    let (first, second) = input.split_at(at);
    let pieces = decode(&[first, second]);
    if let (_, Some(body)) = &whole {
        assert!(body.len() <= LIMIT);
    }
    assert_eq!(whole.1, pieces.1, "the same body whole or in pieces");
    assert_eq!(whole.0.is_err(), pieces.0.is_err(), "the same verdict whole or in pieces");
});
