//! The latency barcode: the capture time burnt into the top 16 rows of every synthetic frame,
//! so a player can read it back from a canvas and measure glass-to-glass latency.
//!
//! Layout: 64 bits, most significant first, each a block `width / 64` pixels wide and 16 rows
//! high; white (luma 235) is 1, black (luma 16) is 0. Bits 0..56 hold the capture time in µs
//! since the Unix epoch; bits 56..64 are a checksum: the XOR of those seven bytes, XOR 0xA5.
//! `www/latency.js` reads it.

pub const ROWS: usize = 16;
const BITS: usize = 64;
const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// The 64-bit word that encodes `unix_us` (only its low 56 bits are kept).
pub fn encode_word(unix_us: u64) -> u64 {
    let value = unix_us & ((1 << 56) - 1);
    (value << 8) | u64::from(checksum(value))
}

/// The capture time, if the checksum matches.
#[cfg(test)]
fn decode_word(word: u64) -> Option<u64> {
    let value = word >> 8;
    (checksum(value) == (word & 0xff) as u8).then_some(value)
}

fn checksum(value: u64) -> u8 {
    value.to_be_bytes()[1..].iter().fold(0xA5, |acc, b| acc ^ b)
}

/// Draws the barcode into the luma plane (`width` bytes per row, at least 16 rows).
pub fn draw(luma: &mut [u8], width: usize, unix_us: u64) {
    let block = width / BITS;
    if block == 0 || luma.len() < width * ROWS {
        return;
    }
    let word = encode_word(unix_us);
    let row = &mut luma[..width];
    for (bit, chunk) in row.chunks_mut(block).take(BITS).enumerate() {
        let on = (word >> (BITS - 1 - bit)) & 1 == 1;
        chunk.fill(if on { WHITE } else { BLACK });
    }
    row[BITS * block..].fill(128);
    let (first, rest) = luma.split_at_mut(width);
    for r in 0..ROWS - 1 {
        rest[r * width..(r + 1) * width].copy_from_slice(first);
    }
}

/// Reads the barcode back from a luma plane (`www/latency.js` does the same in the browser).
#[cfg(test)]
pub fn read(luma: &[u8], width: usize) -> Option<u64> {
    let block = width / BITS;
    if block == 0 || luma.len() < width * ROWS {
        return None;
    }
    let mut word = 0u64;
    for bit in 0..BITS {
        let mut sum = 0u32;
        let mut n = 0u32;
        for row in 4..12 {
            let start = row * width + bit * block + block / 4;
            for &px in &luma[start..start + (block / 2).max(1)] {
                sum += u32::from(px);
                n += 1;
            }
        }
        word = (word << 1) | u64::from(sum / n >= 128);
    }
    decode_word(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = 1_763_725_552_123_456;
        assert_eq!(decode_word(encode_word(t)), Some(t));
        assert_eq!(decode_word(encode_word(t) ^ 0x100), None);
        let width = 1280;
        let mut luma = vec![77u8; width * 32];
        draw(&mut luma, width, t);
        assert_eq!(read(&luma, width), Some(t));
        assert!(
            luma[16 * width..].iter().all(|&p| p == 77),
            "draws only 16 rows"
        );
    }

    #[test]
    fn survives_mild_noise_and_odd_widths() {
        let t = 42_000_001;
        for width in [64, 320, 333, 1920] {
            let mut luma = vec![0u8; width * ROWS];
            draw(&mut luma, width, t);
            for (i, px) in luma.iter_mut().enumerate() {
                *px = px.saturating_add((i % 7) as u8 * 5).saturating_sub(10);
            }
            assert_eq!(read(&luma, width), Some(t), "width {width}");
        }
        assert_eq!(read(&[0; 10], 32), None);
    }
}
