//! Recording to MP4: picamd's own routes (`/recordings…`: start, stop, state, list, download
//! with Range, delete) and the seed pipeline's `POST /record/start|stop` with its JSON and
//! `detail` texts (contract seeds-002-004 §B.4). A client-given path is confined to
//! `RECORD_OUTPUT_DIR`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use super::routes::Params;
use super::validation::{json_body, unprocessable, FieldError};
use crate::http::range::{byte_range, ByteRange};
use crate::http::response::StreamBody;
use crate::http::{Body, Request, Response};
use crate::record::{RecordError, Snapshot};
use crate::runtime::Runtime;

/// The detail `POST /preview/stop` answers while recording.
pub const PREVIEW_IN_USE: &str =
    "A recording uses the preview encoder: stop it first (POST /recorder/stop)";

/// The one place recorder errors become statuses (picamd's own routes).
fn error(e: &RecordError) -> Response {
    let status = match e {
        RecordError::Active | RecordError::NotActive | RecordError::InUse => 409,
        RecordError::Exists(_) => 409,
        RecordError::BadPath => 400,
        RecordError::NotFound => 404,
        RecordError::Io(_) => 500,
    };
    Response::detail(status, &e.to_string())
}

/// The seed's statuses: 400 for a recording already running, a bad or taken path; 409 for
/// stop without one.
fn seed_error(e: &RecordError) -> Response {
    let status = match e {
        RecordError::Active | RecordError::BadPath | RecordError::Exists(_) => 400,
        RecordError::NotActive => 409,
        other => return error(other),
    };
    Response::detail(status, &e.to_string())
}

/// The optional `path` of a start body (`{"path","fps","codec"}` for the seed, `{"name"}`
/// for ours); `fps` and `codec` are type-checked and not used (the stream's own H.264 is
/// recorded as it is).
fn requested_path(req: &Request, field: &'static str) -> Result<Option<String>, Response> {
    let body = match json_body(req)? {
        None => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(other) => {
            return Err(unprocessable(&[FieldError::new(
                "dict_type",
                &["body"],
                "Input should be a valid dictionary or object to extract fields from",
                other,
            )]))
        }
    };
    let mut errors = Vec::new();
    let mut check = |name: &'static str, ok: fn(&Value) -> bool, kind, msg| {
        if let Some(v) = body.get(name).filter(|v| !v.is_null() && !ok(v)) {
            errors.push(FieldError::new(kind, &["body", name], msg, v.clone()));
        }
    };
    check(
        field,
        Value::is_string,
        "string_type",
        "Input should be a valid string",
    );
    if field == "path" {
        check(
            "fps",
            Value::is_number,
            "float_type",
            "Input should be a valid number",
        );
        check(
            "codec",
            Value::is_string,
            "string_type",
            "Input should be a valid string",
        );
    }
    if !errors.is_empty() {
        return Err(unprocessable(&errors));
    }
    Ok(body.get(field).and_then(Value::as_str).map(str::to_string))
}

