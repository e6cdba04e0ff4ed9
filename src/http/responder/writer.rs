//! The second writer thread.

use std::io;
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use super::answer::Outgoing;
use super::Waiter;

pub(super) type Job = (u64, Waiter, Outgoing);
pub(super) type Done = (u64, Waiter, Outgoing, io::Result<bool>);

/// The second writer: a thread that writes the half of a large round of answers it is
/// given and hands them back, so that a round takes both cores. It ends when the responder
/// drops its end.
pub(super) struct Helper {
    pub(super) jobs: Sender<Vec<Job>>,
    pub(super) done: Receiver<Vec<Done>>,
}

impl Helper {
    pub(super) fn start() -> io::Result<Helper> {
        let (jobs, jobs_rx) = crossbeam_channel::bounded::<Vec<Job>>(1);
        let (done_tx, done) = crossbeam_channel::bounded::<Vec<Done>>(1);
        thread::Builder::new()
            .name("http-responder-2".into())
            .spawn(move || {
                for batch in jobs_rx {
                    let written = batch
                        .into_iter()
                        .map(|(id, mut w, mut out)| {
                            let written = out.write(&mut w.stream);
                            (id, w, out, written)
                        })
                        .collect();
                    if done_tx.send(written).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Helper { jobs, done })
    }
}
