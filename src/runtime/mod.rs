//! The services the daemon is made of, built once at start-up: live media state, stills,
//! auth, uploads and the link state, with the settings. The router holds a `Runtime`; every
//! thread is handed only the service it uses (see `app.rs`).

mod media;
pub mod site;
#[cfg(test)]
pub(crate) mod test_runtime;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::login_limiter::{LoginLimiter, MAX_TRACKED_IPS};
use crate::auth::{
    AuthState, ConfiguredKeys, CredentialsCell, InitialAuth, SessionStore, SESSION_TTL,
};
use crate::camera::controls::CameraControls;
use crate::camera::{CameraState, CameraSwitch, LatestFrame};
use crate::config::Config;
use crate::encode::BitrateControl;
use crate::fanout::Fanout;
use crate::hub::push::PushStatus;
use crate::hub::Hub;
use crate::link::LinkState;
use crate::media::llhls::HlsStore;
use crate::pairing::bootstrap::KeyBootstrap;
use crate::preview::PreviewGate;
use crate::record::Recorder;
use crate::stills::thumbnail;
use crate::stills::Stills;
use crate::stream::{VideoInfo, YoutubeStreams};
use crate::upload::backend::thumbnail::ThumbnailUploader;
use crate::upload::{self, UploadSettings, Uploads};
pub use media::{MediaState, PipelineStats};
pub use site::Site;

/// Browser sessions kept at most (the oldest is dropped beyond this).
const MAX_SESSIONS: usize = 1000;

pub struct Runtime {
    pub config: Arc<Config>,
    pub media: Arc<MediaState>,
    pub stills: Arc<Stills>,
    pub auth: Arc<AuthState>,
    /// The upload queue over the capture store, and its worker.
    pub uploads: Arc<Uploads>,
    /// Pairing and the relay: state, running relay, commands for the link thread.
    pub link: Arc<LinkState>,
    /// The YouTube live stream (at most one).
    pub stream: Arc<YoutubeStreams>,
    /// Recording to MP4 (at most one recording).
    pub recorder: Arc<Recorder>,
    /// What only the web pages use: static files, CORS, the system probe.
    pub site: Site,
    /// The seed-004 camera hub, when `HUB_ENABLED`.
    pub hub: Option<Arc<Hub>>,
    /// The push to a seed-004 hub (state `off` without `HUB_PUSH_URL`).
    pub hub_push: Arc<PushStatus>,
}

impl Runtime {
    /// Builds the services and starts their on-demand workers (uploads, MJPEG, timelapse,
    /// `/frame`); the camera pipeline, the HTTP server and the link are started by `app`.
    pub fn new(config: Config, keys: KeyBootstrap) -> std::io::Result<Arc<Runtime>> {
        // Long enough for the first segment of a cold start (one GOP plus encoder start-up).
        let startup_wait = Duration::from_millis(u64::from(config.segment_ms) * 3 + 2000);
        let relab = &config.relab;
        let hibernate = Duration::from_secs(relab.camera.preview_hibernate_after_s);
        let image_path = relab.stills.image_path.clone();
        let auth = Arc::new(
            AuthState::new(
                InitialAuth {
                    authorized_keys: keys.authorized_keys,
                    local_api_key: keys.local_api_key,
                    relay: keys.relay.clone(),
                    relay_api_key: keys.local_relay_api_key,
                },
                ConfiguredKeys {
                    authorized: relab.auth.authorized_api_keys.clone(),
                    local_mode: relab.auth.local_mode_enabled,
                    relay_key_seed: relab.relay.local_relay_api_key.clone(),
                },
                SessionStore::new(SESSION_TTL, MAX_SESSIONS),
            )
            .with_login_limiter(LoginLimiter::new(
                MAX_TRACKED_IPS,
                relab.auth.login_max_failures,
            ))
            .with_action_limits(relab.auth.action_limits.clone()),
        );
        let credentials = CredentialsCell::new(Arc::clone(&auth));
        let media = Arc::new(MediaState {
            hls: Arc::new(HlsStore::new(startup_wait)),
            stats: PipelineStats::default(),
            source: Arc::default(),
            camera: Arc::new(CameraState::new(
                "picamd synthetic camera",
                config.fps,
                CameraControls::synthetic(),
            )),
            preview: PreviewGate::new(Some(hibernate)),
            bitrate: Arc::new(BitrateControl::new(config.bitrate)),
            latest: LatestFrame::default(),
            units: Arc::new(Fanout::with_backlog()),
            heartbeats: Arc::default(),
            power: CameraSwitch::new(relab.camera.enabled),
            started: Instant::now(),
        });
        let thumbnail_upload = if relab.backend.url.trim().is_empty() {
            None
        } else {
            let uploader = ThumbnailUploader::start(
                &relab.backend,
                credentials.clone(),
                image_path
                    .join(thumbnail::DIR_NAME)
                    .join(thumbnail::FILE_NAME),
            )?;
            Some(Box::new(move || uploader.offer()) as Box<dyn Fn() + Send + Sync>)
        };
        let stills = Stills::start(
            &relab.stills,
            config.data_dir.join("timelapse.json"),
            Arc::clone(&media.camera),
            media.latest.clone(),
            thumbnail_upload,
        )?;
        let sink = upload::sink_from_settings(&relab.upload, &relab.backend, &credentials)
            .map_err(std::io::Error::other)?;
        let uploads = Uploads::start(
            Arc::clone(&stills.captures),
            sink,
            UploadSettings::from_relab(&relab.upload),
        )?;
        let stream = Arc::new(YoutubeStreams::new(
            relab.stream.clone(),
            Arc::clone(&media.units),
            VideoInfo {
                fps: config.fps,
                kbps: config.bitrate as f64 / 1000.0,
            },
        ));
        let recorder = Arc::new(Recorder::new(
            relab.record.clone(),
            Arc::clone(&media.units),
            config.fps,
        )?);
        let hub = Hub::from_settings(&relab.hub)
            .map_err(std::io::Error::other)?
            .map(Arc::new);
        let hub_push = Arc::new(PushStatus::new(
            relab
                .hub
                .push
                .as_ref()
                .map(|p| (p.camera_id, p.url.clone())),
        ));
        Ok(Arc::new(Runtime {
            hub,
            hub_push,
            stream,
            recorder,
            site: Site::new(&config, image_path),
            link: Arc::new(LinkState::new(keys.relay.is_some())),
            auth,
            media,
            stills: Arc::new(stills),
            uploads,
            config: Arc::new(config),
        }))
    }
}
