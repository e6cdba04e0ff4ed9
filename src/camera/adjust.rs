//! Picture adjustments the synthetic camera applies itself, so its controls really change the
//! picture: exposure and gain (when auto exposure is off), brightness, contrast, saturation.

use super::barcode;

/// Auto exposure settles on this exposure × gain; manual settings are relative to it.
pub const AUTO_EXPOSURE_US: f64 = 10_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageAdjust {
    /// Linear light multiplier from exposure × gain (1.0 = what auto exposure picks).
    pub exposure: f64,
    /// -1.0 ..= 1.0, libcamera's Brightness.
    pub brightness: f64,
    /// 0.0 ..= 32.0, 1.0 = unchanged.
    pub contrast: f64,
    /// 0.0 ..= 32.0, 1.0 = unchanged.
    pub saturation: f64,
}

impl Default for ImageAdjust {
    fn default() -> ImageAdjust {
        ImageAdjust {
            exposure: 1.0,
            brightness: 0.0,
            contrast: 1.0,
            saturation: 1.0,
        }
    }
}

impl ImageAdjust {
    pub fn is_identity(&self) -> bool {
        *self == ImageAdjust::default()
    }

    /// Applies the adjustment to an I420 picture in place. The latency barcode rows are left
    /// alone so that end-to-end measurements keep working whatever the controls say.
    pub fn apply(&self, data: &mut [u8], width: usize, height: usize) {
        if self.is_identity() || width == 0 || height == 0 {
            return;
        }
        let luma_len = width * height;
        let chroma_len = width.div_ceil(2) * height.div_ceil(2);
        if data.len() < luma_len + 2 * chroma_len {
            return;
        }
        let luma_lut = self.luma_lut();
        let skip = barcode::ROWS.min(height) * width;
        for px in &mut data[skip..luma_len] {
            *px = luma_lut[usize::from(*px)];
        }
        let chroma_lut = self.chroma_lut();
        for px in &mut data[luma_len..luma_len + 2 * chroma_len] {
            *px = chroma_lut[usize::from(*px)];
        }
    }

    fn luma_lut(&self) -> [u8; 256] {
        let mut lut = [0u8; 256];
        for (i, out) in lut.iter_mut().enumerate() {
            // Work in 0..1 of the video range (16..235).
            let x = (i as f64 - 16.0) / 219.0;
            let lit = x * self.exposure;
            let contrasted = (lit - 0.5) * self.contrast + 0.5 + self.brightness;
            *out = (16.0 + contrasted * 219.0).round().clamp(16.0, 235.0) as u8;
        }
        lut
    }

    fn chroma_lut(&self) -> [u8; 256] {
        let mut lut = [0u8; 256];
        for (i, out) in lut.iter_mut().enumerate() {
            let c = (i as f64 - 128.0) * self.saturation;
            *out = (128.0 + c).round().clamp(16.0, 240.0) as u8;
        }
        lut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: usize, h: usize, y: u8, c: u8) -> Vec<u8> {
        let mut data = vec![y; w * h];
        data.extend(std::iter::repeat_n(c, 2 * (w / 2) * (h / 2)));
        data
    }

    fn mean(bytes: &[u8]) -> f64 {
        bytes.iter().map(|&b| f64::from(b)).sum::<f64>() / bytes.len() as f64
    }

    #[test]
    fn identity_changes_nothing() {
        let mut data = picture(64, 32, 100, 90);
        let before = data.clone();
        ImageAdjust::default().apply(&mut data, 64, 32);
        assert_eq!(data, before);
    }

    #[test]
    fn brightness_exposure_and_saturation_move_the_picture() {
        let (w, h) = (64, 64);
        let brighter = ImageAdjust {
            brightness: 0.3,
            ..ImageAdjust::default()
        };
        let mut data = picture(w, h, 100, 90);
        brighter.apply(&mut data, w, h);
        let body = &data[barcode::ROWS * w..w * h];
        assert!(mean(body) > 150.0, "{}", mean(body));
        assert!(
            data[..barcode::ROWS * w].iter().all(|&b| b == 100),
            "barcode rows untouched"
        );

        let darker = ImageAdjust {
            exposure: 0.25,
            ..ImageAdjust::default()
        };
        let mut data = picture(w, h, 200, 128);
        darker.apply(&mut data, w, h);
        assert!(mean(&data[barcode::ROWS * w..w * h]) < 80.0);

        let grey = ImageAdjust {
            saturation: 0.0,
            ..ImageAdjust::default()
        };
        let mut data = picture(w, h, 100, 60);
        grey.apply(&mut data, w, h);
        assert!(data[w * h..].iter().all(|&c| c == 128));
    }

    #[test]
    fn short_buffers_are_left_alone() {
        let mut data = vec![50u8; 10];
        ImageAdjust {
            brightness: 1.0,
            ..ImageAdjust::default()
        }
        .apply(&mut data, 64, 64);
        assert_eq!(data, vec![50u8; 10]);
    }
}
