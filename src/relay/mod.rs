//! The outbound WebSocket relay to the RELab backend (contract/backend.md §2, plugin.md §7 and
//! §13, models 0.5.2): one thread dials, serves relayed commands through the same router as
//! local HTTP, and redials with backoff until stopped. It never holds two connections: the
//! old socket is closed (cleanly when we end it) before the next dial.
//!
//! The router is handed in ([`RelayHooks::handler`], the same `Handler` value the HTTP server
//! gets), with the relay's own settings ([`RelayOptions`]): the relay knows nothing above it.
//!
//! Layout: `envelope` (JSON frames), `allowlist`, `translate` (command ↔ router) and `backoff`
//! are sans-IO; `dial`, `connection` (the socket's one thread), `dispatch` (worker pool),
//! `outbox` and `wait` do the I/O; `status` holds the counters.

pub mod allowlist;
pub mod backoff;
pub mod connection;
pub mod dial;
pub mod dispatch;
pub mod envelope;
pub mod outbox;
pub mod refusal;
pub mod status;
pub mod translate;
pub mod wait;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{info, warn};

use crate::config::relab::RelabSettings;
use crate::http::server::Handler;
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::credentials::DEVICE_ASSERTION;
use crate::pairing::identity::{unix_now, DeviceIdentity};
use backoff::{random_unit, Backoff};
use connection::{Context, Ended};
use dial::{DialError, Endpoint, EndpointError};
use dispatch::Dispatcher;
use outbox::Waker;
use status::Counters;
pub use status::RelayStatus;

/// The relay's settings (the `RELAY_*` variables and the auth header's name).
#[derive(Debug, Clone, PartialEq)]
pub struct RelayOptions {
    pub reconnect_min_s: f64,
    pub reconnect_max_s: f64,
    /// Relayed commands run at once.
    pub max_concurrent_commands: u32,
    /// `RELAY_MAX_PENDING_COMMANDS`: running and waiting at most; beyond, 429.
    pub max_pending_commands: u32,
    /// Accept a `ws://` relay URL.
    pub allow_plaintext: bool,
    /// The header relayed commands carry the relay key in (`AUTH_KEY_NAME`).
    pub key_header: String,
}

impl RelayOptions {
    pub fn from_relab(relab: &RelabSettings) -> RelayOptions {
        RelayOptions {
            reconnect_min_s: relab.relay.reconnect_min_s,
            reconnect_max_s: relab.relay.reconnect_max_s,
            max_concurrent_commands: relab.relay.max_concurrent_commands,
            max_pending_commands: relab.relay.max_pending_commands,
            allow_plaintext: relab.relay.allow_plaintext,
            key_header: relab.auth.key_name.clone(),
        }
    }
}

/// What the relay is handed from above.
#[derive(Clone)]
pub struct RelayHooks {
    /// Serves relayed commands: the router HTTP requests go through.
    pub handler: Arc<dyn Handler>,
    /// The key relayed commands carry, read per command (`None`: they carry none).
    pub command_key: Arc<dyn Fn() -> Option<String> + Send + Sync>,
    /// Called after every successful handshake.
    pub on_connected: Arc<dyn Fn() + Send + Sync>,
}

/// Why the relay could not start.
#[derive(Debug)]
pub enum RelayStartError {
    UnsupportedScheme(String),
    BadKey(String),
    BadUrl(EndpointError),
    /// What could not be started (a thread, the workers, the wake-up) and why.
    Thread(&'static str, std::io::Error),
}

impl std::fmt::Display for RelayStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayStartError::UnsupportedScheme(scheme) => write!(
                f,
                "relay auth scheme {scheme:?} is not supported; only {DEVICE_ASSERTION} is"
            ),
            RelayStartError::BadKey(e) => write!(f, "the relay private key does not parse: {e}"),
            RelayStartError::BadUrl(e) => write!(f, "{e}"),
            RelayStartError::Thread(what, e) => write!(f, "could not {what}: {e}"),
        }
    }
}

impl std::error::Error for RelayStartError {}

/// How long `stop` waits for the relay thread before leaving it to finish alone (it can be
/// in the middle of a dial, which takes up to 20 s).
const STOP_WAIT: Duration = Duration::from_secs(5);

pub struct Relay {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Disconnects when the relay thread ends.
    done: Receiver<()>,
}

struct Shared {
    stop: AtomicBool,
    waker: Arc<Waker>,
    counters: Arc<Counters>,
}

