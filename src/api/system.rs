//! System routes: `/metrics`, `/system/telemetry`, `/system/local-access`, `/local-key` and
//! `/time`.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::routes::Params;
use crate::http::{Body, Request, Response};
use crate::runtime::{MediaState, Runtime};
use crate::system::prometheus::{self, Metric, MetricKind};
use crate::system::{interfaces, SystemSnapshot};
use crate::upload::stats::UploadStatus;

pub const KEY_LOCAL_ONLY: &str = "Local key access is only available from the local network";
pub const KEY_CROSS_SITE: &str = "Local key access is not allowed from another site";

/// `GET /time`: the server clock, for players that measure latency against it.
pub fn time(_: &Runtime, _: &Request, _: &Params) -> Response {
    Response::json(200, &json!({ "unix_us": crate::clock::unix_us() }))
        .with_header("Cache-Control", "no-store")
}

/// LL-HLS viewers: every live LL-HLS client keeps one blocking playlist reload parked.
fn preview_sessions(rt: &Runtime) -> u64 {
    rt.media.hls.blocked_requests() as u64
}

fn preview_fps(rt: &Runtime) -> Option<f64> {
    rt.media
        .preview
        .is_running()
        .then(|| (rt.media.stats.encode_fps() * 10.0).round() / 10.0)
}

pub fn metrics(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let snapshot = rt.site.system.snapshot();
    let text = prometheus::render(
        &snapshot,
        preview_fps(rt),
        preview_sessions(rt),
        &own_metrics(rt),
    );
    Response::new(200, prometheus::CONTENT_TYPE, Body::Text(text.into()))
}

/// picamd's own counters, after the plugin's gauges.
fn own_metrics(rt: &Runtime) -> Vec<Metric> {
    let s = &rt.media.stats;
    let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed) as f64;
    let counter = |name, help, value| Metric {
        name,
        help,
        kind: MetricKind::Counter,
        value,
    };
    let gauge = |name, help, value| Metric {
        name,
        help,
        kind: MetricKind::Gauge,
        value,
    };
    let mut metrics = vec![
        counter(
            "picamd_frames_captured_total",
            "Frames delivered by the camera.",
            load(&s.frames_captured),
        ),
        counter(
            "picamd_frames_encoded_total",
            "Frames encoded to H.264 for the preview.",
            load(&s.encoder.frames_encoded),
        ),
        counter(
            "picamd_frames_dropped_total",
            "Frames the preview encoder could not take in time.",
            load(&s.frames_dropped),
        ),
        counter(
            "picamd_units_dropped_total",
            "Encoded frames the LL-HLS muxer could not take in time.",
            load(&s.units_dropped),
        ),
        counter(
            "picamd_parts_published_total",
            "LL-HLS parts published.",
            load(&s.muxer.parts_published),
        ),
        counter(
            "picamd_segments_published_total",
            "LL-HLS segments published.",
            load(&s.muxer.segments_published),
        ),
        counter(
            "picamd_captures_total",
            "Stills captured through POST /captures.",
            load(&s.captures),
        ),
        gauge(
            "picamd_hls_blocked_requests",
            "LL-HLS requests parked waiting for the next part.",
            rt.media.hls.blocked_requests() as f64,
        ),
        gauge(
            "picamd_hls_parked_requests",
            "Of those, the ones parked in the HTTP responder (no connection thread).",
            rt.media.hls.parked_requests() as f64,
        ),
        counter(
            "picamd_hls_responder_requests_total",
            "LL-HLS requests read and answered by the HTTP responder (no connection thread).",
            rt.media.hls.on_responder_requests() as f64,
        ),
        gauge(
            "picamd_mjpeg_viewers",
            "Clients connected to /stream.mjpg.",
            rt.stills.mjpeg.viewers() as f64,
        ),
        gauge(
            "picamd_live_viewers",
            "Clients connected to /preview/live.mp4.",
            s.live.viewers.load(Ordering::Relaxed) as f64,
        ),
        counter(
            "picamd_live_fragments_sent_total",
            "Per-frame fragments written to /preview/live.mp4 viewers.",
            load(&s.live.fragments_sent),
        ),
        counter(
            "picamd_live_units_dropped_total",
            "Encoded frames /preview/live.mp4 viewers lost by not keeping up (each then skips to the next IDR).",
            load(&s.live.units_dropped),
        ),
        gauge(
            "picamd_capture_fps",
            "Frames per second delivered by the camera.",
            s.capture_fps(),
        ),
        gauge(
            "picamd_preview_running",
            "1 while the preview encoder runs, 0 while it is stopped or hibernating.",
            f64::from(u8::from(rt.media.preview.is_running())),
        ),
        gauge(
            "picamd_uptime_seconds",
            "Seconds since picamd started.",
            rt.media.started.elapsed().as_secs_f64().floor(),
        ),
    ];
    metrics.extend(thermal_metrics(&rt.media));
    metrics.extend(relay_metrics(rt));
    metrics.extend(youtube_metrics(rt));
    metrics.extend(recording_metrics(rt));
    metrics.extend(super::hub::metrics(rt));
    metrics.extend(upload_metrics(&rt.uploads.status()));
    metrics
}

