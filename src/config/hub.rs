//! The camera hub of seed 004 ("camera-server"), both roles: picamd pushing its pictures to a
//! hub (`HUB_PUSH_*`), and picamd being a hub (`HUB_ENABLED`, `HUB_CAMERAS_FILE`).
//! `CAMERA_TOKEN_SECRET` is the hub's own variable name: the secret camera tokens are derived
//! from (lowercase hex SHA-256 of the decimal id followed by the secret).

use std::path::PathBuf;

use super::error::ConfigError;
use super::secret::Secret;
use super::url::url_parts;
use super::vars::Vars;

/// The largest picture a hub takes from a camera, and the push client sends, by default.
pub const DEFAULT_MAX_JPEG_BYTES: u64 = 4 << 20;
/// Hub WebSocket connections (cameras and viewers) served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 64;
/// Pictures per second pushed to a hub, by default.
pub const DEFAULT_PUSH_MAX_FPS: f64 = 5.0;

#[derive(Debug, Clone, PartialEq)]
pub struct HubSettings {
    /// `HUB_ENABLED`: serve `/camera/*` of the hub, its WebSockets and `/hub`.
    pub enabled: bool,
    /// `HUB_CAMERAS_FILE`: a JSON array of `{"id","name","description","token"?}`.
    pub cameras_file: Option<PathBuf>,
    /// `CAMERA_TOKEN_SECRET`: derives the tokens the cameras file leaves out, and the push
    /// token when `HUB_PUSH_TOKEN` is not set.
    pub token_secret: Secret,
    /// `HUB_MAX_JPEG_BYTES`: the longest picture taken (or pushed).
    pub max_jpeg_bytes: usize,
    /// `HUB_MAX_CONNECTIONS`: camera and viewer WebSockets at once (besides the HTTP cap).
    pub max_connections: usize,
    pub push: Option<PushSettings>,
}

/// Where and as whom picamd pushes its pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct PushSettings {
    /// `HUB_PUSH_URL`: `ws://` or `wss://`, any path (a proxy prefix included).
    pub url: String,
    /// `HUB_PUSH_CAMERA_ID`.
    pub camera_id: u32,
    /// `HUB_PUSH_TOKEN`; empty when it is to be derived from `CAMERA_TOKEN_SECRET`.
    pub token: Secret,
    /// `HUB_PUSH_MAX_FPS`.
    pub max_fps: f64,
}

impl HubSettings {
    pub(crate) fn from_vars(v: &Vars) -> Result<HubSettings, ConfigError> {
        let enabled = v.bool("HUB_ENABLED", false)?;
        let cameras_file = v.path("HUB_CAMERAS_FILE");
        let token_secret: Secret = v.string("CAMERA_TOKEN_SECRET", "").into();
        let max_jpeg_bytes =
            v.uint("HUB_MAX_JPEG_BYTES", DEFAULT_MAX_JPEG_BYTES, 1024, 64 << 20)? as usize;
        let max_connections =
            v.uint("HUB_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 1, 65_536)? as usize;
        let url = v.string("HUB_PUSH_URL", "");
        let push =
            if url.trim().is_empty() {
                None
            } else {
                let url = url.trim().to_string();
                match url_parts(&url) {
                    Some(u) if (u.scheme == "ws" || u.scheme == "wss") && !u.host.is_empty() => {}
                    _ => return Err(ConfigError::invalid(
                        "HUB_PUSH_URL",
                        &url,
                        "a ws:// or wss:// URL with a host, e.g. ws://hub:5000/video-input-stream",
                    )),
                }
                let raw_id = v.get("HUB_PUSH_CAMERA_ID").unwrap_or("");
                let camera_id = raw_id
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|id| (1..=i32::MAX as u32).contains(id))
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            "HUB_PUSH_CAMERA_ID",
                            raw_id,
                            "the camera's id on the hub, a whole number from 1 to 2147483647",
                        )
                    })?;
                let token: Secret = v.string("HUB_PUSH_TOKEN", "").into();
                if token.is_empty() && token_secret.is_empty() {
                    return Err(ConfigError::invalid(
                        "HUB_PUSH_TOKEN",
                        "",
                        "the camera's token on the hub (or CAMERA_TOKEN_SECRET to derive it)",
                    ));
                }
                Some(PushSettings {
                    url,
                    camera_id,
                    token,
                    max_fps: v.float("HUB_PUSH_MAX_FPS", DEFAULT_PUSH_MAX_FPS, 60.0)?,
                })
            };
        Ok(HubSettings {
            enabled,
            cameras_file,
            token_secret,
            max_jpeg_bytes,
            max_connections,
            push,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<HubSettings, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HubSettings::from_vars(&Vars::new(&env, &HashMap::new()))
    }

    #[test]
    fn off_by_default() {
        let s = settings(&[]).unwrap();
        assert!(!s.enabled && s.push.is_none() && s.cameras_file.is_none());
        assert_eq!(s.max_jpeg_bytes, 4 << 20);
    }

    #[test]
    fn push_needs_a_websocket_url_an_id_and_a_token() {
        let s = settings(&[
            (
                "HUB_PUSH_URL",
                "wss://h.example/camera-server/video-input-stream",
            ),
            ("HUB_PUSH_CAMERA_ID", "7"),
            ("CAMERA_TOKEN_SECRET", "s"),
        ])
        .unwrap();
        let push = s.push.unwrap();
        assert_eq!((push.camera_id, push.max_fps), (7, 5.0));
        assert!(push.token.is_empty());
        for bad in [
            vec![("HUB_PUSH_URL", "http://h/x"), ("HUB_PUSH_CAMERA_ID", "1")],
            vec![("HUB_PUSH_URL", "ws://h/x"), ("HUB_PUSH_CAMERA_ID", "0")],
            vec![("HUB_PUSH_URL", "ws://h/x"), ("HUB_PUSH_CAMERA_ID", "x")],
            vec![("HUB_PUSH_URL", "ws://h/x"), ("HUB_PUSH_CAMERA_ID", "1")],
        ] {
            assert!(settings(&bad).is_err(), "{bad:?}");
        }
        let ok = settings(&[
            ("HUB_PUSH_URL", "ws://127.0.0.1:5000/video-input-stream"),
            ("HUB_PUSH_CAMERA_ID", "1"),
            ("HUB_PUSH_TOKEN", "abc"),
        ]);
        assert_eq!(ok.unwrap().push.unwrap().token.expose(), "abc");
    }
}
