//! The seed-004 hub's routes (contract A.2): `/camera/{hello,list,get-image,update-image,
//! stream-image,update}`, the two WebSocket paths and our `/hub` page. No auth (they are the
//! hub's public API, and cameras authenticate with their token); all answer 404 unless
//! `HUB_ENABLED`. Answers carry `Access-Control-Allow-Origin: *` and the hub's
//! `{"message": ...}` error shape. Where the reference hub fails with a 500 on an unknown
//! camera id, these answer 404 `{"message": "No camera with id N"}`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::routes::Params;
use super::validation::query_param;
use crate::http::{Body, Request, Response};
use crate::hub::accept::{self, AcceptError, Endpoint};
use crate::hub::push::PushState;
use crate::hub::slot::CameraSlot;
use crate::hub::{codec, events, multipart, token, Hub};
use crate::runtime::Runtime;
use crate::system::prometheus::{Metric, MetricKind};

/// The one hub route with a large body.
pub const UPLOAD: &str = "/camera/update-image";

/// The longest `update-image` body read (a picture of the default 4 MiB cap and its form).
pub const MAX_UPLOAD_BODY: usize = (4 << 20) + (64 << 10);

fn message(status: u16, text: &str) -> Response {
    Response::json(status, &json!({ "message": text }))
}

/// CORS `*` as the reference hub's policy, and embeddable by any page (`<img src>` of
/// `get-image` on the reference front end's own origin).
fn cors(resp: Response) -> Response {
    resp.with_header("Access-Control-Allow-Origin", "*")
        .with_header("Cross-Origin-Resource-Policy", "cross-origin")
}

fn no_camera(id: i64) -> String {
    format!("No camera with id {id}")
}

