//! Turning an HTTP request on `/video-input-stream` or `/video-output-stream` into a
//! WebSocket session: the upgrade is checked and a place under the hub's cap taken before
//! the `101` goes out; the session then runs on the connection's own thread.

use std::sync::Arc;

use super::service::Hub;
use super::upgrade::{self, UpgradeError};
use super::{input, output, socket};
use crate::http::response::Upgrade;
use crate::http::{Body, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Cameras push pictures.
    Input,
    /// Viewers watch one camera.
    Output,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptError {
    /// Not an upgrade: the reference hub lets such requests fall through to a 404.
    NotWebSocket,
    BadUpgrade(&'static str),
    /// The hub's connection cap is reached.
    Busy,
}

/// Viewer messages are tiny (a hello of at most 1 KiB, 12-byte moves).
const MAX_VIEWER_MESSAGE: usize = 4096;

pub fn accept(hub: &Arc<Hub>, req: &Request, endpoint: Endpoint) -> Result<Response, AcceptError> {
    let key = upgrade::check(req).map_err(|e| match e {
        UpgradeError::NotWebSocket => AcceptError::NotWebSocket,
        UpgradeError::Bad(why) => AcceptError::BadUpgrade(why),
    })?;
    let guard = hub.try_connection().ok_or(AcceptError::Busy)?;
    let hub = Arc::clone(hub);
    let session = Upgrade::new(move |stream, read_ahead| match endpoint {
        Endpoint::Input => {
            // A picture with its 4-byte length, and room for a token in the same message.
            let max = hub.max_jpeg_bytes + 8 + super::codec::MAX_TOKEN;
            input::run(
                Arc::clone(&hub),
                socket::server(stream, read_ahead, max),
                guard,
            )
        }
        Endpoint::Output => output::run(
            Arc::clone(&hub),
            socket::server(stream, read_ahead, MAX_VIEWER_MESSAGE),
            guard,
        ),
    });
    Ok(upgrade::switching(key, Body::Upgrade(session)))
}