/// A metric whose value is a count.
fn metric(name: &'static str, help: &'static str, kind: MetricKind, value: u64) -> Metric {
    Metric {
        name,
        help,
        kind,
        value: value as f64,
    }
}

/// The thermal governor and the preview encoder's output.
fn thermal_metrics(media: &MediaState) -> [Metric; 4] {
    let b = &media.bitrate;
    use MetricKind::{Counter, Gauge};
    [
        metric(
            "picamd_preview_bitrate_bps",
            "Bit rate the preview encoder runs at (0 when picamd does not encode).",
            Gauge,
            u64::from(b.applied()),
        ),
        metric(
            "picamd_preview_encoded_bytes_total",
            "H.264 bytes out of the preview encoder.",
            Counter,
            media.stats.encoder.bytes_out.load(Ordering::Relaxed),
        ),
        metric(
            "picamd_thermal_throttled",
            "1 while the thermal governor holds the preview bitrate down.",
            Gauge,
            u64::from(b.is_throttled()),
        ),
        metric(
            "picamd_thermal_throttles_total",
            "Times the thermal governor lowered the preview bitrate.",
            Counter,
            b.throttles(),
        ),
    ]
}

/// The thermal governor, in `/system/telemetry` (a picamd addition).
fn thermal_telemetry(media: &MediaState) -> Value {
    let b = &media.bitrate;
    json!({
        "throttled": b.is_throttled(),
        "preview_bitrate": b.applied(),
        "normal_bitrate": b.normal(),
        "throttles": b.throttles(),
    })
}

/// The YouTube stream: whether one runs, whether it is live, and totals since start-up.
fn youtube_metrics(rt: &Runtime) -> [Metric; 5] {
    let current = rt.stream.current();
    let live = current
        .as_ref()
        .is_some_and(|i| i.status.state == crate::stream::State::Live);
    let (bytes, reconnects) = rt.stream.totals();
    use MetricKind::{Counter, Gauge};
    [
        metric(
            "picamd_youtube_active",
            "1 while a YouTube stream runs (connecting, live or reconnecting).",
            Gauge,
            u64::from(current.is_some()),
        ),
        metric(
            "picamd_youtube_live",
            "1 while the ingest server accepts the YouTube stream's media.",
            Gauge,
            u64::from(live),
        ),
        metric(
            "picamd_youtube_bytes_sent_total",
            "Bytes sent to the YouTube ingest server.",
            Counter,
            bytes,
        ),
        metric(
            "picamd_youtube_reconnects_total",
            "YouTube stream connections lost and redialled.",
            Counter,
            reconnects,
        ),
        metric(
            "picamd_youtube_units_dropped_total",
            "Access units the YouTube stream could not take in time.",
            Counter,
            rt.stream.dropped.load(std::sync::atomic::Ordering::Relaxed),
        ),
    ]
}

