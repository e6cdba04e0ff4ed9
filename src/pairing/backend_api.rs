//! Where the RELab backend's device-facing routes live: the base URL, the API prefix and the
//! poll style (contract/backend.md §1.1, §7; plugin.md §13.2).
//!
//! | prefix | pairing | device routes |
//! | --- | --- | --- |
//! | none | `{base}/plugins/rpi-cam/pairing/…`, poll GET | `{base}/plugins/rpi-cam/cameras/{id}/…` |
//! | `/v1` (any) | `{base}/v1/plugins/rpi-cam/pairing/…`, poll POST | `{base}/v1/plugins/rpi-cam/device/cameras/{id}/…` |

use crate::config::backend::BackendSettings;
use crate::config::pairing_api::{ApiPrefix, PollMethod};
use crate::http::percent;

use super::credentials::RelayCredentials;

const PLUGIN: &str = "/plugins/rpi-cam";
const WS_PATH: &str = "/plugins/rpi-cam/ws/connect";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStyle {
    /// `GET …/pairing/poll?code=…&fingerprint=…`
    Get,
    /// `POST …/pairing/poll` with `{"code","fingerprint"}`
    Post,
}

/// One poll request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    pub style: PollStyle,
    pub url: String,
    /// The JSON body for [`PollStyle::Post`].
    pub json_body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendApi {
    base: String,
    prefix: String,
    poll_method: PollMethod,
}

impl BackendApi {
    /// `base` is an http(s) URL whose trailing `/` is dropped; `prefix` is `""` or `/v1`-like.
    pub fn new(base: &str, prefix: &str, poll_method: PollMethod) -> BackendApi {
        BackendApi {
            base: base.trim().trim_end_matches('/').to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
            poll_method,
        }
    }

    /// The same backend under another prefix.
    pub fn with_prefix(&self, prefix: &str) -> BackendApi {
        BackendApi::new(&self.base, prefix, self.poll_method)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `auto` polls with GET without a prefix and with POST under one.
    pub fn poll_style(&self) -> PollStyle {
        match self.poll_method {
            PollMethod::Get => PollStyle::Get,
            PollMethod::Post => PollStyle::Post,
            PollMethod::Auto if self.prefix.is_empty() => PollStyle::Get,
            PollMethod::Auto => PollStyle::Post,
        }
    }

    fn plugin_url(&self) -> String {
        format!("{}{}{PLUGIN}", self.base, self.prefix)
    }

    pub fn register_url(&self) -> String {
        format!("{}/pairing/register", self.plugin_url())
    }

    pub fn poll_request(&self, code: &str, fingerprint: &str) -> PollRequest {
        let url = format!("{}/pairing/poll", self.plugin_url());
        match self.poll_style() {
            PollStyle::Get => PollRequest {
                style: PollStyle::Get,
                url: format!(
                    "{url}?code={}&fingerprint={}",
                    percent::encode(code),
                    percent::encode(fingerprint)
                ),
                json_body: None,
            },
            PollStyle::Post => PollRequest {
                style: PollStyle::Post,
                url,
                json_body: Some(
                    serde_json::json!({ "code": code, "fingerprint": fingerprint }).to_string(),
                ),
            },
        }
    }

    /// `{…}/cameras/{id}` for the device routes of this prefix.
    fn camera_url(&self, camera_id: &str) -> String {
        let layout = if self.prefix.is_empty() {
            "cameras"
        } else {
            "device/cameras"
        };
        format!(
            "{}/{layout}/{}",
            self.plugin_url(),
            percent::encode(camera_id)
        )
    }

    pub fn self_unpair_url(&self, camera_id: &str) -> String {
        format!("{}/self", self.camera_url(camera_id))
    }

    pub fn image_upload_url(&self, camera_id: &str) -> String {
        format!("{}/image-upload", self.camera_url(camera_id))
    }

    pub fn preview_thumbnail_upload_url(&self, camera_id: &str) -> String {
        format!("{}/preview-thumbnail-upload", self.camera_url(camera_id))
    }

    /// The API a paired camera calls for uploads and self-unpair: the configured prefix, or
    /// with `auto` the one its relay URL shows (`wss://…/v1/plugins/rpi-cam/ws/connect` means
    /// `/v1`), since the backend hands out the relay URL under its own prefix.
    pub fn for_device(backend: &BackendSettings, relay: &RelayCredentials) -> BackendApi {
        let base = normalise_base(&backend.url);
        let prefix = match &backend.api_prefix {
            ApiPrefix::Fixed(p) => p.clone(),
            ApiPrefix::Auto => prefix_from_ws_url(&relay.backend_url),
        };
        BackendApi::new(&base, &prefix, backend.poll_method)
    }
}

/// The API prefix a relay URL was issued under: the path before `/plugins/rpi-cam/ws/connect`,
/// or `""` when the URL does not have that shape.
pub fn prefix_from_ws_url(ws_url: &str) -> String {
    let Some((_, rest)) = ws_url.split_once("://") else {
        return String::new();
    };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/')
        .strip_suffix(WS_PATH)
        .unwrap_or("")
        .to_string()
}

/// `PAIRING_BACKEND_URL` without its trailing `/`. A loopback URL is used as written, also
/// inside a container: the plugin's rewrite to `host.docker.internal` is wrong under host
/// networking (which its own Compose file uses), and the start-up log warns instead.
pub fn normalise_base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefix_is_the_current_backend() {
        let api = BackendApi::new("https://api.cml-relab.org/", "", PollMethod::Auto);
        assert_eq!(api.base(), "https://api.cml-relab.org");
        assert_eq!(
            api.register_url(),
            "https://api.cml-relab.org/plugins/rpi-cam/pairing/register"
        );
        assert_eq!(
            api.poll_request("ABC234", "fp-1_x"),
            PollRequest {
                style: PollStyle::Get,
                url: "https://api.cml-relab.org/plugins/rpi-cam/pairing/poll?code=ABC234&fingerprint=fp-1_x"
                    .into(),
                json_body: None,
            }
        );
        assert_eq!(
            api.self_unpair_url("0b6cf7a2-52c4"),
            "https://api.cml-relab.org/plugins/rpi-cam/cameras/0b6cf7a2-52c4/self"
        );
        assert_eq!(
            api.image_upload_url("c"),
            "https://api.cml-relab.org/plugins/rpi-cam/cameras/c/image-upload"
        );
        assert_eq!(
            api.preview_thumbnail_upload_url("c"),
            "https://api.cml-relab.org/plugins/rpi-cam/cameras/c/preview-thumbnail-upload"
        );
    }

