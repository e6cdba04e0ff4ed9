//! The outbound WebSocket relay to the RELab backend: this is a placeholder with the agreed
//! API only, so pairing can start and stop a relay. The real module, written alongside,
//! replaces this file on merge. It connects nowhere and reports itself as not connected.

use std::sync::Arc;

use crate::pairing::credentials::RelayCredentials;
use crate::runtime::Runtime;

/// How the relay is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayStatus {
    pub connected: bool,
}

pub struct Relay {
    camera_id: String,
}

impl Relay {
    pub fn start(_rt: Arc<Runtime>, credentials: RelayCredentials) -> Result<Relay, String> {
        log::info!(
            "relay placeholder: this build has no WebSocket relay yet (camera_id={})",
            credentials.camera_id
        );
        Ok(Relay {
            camera_id: credentials.camera_id,
        })
    }

    /// Graceful: returns once the relay has stopped.
    pub fn stop(self) {
        log::info!("relay placeholder stopped (camera_id={})", self.camera_id);
    }

    pub fn status(&self) -> RelayStatus {
        RelayStatus { connected: false }
    }
}
