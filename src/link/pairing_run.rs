//! One pairing run on its own thread: drives [`PairingFlow`] over the backend client, shows
//! its state, prints the PAIRING READY banner for every new code and, once paired, saves the
//! credentials, applies them and hands them to the link, which starts the relay.
//!
//! Stopping is prompt between steps; a stop during an HTTP call is noticed when the call
//! returns, and by then the run has lost its say over the shared state (see `state.rs`).

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::state::LinkState;
use super::{announce, credentials_file, LinkServices};
use crate::config::pairing_api::ApiPrefix;
use crate::pairing::backend_api::{normalise_base, BackendApi};
use crate::pairing::backend_client::BackendClient;
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::flow::{FlowSettings, Next, PairedBootstrap, PairingFlow};
use crate::pairing::identity::unix_now;
use crate::pairing::material::PairingMaterial;
use crate::stop_signal::StopSignal;
use crate::system::interfaces;

pub struct PairingRun {
    generation: u64,
    stop: Arc<StopSignal>,
    paired: Receiver<RelayCredentials>,
    thread: JoinHandle<()>,
}

impl PairingRun {
    /// Starts a run that publishes under `generation` (from `LinkState::take_over`).
    pub fn start(services: LinkServices, generation: u64) -> io::Result<PairingRun> {
        let stop = Arc::new(StopSignal::new());
        let (paired_tx, paired) = bounded(1);
        let run_stop = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("picamd-pairing".into())
            .spawn(move || Run::new(services, generation, run_stop, paired_tx).run())?;
        Ok(PairingRun {
            generation,
            stop,
            paired,
            thread,
        })
    }

    /// Yields the credentials once, when the run has saved and applied them (then it ends).
    /// Disconnects when the run ends without pairing.
    pub fn paired(&self) -> &Receiver<RelayCredentials> {
        &self.paired
    }

    /// Waits for a run that has finished.
    pub fn join(self) {
        let _ = self.thread.join();
    }

    /// Stops the run. If it had already received its credentials, waits until it has saved
    /// and applied them and returns them; otherwise leaves it to wind down on its own.
    pub fn stop(self, state: &LinkState) -> Option<RelayCredentials> {
        let claimed = state.release(self.generation);
        self.stop.stop();
        if !claimed {
            return None;
        }
        let _ = self.thread.join();
        self.paired.try_recv().ok()
    }
}

struct Run {
    services: LinkServices,
    generation: u64,
    stop: Arc<StopSignal>,
    paired: Sender<RelayCredentials>,
    setup: String,
}

impl Run {
    fn new(
        services: LinkServices,
        generation: u64,
        stop: Arc<StopSignal>,
        paired: Sender<RelayCredentials>,
    ) -> Run {
        let setup = announce::setup_location(
            &services.settings.base_url,
            &interfaces::listen_urls(services.listen),
        );
        Run {
            services,
            generation,
            stop,
            paired,
            setup,
        }
    }

    fn run(self) {
        let settings = &self.services.settings;
        let base = normalise_base(&settings.backend.url);
        let (prefix, auto_prefix) = match &settings.backend.api_prefix {
            ApiPrefix::Fixed(p) => (p.clone(), false),
            ApiPrefix::Auto => (
                self.services.state.learned_prefix().unwrap_or_default(),
                true,
            ),
        };
        let mut flow = PairingFlow::new(FlowSettings {
            api: BackendApi::new(&base, &prefix, settings.backend.poll_method),
            auto_prefix,
            register_retry: Duration::from_secs(settings.pairing.register_timeout_retry_s),
            poll_interval: Duration::from_secs(settings.pairing.poll_interval_s),
            allow_plaintext_relay: settings.relay.allow_plaintext,
        });
        let client = BackendClient::new(&base);
        let mut material: Option<PairingMaterial> = None;
        let mut next = flow.start();
        loop {
            if let Next::Complete(bootstrap) = &next {
                let bootstrap = bootstrap.clone();
                match self.complete(&mut flow, material.as_ref(), bootstrap) {
                    Some(retry) => next = retry,
                    None => return,
                }
            }
            self.report(&mut flow);
            if next == Next::Stop || !self.stop.sleep(next.delay()) {
                return;
            }
            next = match next {
                Next::NewMaterial { .. } => match PairingMaterial::generate() {
                    Ok(m) => {
                        let step = flow.material_ready(&m.code, unix_now());
                        if self.services.state.publish(self.generation, flow.view()) {
                            log::info!(
                                "{}",
                                announce::pairing_ready(
                                    &m.code,
                                    &self.setup,
                                    &settings.backend.url
                                )
                            );
                        }
                        material = Some(m);
                        step
                    }
                    Err(e) => flow.material_failed(&format!("could not make a device key: {e}")),
                },
                Next::Register { .. } => {
                    let Some(m) = material.as_ref() else {
                        return;
                    };
                    let exchange = client.register(flow.api(), m);
                    if self.stop.is_stopped() {
                        return;
                    }
                    let step = flow.register_outcome(exchange, unix_now());
                    if let Some(prefix) = flow.confirmed_prefix() {
                        self.services.state.learn_prefix(prefix);
                    }
                    step
                }
                Next::Poll { .. } => {
                    let Some(m) = material.as_ref() else {
                        return;
                    };
                    let exchange = client.poll(flow.api(), &m.code, &m.fingerprint);
                    if self.stop.is_stopped() {
                        return;
                    }
                    flow.poll_outcome(exchange, unix_now())
                }
                Next::Complete(_) | Next::Stop => return,
            };
        }
    }

    /// Logs what the flow said and shows its state (unless this run was replaced).
    fn report(&self, flow: &mut PairingFlow) {
        let lines = flow.take_log();
        if !self.services.state.publish(self.generation, flow.view()) {
            return;
        }
        for (level, line) in lines {
            log::log!(level, "{line}");
        }
    }

    /// Saves, applies and hands over the credentials. `Some(next)` when saving failed and
    /// pairing goes on with a new code.
    fn complete(
        &self,
        flow: &mut PairingFlow,
        material: Option<&PairingMaterial>,
        paired: PairedBootstrap,
    ) -> Option<Next> {
        let material = material?;
        if !self.services.state.claim_paired(self.generation) {
            log::warn!(
                "Pairing finished after it was stopped; ignoring it. Camera {} now exists in RELab without a device: delete it there.",
                paired.camera_id
            );
            return None;
        }
        let relay = RelayCredentials {
            backend_url: paired.ws_url,
            camera_id: paired.camera_id,
            auth_scheme: paired.auth_scheme,
            key_id: paired.key_id,
            private_key_pem: material.key.to_pem(),
        };
        let path = &self.services.settings.pairing.credentials_file;
        if let Err(e) = credentials_file::persist(path, &relay) {
            log::error!("{e}");
            let next = flow.persist_failed(&e.to_string());
            // Un-claim: the state is this run's again, showing the error.
            self.services.state.publish(self.generation, flow.view());
            return Some(next);
        }
        log::info!("Relay credentials saved to {}", path.display());
        let camera_id = relay.camera_id.clone();
        self.services.activate(relay.clone());
        log::info!("PAIRING COMPLETE | camera_id={camera_id} relay_starting=true");
        let _ = self.paired.send(relay);
        None
    }
}
