//! The link with the RELab backend over the daemon's life: one thread that owns the pairing
//! run and the relay, and carries out `POST /pairing/code` and `DELETE /pairing`. It sits above
//! the pairing protocol (`pairing/`) and the relay, and is handed what it uses
//! ([`LinkServices`]): the shared [`LinkState`], the auth state it changes on pairing and
//! unpairing, the upload queue it nudges, and the router the relay serves commands with.
//!
//! At start: relay credentials in effect → start the relay; else a pairing backend is set →
//! start pairing; else idle. A pairing run that succeeds hands over its (already saved and
//! applied) credentials and the relay starts.
//!
//! Unpair, in order: stop the relay, tell the backend (`DELETE …/self` with a fresh device
//! JWT, best effort), remove the relay fields from the credentials file (keeping the local
//! API key, unlike the plugin), take the credentials and the relay key out of effect, show
//! idle, and start pairing again when a backend is set.

pub mod announce;
pub mod credentials_file;
mod pairing_run;
mod state;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{never, select, Receiver};

use crate::auth::AuthState;
use crate::config::backend::BackendSettings;
use crate::config::pairing::PairingSettings;
use crate::config::relab::RelabSettings;
use crate::http::server::Handler;
use crate::pairing::backend_api::BackendApi;
use crate::pairing::backend_client::{BackendClient, Timeouts};
use crate::pairing::clock_skew::{self, SkewReading};
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::identity::{unix_now, DeviceIdentity};
use crate::pairing::state::PairingView;
use crate::relay::{Relay, RelayHooks, RelayOptions};
use crate::system::interfaces;
use crate::upload::Uploads;
use credentials_file::Forgotten;
use pairing_run::PairingRun;
pub use state::{LinkCommand, LinkState};

/// What the link thread and its pairing runs use.
#[derive(Clone)]
pub struct LinkServices {
    pub state: Arc<LinkState>,
    pub auth: Arc<AuthState>,
    pub uploads: Arc<Uploads>,
    /// The router relayed commands go through: the same value the HTTP server has.
    pub handler: Arc<dyn Handler>,
    pub settings: Arc<LinkSettings>,
    /// The HTTP server's address, for the setup page's URL in the log.
    pub listen: std::net::SocketAddr,
}

/// What the link reads of the settings: no secrets (the relay's come with its credentials).
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// `BASE_URL`, for where the setup page is.
    pub base_url: String,
    pub backend: BackendSettings,
    pub pairing: PairingSettings,
    pub relay: RelayOptions,
    /// Complete relay credentials are set in the environment (`RELAY_*`).
    pub relay_from_env: bool,
}

impl LinkSettings {
    pub fn from_relab(relab: &RelabSettings) -> LinkSettings {
        LinkSettings {
            base_url: relab.http.base_url.clone(),
            backend: relab.backend.clone(),
            pairing: relab.pairing.clone(),
            relay: RelayOptions::from_relab(relab),
            relay_from_env: relab.relay.env_complete(),
        }
    }
}

impl LinkServices {
    /// Puts freshly paired credentials into effect; captures queued while unpaired can go
    /// to the backend now.
    fn activate(&self, relay: RelayCredentials) {
        self.auth.activate(relay);
        self.uploads.nudge();
    }
}

/// Self-unpair is best effort and holds up the next pairing run: a shorter wait than pairing's.
const SELF_UNPAIR_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(10),
    write: Duration::from_secs(5),
};

/// Starts the link thread. Call once; a second call fails (the inbox is gone).
pub fn start(services: LinkServices) -> io::Result<JoinHandle<()>> {
    let inbox = services.state.take_inbox().ok_or_else(|| {
        io::Error::new(io::ErrorKind::AlreadyExists, "the link is already running")
    })?;
    thread::Builder::new()
        .name("picamd-link".into())
        .spawn(move || {
            Link {
                services,
                session: None,
            }
            .run(&inbox)
        })
}

