//! The RELab backend sink (contract/plugin.md §8.2, backend §4.1): `POST …/cameras/{id}/image-upload`
//! as multipart (`file`, `capture_metadata`, `upload_metadata`) with a fresh device JWT for
//! every attempt. It uses the relay credentials in effect at the time of the attempt, so
//! captures queued while unpaired go out once the camera is paired.
//!
//! The backend has no idempotency key: a crash after the backend stored an image but before
//! the queue noted it sends that image again after the restart.

mod multipart;
pub mod thumbnail;

use std::time::Duration;

use serde_json::{Map, Value};

use super::http::{agent, body_text};
use super::sink::{Delivered, Sink, SinkError, Upload};
use crate::auth::CredentialsCell;
use crate::config::backend::BackendSettings;
use crate::config::url::check_endpoint_transport;
use crate::pairing::backend_api::BackendApi;
use crate::pairing::clock_skew::{self, SkewReading};
use crate::pairing::credentials::RelayCredentials;
use crate::pairing::identity::{unix_now, DeviceIdentity};
use multipart::Form;

const UNPAIRED: &str =
    "Backend upload requested but relay credentials are missing — device is unpaired.";
/// How much of an error answer goes into the message.
const ERROR_BODY_CHARS: usize = 200;
const ACK_LIMIT: u64 = 64 * 1024;
const BACKEND_ANSWER_WAIT: Duration = Duration::from_secs(20);

pub struct BackendSink {
    backend: BackendSettings,
    credentials: CredentialsCell,
    agent: ureq::Agent,
}

impl BackendSink {
    /// `credentials` is the runtime's cell, which pairing and unpairing update.
    pub fn new(backend: &BackendSettings, credentials: CredentialsCell) -> BackendSink {
        BackendSink {
            backend: backend.clone(),
            credentials,
            agent: agent(),
        }
    }

    fn relay(&self) -> Option<RelayCredentials> {
        self.credentials.get()
    }
}

impl Sink for BackendSink {
    fn name(&self) -> &'static str {
        "backend"
    }

    /// The multipart filename; the backend picks the image id.
    fn destination(&self, image_id: &str, _: &Map<String, Value>) -> String {
        format!("{image_id}.jpg")
    }

    fn put(&self, upload: &Upload<'_>) -> Result<Delivered, SinkError> {
        let relay = self.relay().ok_or_else(|| SinkError::sink(UNPAIRED))?;
        let api = BackendApi::for_device(&self.backend, &relay);
        let url = api.image_upload_url(&relay.camera_id);
        let form = Form::new()
            .file("file", upload.destination, "image/jpeg", upload.jpeg)
            .text(
                "capture_metadata",
                &upload.metadata.to_sink_json().to_string(),
            )
            .text(
                "upload_metadata",
                &Value::Object(upload.upload_metadata.clone()).to_string(),
            );
        let failed = |what: String| {
            format!(
                "Backend upload of {} to {url} failed: {what}",
                upload.destination
            )
        };
        let mut resp =
            post_form(&self.agent, &relay, &url, form).map_err(|e| SinkError::sink(failed(e)))?;
        let status = resp.status().as_u16();
        let skew = match clock_skew::read(
            resp.headers().get("date").and_then(|v| v.to_str().ok()),
            unix_now(),
        ) {
            SkewReading::Skewed(skew) => format!(" ({})", skew.warning()),
            _ => String::new(),
        };
        let text = body_text(&mut resp, ACK_LIMIT);
        if (200..300).contains(&status) {
            let delivered = ack(&text, api.base()).map_err(|why| SinkError::sink(failed(why)))?;
            // The backend stored the image but names it by an insecure URL: charged to the
            // capture, so retries (each storing it again) end with the schedule.
            if let Some(url) = &delivered.image_url {
                check_endpoint_transport(url, "image_url", self.backend.development)
                    .map_err(|e| SinkError::capture(failed(format!("{e} Got {url:?}."))))?;
            }
            return Ok(delivered);
        }
        let snippet: String = text.chars().take(ERROR_BODY_CHARS).collect();
        let message = failed(format!("HTTP {status}: {snippet}{skew}"));
        Err(match classify(status) {
            Blame::Sink => SinkError::sink(message),
            Blame::Capture => SinkError::capture(message),
        })
    }

    /// The backend needs the image stored before a relayed capture is answered (it reads
    /// the backend's image id from the answer) and gives the whole capture 30 s.
    fn answer_wait(&self) -> Duration {
        BACKEND_ANSWER_WAIT
    }

    fn describe(&self) -> String {
        format!(
            "the RELab backend at {}",
            self.backend.url.trim_end_matches('/')
        )
    }
}

/// POSTs a multipart form to a device route, signed with a fresh device JWT.
fn post_form(
    agent: &ureq::Agent,
    relay: &RelayCredentials,
    url: &str,
    form: Form,
) -> Result<ureq::http::Response<ureq::Body>, String> {
    let token = DeviceIdentity::from_credentials(relay)
        .and_then(|identity| identity.assertion())
        .map_err(|e| format!("cannot sign the request: {e}"))?;
    let content_type = form.content_type();
    agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", &content_type)
        .send(&form.finish()[..])
        .map_err(|e| e.to_string())
}

enum Blame {
    Sink,
    Capture,
}

/// Whether a refusal is about the backend (down, overloaded, or not accepting this camera's
/// credentials: every capture would fail alike) or about this capture (too large, unknown
/// product, bad metadata).
fn classify(status: u16) -> Blame {
    match status {
        401 | 403 | 408 | 425 | 429 => Blame::Sink,
        400..=499 => Blame::Capture,
        _ => Blame::Sink,
    }
}

/// `DeviceImageUploadAck`: `{"image_id", "image_url"}`, a relative URL made absolute with the
/// backend's base.
fn ack(text: &str, base: &str) -> Result<Delivered, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("the answer has no {name}"))
    };
    let image_id = field("image_id")?;
    let url = field("image_url")?;
    let image_url = if url.starts_with("http://") || url.starts_with("https://") {
        url
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    };
    Ok(Delivered {
        image_id,
        image_url: Some(image_url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_make_relative_urls_absolute() {
        let d = ack(
            r#"{"image_id": "0123456789abcdef0123456789abcdef", "image_url": "/uploads/images/x.jpg"}"#,
            "https://api.example/",
        )
        .unwrap();
        assert_eq!(d.image_id, "0123456789abcdef0123456789abcdef");
        assert_eq!(
            d.image_url.as_deref(),
            Some("https://api.example/uploads/images/x.jpg")
        );
        let d = ack(
            r#"{"image_id": "a", "image_url": "https://cdn.example/x.jpg"}"#,
            "https://api.example",
        )
        .unwrap();
        assert_eq!(d.image_url.as_deref(), Some("https://cdn.example/x.jpg"));
        for bad in [
            "",
            "[]",
            r#"{"image_id": "a"}"#,
            r#"{"image_id": "", "image_url": "u"}"#,
        ] {
            assert!(ack(bad, "b").is_err(), "{bad}");
        }
    }

    #[test]
    fn backend_refusals_are_the_sinks_and_capture_refusals_the_captures() {
        for status in [401, 403, 429, 500, 502, 503] {
            assert!(matches!(classify(status), Blame::Sink), "{status}");
        }
        for status in [400, 404, 413, 415, 422] {
            assert!(matches!(classify(status), Blame::Capture), "{status}");
        }
    }
}
