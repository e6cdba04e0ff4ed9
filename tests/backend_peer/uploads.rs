//! The device upload routes (backend §4.1 image upload, §4.2 preview thumbnail): multipart
//! checks in the backend's order and with its status codes, the accepted uploads kept for the
//! test to inspect.

use serde_json::{json, Value};

use super::encoding::{hex, random_bytes};
use super::http::Request;
use super::multipart::{self, Part};
use super::response::Response;
use super::state::Shared;
use super::validation::Errors;
use super::Upload;

pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
const IMAGE_TYPES: [&str; 6] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
];

fn internal_error() -> Response {
    Response::new(
        500,
        "text/plain; charset=utf-8",
        b"Internal Server Error".to_vec(),
    )
}

pub fn service_down() -> Response {
    Response::detail(503, "Upload service unavailable.").with_header("retry-after", "2")
}

/// The form parts, or the 4xx FastAPI/Starlette would answer.
fn form_parts(request: &Request, required: &[&str]) -> Result<Vec<Part>, Response> {
    let boundary = request.header("content-type").and_then(multipart::boundary);
    let parts = match boundary {
        Some(boundary) => multipart::parse(&request.body, &boundary).map_err(|e| {
            Response::detail(400, &format!("There was an error parsing the body: {e}"))
        })?,
        None => Vec::new(),
    };
    let mut errors = Errors::default();
    for name in required {
        if !parts.iter().any(|p| p.name == *name) {
            errors.missing(&["body", name], &Value::Null);
        }
    }
    if errors.is_empty() {
        Ok(parts)
    } else {
        Err(errors.into_response())
    }
}

/// Parses a metadata form field like the backend: JSON, `null` meaning `{}`.
fn metadata(part: &Part) -> Result<Value, Response> {
    let text = String::from_utf8_lossy(&part.body);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Null) => Ok(json!({})),
        Ok(value) => Ok(value),
        Err(e) => Err(Response::detail(
            400,
            &format!("Invalid JSON metadata: {e}"),
        )),
    }
}

fn product_id_error(upload_metadata: &Value) -> Option<&'static str> {
    let id = match upload_metadata.get("product_id") {
        None | Some(Value::Null) => return Some("upload_metadata must include a product_id"),
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match id {
        None => Some("product_id must be an integer"),
        Some(id) if id <= 0 => Some("product_id must be a positive integer"),
        Some(_) => None,
    }
}

/// Whether Pillow could plausibly open the bytes as the declared type.
fn looks_like(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => true,
    }
}

/// `capture 1.JPG` → `capture-1.jpg`, the base cut to 42 characters (python-slugify style).
fn slugified(filename: &str) -> String {
    let (base, suffixes) = match filename.find('.') {
        Some(dot) => (&filename[..dot], &filename[dot..]),
        None => (filename, ""),
    };
    let mut slug = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(42).collect();
    format!("{slug}{}", suffixes.to_ascii_lowercase())
}

pub fn image_upload(
    shared: &Shared,
    request: &Request,
    camera_id: &str,
    request_id: &str,
) -> Response {
    let parts = match form_parts(request, &["file", "capture_metadata", "upload_metadata"]) {
        Ok(parts) => parts,
        Err(response) => {
            shared.violation(
                camera_id,
                format!("image upload rejected with {}", response.status),
            );
            return response;
        }
    };
    let part = |name: &str| parts.iter().find(|p| p.name == name).unwrap();
    let file = part("file");
    let reject = |response: Response, why: &str| {
        shared.violation(
            camera_id,
            format!("image upload rejected with {}: {why}", response.status),
        );
        response
    };
    let Some(filename) = file.filename.clone().filter(|f| !f.is_empty()) else {
        return reject(internal_error(), "the file part has no filename");
    };
    let content_type = file.content_type.clone().unwrap_or_default();
    if !IMAGE_TYPES.contains(&content_type.as_str()) {
        return reject(
            internal_error(),
            &format!("file part Content-Type {content_type:?}"),
        );
    }
    if file.body.is_empty() {
        return reject(Response::detail(400, "File size is zero."), "empty file");
    }
    if file.body.len() > MAX_IMAGE_BYTES {
        let detail = format!(
            "File size too large: {} bytes. Maximum size: {MAX_IMAGE_BYTES} bytes",
            file.body.len()
        );
        return reject(
            Response::problem(413, &detail, "UploadTooLargeError", request_id),
            "file over 10 MiB",
        );
    }
    let capture_metadata = match metadata(part("capture_metadata")) {
        Ok(value) => value,
        Err(response) => return reject(response, "capture_metadata is not JSON"),
    };
    let upload_metadata = match metadata(part("upload_metadata")) {
        Ok(value) => value,
        Err(response) => return reject(response, "upload_metadata is not JSON"),
    };
    if !upload_metadata.is_object() {
        return reject(internal_error(), "upload_metadata is not a JSON object");
    }
    if let Some(detail) = product_id_error(&upload_metadata) {
        return reject(Response::detail(400, detail), detail);
    }
    if !capture_metadata.is_object() {
        return reject(internal_error(), "capture_metadata is not a JSON object");
    }
    if !looks_like(&content_type, &file.body) {
        return reject(
            Response::detail(400, "Invalid image file."),
            &format!("the bytes are not {content_type}"),
        );
    }
    let image_id = hex(&random_bytes::<16>());
    let stored_name = format!("{}_{}", hex(&random_bytes::<16>()), slugified(&filename));
    shared.uploads.lock().unwrap().push(Upload {
        image_id: image_id.clone(),
        camera_id: camera_id.to_string(),
        filename,
        content_type,
        bytes: file.body.clone(),
        capture_metadata,
        upload_metadata,
    });
    shared.event(format!(
        "image upload from {camera_id} accepted as {image_id} ({} bytes)",
        file.body.len()
    ));
    Response::json(
        201,
        &json!({ "image_id": image_id, "image_url": format!("/uploads/images/{stored_name}") }),
    )
}

pub fn preview_thumbnail_upload(shared: &Shared, request: &Request, camera_id: &str) -> Response {
    let parts = match form_parts(request, &["file"]) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let file = parts.iter().find(|p| p.name == "file").unwrap();
    if file.body.is_empty() {
        return Response::detail(400, "Preview thumbnail upload was empty");
    }
    shared
        .thumbnails
        .lock()
        .unwrap()
        .insert(camera_id.to_string(), file.body.clone());
    let version = shared.clock.now().floor() as i64;
    Response::json(
        201,
        &json!({
            "preview_thumbnail_url":
                format!("/uploads/images/rpi-cam-preview/{camera_id}.jpg?v={version}")
        }),
    )
}
