//! The newest frame as a JPEG, shared by every `GET /frame` caller: a frame is encoded once,
//! however many clients ask for it, and while one caller encodes a newer frame the others
//! get the previous JPEG at once instead of queueing behind the encoder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::camera::Frame;

#[derive(Clone)]
pub struct Jpeg {
    pub sequence: u64,
    pub capture_unix_us: u64,
    pub width: u32,
    pub height: u32,
    pub data: Arc<[u8]>,
}

#[derive(Default)]
pub struct LatestJpeg {
    cached: Mutex<Option<Jpeg>>,
    encoding: AtomicBool,
}

/// Clears the encoding flag however the encode ends (error or panic included).
struct Encoding<'a>(&'a AtomicBool);

impl Drop for Encoding<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl LatestJpeg {
    /// The JPEG of `frame`, or of a slightly older frame while another caller is encoding.
    pub fn get(
        &self,
        frame: &Frame,
        encode: impl FnOnce(&Frame) -> Result<Vec<u8>, String>,
    ) -> Result<Jpeg, String> {
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(c) = &cached {
            if c.sequence >= frame.sequence {
                return Ok(c.clone());
            }
        }
        let claimed = self
            .encoding
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !claimed {
            if let Some(c) = cached {
                return Ok(c);
            }
        }
        let _flag = claimed.then(|| Encoding(&self.encoding));
        let jpeg = Jpeg {
            sequence: frame.sequence,
            capture_unix_us: frame.capture_unix_us,
            width: frame.width,
            height: frame.height,
            data: Arc::from(encode(frame)?),
        };
        let mut slot = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|c| c.sequence < jpeg.sequence) {
            *slot = Some(jpeg.clone());
        }
        Ok(jpeg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn frame(sequence: u64) -> Frame {
        Frame {
            width: 2,
            height: 2,
            data: Arc::from(vec![0u8; 6]),
            pts: 0,
            capture_unix_us: sequence,
            sequence,
        }
    }

    #[test]
    fn encodes_each_frame_once() {
        let latest = LatestJpeg::default();
        let calls = AtomicUsize::new(0);
        let enc = |f: &Frame| {
            calls.fetch_add(1, Ordering::Relaxed);
            Ok(vec![f.sequence as u8])
        };
        assert_eq!(&latest.get(&frame(1), enc).unwrap().data[..], &[1]);
        assert_eq!(&latest.get(&frame(1), enc).unwrap().data[..], &[1]);
        assert_eq!(&latest.get(&frame(2), enc).unwrap().data[..], &[2]);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert!(latest.get(&frame(3), |_| Err("boom".into())).is_err());
        assert_eq!(&latest.get(&frame(2), enc).unwrap().data[..], &[2]);
    }

    #[test]
    fn others_get_the_previous_jpeg_while_one_encodes() {
        let latest = Arc::new(LatestJpeg::default());
        latest.get(&frame(1), |_| Ok(vec![1])).unwrap();
        let (started_tx, started_rx) = crossbeam_channel::bounded(0);
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let slow = {
            let latest = Arc::clone(&latest);
            std::thread::spawn(move || {
                latest
                    .get(&frame(2), |_| {
                        started_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        Ok(vec![2])
                    })
                    .unwrap()
            })
        };
        started_rx.recv().unwrap();
        let meanwhile = latest
            .get(&frame(2), |_| panic!("must not encode"))
            .unwrap();
        assert_eq!(meanwhile.sequence, 1);
        release_tx.send(()).unwrap();
        assert_eq!(slow.join().unwrap().sequence, 2);
        assert_eq!(
            latest
                .get(&frame(2), |_| panic!("cached"))
                .unwrap()
                .sequence,
            2
        );
    }
}