    #[test]
    fn v1_prefix_is_the_newer_backend() {
        let api = BackendApi::new("http://127.0.0.1:8001", "/v1", PollMethod::Auto);
        assert_eq!(
            api.register_url(),
            "http://127.0.0.1:8001/v1/plugins/rpi-cam/pairing/register"
        );
        let poll = api.poll_request("ABC234", "fp");
        assert_eq!(poll.style, PollStyle::Post);
        assert_eq!(
            poll.url,
            "http://127.0.0.1:8001/v1/plugins/rpi-cam/pairing/poll"
        );
        assert_eq!(
            poll.json_body.as_deref(),
            Some(r#"{"code":"ABC234","fingerprint":"fp"}"#)
        );
        assert_eq!(
            api.self_unpair_url("cam 1/x"),
            "http://127.0.0.1:8001/v1/plugins/rpi-cam/device/cameras/cam%201%2Fx/self"
        );
        assert_eq!(
            api.image_upload_url("c"),
            "http://127.0.0.1:8001/v1/plugins/rpi-cam/device/cameras/c/image-upload"
        );
    }

    #[test]
    fn poll_method_overrides_the_prefix_default() {
        let get = BackendApi::new("http://b", "/v1", PollMethod::Get);
        assert_eq!(get.poll_style(), PollStyle::Get);
        assert!(get
            .poll_request("A", "f")
            .url
            .ends_with("/v1/plugins/rpi-cam/pairing/poll?code=A&fingerprint=f"));
        let post = BackendApi::new("http://b", "", PollMethod::Post);
        assert_eq!(post.poll_style(), PollStyle::Post);
        assert_eq!(post.with_prefix("/v1").prefix(), "/v1");
        assert_eq!(
            BackendApi::new("http://b", "", PollMethod::Auto)
                .with_prefix("/v1")
                .poll_style(),
            PollStyle::Post
        );
        assert_eq!(
            BackendApi::new("http://b", "/v1/", PollMethod::Auto).prefix(),
            "/v1"
        );
    }

    #[test]
    fn prefix_from_relay_urls() {
        for (ws, prefix) in [
            ("wss://api.cml-relab.org/plugins/rpi-cam/ws/connect", ""),
            (
                "wss://api.cml-relab.org/v1/plugins/rpi-cam/ws/connect",
                "/v1",
            ),
            (
                "ws://127.0.0.1:8001/api/v2/plugins/rpi-cam/ws/connect/?x=1",
                "/api/v2",
            ),
            ("wss://relab.example/ws", ""),
            ("wss://relab.example", ""),
            ("nonsense", ""),
        ] {
            assert_eq!(prefix_from_ws_url(ws), prefix, "{ws}");
        }
    }

    #[test]
    fn the_base_loses_its_trailing_slash_and_nothing_else() {
        assert_eq!(
            normalise_base(" http://localhost:8000/ "),
            "http://localhost:8000"
        );
        assert_eq!(
            normalise_base("https://api.cml-relab.org"),
            "https://api.cml-relab.org"
        );
    }
}