/// A query parameter by name in any case (ASP.NET binds them so): its integer value, 0 when
/// absent or not a number (as an unbound `int`).
fn query_int(req: &Request, name: &str) -> i64 {
    let lower = name.to_ascii_lowercase();
    req.query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .find(|k| k.to_ascii_lowercase() == lower)
        .and_then(|k| query_param(req, k))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// The hub, or the 404 every hub route answers when it is off.
fn hub(rt: &Runtime) -> Result<&Arc<Hub>, Response> {
    rt.hub.as_ref().ok_or_else(Response::not_found)
}

fn camera(hub: &Hub, id: i64) -> Option<&Arc<CameraSlot>> {
    u32::try_from(id).ok().and_then(|id| hub.camera(id))
}

fn run(rt: &Runtime, f: impl FnOnce(&Arc<Hub>) -> Response) -> Response {
    match hub(rt) {
        Ok(hub) => cors(f(hub)),
        Err(resp) => resp,
    }
}

pub fn hello(rt: &Runtime, _: &Request, _: &Params) -> Response {
    run(rt, |_| message(200, "Hello World!"))
}

pub fn list(rt: &Runtime, _: &Request, _: &Params) -> Response {
    run(rt, |hub| Response::json(200, &hub.list()))
}

pub fn get_image(rt: &Runtime, req: &Request, _: &Params) -> Response {
    run(rt, |hub| {
        let id = query_int(req, "cameraId");
        if id < 1 {
            return message(400, "Could not find the picture");
        }
        let Some(slot) = camera(hub, id) else {
            return message(404, &no_camera(id));
        };
        // Empty before the camera's first picture, as the reference's.
        let body = slot.snapshot().image.map_or(Body::Empty, Body::Shared);
        Response::new(200, "image/jpeg", body)
    })
}

pub fn update_image(rt: &Runtime, req: &Request, _: &Params) -> Response {
    run(rt, |hub| {
        let Some(boundary) = req.header("Content-Type").and_then(multipart::boundary) else {
            return message(400, "Expected multipart/form-data");
        };
        let Some(parts) = multipart::parse(&req.body, boundary) else {
            return message(400, "Malformed multipart/form-data");
        };
        let field = |name: &str| {
            parts
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .map(|p| p.data)
        };
        let id = field("cameraId")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if id < 1 {
            return message(400, "Invalid id in FormData");
        }
        let Some(slot) = camera(hub, id) else {
            return message(400, &no_camera(id));
        };
        let Some(presented) = field("token") else {
            return message(400, "No token in FormData");
        };
        if !token::matches(presented, &slot.entry.token) {
            hub.stats.refused.fetch_add(1, Ordering::Relaxed);
            return message(401, "Invalid token");
        }
        let image = match field("image") {
            Some(image) if !image.is_empty() => image,
            _ => return message(400, "No image in FormData"),
        };
        if image.len() > hub.max_jpeg_bytes {
            return message(413, "The image is too large");
        }
        hub.stats.images_received.fetch_add(1, Ordering::Relaxed);
        slot.publish(Arc::from(image), crate::clock::unix_us());
        // The reference answers with the bare status enum: the JSON number 200.
        Response::new(200, "application/json", Body::Static(b"200"))
    })
}

pub fn update(rt: &Runtime, req: &Request, _: &Params) -> Response {
    run(rt, |hub| {
        let id = query_int(req, "cameraId");
        let Some(slot) = camera(hub, id) else {
            return message(400, &no_camera(id));
        };
        let sent = slot.send_control(codec::UPDATE_MESSAGE.to_vec());
        Response::json(200, &json!({ "result": sent }))
    })
}

pub fn stream_image(rt: &Runtime, req: &Request, _: &Params) -> Response {
    run(rt, |hub| {
        let id = query_int(req, "cameraId");
        let Some(slot) = camera(hub, id) else {
            return message(404, &no_camera(id));
        };
        let delay = query_int(req, "updateDelay");
        if delay <= 0 {
            // The reference returns at once: 200, empty, no event-stream type.
            return Response::empty(200);
        }
        let Some(guard) = hub.try_connection() else {
            return message(503, "Too many hub connections").with_header("Retry-After", "1");
        };
        let body = events::stream_body(Arc::clone(slot), delay as u64, guard);
        Response::new(200, crate::hub::sse::CONTENT_TYPE, Body::Stream(body))
            .with_header("Cache-Control", "no-cache")
            .with_header("X-Accel-Buffering", "no")
    })
}

fn websocket(rt: &Runtime, req: &Request, endpoint: Endpoint) -> Response {
    let Ok(hub) = hub(rt) else {
        return Response::not_found();
    };
    match accept::accept(hub, req, endpoint) {
        Ok(resp) => resp,
        Err(AcceptError::NotWebSocket) => Response::not_found(),
        Err(AcceptError::BadUpgrade(why)) => Response::detail(400, why),
        Err(AcceptError::Busy) => {
            Response::detail(503, "Too many hub connections").with_header("Retry-After", "1")
        }
    }
}

pub fn input_stream(rt: &Runtime, req: &Request, _: &Params) -> Response {
    websocket(rt, req, Endpoint::Input)
}

pub fn output_stream(rt: &Runtime, req: &Request, _: &Params) -> Response {
    websocket(rt, req, Endpoint::Output)
}

/// Whether this picamd is a hub, and its cameras without their pictures: always 200, so the
/// web console learns it without a 404 when the hub is off (our route, not the reference
/// hub's), and polls it instead of `/camera/list`, which carries every picture in base64.
pub fn state(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let cameras = rt.hub.as_ref().map_or(0, |hub| hub.cameras().len());
    let list = rt
        .hub
        .as_ref()
        .map_or_else(|| json!([]), |hub| hub.summaries());
    Response::json(
        200,
        &json!({ "enabled": rt.hub.is_some(), "cameras": cameras, "list": list }),
    )
}

/// Our page with every camera's latest picture, live.
pub fn page(rt: &Runtime, _: &Request, _: &Params) -> Response {
    if rt.hub.is_none() {
        return Response::not_found();
    }
    rt.site
        .static_files
        .file("hub.html")
        .unwrap_or_else(|| Response::detail(500, "The web UI file hub.html is missing"))
}

/// `picamd_hub_*` (the hub, when on) and `picamd_hub_push_*` (always) for `/metrics`.
pub fn metrics(rt: &Runtime) -> Vec<Metric> {
    use MetricKind::{Counter, Gauge};
    let m = |name, help, kind, value: u64| Metric {
        name,
        help,
        kind,
        value: value as f64,
    };
    let p = &rt.hub_push.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut out = vec![
        m(
            "picamd_hub_push_connected",
            "1 while picamd pushes its pictures to a seed-004 hub (HUB_PUSH_URL).",
            Gauge,
            u64::from(rt.hub_push.state() == PushState::Connected),
        ),
        m(
            "picamd_hub_push_refused",
            "1 while the hub refuses this camera (close 1008: unknown id or wrong token).",
            Gauge,
            u64::from(rt.hub_push.state() == PushState::Refused),
        ),
        m(
            "picamd_hub_push_images_total",
            "Pictures pushed to the hub.",
            Counter,
            load(&p.images_sent),
        ),
        m(
            "picamd_hub_push_bytes_total",
            "JPEG bytes pushed to the hub.",
            Counter,
            load(&p.bytes_sent),
        ),
        m(
            "picamd_hub_push_connects_total",
            "WebSocket connections opened to the hub.",
            Counter,
            load(&p.connects),
        ),
        m(
            "picamd_hub_push_refusals_total",
            "Times the hub closed the push with 1008.",
            Counter,
            load(&p.refusals),
        ),
        m(
            "picamd_hub_push_hub_messages_total",
            "Messages the hub sent this camera (moves, update, empty); logged, not acted on.",
            Counter,
            load(&p.hub_messages),
        ),
    ];
    if let Some(hub) = &rt.hub {
        let s = &hub.stats;
        let count = |a: &std::sync::atomic::AtomicUsize| a.load(Ordering::Relaxed) as u64;
        out.extend([
            m(
                "picamd_hub_cameras_connected",
                "Cameras connected to this hub with a valid token.",
                Gauge,
                count(&s.cameras_connected),
            ),
            m(
                "picamd_hub_viewers",
                "Viewers on /video-output-stream.",
                Gauge,
                count(&s.viewers),
            ),
            m(
                "picamd_hub_connections",
                "Hub WebSockets and event streams open (capped by HUB_MAX_CONNECTIONS).",
                Gauge,
                hub.connections() as u64,
            ),
            m(
                "picamd_hub_images_received_total",
                "Pictures cameras pushed to this hub.",
                Counter,
                load(&s.images_received),
            ),
            m(
                "picamd_hub_images_sent_total",
                "Pictures sent to /video-output-stream viewers.",
                Counter,
                load(&s.images_sent),
            ),
            m(
                "picamd_hub_refused_total",
                "Cameras refused for an unknown id or a wrong token.",
                Counter,
                load(&s.refused),
            ),
        ]);
    }
    out
}

/// The hub and the push, for `/system/telemetry`.
pub fn telemetry(rt: &Runtime) -> serde_json::Value {
    let hub = rt.hub.as_ref().map(|hub| {
        let s = &hub.stats;
        json!({
            "cameras": hub.cameras().len(),
            "cameras_connected": s.cameras_connected.load(Ordering::Relaxed),
            "viewers": s.viewers.load(Ordering::Relaxed),
            "images_received": s.images_received.load(Ordering::Relaxed),
        })
    });
    json!({ "server": hub, "push": rt.hub_push.telemetry() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::server::Admission;
    use crate::runtime::test_runtime;
    use crate::testutil::TempDir;

    fn get(rt: &Runtime, target: &str) -> Response {
        crate::api::handle(rt, &Request::new("GET", target).unwrap())
    }

    #[test]
    fn everything_is_404_while_the_hub_is_off() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        for target in [
            "/camera/hello",
            "/camera/list",
            "/camera/get-image?cameraId=1",
            "/camera/stream-image?cameraId=1&updateDelay=5",
            "/video-input-stream",
            "/hub",
        ] {
            assert_eq!(get(&rt, target).status, 404, "{target}");
        }
        let mut upload = Request::new("POST", UPLOAD).unwrap();
        upload
            .headers
            .push(("Content-Length".into(), "4000000".into()));
        match crate::api::admit(&rt, &upload) {
            Admission::Refuse(resp) => assert_eq!(resp.status, 404),
            Admission::Accept { .. } => panic!("no upload body is read while the hub is off"),
        }
    }

    #[test]
    fn the_hubs_shapes() {
        let files = TempDir::new("hub-cameras");
        let path = files.join("cameras.json");
        std::fs::write(&path, r#"[{"id":1,"name":"a","description":null}]"#).unwrap();
        let (rt, _dir) = test_runtime::runtime(&[
            ("HUB_ENABLED", "1"),
            ("HUB_CAMERAS_FILE", path.to_str().unwrap()),
            ("CAMERA_TOKEN_SECRET", "s"),
        ]);
        let hello = get(&rt, "/camera/hello");
        assert_eq!(hello.body.to_vec(), br#"{"message":"Hello World!"}"#);
        assert_eq!(hello.header("Access-Control-Allow-Origin"), Some("*"));
        let list: serde_json::Value =
            serde_json::from_slice(&get(&rt, "/camera/list").body.to_vec()).unwrap();
        assert_eq!(list[0]["preview"], "");
        let state: serde_json::Value =
            serde_json::from_slice(&get(&rt, "/hub/state").body.to_vec()).unwrap();
        assert_eq!(
            state,
            json!({"enabled": true, "cameras": 1, "list": [{"id": 1, "name": "a",
                "description": null, "lastActive": list[0]["lastActive"], "hasPicture": false}]})
        );
        // Query names bind in any case, as in ASP.NET; no picture yet is an empty JPEG body.
        let empty = get(&rt, "/camera/get-image?CAMERAID=1");
        assert_eq!((empty.status, empty.body.len()), (200, 0));
        assert_eq!(get(&rt, "/camera/get-image").status, 400);
        let unknown = get(&rt, "/camera/stream-image?cameraId=5&updateDelay=10");
        assert_eq!(
            (unknown.status, unknown.body.to_vec()),
            (404, br#"{"message":"No camera with id 5"}"#.to_vec())
        );
        let sse = get(&rt, "/camera/stream-image?cameraId=1&updateDelay=10");
        assert_eq!(sse.header("Content-Type"), Some("text/event-stream"));
        assert!(sse.body.is_stream());
        let plain = get(&rt, "/video-output-stream");
        assert_eq!(plain.status, 404, "not an upgrade");
        let page = get(&rt, "/hub");
        assert_eq!(page.status, 200);
        assert!(page
            .header("Content-Security-Policy")
            .is_some_and(|csp| csp.contains("connect-src 'self' http: https: ws: wss:")));
    }
}
