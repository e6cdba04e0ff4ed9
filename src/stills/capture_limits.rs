//! `MAX_CAPTURE_PIXELS` and `MAX_CAPTURE_FILE_BYTES`: a capture larger than either is refused
//! before it is stored, with the plugin's messages (its `CaptureFilePolicy`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureTooLarge {
    Pixels { pixels: u64, max: u64 },
    Bytes { bytes: u64, max: u64 },
}

impl fmt::Display for CaptureTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureTooLarge::Pixels { pixels, max } => write!(
                f,
                "Capture has {pixels} pixels, which exceeds the {max} pixel limit."
            ),
            CaptureTooLarge::Bytes { bytes, max } => write!(
                f,
                "Capture file is {bytes} bytes, which exceeds the {max} byte limit."
            ),
        }
    }
}

impl std::error::Error for CaptureTooLarge {}

pub fn check_pixels(width: u32, height: u32, max: u64) -> Result<(), CaptureTooLarge> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max {
        return Err(CaptureTooLarge::Pixels { pixels, max });
    }
    Ok(())
}

pub fn check_bytes(bytes: usize, max: u64) -> Result<(), CaptureTooLarge> {
    let bytes = bytes as u64;
    if bytes > max {
        return Err(CaptureTooLarge::Bytes { bytes, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_with_the_plugins_messages() {
        assert_eq!(check_pixels(1280, 720, 921_600), Ok(()));
        let e = check_pixels(1280, 720, 921_599).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Capture has 921600 pixels, which exceeds the 921599 pixel limit."
        );
        assert_eq!(check_bytes(10, 10), Ok(()));
        assert_eq!(
            check_bytes(11, 10).unwrap_err().to_string(),
            "Capture file is 11 bytes, which exceeds the 10 byte limit."
        );
    }
}
