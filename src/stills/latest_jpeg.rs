//! The newest frame as a JPEG, shared by every `GET /frame` caller. A frame is encoded once,
//! however many clients ask for it. While clients keep asking, a worker thread re-encodes
//! each newer frame in the background and callers get the last finished JPEG at once, as long
//! as it is at most `FRESH_US` older than the newest frame; only a caller after a quiet spell
//! (or the very first) waits for an encode.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{Sender, TrySendError};

use crate::encode::jpeg::JpegError;
use crate::media::Frame;
use crate::sync::LockExt;

/// How much older than the newest frame a served JPEG may be (a few frames at 30 fps).
pub const FRESH_US: u64 = 150_000;

pub type EncodeFn = Arc<dyn Fn(&Frame) -> Result<Vec<u8>, JpegError> + Send + Sync>;

#[derive(Clone)]
pub struct Jpeg {
    pub sequence: u64,
    pub capture_unix_us: u64,
    pub data: Arc<[u8]>,
}

pub struct LatestJpeg {
    cached: Mutex<Option<Jpeg>>,
    encoding: AtomicBool,
    encode: EncodeFn,
    refresh: Sender<Frame>,
}

/// Clears the encoding flag however the encode ends (error or panic included).
struct Encoding<'a>(&'a AtomicBool);

impl Drop for Encoding<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl LatestJpeg {
    /// Starts the background encoder thread; it sleeps until a caller needs a newer JPEG.
    pub fn start(encode: EncodeFn) -> Arc<LatestJpeg> {
        let (refresh, requests) = crossbeam_channel::bounded::<Frame>(1);
        let latest = Arc::new(LatestJpeg {
            cached: Mutex::new(None),
            encoding: AtomicBool::new(false),
            encode,
            refresh,
        });
        let weak = Arc::downgrade(&latest);
        let spawned = thread::Builder::new()
            .name("frame-jpeg".into())
            .spawn(move || {
                for frame in requests {
                    let Some(latest) = weak.upgrade() else {
                        return;
                    };
                    if let Err(e) = latest.encode_if_newer(&frame) {
                        log::warn!("cannot encode frame {}: {e}", frame.sequence);
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("no background JPEG encoder ({e}): /frame encodes in the request");
        }
        latest
    }

    fn cached(&self) -> Option<Jpeg> {
        self.cached.lock_unpoisoned().clone()
    }

    /// The JPEG of `frame`, or of a frame at most `FRESH_US` older.
    pub fn get(&self, frame: &Frame) -> Result<Jpeg, JpegError> {
        if let Some(c) = self.cached() {
            if c.sequence >= frame.sequence {
                return Ok(c);
            }
            if frame.capture_unix_us.saturating_sub(c.capture_unix_us) <= FRESH_US {
                match self.refresh.try_send(frame.clone()) {
                    Ok(()) | Err(TrySendError::Full(_)) => return Ok(c),
                    Err(TrySendError::Disconnected(_)) => {}
                }
            }
        }
        self.encode_if_newer(frame)
    }

    /// Encodes `frame` unless a JPEG of it (or newer) exists or is being made; in that last
    /// case the previous JPEG is returned.
    fn encode_if_newer(&self, frame: &Frame) -> Result<Jpeg, JpegError> {
        let cached = self.cached();
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
            data: Arc::from((self.encode)(frame)?),
        };
        let mut slot = self.cached.lock_unpoisoned();
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
    use std::time::{Duration, Instant};

    fn frame(sequence: u64, capture_unix_us: u64) -> Frame {
        Frame {
            width: 2,
            height: 2,
            data: Arc::from(vec![0u8; 6]),
            pts: 0,
            capture_unix_us,
            sequence,
        }
    }

    fn counting() -> (Arc<AtomicUsize>, EncodeFn) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let enc: EncodeFn = Arc::new(move |f: &Frame| {
            c.fetch_add(1, Ordering::Relaxed);
            if f.sequence == 666 {
                return Err(JpegError::EmptyFrame);
            }
            Ok(vec![f.sequence as u8])
        });
        (calls, enc)
    }

    fn wait_for(mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok() {
            assert!(Instant::now() < deadline, "timed out");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn each_frame_is_encoded_once_and_fresh_enough_answers_are_instant() {
        let (calls, enc) = counting();
        let latest = LatestJpeg::start(enc);
        assert_eq!(
            latest.get(&frame(1, 0)).unwrap().sequence,
            1,
            "first: inline"
        );
        assert_eq!(latest.get(&frame(1, 0)).unwrap().sequence, 1);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // A newer frame within FRESH_US: the previous JPEG now, the new one soon after.
        assert_eq!(latest.get(&frame(2, 33_000)).unwrap().sequence, 1);
        wait_for(|| latest.cached().is_some_and(|c| c.sequence == 2));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        // Much newer (a quiet spell): encoded in the request.
        assert_eq!(latest.get(&frame(9, 2_000_000)).unwrap().sequence, 9);
        assert!(latest.get(&frame(666, 5_000_000)).is_err());
        assert_eq!(latest.get(&frame(9, 2_000_000)).unwrap().sequence, 9);
    }

    #[test]
    fn others_get_the_previous_jpeg_while_one_encodes() {
        let (started_tx, started_rx) = crossbeam_channel::bounded(0);
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let enc: EncodeFn = Arc::new(move |f: &Frame| {
            if f.sequence == 2 {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            }
            Ok(vec![f.sequence as u8])
        });
        let latest = LatestJpeg::start(enc);
        latest.get(&frame(1, 0)).unwrap();
        let slow = {
            let latest = Arc::clone(&latest);
            thread::spawn(move || latest.get(&frame(2, 10_000_000)).unwrap())
        };
        started_rx.recv().unwrap();
        let meanwhile = latest.get(&frame(2, 10_000_000)).unwrap();
        assert_eq!(meanwhile.sequence, 1, "not queued behind the encoder");
        release_tx.send(()).unwrap();
        assert_eq!(slow.join().unwrap().sequence, 2);
    }
}
