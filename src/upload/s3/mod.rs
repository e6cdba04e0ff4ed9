//! The S3 sink: `PutObject` to any S3-compatible store (AWS, MinIO, RustFS, R2, B2), signed by
//! rusty-s3 (SigV4 presigned URLs, sans IO) and sent with the shared ureq agent. The bucket is
//! created on the first upload of each run, as the plugin does.

pub mod error;
pub mod key;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action};
use serde_json::{Map, Value};

use super::http::{self, body_text};
use super::sink::{Delivered, Sink, SinkError, Upload};
use crate::config::s3::{S3Settings, S3SettingsError};

/// How long a signed URL stays valid; it is used at once.
const SIGNATURE_TTL: Duration = Duration::from_secs(600);
/// Error bodies read at most.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

pub struct S3Sink {
    bucket: Bucket,
    credentials: Credentials,
    settings: S3Settings,
    agent: ureq::Agent,
    /// Set once CreateBucket (or an upload) has shown the bucket exists, in this run.
    bucket_ready: AtomicBool,
}

impl S3Sink {
    /// Checks the endpoint and bucket name; nothing is sent yet.
    pub fn new(settings: S3Settings) -> Result<S3Sink, S3SettingsError> {
        let bucket = settings.bucket()?;
        Ok(S3Sink {
            bucket,
            credentials: Credentials::new(
                settings.access_key_id.clone(),
                settings.secret_access_key.expose().to_string(),
            ),
            settings,
            agent: http::agent(),
            bucket_ready: AtomicBool::new(false),
        })
    }

