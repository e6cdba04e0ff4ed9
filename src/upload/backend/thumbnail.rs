//! Sends the cached preview thumbnail to the backend (contract §9.6, backend route 5:
//! `POST …/cameras/{id}/preview-thumbnail-upload`) while the camera is paired, so the RELab
//! app can show the camera before anyone opens the live view. Its own thread: an upload over
//! a slow uplink never holds up the housekeeping tick. The backend deletes thumbnails daily,
//! so every refresh is sent again; a new pairing sends the current one within seconds.

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde_json::Value;

use super::multipart::Form;
use crate::auth::CredentialsCell;
use crate::config::backend::BackendSettings;
use crate::config::url::check_endpoint_transport;
use crate::pairing::backend_api::BackendApi;
use crate::pairing::credentials::RelayCredentials;
use crate::upload::http::{agent, body_text};

/// How often the thread looks for a new pairing when nothing is offered.
const PAIRING_CHECK: Duration = Duration::from_secs(2);

pub struct ThumbnailUploader {
    offers: Sender<()>,
}

impl ThumbnailUploader {
    /// Starts the thread. `file` is the cached thumbnail; `relay` the runtime's credentials.
    pub fn start(
        backend: &BackendSettings,
        relay: CredentialsCell,
        file: PathBuf,
    ) -> std::io::Result<ThumbnailUploader> {
        let (offers, rx) = crossbeam_channel::bounded(1);
        let worker = Worker {
            backend: backend.clone(),
            relay,
            file,
            agent: agent(),
            sent_to: None,
        };
        thread::Builder::new()
            .name("thumbnail-upload".into())
            .spawn(move || worker.run(rx))?;
        Ok(ThumbnailUploader { offers })
    }

    /// The thumbnail was refreshed: send it when paired. Never blocks; offers made while an
    /// upload runs collapse into one.
    pub fn offer(&self) {
        let _ = self.offers.try_send(());
    }
}

struct Worker {
    backend: BackendSettings,
    relay: CredentialsCell,
    file: PathBuf,
    agent: ureq::Agent,
    /// The camera the current thumbnail was last sent for.
    sent_to: Option<String>,
}

impl Worker {
    fn run(mut self, offers: Receiver<()>) {
        loop {
            let offered = match offers.recv_timeout(PAIRING_CHECK) {
                Ok(()) => true,
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let Some(relay) = self.relay.get() else {
                self.sent_to = None;
                continue;
            };
            if !offered && self.sent_to.as_deref() == Some(relay.camera_id.as_str()) {
                continue;
            }
            let Ok(jpeg) = std::fs::read(&self.file) else {
                continue;
            };
            match self.send(&relay, &jpeg) {
                Ok(url) => {
                    log::debug!("preview thumbnail uploaded: {url}");
                    self.sent_to = Some(relay.camera_id);
                }
                // The plugin logs these at debug level too: the thumbnail is a convenience,
                // and the next refresh tries again.
                Err(e) => log::debug!("preview thumbnail upload failed: {e}"),
            }
        }
    }

    fn send(&self, relay: &RelayCredentials, jpeg: &[u8]) -> Result<String, String> {
        let api = BackendApi::for_device(&self.backend, relay);
        let url = api.preview_thumbnail_upload_url(&relay.camera_id);
        let form = Form::new().file("file", "preview-thumbnail.jpg", "image/jpeg", jpeg);
        let mut resp =
            super::post_form(&self.agent, relay, &url, form).map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = body_text(&mut resp, 64 * 1024);
        if !(200..300).contains(&status) {
            return Err(format!("{url}: HTTP {status}: {text}"));
        }
        let ack: Value = serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))?;
        let media = ack
            .get("preview_thumbnail_url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{url}: no preview_thumbnail_url in {text}"))?;
        check_endpoint_transport(&media, "preview_thumbnail_url", self.backend.development)
            .map_err(|e| format!("{url}: {e} Got {media:?}."))?;
        Ok(media)
    }
}
