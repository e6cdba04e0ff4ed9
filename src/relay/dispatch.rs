//! Runs relayed commands: a fixed pool of worker threads (`RELAY_MAX_CONCURRENT_COMMANDS`)
//! fed by a bounded queue. Each worker calls the router and puts the answer in the outbox
//! of the connection the command came from, so answers go out in whatever order they finish.

use std::cell::Cell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use log::{error, warn};

use super::outbox::Outbox;
use super::status::Counters;
use super::translate;
use crate::http::server::Handler;
use crate::http::{Request, Response};

#[derive(Debug)]
pub struct Job {
    pub id: String,
    pub request: Request,
    pub outbox: Outbox,
}

/// `RELAY_MAX_PENDING_COMMANDS` commands are running or waiting already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub struct Dispatcher {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
}

struct Shared {
    handler: Arc<dyn Handler>,
    counters: Arc<Counters>,
    /// Set when the relay stops: queued commands are dropped instead of run.
    cancelled: AtomicBool,
    /// Commands running and waiting at most (the plugin's `len(pending) >= limit` refuses).
    max_pending: u64,
}

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is a relay worker (running a relayed command).
pub fn on_worker_thread() -> bool {
    ON_WORKER.with(Cell::get)
}

impl Dispatcher {
    pub fn start(
        handler: Arc<dyn Handler>,
        workers: usize,
        max_pending: usize,
        counters: Arc<Counters>,
    ) -> io::Result<Dispatcher> {
        let (jobs, rx) = crossbeam_channel::bounded(max_pending.max(1));
        let shared = Arc::new(Shared {
            handler,
            counters,
            cancelled: AtomicBool::new(false),
            max_pending: max_pending as u64,
        });
        for i in 0..workers.max(1) {
            let (rx, shared) = (rx.clone(), Arc::clone(&shared));
            thread::Builder::new()
                .name(format!("relay-worker-{i}"))
                .spawn(move || work(&rx, &shared))?;
        }
        Ok(Dispatcher { jobs, shared })
    }

    /// Queues a command; `Err` when `max_pending` are running or waiting already.
    pub fn submit(&self, job: Job) -> Result<(), Full> {
        let in_flight = &self.shared.counters.in_flight;
        if in_flight.fetch_add(1, Ordering::SeqCst) >= self.shared.max_pending {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(Full);
        }
        self.jobs.try_send(job).map_err(|_| {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Full
        })
    }

    /// Commands queued or running.
    pub fn in_flight(&self) -> u64 {
        self.shared.counters.in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Dispatcher {
    /// Workers finish what they are running (its answer has nowhere to go any more) and
    /// exit once the queue is empty; nothing waits for them.
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::SeqCst);
    }
}

fn work(jobs: &Receiver<Job>, shared: &Shared) {
    ON_WORKER.with(|w| w.set(true));
    for job in jobs.iter() {
        if !shared.cancelled.load(Ordering::SeqCst) {
            let resp = catch_unwind(AssertUnwindSafe(|| shared.handler.handle(&job.request)))
                .unwrap_or_else(|_| {
                    error!(
                        "Relay command {} {} panicked",
                        job.request.method, job.request.path
                    );
                    Response::detail(500, "Internal Server Error")
                });
            if resp.status == 403 {
                warn!("Relay received 403 from local API — check that local_relay_api_key is set correctly");
            }
            job.outbox.send(translate::reply(&job.id, &resp));
        }
        // After the answer is queued, so "nothing in flight" means "every answer queued".
        shared.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::outbox::{Outgoing, Waker};
    use std::sync::Barrier;
    use std::time::Duration;

    fn job(id: &str, path: &str, outbox: &Outbox) -> Job {
        Job {
            id: id.into(),
            request: Request::new("GET", path).unwrap(),
            outbox: outbox.clone(),
        }
    }

    #[test]
    fn runs_up_to_n_at_once_queues_the_rest_and_refuses_beyond() {
        let gate = Arc::new(Barrier::new(3));
        let handler: Arc<dyn Handler> = {
            let gate = Arc::clone(&gate);
            Arc::new(move |req: &Request| {
                if req.path == "/block" {
                    gate.wait();
                }
                if req.path == "/panic" {
                    panic!("handler bug");
                }
                Response::json(200, &serde_json::json!({ "path": req.path }))
            })
        };
        let counters = Arc::new(Counters::default());
        // Two workers, five pending in all (running included), as RELAY_MAX_PENDING_COMMANDS.
        let d = Dispatcher::start(handler, 2, 5, Arc::clone(&counters)).unwrap();
        let (outbox, rx) = Outbox::channel(Arc::new(Waker::new().unwrap()));
        assert!(d.submit(job("b1", "/block", &outbox)).is_ok());
        assert!(d.submit(job("b2", "/block", &outbox)).is_ok());
        // Both workers are now parked at the barrier (or about to be); three more fit the queue.
        std::thread::sleep(Duration::from_millis(50));
        for id in ["q1", "q2", "q3"] {
            assert!(d.submit(job(id, "/ok", &outbox)).is_ok(), "{id}");
        }
        assert_eq!(d.submit(job("over", "/ok", &outbox)), Err(Full));
        assert_eq!(d.in_flight(), 5);
        gate.wait();
        let mut ids: Vec<String> = (0..5)
            .map(|_| match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
                Outgoing::Text(t) => serde_json::from_str::<serde_json::Value>(&t).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        ids.sort();
        assert_eq!(ids, ["b1", "b2", "q1", "q2", "q3"]);
        d.submit(job("p", "/panic", &outbox)).unwrap();
        let Outgoing::Text(t) = rx.recv_timeout(Duration::from_secs(5)).unwrap() else {
            panic!("expected text");
        };
        assert!(t.contains(r#""status":500"#), "{t}");
        for _ in 0..100 {
            if d.in_flight() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(d.in_flight(), 0);
        assert!(!on_worker_thread());
    }
}