impl Relay {
    /// Starts the relay thread; it dials, serves commands and redials until stopped. Fails
    /// when the credentials cannot work: the key does not parse, the scheme is not
    /// `device_assertion`, or the URL is unusable (the message says which).
    pub fn start(
        hooks: RelayHooks,
        options: RelayOptions,
        credentials: RelayCredentials,
    ) -> Result<Relay, RelayStartError> {
        if credentials.auth_scheme != DEVICE_ASSERTION {
            return Err(RelayStartError::UnsupportedScheme(
                credentials.auth_scheme.clone(),
            ));
        }
        let identity = DeviceIdentity::from_credentials(&credentials)
            .map_err(|e| RelayStartError::BadKey(e.to_string()))?;
        let endpoint = Endpoint::new(
            &credentials.backend_url,
            &credentials.camera_id,
            options.allow_plaintext,
        )
        .map_err(RelayStartError::BadUrl)?;
        let counters = Arc::new(Counters::default());
        let workers = options.max_concurrent_commands as usize;
        let dispatcher = Dispatcher::start(
            Arc::clone(&hooks.handler),
            workers,
            options.max_pending_commands as usize,
            Arc::clone(&counters),
        )
        .map_err(|e| RelayStartError::Thread("start the relay workers", e))?;
        let waker =
            Waker::new().map_err(|e| RelayStartError::Thread("create the relay wake-up", e))?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            waker: Arc::new(waker),
            counters,
        });
        let supervisor = Supervisor {
            backoff: Backoff::new(options.reconnect_min_s, options.reconnect_max_s),
            hooks,
            key_header: options.key_header,
            identity,
            endpoint,
            dispatcher,
            shared: Arc::clone(&shared),
        };
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let thread = thread::Builder::new()
            .name("relay".into())
            .spawn(move || {
                supervisor.run();
                drop(done_tx);
            })
            .map_err(|e| RelayStartError::Thread("start the relay thread", e))?;
        Ok(Relay {
            shared,
            thread: Some(thread),
            done,
        })
    }

    /// Graceful: stops accepting commands, waits up to 2 s for commands in flight and sends
    /// their answers, sends a close frame and waits briefly for the close handshake, joins
    /// the thread. Called from a relayed command (say `DELETE /pairing`), it returns at once
    /// and the relay finishes in the background, so that command's answer still goes out.
    pub fn stop(mut self) {
        self.shutdown();
    }

    pub fn status(&self) -> RelayStatus {
        self.shared.counters.snapshot()
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.waker.wake();
        if dispatch::on_worker_thread() {
            return;
        }
        match self.done.recv_timeout(STOP_WAIT) {
            Err(RecvTimeoutError::Timeout) => {
                warn!(
                    "Relay thread still busy after {} s (dialling?); it stops on its own.",
                    STOP_WAIT.as_secs()
                );
            }
            _ => {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The relay thread: dial, serve, wait, again.
struct Supervisor {
    hooks: RelayHooks,
    key_header: String,
    identity: DeviceIdentity,
    endpoint: Endpoint,
    dispatcher: Dispatcher,
    backoff: Backoff,
    shared: Arc<Shared>,
}

impl Supervisor {
    fn run(mut self) {
        let counters = Arc::clone(&self.shared.counters);
        let command_key = Arc::clone(&self.hooks.command_key);
        let key_header = self.key_header.clone();
        let auth = move || Some((key_header.clone(), command_key()?));
        while !self.stopping() {
            // A fresh assertion for every dial: the backend accepts each `jti` once.
            let token = match self.identity.assertion() {
                Ok(token) => token,
                Err(e) => {
                    let delay = self.backoff.next_delay(random_unit());
                    self.wait_to_retry(format!("could not sign the device assertion: {e}"), delay);
                    continue;
                }
            };
            match dial::dial(&self.endpoint, &token) {
                Ok(conn) => {
                    counters.connected.store(true, Ordering::SeqCst);
                    Counters::bump(&counters.connects);
                    self.backoff.reset();
                    info!("Relay connected. Waiting for commands.");
                    (self.hooks.on_connected)();
                    let cx = Context {
                        dispatcher: &self.dispatcher,
                        counters: &counters,
                        stop: &self.shared.stop,
                        waker: &self.shared.waker,
                        auth: &auth,
                    };
                    let ended = connection::serve(conn, &cx);
                    counters.connected.store(false, Ordering::SeqCst);
                    match ended {
                        Ended::Stopped => break,
                        Ended::Lost(reason) => {
                            Counters::bump(&counters.disconnects);
                            let delay = self.backoff.next_delay(random_unit());
                            self.wait_to_retry(reason, delay);
                        }
                    }
                }
                Err(DialError::Status {
                    status: 403,
                    server_date,
                }) => {
                    Counters::bump(&counters.dial_failures);
                    Counters::bump(&counters.refusals);
                    warn!("{}", refusal::forbidden_message(server_date, unix_now()));
                    let delay = self.backoff.refused_delay(random_unit());
                    self.wait_to_retry("HTTP 403".into(), delay);
                }
                Err(e) => {
                    Counters::bump(&counters.dial_failures);
                    let delay = self.backoff.next_delay(random_unit());
                    self.wait_to_retry(e.to_string(), delay);
                }
            }
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Logs the loss and sleeps `delay`, waking early for `stop`.
    fn wait_to_retry(&self, reason: String, delay: Duration) {
        if self.stopping() {
            return;
        }
        warn!(
            "Relay connection lost ({reason}). Reconnecting in {:.0}s…",
            delay.as_secs_f64()
        );
        let counters = &self.shared.counters;
        counters.set_last_error(reason);
        counters.set_retry_in(Some(delay));
        let deadline = Instant::now() + delay;
        let waker = &self.shared.waker;
        while !self.stopping() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match wait::readable(None, waker.fd(), left) {
                Ok(ready) if ready.waker => waker.drain(),
                Ok(_) => {}
                Err(_) => thread::sleep(left.min(Duration::from_millis(100))),
            }
        }
        counters.set_retry_in(None);
    }
}
