//! The hub service: the registered cameras (fixed at start-up), the limits, the counters, and
//! the connection cap shared by camera sockets, viewer sockets and event streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::registry::{self, CameraEntry, RegistryError};
use super::slot::CameraSlot;
use crate::base64;
use crate::clock;
use crate::config::hub::HubSettings;

/// `lastActive` of a camera that sent nothing since start (the reference hub shows its
/// database column there; picamd keeps no database).
pub const NEVER_ACTIVE: &str = "1970-01-01T00:00:00.000Z";

#[derive(Debug)]
pub enum HubError {
    NoCamerasFile,
    Read(std::path::PathBuf, std::io::Error),
    Registry(std::path::PathBuf, RegistryError),
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubError::NoCamerasFile => {
                write!(
                    f,
                    "HUB_ENABLED needs HUB_CAMERAS_FILE (a JSON array of cameras)"
                )
            }
            HubError::Read(p, e) => write!(f, "cannot read HUB_CAMERAS_FILE {}: {e}", p.display()),
            HubError::Registry(p, e) => write!(f, "HUB_CAMERAS_FILE {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for HubError {}

#[derive(Default)]
pub struct HubStats {
    pub images_received: AtomicU64,
    pub images_sent: AtomicU64,
    pub refused: AtomicU64,
    pub cameras_connected: AtomicUsize,
    pub viewers: AtomicUsize,
}

pub struct Hub {
    cameras: Vec<Arc<CameraSlot>>,
    by_id: HashMap<u32, usize>,
    pub max_jpeg_bytes: usize,
    max_connections: usize,
    connections: Arc<AtomicUsize>,
    next_connection: AtomicU64,
    pub stats: HubStats,
}

/// A place under the hub's connection cap, given back on drop.
pub struct ConnectionGuard {
    count: Arc<AtomicUsize>,
    pub id: u64,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hub {
    pub fn new(cameras: Vec<CameraEntry>, max_jpeg_bytes: usize, max_connections: usize) -> Hub {
        let by_id = cameras.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        Hub {
            cameras: cameras
                .into_iter()
                .map(|c| Arc::new(CameraSlot::new(c)))
                .collect(),
            by_id,
            max_jpeg_bytes,
            max_connections,
            connections: Arc::default(),
            next_connection: AtomicU64::new(1),
            stats: HubStats::default(),
        }
    }

    /// The hub the settings ask for: `None` when `HUB_ENABLED` is off.
    pub fn from_settings(settings: &HubSettings) -> Result<Option<Hub>, HubError> {
        if !settings.enabled {
            return Ok(None);
        }
        let path = settings
            .cameras_file
            .as_ref()
            .ok_or(HubError::NoCamerasFile)?;
        let text = std::fs::read_to_string(path).map_err(|e| HubError::Read(path.clone(), e))?;
        let cameras = registry::parse(&text, settings.token_secret.expose())
            .map_err(|e| HubError::Registry(path.clone(), e))?;
        Ok(Some(Hub::new(
            cameras,
            settings.max_jpeg_bytes,
            settings.max_connections,
        )))
    }

    pub fn camera(&self, id: u32) -> Option<&Arc<CameraSlot>> {
        self.by_id.get(&id).map(|&i| &self.cameras[i])
    }

    pub fn cameras(&self) -> &[Arc<CameraSlot>] {
        &self.cameras
    }

    /// A place for one more socket or event stream; `None` at the cap.
    pub fn try_connection(&self) -> Option<ConnectionGuard> {
        let count = &self.connections;
        count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .ok()?;
        Some(ConnectionGuard {
            count: Arc::clone(count),
            id: self.next_connection.fetch_add(1, Ordering::Relaxed),
        })
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// `GET /camera/list`: a bare array, camelCase, fields in the reference's order.
    pub fn list(&self) -> Value {
        Value::Array(self.cameras.iter().map(|c| camera_json(c)).collect())
    }

    /// The list without the pictures (`GET /hub/state`): what a page polls, fetching a
    /// camera's picture from `get-image` only when its `lastActive` moved.
    pub fn summaries(&self) -> Value {
        Value::Array(
            self.cameras
                .iter()
                .map(|c| {
                    let (mut fields, image) = camera_fields(c);
                    fields.insert("hasPicture".into(), image.is_some().into());
                    Value::Object(fields)
                })
                .collect(),
        )
    }
}

/// A camera's id, name, description and lastActive (in the reference's order), and its
/// newest picture.
fn camera_fields(slot: &CameraSlot) -> (Map<String, Value>, Option<Arc<[u8]>>) {
    let snap = slot.snapshot();
    let e = &slot.entry;
    let last_active = snap
        .last_active_us
        .map_or_else(|| NEVER_ACTIVE.to_string(), clock::rfc3339_ms);
    let mut fields = Map::new();
    fields.insert("id".into(), json!(e.id));
    fields.insert("name".into(), json!(e.name));
    fields.insert("description".into(), json!(e.description));
    fields.insert("lastActive".into(), json!(last_active));
    (fields, snap.image)
}

fn camera_json(slot: &CameraSlot) -> Value {
    let (mut fields, image) = camera_fields(slot);
    let preview = image.map_or_else(String::new, |i| base64::encode_standard(&i));
    fields.insert("preview".into(), preview.into());
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(max_connections: usize) -> Hub {
        let cams = registry::parse(
            r#"[{"id":2,"name":"b","description":null,"token":"t"},{"id":1,"name":"a","description":"d","token":"u"}]"#,
            "",
        )
        .unwrap();
        Hub::new(cams, 1000, max_connections)
    }

    #[test]
    fn lists_in_file_order_with_camel_case_and_previews() {
        let h = hub(4);
        h.camera(1)
            .unwrap()
            .publish(Arc::from(&b"\xff\xd8\xff"[..]), 1_685_620_800_000_000);
        let list = h.list();
        assert_eq!(
            list,
            json!([
                {"id": 2, "name": "b", "description": null, "lastActive": NEVER_ACTIVE, "preview": ""},
                {"id": 1, "name": "a", "description": "d", "lastActive": "2023-06-01T12:00:00.000Z", "preview": "/9j/"},
            ])
        );
        let keys: Vec<_> = list[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["id", "name", "description", "lastActive", "preview"]);
        assert!(h.camera(3).is_none());
        assert_eq!(
            h.summaries(),
            json!([
                {"id": 2, "name": "b", "description": null, "lastActive": NEVER_ACTIVE, "hasPicture": false},
                {"id": 1, "name": "a", "description": "d", "lastActive": "2023-06-01T12:00:00.000Z", "hasPicture": true},
            ])
        );
    }

    #[test]
    fn the_connection_cap_holds_and_frees() {
        let h = hub(2);
        let a = h.try_connection().unwrap();
        let _b = h.try_connection().unwrap();
        assert!(h.try_connection().is_none());
        drop(a);
        assert!(h.try_connection().is_some());
        assert_eq!(h.connections(), 1);
    }
}