/// The recorder: whether it records, and totals since start-up.
fn recording_metrics(rt: &Runtime) -> [Metric; 5] {
    let status = &rt.recorder.status;
    let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
    use MetricKind::{Counter, Gauge};
    [
        metric(
            "picamd_recording_active",
            "1 while recording to MP4.",
            Gauge,
            u64::from(rt.recorder.is_recording()),
        ),
        metric(
            "picamd_recording_bytes_written_total",
            "Bytes written to MP4 recordings.",
            Counter,
            load(&status.bytes_total),
        ),
        metric(
            "picamd_recording_files_total",
            "MP4 recordings finished.",
            Counter,
            load(&status.files_total),
        ),
        metric(
            "picamd_recording_errors_total",
            "Recordings stopped by an error (a full disk, the quota, a failed write).",
            Counter,
            load(&status.errors_total),
        ),
        metric(
            "picamd_recording_units_dropped_total",
            "Access units the recorder could not take in time.",
            Counter,
            load(&status.dropped),
        ),
    ]
}

/// The relay's state and counters (zero while unpaired; counters restart with each relay).
fn relay_metrics(rt: &Runtime) -> Vec<Metric> {
    let status = rt.link.relay_status().unwrap_or_default();
    use MetricKind::{Counter, Gauge};
    vec![
        metric(
            "picamd_relay_connected",
            "1 while the relay WebSocket to the backend is open.",
            Gauge,
            u64::from(status.connected),
        ),
        metric(
            "picamd_relay_connects_total",
            "Successful relay handshakes.",
            Counter,
            status.connects,
        ),
        metric(
            "picamd_relay_refusals_total",
            "Relay handshakes the backend refused (HTTP 403).",
            Counter,
            status.refusals,
        ),
        metric(
            "picamd_relay_disconnects_total",
            "Relay connections lost or closed.",
            Counter,
            status.disconnects,
        ),
        metric(
            "picamd_relay_commands_total",
            "Commands received through the relay.",
            Counter,
            status.commands,
        ),
        metric(
            "picamd_relay_commands_refused_total",
            "Relay commands refused: not allowed, malformed or over the queue limit.",
            Counter,
            status.forbidden + status.malformed + status.overloaded,
        ),
    ]
}

fn upload_metrics(u: &UploadStatus) -> Vec<Metric> {
    let counter = |name, help, value: u64| Metric {
        name,
        help,
        kind: MetricKind::Counter,
        value: value as f64,
    };
    let gauge = |name, help, value: f64| Metric {
        name,
        help,
        kind: MetricKind::Gauge,
        value,
    };
    let seconds = |us: Option<u64>| us.map_or(0.0, |us| (us / 1_000_000) as f64);
    vec![
        gauge(
            "picamd_upload_queue_depth",
            "Captures waiting for upload.",
            u.queue_depth as f64,
        ),
        gauge(
            "picamd_upload_queue_bytes",
            "Bytes of JPEG waiting for upload.",
            u.queue_bytes as f64,
        ),
        gauge(
            "picamd_upload_queue_max_bytes",
            "The upload queue's byte limit (UPLOAD_QUEUE_MAX_PENDING_BYTES).",
            u.queue_max_bytes as f64,
        ),
        counter(
            "picamd_upload_uploaded_total",
            "Captures delivered to the sink.",
            u.uploaded,
        ),
        counter(
            "picamd_upload_failures_total",
            "Failed upload attempts.",
            u.failures,
        ),
        counter(
            "picamd_upload_retries_total",
            "Upload attempts that repeat a failed one.",
            u.retries,
        ),
        counter(
            "picamd_upload_dead_total",
            "Captures given up after the last retry (moved to dead/).",
            u.dead,
        ),
        gauge(
            "picamd_upload_dead_entries",
            "Captures in dead/, from this run and earlier ones.",
            u.dead_entries as f64,
        ),
        counter(
            "picamd_upload_refused_total",
            "Captures refused with 507 because the upload queue was full.",
            u.refused,
        ),
        counter(
            "picamd_upload_pruned_total",
            "Dead letters deleted beyond UPLOAD_QUEUE_DEAD_MAX_ENTRIES.",
            u.pruned,
        ),
        counter(
            "picamd_upload_corrupt_total",
            "Unreadable queue entries moved to corrupt/.",
            u.corrupt,
        ),
        gauge(
            "picamd_upload_sink_down",
            "1 while the sink is failing and backing off, else 0.",
            f64::from(u8::from(u.sink_down)),
        ),
        gauge(
            "picamd_upload_last_error_timestamp_seconds",
            "Unix time of the last failed upload attempt (0: none).",
            seconds(u.last_error_us),
        ),
        gauge(
            "picamd_upload_last_success_timestamp_seconds",
            "Unix time of the last upload (0: none).",
            seconds(u.last_success_us),
        ),
    ]
}