struct Link {
    services: LinkServices,
    session: Option<PairingRun>,
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
        self.services.auth.relay()
    }

    fn pairing_backend(&self) -> &str {
        &self.services.settings.backend.url
    }

    fn begin(&mut self) {
        let relay = self.current_relay();
        if let Some(relay) = relay {
            self.services.state.take_over(PairingView::paired());
            self.start_relay(relay, false);
            return;
        }
        self.services.state.take_over(PairingView::idle());
        if self.pairing_backend().is_empty() {
            return;
        }
        let settings = &self.services.settings;
        let setup = announce::setup_location(
            &settings.base_url,
            &interfaces::listen_urls(self.services.listen),
        );
        log::info!(
            "PAIRING MODE | state=awaiting_claim setup={setup} pairing_backend={}",
            settings.backend.url.trim_end_matches('/')
        );
        if settings
            .backend
            .url
            .to_ascii_lowercase()
            .starts_with("http://")
            && !settings.relay.allow_plaintext
        {
            log::warn!(
                "PAIRING_BACKEND_URL is plain http://, so the backend will likely hand out a ws:// relay URL, \
                 which needs APP_ENV=development"
            );
        }
        self.start_pairing();
    }

    fn start_pairing(&mut self) {
        let generation = self.services.state.take_over(PairingView::idle());
        match PairingRun::start(self.services.clone(), generation) {
            Ok(session) => self.session = Some(session),
            Err(e) => log::error!("Pairing could not start: cannot start its thread: {e}"),
        }
    }

    /// Stops the pairing run. When it had just been paired, its credentials are in effect
    /// and are returned.
    fn stop_pairing(&mut self) -> Option<RelayCredentials> {
        self.session.take()?.stop(&self.services.state)
    }

    fn start_relay(&mut self, relay: RelayCredentials, just_paired: bool) {
        let services = &self.services;
        let uploads = Arc::clone(&services.uploads);
        let auth = Arc::clone(&services.auth);
        let hooks = RelayHooks {
            handler: Arc::clone(&services.handler),
            command_key: Arc::new(move || auth.relay_api_key()),
            // The network is back: retry waiting uploads now rather than at their scheduled
            // time.
            on_connected: Arc::new(move || uploads.nudge()),
        };
        match Relay::start(hooks, services.settings.relay.clone(), relay) {
            Ok(running) => {
                services.state.set_relay(running);
                if just_paired {
                    log::info!("Pairing complete — WebSocket relay started");
                }
            }
            Err(e) => log::error!("The relay could not start: {e}"),
        }
    }

    fn stop_relay(&mut self) {
        if let Some(relay) = self.services.state.take_relay() {
            relay.stop();
        }
    }

    fn rotate_code(&mut self) {
        if self.services.auth.relay_enabled() {
            log::info!("New pairing code not made: this camera is paired (unpair it first)");
            return;
        }
        if let Some(relay) = self.stop_pairing() {
            log::info!("New pairing code not made: pairing completed just now");
            self.start_relay(relay, true);
            return;
        }
        self.services.state.take_over(PairingView::idle());
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
        let settings = &self.services.settings;
        let path = &settings.pairing.credentials_file;
        match credentials_file::forget(path) {
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
        if relay.is_some() && settings.relay_from_env {
            log::warn!(
                "The relay credentials came from RELAY_* settings; they apply again at the next start unless removed"
            );
        }
        self.services.auth.deactivate();
        self.services.state.take_over(PairingView::idle());
        if !self.pairing_backend().is_empty() {
            self.start_pairing();
        }
    }

    /// `DELETE …/cameras/{id}/self`, best effort: the outcome is only logged.
    fn tell_backend(&self, relay: &RelayCredentials) {
        let settings = &self.services.settings;
        if settings.backend.url.is_empty() {
            log::info!("PAIRING_BACKEND_URL is empty: the backend is not told about the unpairing");
            return;
        }
        let api = BackendApi::for_device(&settings.backend, relay);
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
