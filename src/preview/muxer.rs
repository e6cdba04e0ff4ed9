//! The live preview muxer thread: access units in, LL-HLS parts and playlists out.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::heartbeat::Heartbeat;
use crate::media::llhls::NewPart;
use crate::media::llhls::{HlsStore, Segmenter, SegmenterConfig, SegmenterEvent, TimelineConfig};
use crate::media::AccessUnit;

/// What the muxer counts.
#[derive(Debug, Default)]
pub struct MuxerCounters {
    pub parts_published: AtomicU64,
    pub segments_published: AtomicU64,
}

/// Where the muxer publishes: the store the HTTP workers read, its counters, and how many
/// complete segments the playlist keeps.
#[derive(Clone)]
pub struct MuxerSink {
    pub hls: Arc<HlsStore>,
    pub counters: Arc<MuxerCounters>,
    pub window_segments: usize,
}

/// A fresh prefix for a new timeline: eight hex digits that differ between runs.
pub fn session_prefix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(crate::clock::unix_us());
    h.write_u32(std::process::id());
    format!("{:08x}", h.finish() as u32)
}

/// Applies what the segmenter produced to the store, in one update (one wake-up).
pub fn publish(sink: &MuxerSink, seg: &Segmenter, events: &mut Vec<SegmenterEvent>) {
    let mut rest = Vec::new();
    for event in events.drain(..) {
        match event {
            SegmenterEvent::Start {
                init,
                codec,
                width,
                height,
            } => {
                if !rest.is_empty() {
                    apply(sink, std::mem::take(&mut rest));
                }
                log::info!("preview session: {width}x{height} {codec}");
                let cfg = seg.config();
                sink.hls
                    .start_session(Arc::from(init), codec, |floor| TimelineConfig {
                        prefix: session_prefix(),
                        part_target: cfg.part_target(),
                        segment_target: cfg.segment_target(),
                        window_segments: sink.window_segments,
                        first_msn: first_msn(cfg, floor),
                    });
            }
            other => rest.push(other),
        }
    }
    if !rest.is_empty() {
        apply(sink, rest);
    }
}

/// Sequence numbers must only grow on the same playlist URL, also across restarts of the
/// daemon: start from the wall clock in segment units, and above anything this process
/// already published (`floor`, in case the clock stepped back).
fn first_msn(cfg: &SegmenterConfig, floor: u64) -> u64 {
    let segment_us = u64::from(cfg.segment_target()) * 1_000_000 / 90_000;
    let from_clock = crate::clock::unix_us() / segment_us.max(1);
    from_clock.max(floor)
}

fn apply(sink: &MuxerSink, events: Vec<SegmenterEvent>) {
    let counters = &sink.counters;
    sink.hls.update(|tl| {
        for event in events {
            match event {
                SegmenterEvent::Part {
                    duration,
                    independent,
                    data,
                    capture_unix_us,
                    program_date_us,
                } => {
                    tl.push_part(NewPart {
                        duration,
                        independent,
                        data,
                        capture_unix_us,
                        program_date_us,
                    });
                    counters.parts_published.fetch_add(1, Ordering::Relaxed);
                }
                SegmenterEvent::SegmentEnd => {
                    if tl.close_segment().is_some() {
                        counters.segments_published.fetch_add(1, Ordering::Relaxed);
                    }
                }
                SegmenterEvent::Start { .. } => {}
            }
        }
    });
}

/// How long without access units before the session is considered over: two segments,
/// and never less than two seconds, so a briefly overloaded encoder does not end it.
fn idle_timeout(cfg: &SegmenterConfig) -> Duration {
    let segment_ms = u64::from(cfg.segment_target()) * 1000 / u64::from(crate::media::TIMESCALE);
    Duration::from_millis((2 * segment_ms).max(2000))
}

/// The longest the muxer thread goes without a heartbeat: one idle wait, and a margin.
pub fn muxer_max_silence(cfg: &SegmenterConfig) -> Duration {
    idle_timeout(cfg) + Duration::from_secs(3)
}

/// Runs the muxer until the encoder goes away or `stop` is set (checked at least once per
/// idle wait), beating `heartbeat` on every turn.
pub fn spawn_muxer(
    sink: MuxerSink,
    cfg: SegmenterConfig,
    units: Receiver<Arc<AccessUnit>>,
    heartbeat: Arc<Heartbeat>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("llhls-muxer".into())
        .spawn(move || {
            let mut segmenter = Segmenter::new(cfg);
            let mut events = Vec::new();
            let idle = idle_timeout(&cfg);
            let mut live = false;
            while !stop.load(Ordering::Relaxed) {
                heartbeat.beat(std::time::Instant::now());
                match units.recv_timeout(idle) {
                    Ok(au) => {
                        segmenter.push(au, &mut events);
                        publish(&sink, &segmenter, &mut events);
                        live = true;
                    }
                    // The encoder paused (preview stopped or hibernating): end the session.
                    // The next one continues the playlist behind a discontinuity.
                    Err(RecvTimeoutError::Timeout) if live => {
                        segmenter.end_session(&mut events);
                        publish(&sink, &segmenter, &mut events);
                        sink.hls.stop_session();
                        live = false;
                        log::info!(
                            "preview session ended: no frames for {} ms",
                            idle.as_millis()
                        );
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            segmenter.flush(&mut events);
            publish(&sink, &segmenter, &mut events);
            sink.hls.stop_session();
            log::info!("preview muxer stopped");
        })
}
