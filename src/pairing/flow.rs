//! The pairing state machine (contract/plugin.md §5), without sockets, threads or clocks.
//!
//! The caller drives it: it asks for fresh material, registers, polls, sleeps as told, and
//! feeds back each exchange's outcome with the time. The flow answers with the next step,
//! keeps the state the setup page shows, and collects the log lines to print.
//!
//! A cycle: new material → register (up to 3 attempts; 409 → new material; timeouts retried
//! after `PAIRING_REGISTER_TIMEOUT_RETRY_S`) → poll every `PAIRING_POLL_INTERVAL_S` until
//! paired; a poll 404 means the code expired and starts a new cycle at once. A failed cycle
//! waits 10 s, doubling up to 120 s (reset only by an expiry), then starts a new one. A
//! register 404 stops pairing, after trying `/v1` when the prefix is `auto`.

use std::time::Duration;

use log::Level;

use super::backend_api::BackendApi;
use super::clock_skew::{self, SkewReading};
use super::credentials::DEVICE_ASSERTION;
use super::reply::{BackendReply, Exchange, TransportError};
use super::state::{PairingStatus, PairingView};
use crate::config::pairing_api::V1_PREFIX;
use crate::config::url::check_relay_url;

/// How long a code lives on the backend (display only).
pub const CODE_TTL_S: i64 = 600;
pub const MAX_REGISTER_ATTEMPTS: u32 = 3;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_BACKOFF: Duration = Duration::from_secs(120);

pub const ERROR_API_NOT_FOUND: &str =
    "Pairing backend is reachable, but the pairing API was not found at the configured URL.";
pub const ERROR_RETRYING: &str = "Pairing failed — retrying…";
pub const ERROR_UNREACHABLE: &str = "Pairing backend unreachable — retrying…";
pub const ERROR_PLAINTEXT_RELAY: &str =
    "The backend gave an unencrypted ws:// relay URL; set APP_ENV=development to accept it, then pair again.";

pub struct FlowSettings {
    pub api: BackendApi,
    /// `PAIRING_API_PREFIX=auto`: a register 404 tries the other prefix (none ↔ `/v1`) once.
    pub auto_prefix: bool,
    pub register_retry: Duration,
    pub poll_interval: Duration,
    pub allow_plaintext_relay: bool,
}

/// The backend's one-shot answer once the code is claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedBootstrap {
    pub camera_id: String,
    pub ws_url: String,
    pub auth_scheme: String,
    pub key_id: String,
}

/// What the caller does next. Every step but the last two comes after a sleep of `delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Make a new code, fingerprint and key, then call [`PairingFlow::material_ready`].
    NewMaterial { delay: Duration },
    /// Register the current material, then call [`PairingFlow::register_outcome`].
    Register { delay: Duration },
    /// Poll for the current code, then call [`PairingFlow::poll_outcome`].
    Poll { delay: Duration },
    /// Paired: persist and apply the credentials (the backend will not answer again).
    Complete(PairedBootstrap),
    /// Pairing stops until it is restarted from outside.
    Stop,
}

impl Next {
    pub fn delay(&self) -> Duration {
        match self {
            Next::NewMaterial { delay } | Next::Register { delay } | Next::Poll { delay } => *delay,
            Next::Complete(_) | Next::Stop => Duration::ZERO,
        }
    }
}

pub struct PairingFlow {
    api: BackendApi,
    auto_prefix: bool,
    prefixes_tried: Vec<String>,
    prefix_confirmed: bool,
    register_retry: Duration,
    poll_interval: Duration,
    allow_plaintext_relay: bool,
    view: PairingView,
    attempts: u32,
    /// The next material starts a new cycle (rather than replacing a colliding code).
    new_cycle: bool,
    backoff: Duration,
    skew_warned: bool,
    log: Vec<(Level, String)>,
}

