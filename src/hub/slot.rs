//! One camera of the hub: its registry entry, its latest picture (only that one, in memory)
//! and the control channel to its connection. Viewers wait on the slot's condition variable
//! for a newer picture; nothing queues per viewer, so a slow one only skips pictures.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use super::registry::CameraEntry;
use crate::sync::{CondvarExt, LockExt};

/// Messages queued for a camera (moves, update); more are dropped.
const CONTROL_QUEUE: usize = 8;

#[derive(Default)]
struct State {
    image: Option<Arc<[u8]>>,
    /// Counts pictures since start (0: none yet).
    generation: u64,
    last_active_us: Option<u64>,
    /// The authenticated connection that gets hub → camera messages: its id and queue.
    control: Option<(u64, Sender<Vec<u8>>)>,
}

pub struct CameraSlot {
    pub entry: CameraEntry,
    state: Mutex<State>,
    changed: Condvar,
}

/// What a list or a single picture shows of a camera.
pub struct Snapshot {
    pub image: Option<Arc<[u8]>>,
    pub generation: u64,
    pub last_active_us: Option<u64>,
}

impl CameraSlot {
    pub fn new(entry: CameraEntry) -> CameraSlot {
        CameraSlot {
            entry,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// Replaces the picture and wakes the viewers.
    pub fn publish(&self, jpeg: Arc<[u8]>, now_us: u64) {
        let mut st = self.state.lock_unpoisoned();
        st.image = Some(jpeg);
        st.generation += 1;
        st.last_active_us = Some(now_us);
        drop(st);
        self.changed.notify_all();
    }

    pub fn snapshot(&self) -> Snapshot {
        let st = self.state.lock_unpoisoned();
        Snapshot {
            image: st.image.clone(),
            generation: st.generation,
            last_active_us: st.last_active_us,
        }
    }

    /// Waits up to `timeout` for a picture newer than generation `seen`.
    pub fn wait_newer(&self, seen: u64, timeout: Duration) -> Option<(u64, Arc<[u8]>)> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock_unpoisoned();
        loop {
            if st.generation > seen {
                if let Some(image) = &st.image {
                    return Some((st.generation, Arc::clone(image)));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = self.changed.wait_timeout_unpoisoned(st, deadline - now).0;
        }
    }

    /// Makes connection `conn` the camera's control connection (after it authenticated),
    /// replacing any earlier one; its queue of hub → camera messages.
    pub fn adopt_control(&self, conn: u64) -> Receiver<Vec<u8>> {
        let (tx, rx) = bounded(CONTROL_QUEUE);
        self.state.lock_unpoisoned().control = Some((conn, tx));
        rx
    }

    /// Connection `conn` ended: it no longer controls the camera (unless replaced already).
    pub fn release_control(&self, conn: u64) {
        let mut st = self.state.lock_unpoisoned();
        if st.control.as_ref().is_some_and(|(id, _)| *id == conn) {
            st.control = None;
        }
    }

    pub fn connected(&self) -> bool {
        self.state.lock_unpoisoned().control.is_some()
    }

    /// Queues `msg` for the camera; whether a connection took it.
    pub fn send_control(&self, msg: Vec<u8>) -> bool {
        let st = self.state.lock_unpoisoned();
        st.control
            .as_ref()
            .is_some_and(|(_, tx)| tx.try_send(msg).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> CameraSlot {
        CameraSlot::new(CameraEntry {
            id: 1,
            name: "a".into(),
            description: None,
            token: "t".into(),
        })
    }

    #[test]
    fn only_the_latest_picture_is_kept() {
        let s = slot();
        assert!(s.wait_newer(0, Duration::from_millis(1)).is_none());
        s.publish(Arc::from(&b"one"[..]), 10);
        s.publish(Arc::from(&b"two"[..]), 20);
        let (generation, img) = s.wait_newer(0, Duration::ZERO).unwrap();
        assert_eq!((generation, &img[..]), (2, &b"two"[..]));
        assert!(s.wait_newer(2, Duration::from_millis(1)).is_none());
        assert_eq!(s.snapshot().last_active_us, Some(20));
    }

    #[test]
    fn a_waiting_viewer_wakes_on_a_new_picture() {
        let s = Arc::new(slot());
        let publisher = Arc::clone(&s);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            publisher.publish(Arc::from(&b"x"[..]), 1);
        });
        assert!(s.wait_newer(0, Duration::from_secs(5)).is_some());
        t.join().unwrap();
    }

    #[test]
    fn control_goes_to_the_newest_connection() {
        let s = slot();
        assert!(!s.send_control(vec![1]));
        let first = s.adopt_control(1);
        let second = s.adopt_control(2);
        assert!(s.send_control(vec![2]));
        assert_eq!(second.try_recv().unwrap(), vec![2]);
        assert!(first.try_recv().is_err());
        s.release_control(1);
        assert!(
            s.connected(),
            "an old connection cannot release the new one"
        );
        s.release_control(2);
        assert!(!s.connected());
    }
}
