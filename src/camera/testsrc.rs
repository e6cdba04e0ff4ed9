//! The synthetic test camera: colour bars, a moving block, a burnt-in clock and frame
//! counter, and the latency barcode. Paced by the monotonic clock; its timestamps sit on an
//! exact frame grid, so the muxer sees the cadence a real sensor would give.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::adjust::ImageAdjust;
use super::source::{Output, Source, SourceContext};
use super::status::Delivers;
use super::{barcode, font};
use crate::clock;
use crate::media::Frame;
use crate::media::TIMESCALE;

#[derive(Debug, Clone, Copy)]
pub struct TestSourceConfig {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
}

/// Paints synthetic frames.
pub struct Painter {
    width: usize,
    height: usize,
    background: Vec<u8>,
}

/// (Y, U, V) of 75% colour bars: white, yellow, cyan, green, magenta, red, blue.
const BARS: [(u8, u8, u8); 7] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
];

impl Painter {
    pub fn new(width: u32, height: u32) -> Painter {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut background = vec![0u8; Frame::i420_len(width, height)];
        let (luma, chroma) = background.split_at_mut(w * h);
        let (u, v) = chroma.split_at_mut(cw * ch);
        for x in 0..w {
            let (by, _, _) = BARS[x * BARS.len() / w.max(1)];
            for y in 0..h {
                luma[y * w + x] = by;
            }
        }
        for x in 0..cw {
            let (_, bu, bv) = BARS[(2 * x) * BARS.len() / w.max(1)];
            for y in 0..ch {
                u[y * cw + x] = bu;
                v[y * cw + x] = bv;
            }
        }
        Painter {
            width: w,
            height: h,
            background,
        }
    }

    /// Paints frame `sequence` captured at `unix_us` into a new buffer.
    pub fn paint(&self, sequence: u64, unix_us: u64) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let mut data = self.background.clone();
        let (luma, chroma) = data.split_at_mut(w * h);
        let (u, v) = chroma.split_at_mut(w.div_ceil(2) * h.div_ceil(2));

        // A block that sweeps left to right once every four seconds at 30 fps.
        let size = (h / 6).max(8) & !1;
        let travel = w.saturating_sub(size).max(1);
        let x = (sequence as usize * 8) % (2 * travel);
        let x = if x > travel { 2 * travel - x } else { x } & !1;
        let y = (h / 2).saturating_sub(size / 2) & !1;
        for row in y..(y + size).min(h) {
            luma[row * w + x..(row * w + x + size).min((row + 1) * w)].fill(235);
        }
        let cw = w.div_ceil(2);
        for row in y / 2..((y + size) / 2).min(h.div_ceil(2)) {
            let start = row * cw + x / 2;
            let end = (start + size / 2).min((row + 1) * cw);
            u[start..end].fill(128);
            v[start..end].fill(128);
        }

        let scale = (h / 180).max(1);
        let margin = barcode::ROWS + 2 * scale;
        let line = font::text_height(scale) + 3 * scale;
        let clock = clock::format_hms_ms(unix_us);
        let lines = [
            "PICAMD TEST".to_string(),
            format!("{clock} UTC"),
            format!("FRAME #{sequence}"),
        ];
        let box_width = lines
            .iter()
            .map(|t| font::text_width(t, scale))
            .max()
            .unwrap_or(0)
            + 2 * scale;
        let box_bottom = (margin + lines.len() * line).min(h);
        for row in margin.saturating_sub(scale)..box_bottom {
            luma[row * w + 2 * scale..(row * w + 2 * scale + box_width).min((row + 1) * w)]
                .fill(16);
        }
        for (i, text) in lines.iter().enumerate() {
            font::draw_text(luma, w, h, 3 * scale, margin + i * line, scale, text, 235);
        }
        // Grey chroma under the text and the barcode, so they read as black and white.
        for row in 0..box_bottom.div_ceil(2) {
            let width = if row < barcode::ROWS / 2 {
                cw
            } else {
                (scale + box_width / 2 + scale).min(cw)
            };
            u[row * cw..row * cw + width].fill(128);
            v[row * cw..row * cw + width].fill(128);
        }
        barcode::draw(luma, w, unix_us);
        data
    }
}

/// The test camera as a pipeline source.
pub struct TestSource {
    pub cfg: TestSourceConfig,
    /// How to render each frame (the controls); must not block.
    pub adjust: Box<dyn Fn() -> ImageAdjust + Send>,
}

impl Source for TestSource {
    fn name(&self) -> &'static str {
        "testsrc"
    }

    fn delivers(&self) -> Delivers {
        Delivers::RawFrames
    }

    fn run(self: Box<Self>, mut ctx: SourceContext) {
        run(self.cfg, &ctx.stop, self.adjust, |frame| {
            (ctx.deliver)(Output::Frame(frame))
        });
    }
}

/// Paints and delivers frames at the configured rate until `stop`.
fn run(
    cfg: TestSourceConfig,
    stop: &AtomicBool,
    adjust: impl Fn() -> ImageAdjust,
    mut deliver: impl FnMut(Frame),
) {
    let painter = Painter::new(cfg.width, cfg.height);
    let frame_ticks = (f64::from(TIMESCALE) / cfg.fps).round() as u64;
    let period = Duration::from_secs_f64(1.0 / cfg.fps);
    let start = Instant::now();
    let mut n: u64 = 0;
    log::info!(
        "test camera: {}x{} at {} fps",
        cfg.width,
        cfg.height,
        cfg.fps
    );
    while !stop.load(Ordering::Relaxed) {
        let due = start + period.mul_f64(n as f64);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        } else if now - due > period {
            // Fell behind (a stalled machine): skip to the present, as a sensor would.
            let behind = ((now - start).as_secs_f64() / period.as_secs_f64()) as u64;
            log::debug!("test camera skipped {} frames", behind - n);
            n = behind;
        }
        let unix_us = clock::unix_us();
        let mut data = painter.paint(n, unix_us);
        adjust().apply(&mut data, cfg.width as usize, cfg.height as usize);
        deliver(Frame {
            width: cfg.width,
            height: cfg.height,
            data: Arc::from(data),
            pts: n * frame_ticks,
            capture_unix_us: unix_us,
            sequence: n,
        });
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_barcode_and_moves() {
        let painter = Painter::new(640, 360);
        let a = painter.paint(0, 1_000_000);
        let b = painter.paint(10, 2_000_000);
        assert_eq!(a.len(), Frame::i420_len(640, 360));
        assert_ne!(a, b);
        assert_eq!(barcode::read(&a[..640 * 360], 640), Some(1_000_000));
        assert_eq!(barcode::read(&b[..640 * 360], 640), Some(2_000_000));
    }

    #[test]
    fn odd_sizes_do_not_panic() {
        for (w, h) in [(2, 2), (64, 16), (33, 17), (1920, 1080)] {
            let p = Painter::new(w, h);
            assert_eq!(p.paint(12345, 99).len(), Frame::i420_len(w, h));
        }
    }
}
