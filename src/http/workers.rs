//! Connection threads that are kept for the next connection instead of ending: a parked
//! viewer's connection comes back from the responder once per part, and starting a thread
//! for it each time cost more CPU than answering it. A thread idle for [`IDLE_EXIT`] ends, so
//! their number follows the connections being served.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How long a thread waits for another connection before it ends.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

pub struct Workers {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    /// Threads waiting for a job and not yet promised one.
    idle: Arc<AtomicUsize>,
    name: &'static str,
    stack_size: usize,
}

impl Workers {
    pub fn new(name: &'static str, stack_size: usize) -> Workers {
        let (tx, rx) = crossbeam_channel::unbounded();
        Workers {
            tx,
            rx,
            idle: Arc::new(AtomicUsize::new(0)),
            name,
            stack_size,
        }
    }

    /// Runs `job` on an idle thread, or on a new one when none is idle.
    pub fn run(&self, job: Job) -> io::Result<()> {
        // Promising the job to one idle thread before sending it: every job sent has a
        // thread waiting for it, so none waits behind a long connection.
        if take_one(&self.idle) {
            return self
                .tx
                .send(job)
                .map_err(|_| io::ErrorKind::BrokenPipe.into());
        }
        let rx = self.rx.clone();
        let idle = Arc::clone(&self.idle);
        thread::Builder::new()
            .name(self.name.into())
            .stack_size(self.stack_size)
            .spawn(move || {
                job();
                loop {
                    idle.fetch_add(1, Ordering::SeqCst);
                    let next = loop {
                        match rx.recv_timeout(IDLE_EXIT) {
                            Ok(job) => break Some(job),
                            // Ends unless a job was promised to it meanwhile.
                            Err(RecvTimeoutError::Timeout) if take_one(&idle) => break None,
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => break None,
                        }
                    };
                    match next {
                        Some(job) => job(),
                        None => return,
                    }
                }
            })
            .map(|_| ())
    }
}

fn take_one(idle: &AtomicUsize) -> bool {
    idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Instant;

    #[test]
    fn idle_threads_take_the_next_jobs_and_busy_ones_are_not_waited_for() {
        let workers = Workers::new("test-worker", 64 * 1024);
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        // One long job keeps its thread; a second job must not wait for it.
        let hold = Arc::new(Barrier::new(2));
        let h = Arc::clone(&hold);
        workers
            .run(Box::new(move || {
                h.wait();
            }))
            .unwrap();
        let d = done_tx.clone();
        workers
            .run(Box::new(move || d.send(thread::current().id()).unwrap()))
            .unwrap();
        let first = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // Wait until that thread is idle, then the next job runs on it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while workers.idle.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline);
            thread::sleep(Duration::from_millis(1));
        }
        workers
            .run(Box::new(move || {
                done_tx.send(thread::current().id()).unwrap()
            }))
            .unwrap();
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(5)).unwrap(), first);
        hold.wait();
    }
}