    /// CreateBucket, once per run. `Ok(false)` when the server refused it: the upload is
    /// still tried (keys allowed to put objects are not always allowed to create buckets),
    /// and its own error, if any, is the one reported.
    fn ensure_bucket(&self) -> Result<bool, String> {
        if self.bucket_ready.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let url = self
            .bucket
            .create_bucket(&self.credentials)
            .sign(SIGNATURE_TTL);
        let body = location_constraint(&self.settings.region);
        let mut resp = self
            .agent
            .put(url.as_str())
            .send(body.as_bytes())
            .map_err(|e| {
                format!(
                    "CreateBucket '{}' at {}: {e}",
                    self.settings.bucket, self.settings.endpoint_url
                )
            })?;
        let status = resp.status().as_u16();
        let body = body_text(&mut resp, ERROR_BODY_LIMIT);
        if (200..300).contains(&status) {
            log::info!("S3 bucket '{}' created", self.settings.bucket);
            self.bucket_ready.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        let (code, message) = error::parse_error_body(&body);
        if matches!(
            code.as_deref(),
            Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
        ) {
            self.bucket_ready.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        log::debug!(
            "S3 CreateBucket '{}' {}; trying the upload anyway",
            self.settings.bucket,
            answer_text(status, code.as_deref(), message.as_deref())
        );
        Ok(false)
    }
}

impl Sink for S3Sink {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn destination(&self, image_id: &str, upload_metadata: &Map<String, Value>) -> String {
        key::object_key(image_id, upload_metadata)
    }

    fn put(&self, upload: &Upload<'_>) -> Result<Delivered, SinkError> {
        let object_key = upload.destination;
        let failed = |what: String| format!("S3 upload failed for key '{object_key}': {what}");
        self.ensure_bucket()
            .map_err(|e| SinkError::sink(failed(e)))?;
        let mut action = self.bucket.put_object(Some(&self.credentials), object_key);
        action.headers_mut().insert("content-type", "image/jpeg");
        let url = action.sign(SIGNATURE_TTL);
        let mut resp = self
            .agent
            .put(url.as_str())
            .header("Content-Type", "image/jpeg")
            .send(upload.jpeg)
            .map_err(|e| {
                SinkError::sink(failed(format!(
                    "PutObject to {}: {e}",
                    self.settings.endpoint_url
                )))
            })?;
        let status = resp.status().as_u16();
        // Read to the end, so that the connection goes back to the pool.
        let body = body_text(&mut resp, ERROR_BODY_LIMIT);
        if (200..300).contains(&status) {
            self.bucket_ready.store(true, Ordering::Relaxed);
            return Ok(Delivered {
                image_id: upload.image_id.to_owned(),
                image_url: Some(key::public_url(
                    &self.settings.public_url_template,
                    &self.settings.endpoint_url,
                    &self.settings.bucket,
                    object_key,
                )),
            });
        }
        let (code, message) = error::parse_error_body(&body);
        if code.as_deref() == Some("NoSuchBucket") {
            self.bucket_ready.store(false, Ordering::Relaxed);
        }
        let text = failed(format!(
            "PutObject {}",
            answer_text(status, code.as_deref(), message.as_deref())
        ));
        Err(SinkError {
            blame: error::blame(status, code.as_deref()),
            message: text,
        })
    }

    fn describe(&self) -> String {
        format!(
            "S3 bucket '{}' at {} ({}-style, region {})",
            self.settings.bucket,
            self.settings.endpoint_url,
            self.settings.addressing.as_str(),
            self.settings.region
        )
    }
}

/// `answered 403 SignatureDoesNotMatch: The request signature …`.
fn answer_text(status: u16, code: Option<&str>, message: Option<&str>) -> String {
    let mut text = format!("answered {status}");
    if let Some(code) = code {
        text.push(' ');
        text.push_str(code);
    }
    if let Some(message) = message {
        text.push_str(": ");
        text.push_str(message);
    }
    text
}

/// The CreateBucket body: empty in us-east-1, where a location constraint is refused.
fn location_constraint(region: &str) -> String {
    if region == "us-east-1" || region.is_empty() {
        return String::new();
    }
    format!(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::s3::AddressingStyle;

    fn settings(endpoint: &str, addressing: AddressingStyle) -> S3Settings {
        S3Settings {
            endpoint_url: endpoint.into(),
            bucket: "rpi-cam".into(),
            access_key_id: "AK".into(),
            secret_access_key: "SK".into(),
            region: "us-east-1".into(),
            public_url_template: "{endpoint}/{bucket}/{key}".into(),
            addressing,
        }
    }

    #[test]
    fn addressing_styles_shape_the_urls() {
        let path = S3Sink::new(settings("http://127.0.0.1:9000/", AddressingStyle::Path)).unwrap();
        assert_eq!(
            path.bucket.object_url("rpi-cam/42/a.jpg").as_str(),
            "http://127.0.0.1:9000/rpi-cam/rpi-cam/42/a.jpg"
        );
        let virt =
            S3Sink::new(settings("http://localhost:9000", AddressingStyle::Virtual)).unwrap();
        assert_eq!(
            virt.bucket.object_url("rpi-cam/42/a.jpg").as_str(),
            "http://rpi-cam.localhost:9000/rpi-cam/42/a.jpg"
        );
        assert!(
            virt.describe().contains("virtual-style"),
            "{}",
            virt.describe()
        );
    }

    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        let err = S3Sink::new(settings("not a url", AddressingStyle::Path))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("S3_ENDPOINT_URL"), "{err}");
        let err = S3Sink::new(settings("ftp://host", AddressingStyle::Path))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no usable URL"), "{err}");
        let err = S3Sink::new(settings("http://127.0.0.1:9000", AddressingStyle::Virtual))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not an IP address"), "{err}");
    }

    #[test]
    fn signed_put_carries_the_content_type() {
        let sink = S3Sink::new(settings("http://127.0.0.1:9000", AddressingStyle::Path)).unwrap();
        let mut action = sink.bucket.put_object(Some(&sink.credentials), "k.jpg");
        action.headers_mut().insert("content-type", "image/jpeg");
        let url = action.sign(SIGNATURE_TTL);
        let query = url.query().unwrap();
        assert!(
            query.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
            "{query}"
        );
        assert!(query.contains("X-Amz-Credential=AK%2F"), "{query}");
    }

    #[test]
    fn location_constraint_outside_us_east_1_only() {
        assert_eq!(location_constraint("us-east-1"), "");
        assert!(location_constraint("eu-west-1")
            .contains("<LocationConstraint>eu-west-1</LocationConstraint>"));
    }

    #[test]
    fn answers_read_well() {
        assert_eq!(
            answer_text(403, Some("InvalidAccessKeyId"), Some("no such key")),
            "answered 403 InvalidAccessKeyId: no such key"
        );
        assert_eq!(answer_text(502, None, None), "answered 502");
    }
}
