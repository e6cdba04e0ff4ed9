//! `POST /captures` (a still from the running camera, stored durably before the answer),
//! `GET /captures` (recent captures) and `GET /captures/{image_id}` (the JPEG).

use serde_json::{json, Map, Value};

use super::routes::Params;
use super::validation::{json_body, query_integer, unprocessable, FieldError};
use crate::http::{Body, Request, Response};
use crate::runtime::Runtime;
use crate::stills::captures::{is_valid_image_id, CaptureRecord, CaptureStatus, StoreError};

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
    let Some(frame) = rt.latest_frame() else {
        return Response::detail(503, "Camera not ready: no frame yet");
    };
    let metadata = rt.image_metadata(&frame);
    let jpeg = match rt.encode_still(&frame) {
        Ok(j) => j,
        Err(e) => return Response::detail(500, &format!("Failed to encode the capture: {e}")),
    };
    let record = CaptureRecord {
        image_id: crate::random::hex_id(),
        created_unix_us: crate::clock::unix_us(),
        status: CaptureStatus::Queued,
        metadata,
        upload_metadata,
        image_url: None,
        bytes: jpeg.len() as u64,
    };
    if let Err(e) = rt.captures.save(&record.image_id, &jpeg, &record) {
        return store_error(e);
    }
    rt.stats
        .captures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The thumbnail follows the capture, off the request path.
    *rt.thumbnail_request
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(frame);
    Response::json(
        201,
        &json!({
            "image_id": record.image_id,
            "status": record.status,
            "metadata": record.metadata,
            "image_url": record.image_url,
            "expires_at": Value::Null,
        }),
    )
}

pub fn list(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let limit = match query_integer(req, "limit", 1, 500) {
        Ok(l) => l.map_or(DEFAULT_LIMIT, |l| l as usize),
        Err(resp) => return resp,
    };
    let captures: Vec<Value> = rt
        .captures
        .list_recent(limit)
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
    let path = match rt.captures.get(id) {
        Ok((_, path)) => path,
        Err(e) => return store_error(e),
    };
    match std::fs::read(&path) {
        Ok(bytes) => Response::new(200, "image/jpeg", Body::Bytes(bytes))
            .with_header("Cache-Control", "private, max-age=31536000, immutable"),
        Err(e) => store_error(e.into()),
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound => Response::detail(404, "Capture not found"),
        StoreError::DiskFull => Response::detail(
            507,
            "Not enough storage space for the capture: free space in the image directory",
        ),
        StoreError::InvalidId => Response::detail(422, &e.to_string()),
        other => {
            log::error!("capture store: {other}");
            Response::detail(500, &other.to_string())
        }
    }
}