impl PairingFlow {
    pub fn new(settings: FlowSettings) -> PairingFlow {
        PairingFlow {
            prefixes_tried: vec![settings.api.prefix().to_string()],
            api: settings.api,
            auto_prefix: settings.auto_prefix,
            prefix_confirmed: false,
            register_retry: settings.register_retry,
            poll_interval: settings.poll_interval,
            allow_plaintext_relay: settings.allow_plaintext_relay,
            view: PairingView::idle(),
            attempts: 0,
            new_cycle: true,
            backoff: FIRST_BACKOFF,
            skew_warned: false,
            log: Vec::new(),
        }
    }

    pub fn start(&mut self) -> Next {
        self.new_cycle = true;
        Next::NewMaterial {
            delay: Duration::ZERO,
        }
    }

    pub fn view(&self) -> &PairingView {
        &self.view
    }

    /// The API as currently addressed (the prefix may have moved to `/v1`).
    pub fn api(&self) -> &BackendApi {
        &self.api
    }

    /// The prefix the backend answered on (anything but a 404 or 5xx to a register).
    pub fn confirmed_prefix(&self) -> Option<&str> {
        self.prefix_confirmed.then(|| self.api.prefix())
    }

    /// The log lines gathered since the last call, in order.
    pub fn take_log(&mut self) -> Vec<(Level, String)> {
        std::mem::take(&mut self.log)
    }

    fn say(&mut self, level: Level, line: String) {
        self.log.push((level, line));
    }

    /// New material exists with this code: the code is shown and registered.
    pub fn material_ready(&mut self, code: &str, now_unix: i64) -> Next {
        if std::mem::take(&mut self.new_cycle) {
            self.attempts = 0;
            self.skew_warned = false;
        }
        self.view.status = PairingStatus::Registering;
        self.view.code = Some(code.to_string());
        self.view.expires_at_unix = Some(now_unix + CODE_TTL_S);
        self.view.error = None;
        self.view.error_detail = None;
        Next::Register {
            delay: Duration::ZERO,
        }
    }

    /// The material could not be made (the system's randomness or key generation failed).
    pub fn material_failed(&mut self, why: &str) -> Next {
        self.fail(ERROR_RETRYING, why.to_string())
    }

    /// The credentials from [`Next::Complete`] could not be saved; the backend will not hand
    /// them out again, so a new code is needed.
    pub fn persist_failed(&mut self, why: &str) -> Next {
        self.fail(ERROR_RETRYING, why.to_string())
    }

    pub fn register_outcome(&mut self, exchange: Exchange, now_unix: i64) -> Next {
        let code = self.view.code.clone().unwrap_or_default();
        let reply = match exchange {
            Ok(reply) => reply,
            Err(TransportError::Timeout(_)) => {
                self.attempts += 1;
                if self.attempts >= MAX_REGISTER_ATTEMPTS {
                    return self.fail_after_attempts();
                }
                let retry = self.register_retry;
                self.say(
                    Level::Warn,
                    format!(
                        "PAIRING REGISTER TIMEOUT | code={code} retry_in_s={}",
                        retry.as_secs()
                    ),
                );
                return Next::Register { delay: retry };
            }
            Err(e) => return self.transport_failure(e),
        };
        self.observe_clock(&reply, now_unix);
        if reply.status != 404 && reply.status < 500 {
            self.prefix_confirmed = true;
        }
        match reply.status {
            201 => {
                self.view.status = PairingStatus::Waiting;
                Next::Poll {
                    delay: self.poll_interval,
                }
            }
            404 => self.register_not_found(),
            409 => {
                self.attempts += 1;
                if self.attempts >= MAX_REGISTER_ATTEMPTS {
                    return self.fail_after_attempts();
                }
                self.say(
                    Level::Info,
                    format!("PAIRING CODE IN USE | code={code} registering a new code"),
                );
                Next::NewMaterial {
                    delay: Duration::ZERO,
                }
            }
            200..=299 => {
                self.attempts += 1;
                if self.attempts >= MAX_REGISTER_ATTEMPTS {
                    return self.fail_after_attempts();
                }
                Next::Register {
                    delay: Duration::ZERO,
                }
            }
            _ => {
                let url = self.api.register_url();
                self.http_failure(&reply, &url, true)
            }
        }
    }

