//! The composition root: builds the services, the router, and starts every thread with only
//! what it uses (HTTP server → router; pipeline → media state; housekeeping → media state and
//! stills; thermal governor → the temperature file and the preview bitrate; link → link state,
//! auth, uploads and the router for the relay).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::api::Api;
use crate::config::Config;
use crate::encode::BitrateControl;
use crate::http::server::{Handler, HttpServer, Limits, ACCEPT_POLL};
use crate::link::{self, LinkServices, LinkSettings};
use crate::os_signals::StopSignals;
use crate::pairing::bootstrap::{self, BootstrapError};
use crate::pipeline::{Pipeline, PipelineError};
use crate::runtime::Runtime;
use crate::system::sd_notify::{self, Notifier};
use crate::system::socket_activation::{self, ActivationError};
use crate::system::thermal::read_cpu_temp;
use crate::system::thermal_governor::GovernorTiming;
use crate::system::{fd_limit, interfaces};
use crate::{banner, governor, housekeeping, watchdog};

/// What stopped the daemon from starting; the text is what the operator reads.
#[derive(Debug)]
pub enum StartError {
    DataDir(std::path::PathBuf, std::io::Error),
    Keys(BootstrapError),
    Services(std::io::Error),
    Listen(std::net::SocketAddr, std::io::Error),
    Activation(ActivationError),
    Pipeline(PipelineError),
    Housekeeping(std::io::Error),
    Governor(std::io::Error),
    Link(std::io::Error),
    Signals(std::io::Error),
    Watchdog(std::io::Error),
    Hub(crate::hub::HubError),
    HubPush(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::DataDir(dir, e) => {
                write!(f, "cannot create the data directory {}: {e}", dir.display())
            }
            StartError::Keys(e) => write!(f, "{e}"),
            StartError::Services(e) => {
                write!(f, "cannot prepare the captures and their uploads: {e}")
            }
            StartError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Activation(e) => write!(f, "{e}"),
            StartError::Pipeline(e) => write!(f, "cannot start the camera pipeline: {e}"),
            StartError::Housekeeping(e) => {
                write!(f, "cannot start the housekeeping thread: {e}")
            }
            StartError::Governor(e) => {
                write!(f, "cannot start the thermal governor thread: {e}")
            }
            StartError::Link(e) => {
                write!(f, "cannot start the pairing and relay thread: {e}")
            }
            StartError::Signals(e) => write!(f, "cannot handle SIGTERM and SIGINT: {e}"),
            StartError::Watchdog(e) => write!(f, "cannot start the watchdog thread: {e}"),
            StartError::Hub(e) => write!(f, "{e}"),
            StartError::HubPush(e) => write!(f, "cannot start the hub push thread: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Captures under way get this long to finish once SIGTERM or SIGINT came (well inside the
/// unit's `TimeoutStopSec`).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the daemon and serves until SIGTERM or SIGINT.
pub fn serve(config: Config) -> Result<(), StartError> {
    let mut signals = StopSignals::install().map_err(StartError::Signals)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
    let listen = config.listen;
    let limits = http_limits(&config);
    for line in config.relab.deprecated.warnings() {
        log::warn!("{line}");
    }
    let keys = bootstrap::bootstrap_from_disk(&config.relab).map_err(StartError::Keys)?;
    for (level, line) in &keys.log {
        log::log!(*level, "{line}");
    }
    // Checked here so that a bad cameras file is reported as such (Runtime::new reads it too).
    crate::hub::Hub::from_settings(&config.relab.hub).map_err(StartError::Hub)?;
    let rt = Runtime::new(config, keys).map_err(StartError::Services)?;
    let notifier = Arc::new(Notifier::from_env());
    let api: Arc<dyn Handler> = Arc::new(Api::new(Arc::clone(&rt)));
    let (listener, inherited) = listener(listen)?;
    let accept_beat = rt.media.heartbeats.register("http-accept", ACCEPT_POLL * 4);
    let server = HttpServer::start_on(listener, inherited, limits, Arc::clone(&api), accept_beat)
        .map_err(|e| StartError::Listen(listen, e))?;
    let _pipeline = Pipeline::start(&rt.config, &rt.media).map_err(StartError::Pipeline)?;
    start_always_on_recording(&rt);
    housekeeping::spawn(Arc::clone(&rt.media), Arc::clone(&rt.stills))
        .map_err(StartError::Housekeeping)?;
    start_governor(&rt.config, Arc::clone(&rt.media.bitrate)).map_err(StartError::Governor)?;
    start_hub_push(&rt).map_err(StartError::HubPush)?;
    let addr = server.local_addr();
    let lan = interfaces::listen_urls(addr);
    let base = lan
        .first()
        .cloned()
        .unwrap_or_else(|| format!("http://<this-ip>:{}", addr.port()));
    log::info!("{}", banner::render(&rt, &format!("{base}/setup")));
    // After the banner, whose note says the pairing code follows.
    link::start(LinkServices {
        state: Arc::clone(&rt.link),
        auth: Arc::clone(&rt.auth),
        uploads: Arc::clone(&rt.uploads),
        handler: api,
        settings: Arc::new(LinkSettings::from_relab(&rt.config.relab)),
        listen: addr,
    })
    .map_err(StartError::Link)?;
    log::info!(
        "picamd {} listening on http://{addr}/",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("live preview: {base}/preview/hls/cam-preview/index.m3u8");
    notifier.notify(&format!(
        "READY=1\nSTATUS=serving http://{addr}/ from {} ({})",
        rt.media.source.name(),
        rt.media.source.encoder()
    ));
    start_watchdog(&notifier, &rt.media.heartbeats)?;
    let signal = signals.wait();
    log::info!("picamd stopping ({signal})");
    notifier.notify(&format!("STOPPING=1\nSTATUS=stopping ({signal})"));
    let answering = server.stop_accepting();
    // A YouTube stream says goodbye to its server (FCUnpublish, deleteStream) within 2 s.
    let _ = rt.stream.stop(crate::stream::Ended::Shutdown);
    // A recording finishes its file (durations, fsync).
    let _ = rt.recorder.stop();
    let deadline = std::time::Instant::now() + STOP_GRACE;
    // Relayed captures too; then the answers being written, so a capture that finished is
    // also answered.
    let left = rt.stills.captures_in_flight.wait_idle(STOP_GRACE);
    if left > 0 {
        log::warn!("{left} captures still under way after {STOP_GRACE:?}; stopping anyway");
    }
    answering.wait_idle(deadline.saturating_duration_since(std::time::Instant::now()));
    // Open connections (MJPEG and HLS viewers) close with the process.
    Ok(())
}

/// `RECORD_ALWAYS=1`: record from start-up, and again `RECORD_ALWAYS_RETRY_S` after an error
/// (a full disk) stopped it; a recording stopped through the API stays stopped.
fn start_always_on_recording(rt: &Runtime) {
    if !rt.config.relab.record.always {
        return;
    }
    let start = |media: &crate::runtime::MediaState, recorder: &crate::record::Recorder| {
        let hold = media
            .preview
            .hold(std::time::Instant::now(), "always-on recording");
        match recorder.start(None, hold) {
            Ok(path) => log::info!("always-on recording to {}", path.display()),
            Err(e) => log::error!("cannot start the always-on recording: {e}"),
        }
    };
    start(&rt.media, &rt.recorder);
    let (media, recorder) = (Arc::clone(&rt.media), Arc::clone(&rt.recorder));
    let retry = Duration::from_secs(rt.config.relab.record.always_retry_s);
    let spawned = std::thread::Builder::new()
        .name("always-record".into())
        .spawn(move || loop {
            std::thread::sleep(retry);
            if recorder.snapshot().state == crate::record::State::Failed {
                start(&media, &recorder);
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the always-on recording's retry thread: {e}");
    }
}

/// The socket systemd passed (socket activation), else `listen` bound here.
fn listener(listen: std::net::SocketAddr) -> Result<(std::net::TcpListener, bool), StartError> {
    match socket_activation::inherited_listener().map_err(StartError::Activation)? {
        Some(listener) => {
            let addr = listener
                .local_addr()
                .map_err(|e| StartError::Listen(listen, e))?;
            log::info!("serving the socket systemd passed ({addr}); --listen is not used");
            Ok((listener, true))
        }
        None => std::net::TcpListener::bind(listen)
            .map(|l| (l, false))
            .map_err(|e| StartError::Listen(listen, e)),
    }
}

/// The watchdog thread, when systemd asks for pings (`WatchdogSec=`).
fn start_watchdog(
    notifier: &Arc<Notifier>,
    heartbeats: &Arc<crate::heartbeat::Heartbeats>,
) -> Result<(), StartError> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    let Some(interval) =
        sd_notify::watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
    else {
        return Ok(());
    };
    log::info!(
        "systemd watchdog: a ping every {} ms",
        interval.as_millis() / 2
    );
    watchdog::spawn(Arc::clone(notifier), interval, Arc::clone(heartbeats))
        .map_err(StartError::Watchdog)
}

/// The push to a seed-004 hub, when `HUB_PUSH_URL` is set; the token is derived from
/// `CAMERA_TOKEN_SECRET` when `HUB_PUSH_TOKEN` is not given.
fn start_hub_push(rt: &Runtime) -> std::io::Result<()> {
    let hub = &rt.config.relab.hub;
    let Some(push) = hub.push.clone() else {
        return Ok(());
    };
    let token = if push.token.is_empty() {
        crate::hub::token::derive(push.camera_id, hub.token_secret.expose())
    } else {
        push.token.expose().to_string()
    };
    crate::hub::push::start(
        push,
        token,
        hub.max_jpeg_bytes,
        Arc::clone(&rt.stills.mjpeg),
        Arc::clone(&rt.hub_push),
    )
}

/// The thermal governor, reading `--temp-file` on `--thermal-*` timing.
fn start_governor(config: &Config, bitrate: Arc<BitrateControl>) -> std::io::Result<()> {
    let path = config.temp_file.clone();
    let ms = |ms: u32| Duration::from_millis(u64::from(ms));
    let timing = GovernorTiming {
        poll: ms(config.thermal.poll_ms),
        throttle_hold: ms(config.thermal.throttle_ms),
        restore_hold: ms(config.thermal.restore_ms),
    };
    governor::spawn(Box::new(move || read_cpu_temp(&path)), timing, bitrate)?;
    Ok(())
}

/// The HTTP server's limits: the configured ones, with the connection cap lowered to fit
/// under the descriptor limit (raised to its hard limit first).
fn http_limits(config: &Config) -> Limits {
    let mut limits = Limits::new(config.max_connections);
    limits.per_address = config.max_connections_per_address;
    match fd_limit::raise() {
        Ok(fds) => {
            log::info!(
                "file descriptor limit: {} (hard limit {})",
                fds.soft,
                fds.hard
            );
            let cap = fd_limit::connection_cap(config.max_connections, fds.soft);
            if cap < config.max_connections {
                log::warn!(
                    "--max-connections lowered from {} to {cap}: the descriptor limit is {} \
                     and {} descriptors are kept for files, the camera and uploads",
                    config.max_connections,
                    fds.soft,
                    fd_limit::RESERVE
                );
                limits.max_connections = cap;
            }
        }
        Err(e) => log::warn!("cannot read or raise the file descriptor limit: {e}"),
    }
    // A parked request holds one descriptor (its socket) and no slot.
    limits.max_parked = config
        .max_parked
        .unwrap_or(limits.max_connections)
        .min(limits.max_connections);
    limits
}
