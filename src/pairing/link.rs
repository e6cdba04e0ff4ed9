//! The link with the RELab backend over the daemon's life: one thread that owns the pairing
//! run and the relay, and carries out `POST /pairing/code` and `DELETE /pairing`.
//!
//! At start: relay credentials in effect → start the relay; else a pairing backend is set →
//! start pairing; else idle. A pairing run that succeeds hands over its (already saved and
//! applied) credentials and the relay starts.
//!
//! Unpair, in order: stop the relay, tell the backend (`DELETE …/self` with a fresh device
//! JWT, best effort), remove the relay fields from the credentials file (keeping the local
//! API key, unlike the plugin), take the credentials and the relay key out of effect, show
//! idle, and start pairing again when a backend is set.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{never, select, Receiver};

use super::activation::{self, Forgotten};
use super::backend_api::BackendApi;
use super::backend_client::{BackendClient, Timeouts};
use super::clock_skew::{self, SkewReading};
use super::credentials::RelayCredentials;
use super::identity::{unix_now, DeviceIdentity};
use super::link_state::LinkCommand;
use super::session::PairingSession;
use super::state::PairingView;
use crate::banner;
use crate::relay::Relay;
use crate::runtime::Runtime;
use crate::system::interfaces;

/// Self-unpair is best effort and holds up the next pairing run: a shorter wait than pairing's.
const SELF_UNPAIR_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(10),
    write: Duration::from_secs(5),
};

/// Starts the link thread. Call once; a second call fails (the inbox is gone).
pub fn start(rt: Arc<Runtime>) -> io::Result<JoinHandle<()>> {
    let inbox = rt.link.take_inbox().ok_or_else(|| {
        io::Error::new(io::ErrorKind::AlreadyExists, "the link is already running")
    })?;
    thread::Builder::new()
        .name("picamd-link".into())
        .spawn(move || Link { rt, session: None }.run(&inbox))
}

struct Link {
    rt: Arc<Runtime>,
    session: Option<PairingSession>,
}

impl Link {
    fn run(mut self, inbox: &Receiver<LinkCommand>) {
        self.begin();
        loop {
            let paired = self
                .session
                .as_ref()
                .map_or_else(never, |s| s.paired().clone());
            select! {
                recv(inbox) -> command => match command {
                    Ok(LinkCommand::RotateCode) => self.rotate_code(),
                    Ok(LinkCommand::Unpair) => self.unpair(),
                    Err(_) => return,
                },
                recv(paired) -> relay => {
                    if let Some(session) = self.session.take() {
                        session.join();
                    }
                    if let Ok(relay) = relay {
                        self.start_relay(relay, true);
                    }
                }
            }
        }
    }