    fn register_not_found(&mut self) -> Next {
        let url = self.api.register_url();
        if self.auto_prefix {
            let other = if self.api.prefix().is_empty() {
                V1_PREFIX
            } else {
                ""
            };
            if !self.prefixes_tried.iter().any(|p| p == other) {
                self.prefixes_tried.push(other.to_string());
                self.api = self.api.with_prefix(other);
                self.say(
                    Level::Info,
                    format!(
                        "Pairing API not found at {url} (HTTP 404); trying {}",
                        self.api.register_url()
                    ),
                );
                return Next::Register {
                    delay: Duration::ZERO,
                };
            }
        }
        let tried: Vec<String> = self
            .prefixes_tried
            .iter()
            .map(|p| self.api.with_prefix(p).register_url())
            .collect();
        self.say(
            Level::Error,
            format!(
                "Pairing backend missing pairing API | stopping pairing | HTTP 404 from {}; check PAIRING_BACKEND_URL and PAIRING_API_PREFIX",
                tried.join(" and ")
            ),
        );
        self.clear_code(PairingStatus::Error);
        self.view.error = Some(ERROR_API_NOT_FOUND.to_string());
        self.view.error_detail = Some("HTTP 404".to_string());
        Next::Stop
    }

    pub fn poll_outcome(&mut self, exchange: Exchange, now_unix: i64) -> Next {
        let code = self.view.code.clone().unwrap_or_default();
        let reply = match exchange {
            Ok(reply) => reply,
            Err(TransportError::Timeout(_)) => {
                let retry = self.poll_interval;
                self.say(
                    Level::Warn,
                    format!(
                        "PAIRING POLL TIMEOUT | code={code} retry_in_s={}",
                        retry.as_secs()
                    ),
                );
                return Next::Poll { delay: retry };
            }
            Err(e) => return self.transport_failure(e),
        };
        self.observe_clock(&reply, now_unix);
        match reply.status {
            200 => self.poll_answer(&reply),
            404 => {
                self.say(
                    Level::Warn,
                    format!("PAIRING ROTATING | expired_code={code} reason=expired"),
                );
                self.backoff = FIRST_BACKOFF;
                self.new_cycle = true;
                Next::NewMaterial {
                    delay: Duration::ZERO,
                }
            }
            _ => {
                let url = self.poll_url_for_log();
                self.http_failure(&reply, &url, false)
            }
        }
    }

    /// The poll URL without its query: the fingerprint is a secret and never logged.
    fn poll_url_for_log(&self) -> String {
        let url = self.api.poll_request("", "").url;
        url.split('?').next().unwrap_or_default().to_string()
    }

