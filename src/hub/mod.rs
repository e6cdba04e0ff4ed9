//! The "camera-server" hub of seed 004 (contract A), both roles.
//!
//! - picamd as a hub: cameras push JPEGs over `/video-input-stream` (id, token, then
//!   length-prefixed pictures), viewers watch over `/video-output-stream` or the
//!   `stream-image` event stream, and `/camera/*` lists them. Only the latest picture of
//!   each camera is kept, in memory. The registry comes from `HUB_CAMERAS_FILE`.
//! - picamd as a camera of a hub: [`push`] sends the shared MJPEG encoder's pictures.
//!
//! Sans-IO: [`codec`] (byte layouts), [`registry`], [`token`], [`sse`], [`multipart`],
//! [`upgrade`]. IO: [`input`] and [`output`] (a WebSocket session each, on the HTTP
//! connection's thread after [`accept`]), [`events`] (the SSE body) and [`push`].

pub mod accept;
pub mod codec;
pub mod events;
mod input;
pub mod multipart;
mod output;
pub mod push;
pub mod registry;
pub mod service;
pub mod slot;
mod socket;
pub mod sse;
pub mod token;
pub mod upgrade;

pub use service::{Hub, HubError};
