//! The per-frame live view (`GET /preview/live.mp4`): one long response per viewer, written by
//! the connection's own thread. Each viewer is a bounded consumer of the access-unit fan-out,
//! so many viewers cost no extra encode, and a slow one loses frames up to the next IDR
//! (counted) without slowing capture or anyone else.
//!
//! The viewer starts at the newest IDR the fan-out kept (so the first picture comes at once,
//! not after up to a GOP), or at the next one when that is stale; it gets the init segment and
//! then one `moof` + `mdat` per access unit (`media::fmp4::LiveFragmenter`). The response ends
//! when the client goes away (a write fails), when no access unit came for a while (camera or
//! preview stopped), or when the parameter sets change; the player then connects again.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use super::PreviewHold;
use crate::fanout::Fanout;
use crate::http::response::StreamBody;
use crate::http::{Body, Response};
use crate::media::fmp4::{LiveFragmenter, Pushed};
use crate::media::AccessUnit;

pub const CONTENT_TYPE: &str = "video/mp4";
/// Access units queued per viewer (half a second at 30 fps): beyond that it drops to the next
/// IDR rather than fall further behind.
const QUEUE: usize = 15;
/// The kept GOP is used only if its newest frame is this fresh (else the preview was paused).
const BACKLOG_FRESH_US: u64 = 500_000;
/// With no access unit for this long once playing, the response ends.
const STALL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a new viewer waits for its first picture (the encoder may be waking up).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What `/metrics` shows about live viewers.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Viewers connected now.
    pub viewers: AtomicUsize,
    /// Access units viewers lost because they did not keep up (all viewers, also gone ones).
    pub units_dropped: AtomicU64,
    pub fragments_sent: AtomicU64,
}

/// Everything one viewer's stream needs.
pub struct LiveViewer {
    pub units: Arc<Fanout<Arc<AccessUnit>>>,
    pub counters: Arc<LiveCounters>,
    /// Nominal frame duration, 90 kHz ticks.
    pub frame_duration: u32,
    /// Keeps the encoder awake while the viewer is connected.
    pub hold: PreviewHold,
}

/// A `200` whose body is the live stream for one viewer.
pub fn stream_response(viewer: LiveViewer) -> Response {
    Response::new(
        200,
        CONTENT_TYPE,
        Body::Stream(StreamBody::new(move |out| viewer.run(out))),
    )
    .with_header("Cache-Control", "no-store")
}

/// Counts the viewer while it is connected and adds its losses to the total.
struct Presence {
    counters: Arc<LiveCounters>,
    dropped: Arc<AtomicU64>,
    reported: u64,
    fragments: u64,
}

impl Presence {
    fn new(counters: Arc<LiveCounters>) -> Presence {
        counters.viewers.fetch_add(1, Ordering::Relaxed);
        Presence {
            counters,
            dropped: Arc::default(),
            reported: 0,
            fragments: 0,
        }
    }

    fn sync(&mut self) {
        let now = self.dropped.load(Ordering::Relaxed);
        self.counters
            .units_dropped
            .fetch_add(now - self.reported, Ordering::Relaxed);
        self.reported = now;
    }

    fn sent(&mut self, fragments: u64) {
        self.fragments += fragments;
        self.counters
            .fragments_sent
            .fetch_add(fragments, Ordering::Relaxed);
        self.sync();
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.sync();
        self.counters.viewers.fetch_sub(1, Ordering::Relaxed);
        log::debug!(
            "live viewer left: {} fragments sent, {} frames dropped",
            self.fragments,
            self.reported
        );
    }
}

impl LiveViewer {
    fn run(self, out: &mut dyn Write) -> std::io::Result<()> {
        let LiveViewer {
            units,
            counters,
            frame_duration,
            hold: _hold,
        } = self;
        let mut presence = Presence::new(counters);
        let (backlog, rx) =
            units.subscribe_from_last_sync("live viewer", QUEUE, Arc::clone(&presence.dropped));
        drop(units);
        let fresh = backlog.last().is_some_and(|au| {
            crate::clock::unix_us().saturating_sub(au.capture_unix_us) < BACKLOG_FRESH_US
        });
        let mut live = LiveFragmenter::new(frame_duration);
        let mut buf = Vec::new();
        let mut started = false;
        if fresh {
            started = write(&mut live, &backlog, &mut buf, &mut presence)?;
        }
        drop(backlog);
        out.write_all(&buf)?;
        loop {
            let timeout = if started {
                STALL_TIMEOUT
            } else {
                START_TIMEOUT
            };
            let au = match rx.recv_timeout(timeout) {
                Ok(au) => au,
                Err(RecvTimeoutError::Timeout) => {
                    log::debug!("live viewer: no frames for {} s", timeout.as_secs());
                    return Ok(());
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            // Everything queued meanwhile goes out in the same write.
            let units: Vec<_> = std::iter::once(au).chain(rx.try_iter()).collect();
            buf.clear();
            started |= write(&mut live, &units, &mut buf, &mut presence)?;
            out.write_all(&buf)?;
        }
    }
}

/// Appends the fragments of `units` to `buf`; true once the stream has started.
fn write(
    live: &mut LiveFragmenter,
    units: &[Arc<AccessUnit>],
    buf: &mut Vec<u8>,
    presence: &mut Presence,
) -> std::io::Result<bool> {
    let mut started = false;
    let mut sent = 0;
    for au in units {
        match live.push(au, buf) {
            Ok(Pushed::Waiting) => {}
            Ok(Pushed::Started { .. } | Pushed::Fragment) => {
                started = true;
                sent += 1;
            }
            Err(e) => {
                // A new init segment needs a new player session: end here, the player reconnects.
                presence.sent(sent);
                return Err(std::io::Error::other(e));
            }
        }
    }
    presence.sent(sent);
    Ok(started)
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