fn start_with(rt: &Runtime, path: Option<&str>) -> Result<std::path::PathBuf, RecordError> {
    if rt.recorder.is_recording() {
        return Err(RecordError::Active);
    }
    let hold = rt.media.preview.hold(Instant::now(), "recording");
    rt.recorder.start(path, hold)
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `POST /record/start` (seed 002).
pub fn seed_start(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let path = match requested_path(req, "path") {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match start_with(rt, path.as_deref()) {
        Ok(p) => Response::json(
            200,
            &json!({"ok": true, "path": path_text(&p), "recording": true}),
        ),
        Err(e) => seed_error(&e),
    }
}

/// `POST /record/stop` (seed 002).
pub fn seed_stop(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match rt.recorder.stop() {
        Ok(p) => Response::json(
            200,
            &json!({"ok": true, "path": path_text(&p), "recording": false}),
        ),
        Err(e) => seed_error(&e),
    }
}

/// `POST /recorder/start`, optional `{"name": "clip.mp4"}`: 201 with the state.
pub fn start(rt: &Runtime, req: &Request, _: &Params) -> Response {
    let name = match requested_path(req, "name") {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    match start_with(rt, name.as_deref()) {
        Ok(_) => Response::json(201, &state_json(&rt.recorder.snapshot())),
        Err(e) => error(&e),
    }
}

/// `POST /recorder/stop`: 200 with the state (idle, the last file's path).
pub fn stop(rt: &Runtime, _: &Request, _: &Params) -> Response {
    match rt.recorder.stop() {
        Ok(_) => Response::json(200, &state_json(&rt.recorder.snapshot())),
        Err(e) => error(&e),
    }
}

/// `GET /recorder`.
pub fn state(rt: &Runtime, _: &Request, _: &Params) -> Response {
    Response::json(200, &state_json(&rt.recorder.snapshot()))
        .with_header("Cache-Control", "no-store")
}

/// `GET /recordings`: the state and the files, newest first.
pub fn list(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let snap = rt.recorder.snapshot();
    let files = match rt.recorder.list() {
        Ok(files) => files,
        Err(e) => return error(&e),
    };
    let current = snap
        .recording()
        .then(|| snap.path.as_ref().and_then(|p| p.file_name()))
        .flatten()
        .and_then(|n| n.to_str())
        .map(str::to_string);
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "bytes": f.bytes,
                "modified": crate::clock::rfc3339_s(f.modified_unix_s * 1_000_000),
                "recording": current.as_deref() == Some(f.name.as_str()),
                "url": format!("/recordings/{}", f.name),
            })
        })
        .collect();
    Response::json(
        200,
        &json!({
            "state": state_json(&snap),
            "output_dir": path_text(rt.recorder.output_dir()),
            "files": files,
        }),
    )
    .with_header("Cache-Control", "no-store")
}

/// `GET /recordings/{name}`: the file, whole (200) or one byte range (206; 416 past the end).
pub fn download(rt: &Runtime, req: &Request, params: &Params) -> Response {
    let name = params.get("name");
    let (mut file, len) = match rt.recorder.open(name) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    let (status, start, count) = match byte_range(req.header("Range"), len) {
        ByteRange::Full => (200, 0, len),
        ByteRange::Partial { start, end } => (206, start, end - start + 1),
        ByteRange::Unsatisfiable => {
            return Response::detail(416, "Range Not Satisfiable")
                .with_header("Content-Range", &format!("bytes */{len}"))
        }
    };
    let body = StreamBody::sized(count, move |out: &mut dyn Write| {
        file.seek(SeekFrom::Start(start))?;
        let copied = std::io::copy(&mut Read::by_ref(&mut file).take(count), out)?;
        if copied < count {
            // The file shrank meanwhile: the promised length cannot be kept.
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.flush()
    });
    let mut resp = Response::new(status, "video/mp4", Body::Stream(body))
        .with_header("Accept-Ranges", "bytes")
        .with_header(
            "Content-Disposition",
            &format!("attachment; filename=\"{name}\""),
        )
        .with_header("Cache-Control", "no-store");
    if status == 206 {
        resp = resp.with_header(
            "Content-Range",
            &format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    resp
}

/// `DELETE /recordings/{name}`: 204; 409 for the file being written.
pub fn delete(rt: &Runtime, _: &Request, params: &Params) -> Response {
    match rt.recorder.delete(params.get("name")) {
        Ok(()) => Response::empty(204),
        Err(e) => error(&e),
    }
}

/// The recorder's state as the API, telemetry and the web page show it.
pub fn state_json(snap: &Snapshot) -> Value {
    let path = snap.path.as_deref();
    json!({
        "state": snap.state.as_str(),
        "recording": snap.recording(),
        "path": path.map(path_text),
        "name": path.and_then(|p| p.file_name()).map(|n| n.to_string_lossy()),
        "started_at": snap.started_unix_us.map(crate::clock::rfc3339_s),
        "file_bytes": snap.file_bytes,
        "files": snap.files,
        "error": snap.error,
    })
}