    /// The relay credentials in effect, if any.
    fn current_relay(&self) -> Option<RelayCredentials> {
        self.rt
            .relay
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn pairing_backend(&self) -> &str {
        &self.rt.config.relab.backend.url
    }

    fn begin(&mut self) {
        let relay = self.current_relay();
        if let Some(relay) = relay {
            self.rt.link.take_over(PairingView::paired());
            self.start_relay(relay, false);
            return;
        }
        self.rt.link.take_over(PairingView::idle());
        if self.pairing_backend().is_empty() {
            return;
        }
        let relab = &self.rt.config.relab;
        let setup = banner::setup_location(
            &relab.http.base_url,
            &interfaces::candidate_urls(self.rt.config.listen.port()),
        );
        log::info!(
            "PAIRING MODE | state=awaiting_claim setup={setup} pairing_backend={}",
            relab.backend.url.trim_end_matches('/')
        );
        if relab
            .backend
            .url
            .to_ascii_lowercase()
            .starts_with("http://")
            && !relab.relay.allow_plaintext
        {
            log::warn!(
                "PAIRING_BACKEND_URL is plain http://, so the backend will likely hand out a ws:// relay URL, \
                 which needs ALLOW_PLAINTEXT_RELAY=true"
            );
        }
        self.start_pairing();
    }

    fn start_pairing(&mut self) {
        let generation = self.rt.link.take_over(PairingView::idle());
        match PairingSession::start(Arc::clone(&self.rt), generation) {
            Ok(session) => self.session = Some(session),
            Err(e) => log::error!("Pairing could not start: cannot start its thread: {e}"),
        }
    }

    /// Stops the pairing run. When it had just been paired, its credentials are in effect
    /// and are returned.
    fn stop_pairing(&mut self) -> Option<RelayCredentials> {
        self.session.take()?.stop(&self.rt)
    }

    fn start_relay(&mut self, relay: RelayCredentials, just_paired: bool) {
        match Relay::start(Arc::clone(&self.rt), relay) {
            Ok(running) => {
                self.rt.link.set_relay(running);
                if just_paired {
                    log::info!("Pairing complete — WebSocket relay started");
                }
            }
            Err(e) => log::error!("The relay could not start: {e}"),
        }
    }

    fn stop_relay(&mut self) {
        if let Some(relay) = self.rt.link.take_relay() {
            relay.stop();
        }
    }

    fn rotate_code(&mut self) {
        if self.rt.relay_enabled() {
            log::info!("New pairing code not made: this camera is paired (unpair it first)");
            return;
        }
        if let Some(relay) = self.stop_pairing() {
            log::info!("New pairing code not made: pairing completed just now");
            self.start_relay(relay, true);
            return;
        }
        self.rt.link.take_over(PairingView::idle());
        if self.pairing_backend().is_empty() {
            log::info!("New pairing code not made: PAIRING_BACKEND_URL is empty");
            return;
        }
        log::info!("Pairing restarted with a new code on request");
        self.start_pairing();
    }

    fn unpair(&mut self) {
        // A run that was paired just now has its credentials in effect: they are unpaired too.
        self.stop_pairing();
        let relay = self.current_relay();
        match &relay {
            Some(relay) => log::info!("Unpairing camera {}", relay.camera_id),
            None => log::info!("Unpair requested while not paired: resetting pairing"),
        }
        self.stop_relay();
        if let Some(relay) = &relay {
            self.tell_backend(relay);
        }
        let relab = &self.rt.config.relab;
        let path = &relab.pairing.credentials_file;
        match activation::forget(path) {
            Ok(Forgotten::Rewritten) => log::info!(
                "Relay credentials removed from {} (local_api_key kept)",
                path.display()
            ),
            Ok(Forgotten::Deleted) => log::info!(
                "Relay credentials removed: {} deleted (it held nothing else)",
                path.display()
            ),
            Ok(Forgotten::NoFile | Forgotten::Unchanged) => {}
            Err(e) => log::warn!("{e}"),
        }
        if relay.is_some() && relab.relay.env_complete() {
            log::warn!(
                "The relay credentials came from RELAY_* settings; they apply again at the next start unless removed"
            );
        }
        activation::deactivate(&self.rt);
        self.rt.link.take_over(PairingView::idle());
        if !self.pairing_backend().is_empty() {
            self.start_pairing();
        }
    }

    /// `DELETE …/cameras/{id}/self`, best effort: the outcome is only logged.
    fn tell_backend(&self, relay: &RelayCredentials) {
        let relab = &self.rt.config.relab;
        if relab.backend.url.is_empty() {
            log::info!("PAIRING_BACKEND_URL is empty: the backend is not told about the unpairing");
            return;
        }
        let api = BackendApi::for_device(&relab.backend, relay);
        let url = api.self_unpair_url(&relay.camera_id);
        let token = DeviceIdentity::from_credentials(relay).and_then(|id| id.assertion());
        let token = match token {
            Ok(t) => t,
            Err(e) => {
                log::warn!("Self-unpair skipped: the device key does not work: {e}");
                return;
            }
        };
        let client = BackendClient::with_timeouts(api.base(), SELF_UNPAIR_TIMEOUTS);
        match client.self_unpair(&api, &relay.camera_id, &token) {
            Ok(reply) if (200..300).contains(&reply.status) => {
                log::info!("Camera {} removed from the RELab backend", relay.camera_id);
            }
            Ok(reply) => {
                if let SkewReading::Skewed(skew) =
                    clock_skew::read(reply.date.as_deref(), unix_now())
                {
                    log::warn!("{}", skew.warning());
                }
                log::warn!(
                    "Self-unpair at {url} answered HTTP {}: {}; the camera may still be listed in RELab",
                    reply.status,
                    reply.error_snippet()
                );
            }
            Err(e) => log::warn!(
                "Self-unpair at {url} failed: {e}; the camera may still be listed in RELab"
            ),
        }
    }
}
