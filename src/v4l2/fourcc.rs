//! Four-character pixel format codes.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FourCc(pub u32);

impl FourCc {
    pub const fn new(code: &[u8; 4]) -> FourCc {
        FourCc(u32::from_le_bytes(*code))
    }

    /// Parses a four-letter name such as `YUYV`.
    #[cfg(test)]
    pub fn parse(text: &str) -> Option<FourCc> {
        let bytes: [u8; 4] = text.as_bytes().try_into().ok()?;
        Some(FourCc::new(&bytes))
    }

    pub fn name(self) -> String {
        self.0
            .to_le_bytes()
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                }
            })
            .collect::<String>()
            .trim_end()
            .to_string()
    }
}

impl fmt::Display for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc({})", self.name())
    }
}

pub const YUYV: FourCc = FourCc::new(b"YUYV");
pub const NV12: FourCc = FourCc::new(b"NV12");
/// NV12 with Y and UV in separate planes of a multi-planar buffer.
pub const NV12M: FourCc = FourCc::new(b"NM12");
pub const YU12: FourCc = FourCc::new(b"YU12");
/// YU12 with Y, U and V in three planes of a multi-planar buffer.
pub const YU12M: FourCc = FourCc::new(b"YM12");
pub const H264: FourCc = FourCc::new(b"H264");
pub const FWHT: FourCc = FourCc::new(b"FWHT");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_v4l2_fourcc() {
        // v4l2_fourcc('Y','U','Y','V') = 'Y' | 'U' << 8 | 'Y' << 16 | 'V' << 24
        assert_eq!(YUYV.0, 0x5659_5559);
        assert_eq!(H264.0, 0x3436_3248);
        assert_eq!(YU12.0, 0x3231_5559);
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(FourCc::parse("NV12"), Some(NV12));
        assert_eq!(NV12.to_string(), "NV12");
        assert_eq!(FourCc::parse("NV1"), None);
        assert_eq!(FourCc::new(b"Y8  ").name(), "Y8");
    }
}
