//! `POST /captures` (a still from the running camera, stored durably before the answer),
//! `GET /captures` (recent captures) and `GET /captures/{image_id}` (the JPEG).

use serde_json::{json, Map, Value};

use super::routes::Params;
use super::upload_metadata;
use super::validation::{json_body, query_integer, unprocessable, FieldError};
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::stills::capture_limits::{check_bytes, check_pixels};
use crate::stills::captures::{is_valid_image_id, CaptureRecord, CaptureStatus, CaptureStoreError};

const DEFAULT_LIMIT: usize = 50;

pub fn create(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let upload_metadata = match json_body(req) {
        Ok(None) => Map::new(),
        Ok(Some(Value::Object(map))) => map,
        Ok(Some(other)) => {
            return unprocessable(&[FieldError::new(
                "dict_type",
                &["body"],
                "Input should be a valid dictionary",
                other,
            )])
        }
        Err(resp) => return resp,
    };
    if let Err(e) = upload_metadata::check(&upload_metadata) {
        return unprocessable(&[FieldError::new(
            e.kind(),
            &["body"],
            e.to_string(),
            Value::Object(upload_metadata),
        )]);
    }
    let limits = &rt.config.relab.stills;
    let _running = rt.stills.captures_in_flight.begin();
    let Some(frame) = rt.media.latest_frame() else {
        return Response::detail(503, rt.media.no_frame_detail());
    };
    // Over a capture limit the plugin answers 500 with its message (a setting, not the
    // request, is at fault).
    if let Err(e) = check_pixels(frame.width, frame.height, limits.max_capture_pixels) {
        log::error!("capture refused: {e}");
        return Response::detail(500, &e.to_string());
    }
    let metadata = rt.stills.image_metadata(&frame);
    let jpeg = match rt.stills.encode_still(&frame) {
        Ok(j) => j,
        Err(e) => return Response::detail(500, &format!("Failed to encode the capture: {e}")),
    };
    if let Err(e) = check_bytes(jpeg.len(), limits.max_capture_file_bytes) {
        log::error!("capture refused: {e}");
        return Response::detail(500, &e.to_string());
    }
    let image_id = crate::random::hex_id();
    let now = crate::clock::unix_us();
    let record = CaptureRecord {
        upload: rt.uploads.new_state(&image_id, &upload_metadata, now),
        image_id,
        seq: Some(rt.stills.captures.next_seq()),
        created_unix_us: now,
        status: CaptureStatus::Queued,
        metadata,
        upload_metadata,
        image_url: None,
        bytes: jpeg.len() as u64,
    };
    // A full queue refuses this capture; every capture it holds was answered 201 and stays.
    let reservation = if record.upload.is_some() {
        match rt.uploads.reserve(record.bytes) {
            Ok(r) => Some(r),
            Err(full) => return Response::detail(507, &full.to_string()),
        }
    } else {
        None
    };
    if let Err(e) = rt.stills.captures.save(&record.image_id, &jpeg, &record) {
        return store_error(e);
    }
    rt.media
        .stats
        .captures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The thumbnail follows the capture, off the request path.
    rt.stills.request_thumbnail(frame);
    // Durable and queued: from here on the capture reaches its sink whatever happens; the
    // answer only says whether it already has.
    let delivered = rt
        .uploads
        .enqueue(&record, reservation)
        .and_then(|rx| rt.uploads.await_delivery(&record.image_id, rx));
    let (image_id, status, image_url) = match delivered {
        Some(d) => (d.image_id, CaptureStatus::Uploaded, d.image_url),
        None => (record.image_id, record.status, record.image_url),
    };
    Response::json(
        201,
        &json!({
            "image_id": image_id,
            "status": status,
            "metadata": record.metadata,
            "image_url": image_url,
            "expires_at": Value::Null,
        }),
    )
}

pub fn list(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let limit = match query_integer(req, "limit", 1, 500) {
        Ok(l) => l.map_or(DEFAULT_LIMIT, |l| l as usize),
        Err(resp) => return resp,
    };
    let records = match rt.stills.captures.list_recent(limit) {
        Ok(records) => records,
        Err(e) => return store_error(e),
    };
    let captures: Vec<Value> = records
        .into_iter()
        .map(|r| {
            json!({
                "image_id": r.image_id,
                "status": r.status,
                "created_at": crate::clock::rfc3339_ms(r.created_unix_us),
                "bytes": r.bytes,
                "metadata": r.metadata,
                "upload_metadata": r.upload_metadata,
                "image_url": r.image_url,
            })
        })
        .collect();
    Response::json(200, &json!({ "captures": captures }))
}

pub fn image(rt: &Runtime, _: &Request, params: &Params) -> Response {
    let id = params.get("image_id");
    if !is_valid_image_id(id) {
        return unprocessable(&[FieldError::new(
            "string_pattern_mismatch",
            &["path", "image_id"],
            "String should match pattern '^[0-9a-f]{32}$'",
            json!(id),
        )]);
    }
    let path = match rt.stills.captures.get(id) {
        Ok((_, path)) => path,
        Err(CaptureStoreError::NotFound) => return uploaded_elsewhere(rt, id),
        Err(e) => return store_error(e),
    };
    match std::fs::read(&path) {
        Ok(bytes) => Response::new(200, "image/jpeg", Body::Bytes(bytes))
            .with_header("Cache-Control", "private, max-age=31536000, immutable"),
        Err(e) => store_error(e.into()),
    }
}

/// An uploaded capture keeps no local JPEG: its record points to where the sink put it.
fn uploaded_elsewhere(rt: &Runtime, id: &str) -> Response {
    match rt.stills.captures.read_record(id) {
        Ok(CaptureRecord {
            status: CaptureStatus::Uploaded,
            image_url: Some(url),
            ..
        }) => Response::detail(303, "Capture was uploaded; no local copy is kept")
            .with_header("Location", &url),
        Ok(CaptureRecord {
            status: CaptureStatus::Uploaded,
            ..
        }) => Response::detail(404, "Capture was uploaded; no local copy is kept"),
        Ok(_) | Err(CaptureStoreError::NotFound) => store_error(CaptureStoreError::NotFound),
        Err(e) => store_error(e),
    }
}

fn store_error(e: CaptureStoreError) -> Response {
    match e {
        CaptureStoreError::NotFound => Response::detail(404, "Capture not found"),
        CaptureStoreError::DiskFull => Response::detail(
            507,
            "Not enough storage space for the capture: free space in the image directory",
        ),
        CaptureStoreError::InvalidId => Response::detail(422, &e.to_string()),
        CaptureStoreError::OutOfDescriptors => {
            log::warn!("capture store: {e}");
            Response::detail(
                503,
                "The camera is serving too many clients; try again shortly",
            )
            .with_header("Retry-After", "1")
        }
        other => {
            log::error!("capture store: {other}");
            Response::detail(500, &other.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_get_their_status() {
        let status = |e| store_error(e).status;
        assert_eq!(status(CaptureStoreError::NotFound), 404);
        assert_eq!(status(CaptureStoreError::DiskFull), 507);
        assert_eq!(status(CaptureStoreError::InvalidId), 422);
        let busy = store_error(CaptureStoreError::OutOfDescriptors);
        assert_eq!(busy.status, 503, "passing: the client may retry");
        assert_eq!(busy.header("Retry-After"), Some("1"));
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert_eq!(status(CaptureStoreError::Io(eio)), 500);
    }
}
