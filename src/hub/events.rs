//! `GET /camera/stream-image`: the camera's picture as Server-Sent Events (framing in
//! [`super::sse`]), every `updateDelay` ms. Unlike the reference hub, which re-sends the same
//! picture on every tick, a tick sends only a picture the viewer has not had yet, and the
//! current one again every [`RESEND`] so that a client that left is noticed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::service::ConnectionGuard;
use super::slot::CameraSlot;
use super::sse;
use crate::http::response::StreamBody;

/// The shortest tick (the reference front end asked for 3 ms).
pub const MIN_DELAY_MS: u64 = 3;
/// The longest tick: a viewer asking for more still gets a picture a minute.
pub const MAX_DELAY_MS: u64 = 60_000;
const RESEND: Duration = Duration::from_secs(2);

pub fn stream_body(slot: Arc<CameraSlot>, delay_ms: u64, guard: ConnectionGuard) -> StreamBody {
    let tick = Duration::from_millis(delay_ms.clamp(MIN_DELAY_MS, MAX_DELAY_MS));
    StreamBody::new(move |out| {
        let _guard = guard;
        let mut sent: Option<u64> = None;
        let mut last_write = Instant::now();
        loop {
            let snap = slot.snapshot();
            if sent != Some(snap.generation) || last_write.elapsed() >= RESEND {
                let image = snap.image.as_deref().unwrap_or(&[]);
                out.write_all(&sse::image_event(image))?;
                out.flush()?;
                sent = Some(snap.generation);
                last_write = Instant::now();
            }
            // Sleep a tick, or until a newer picture came if that is sooner than the resend.
            let generation = snap.generation;
            let started = Instant::now();
            if slot.wait_newer(generation, tick).is_some() {
                let waited = started.elapsed();
                if waited < tick {
                    std::thread::sleep(tick - waited);
                }
            }
        }
    })
}