    fn poll_answer(&mut self, reply: &BackendReply) -> Next {
        let Some(body) = reply.json() else {
            let why = format!(
                "the pairing poll answer is not JSON: {}",
                reply.error_snippet()
            );
            return self.fail(ERROR_RETRYING, why);
        };
        let text = |name: &str| {
            body.get(name)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match text("status").as_deref() {
            Some("waiting") => {
                self.view.status = PairingStatus::Waiting;
                Next::Poll {
                    delay: self.poll_interval,
                }
            }
            Some("paired") => {
                let (Some(camera_id), Some(ws_url), Some(key_id)) =
                    (text("camera_id"), text("ws_url"), text("key_id"))
                else {
                    let why = "the pairing poll said paired without camera_id, ws_url and key_id"
                        .to_string();
                    return self.fail(ERROR_RETRYING, why);
                };
                let auth_scheme = text("auth_scheme").unwrap_or_else(|| DEVICE_ASSERTION.into());
                if auth_scheme != DEVICE_ASSERTION {
                    let why = format!(
                        "the backend wants relay auth scheme {auth_scheme:?}; picamd speaks {DEVICE_ASSERTION}"
                    );
                    return self.fail(ERROR_RETRYING, why);
                }
                if let Err(e) = check_relay_url(&ws_url, self.allow_plaintext_relay) {
                    return self.refuse_relay_url(&e.to_string());
                }
                self.clear_code(PairingStatus::Paired);
                self.view.error = None;
                self.view.error_detail = None;
                Next::Complete(PairedBootstrap {
                    camera_id,
                    ws_url,
                    auth_scheme,
                    key_id,
                })
            }
            other => {
                let why = format!(
                    "the pairing poll answered status {}",
                    other.map_or_else(|| "(none)".to_string(), |s| format!("{s:?}"))
                );
                self.fail(ERROR_RETRYING, why)
            }
        }
    }

    /// The claim went through but its relay URL is one we may not use: the camera now exists
    /// on the backend, and only the operator can resolve that, so pairing stops.
    fn refuse_relay_url(&mut self, why: &str) -> Next {
        self.say(
            Level::Error,
            format!(
                "Pairing stopped: {why} The camera was added in RELab but cannot connect; \
                 delete it there and pair again once the setting is fixed."
            ),
        );
        self.clear_code(PairingStatus::Error);
        self.view.error = Some(ERROR_PLAINTEXT_RELAY.to_string());
        self.view.error_detail = None;
        Next::Stop
    }

    fn observe_clock(&mut self, reply: &BackendReply, now_unix: i64) {
        match clock_skew::read(reply.date.as_deref(), now_unix) {
            SkewReading::Unknown => {}
            SkewReading::InSync => self.view.clock_skew = None,
            SkewReading::Skewed(skew) => {
                if !std::mem::replace(&mut self.skew_warned, true) {
                    self.say(Level::Warn, skew.warning());
                }
                self.view.clock_skew = Some(skew);
            }
        }
    }

    fn fail_after_attempts(&mut self) -> Next {
        self.fail(
            ERROR_RETRYING,
            format!("Failed to register pairing code after {MAX_REGISTER_ATTEMPTS} attempts."),
        )
    }

    fn transport_failure(&mut self, error: TransportError) -> Next {
        match error {
            TransportError::Connect(e) => {
                let base = self.api.base().to_string();
                self.say(
                    Level::Error,
                    format!("Pairing backend {base} could not be reached. ({e})"),
                );
                self.fail(ERROR_UNREACHABLE, e)
            }
            TransportError::Timeout(e) | TransportError::Other(e) => self.fail(ERROR_RETRYING, e),
        }
    }

    /// An error status (not 404 to a poll, not 404/409 to a register).
    fn http_failure(&mut self, reply: &BackendReply, url: &str, register: bool) -> Next {
        let status = reply.status;
        let base = self.api.base().to_string();
        if status >= 500 {
            self.say(
                Level::Warn,
                format!("Pairing backend {base} returned HTTP {status} — will retry."),
            );
        } else if status == 403 && register {
            self.say(
                Level::Error,
                format!(
                    "Pairing registration was rejected by {url} (HTTP 403). The backend is \
                     reachable, but this environment is refusing anonymous camera registration. \
                     Response body: {}",
                    reply.error_snippet()
                ),
            );
        } else {
            self.say(
                Level::Error,
                format!(
                    "Pairing request to {url} failed with HTTP {status}. Response body: {}",
                    reply.error_snippet()
                ),
            );
        }
        self.fail(ERROR_RETRYING, format!("HTTP {status}"))
    }

    /// A failed cycle: the code is gone, the state says so, and a new cycle follows the
    /// backoff.
    fn fail(&mut self, error: &str, detail: String) -> Next {
        let delay = self.backoff;
        self.say(
            Level::Warn,
            format!(
                "Pairing cycle failed | retry_in_s={} | {detail}",
                delay.as_secs()
            ),
        );
        self.clear_code(PairingStatus::Error);
        self.view.error = Some(error.to_string());
        self.view.error_detail = Some(detail);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.new_cycle = true;
        Next::NewMaterial { delay }
    }

    fn clear_code(&mut self, status: PairingStatus) {
        self.view.status = status;
        self.view.code = None;
        self.view.expires_at_unix = None;
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