/// The upload queue's state, in `/system/telemetry` (a picamd addition).
fn upload_telemetry(u: &UploadStatus) -> Value {
    let time = |us: Option<u64>| us.map(crate::clock::rfc3339_ms);
    json!({
        "sink": u.sink,
        "queue_depth": u.queue_depth,
        "queue_bytes": u.queue_bytes,
        "queue_max_entries": u.queue_max_entries,
        "queue_max_bytes": u.queue_max_bytes,
        "uploaded": u.uploaded,
        "failures": u.failures,
        "retries": u.retries,
        "dead": u.dead_entries,
        "refused": u.refused,
        "pruned": u.pruned,
        "corrupt": u.corrupt,
        "sink_down": u.sink_down,
        "next_retry_at": time(u.sink_retry_at_us),
        "last_error": u.last_error,
        "last_error_at": time(u.last_error_us),
        "last_success_at": time(u.last_success_us),
    })
}

/// `TelemetrySnapshot`.
pub fn telemetry(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let SystemSnapshot {
        cpu_percent,
        mem_percent,
        disk_percent,
        cpu_temp_c,
        thermal_state,
    } = rt.site.system.snapshot();
    let running = rt.media.preview.is_running();
    let size = running.then(|| json!([rt.config.width, rt.config.height]));
    Response::json(
        200,
        &json!({
            "timestamp": crate::clock::rfc3339_us(crate::clock::unix_us()),
            "cpu_temp_c": cpu_temp_c,
            "cpu_percent": cpu_percent,
            "mem_percent": mem_percent,
            "disk_percent": disk_percent,
            "preview_fps": preview_fps(rt),
            "preview_sessions": preview_sessions(rt),
            "thermal_state": thermal_state,
            "current_preview_size": size.unwrap_or(Value::Null),
            "uploads": upload_telemetry(&rt.uploads.status()),
            "thermal_governor": thermal_telemetry(&rt.media),
            "youtube": super::health::youtube_detail(rt),
            "recording": super::recordings::state_json(&rt.recorder.snapshot()),
            "hub": super::hub::telemetry(rt),
        }),
    )
}

/// `LocalAccessInfo`: how to reach this camera directly on the LAN.
pub fn local_access(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let port = rt.config.listen.port();
    let mdns_name = interfaces::mdns_name();
    let mut urls = interfaces::candidate_urls(port);
    // The newer models need at least one URL; with no LAN address the mDNS name is the
    // best remaining way in.
    if urls.is_empty() {
        if let Some(name) = &mdns_name {
            urls.push(format!("http://{name}:{port}"));
        }
    }
    Response::json(
        200,
        &json!({
            "local_api_key": rt.auth.local_api_key(),
            "candidate_urls": urls,
            "mdns_name": mdns_name,
        }),
    )
}

pub fn local_key(rt: &Runtime, _: &Request, _: &Params) -> Response {
    if rt.auth.local_api_key().is_empty() {
        return Response::detail(503, "Local API key has not been generated yet");
    }
    Response::new(
        200,
        "text/plain; charset=utf-8",
        Body::Text(rt.auth.local_api_key().into()),
    )
    .with_header("Cache-Control", "no-store")
}
