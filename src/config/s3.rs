//! The S3 sink's settings (`S3_*`) and the check that they give usable URLs. The check builds
//! rusty-s3's `Bucket` (a value, no I/O), so start-up refuses exactly what the sink would.

use std::fmt;

use rusty_s3::{Bucket, BucketError, UrlStyle};

use super::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `http://host/<bucket>/<key>`: what MinIO, RustFS and IP endpoints need.
    Path,
    /// `http://<bucket>.host/<key>`: AWS's preference.
    Virtual,
}

impl AddressingStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressingStyle::Path => "path",
            AddressingStyle::Virtual => "virtual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint_url: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub region: String,
    pub public_url_template: String,
    /// `S3_ADDRESSING_STYLE`: `path` (default; MinIO, RustFS, IP endpoints) or `virtual`.
    pub addressing: AddressingStyle,
}

impl S3Settings {
    /// The bucket these settings name, or why the endpoint and bucket give no usable URL.
    pub fn bucket(&self) -> Result<Bucket, S3SettingsError> {
        let endpoint: url::Url =
            self.endpoint_url
                .parse()
                .map_err(|reason| S3SettingsError::NotAUrl {
                    endpoint_url: self.endpoint_url.clone(),
                    reason,
                })?;
        let style = match self.addressing {
            AddressingStyle::Path => UrlStyle::Path,
            AddressingStyle::Virtual => UrlStyle::VirtualHost,
        };
        Bucket::new(endpoint, style, self.bucket.clone(), self.region.clone()).map_err(|reason| {
            S3SettingsError::NoUsableUrl {
                endpoint_url: self.endpoint_url.clone(),
                bucket: self.bucket.clone(),
                addressing: self.addressing,
                reason,
            }
        })
    }
}

/// Why S3 settings give no bucket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3SettingsError {
    NotAUrl {
        endpoint_url: String,
        reason: url::ParseError,
    },
    NoUsableUrl {
        endpoint_url: String,
        bucket: String,
        addressing: AddressingStyle,
        reason: BucketError,
    },
}

impl fmt::Display for S3SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3SettingsError::NotAUrl {
                endpoint_url,
                reason,
            } => write!(f, "S3_ENDPOINT_URL {endpoint_url:?} is not a URL: {reason}"),
            S3SettingsError::NoUsableUrl {
                endpoint_url,
                bucket,
                addressing,
                reason,
            } => {
                let hint = match addressing {
                    AddressingStyle::Virtual => {
                        " (virtual-host addressing needs a host name, not an IP address, and a bucket name that fits in one)"
                    }
                    AddressingStyle::Path => "",
                };
                write!(
                    f,
                    "S3_ENDPOINT_URL {endpoint_url:?} with S3_BUCKET {bucket:?} gives no usable URL: {reason:?}{hint}"
                )
            }
        }
    }
}

impl std::error::Error for S3SettingsError {}
