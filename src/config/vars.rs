//! Reading variables: the merged environment and `.env` (names case-insensitive, the process
//! environment first), and the value syntaxes of contract/plugin.md §3.1 (lists, booleans,
//! numbers, URL arrays).

use std::collections::HashMap;
use std::path::PathBuf;

use super::error::ConfigError;
use super::retry::RetrySchedule;
use super::s3::AddressingStyle;
use super::upload::ImageSink;
use super::url::is_http_url;

/// `DEBUG` is lenient like the plugin: these values are true, anything else false.
pub(crate) fn is_debug_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "debug"
    )
}

/// A list setting (§3.1): a JSON array of strings, a comma-separated string or nothing. Text
/// that is not valid JSON, like `[KEY]`, is split on commas with brackets and quotes stripped.
pub fn parse_list(name: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s),
                other => Err(ConfigError::NotAStringList {
                    name,
                    item: other.to_string(),
                }),
            })
            .collect(),
        Ok(serde_json::Value::String(s)) => Ok(vec![s]),
        // A bare number or word is one key, not a JSON value to reject.
        Ok(_) | Err(_) => Ok(split_list(trimmed)),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.trim_matches(['[', ']'])
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| item.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

/// The merged variables: upper-cased names, process environment over `.env`.
pub(crate) struct Vars {
    map: HashMap<String, String>,
}

impl Vars {
    pub(crate) fn new(env: &HashMap<String, String>, dotenv: &HashMap<String, String>) -> Vars {
        let mut map = HashMap::new();
        for source in [dotenv, env] {
            // Within one source an exactly upper-case name beats other spellings; the rest are
            // ordered so the result never depends on hash order.
            let mut entries: Vec<_> = source.iter().collect();
            entries.sort_by_key(|(k, _)| (k.to_ascii_uppercase() == **k, *k));
            for (key, value) in entries {
                map.insert(key.to_ascii_uppercase(), value.clone());
            }
        }
        Vars { map }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    pub(crate) fn string(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_string()
    }

    pub(crate) fn path(&self, name: &'static str) -> Option<PathBuf> {
        self.get(name).filter(|p| !p.is_empty()).map(PathBuf::from)
    }

    pub(crate) fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        Ok(self.opt_bool(name)?.unwrap_or(default))
    }

    pub(crate) fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(Some(true)),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(Some(false)),
            _ => Err(invalid(name, raw, "true or false")),
        }
    }

    pub(crate) fn uint(
        &self,
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| {
                let expected = if max == u64::MAX {
                    format!("a whole number of at least {min}")
                } else {
                    format!("a whole number from {min} to {max}")
                };
                invalid(name, raw, &expected)
            })
    }

    /// A positive, finite number of seconds.
    pub(crate) fn seconds(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        self.float(name, default, 86_400.0)
    }

    pub(crate) fn float(
        &self,
        name: &'static str,
        default: f64,
        max: f64,
    ) -> Result<f64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0 && *v <= max)
            .ok_or_else(|| invalid(name, raw, &format!("a number above 0 and at most {max}")))
    }

    pub(crate) fn list(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        self.get(name)
            .map_or(Ok(Vec::new()), |raw| parse_list(name, raw))
    }

    /// A JSON array of http(s) URLs, as pydantic's `list[HttpUrl]` demands.
    pub(crate) fn url_array(
        &self,
        name: &'static str,
        default: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default.iter().map(|s| s.to_string()).collect());
        };
        if raw.trim().is_empty() {
            return Ok(Vec::new());
        }
        let expected = "a JSON array of http(s) URLs, e.g. [\"https://cml-relab.org\"]";
        let urls: Vec<String> =
            serde_json::from_str(raw.trim()).map_err(|_| invalid(name, raw, expected))?;
        for url in &urls {
            if !is_http_url(url) {
                return Err(invalid(name, raw, expected));
            }
        }
        Ok(urls
            .into_iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect())
    }

    pub(crate) fn addressing_style(&self) -> Result<AddressingStyle, ConfigError> {
        let Some(raw) = self.get("S3_ADDRESSING_STYLE") else {
            return Ok(AddressingStyle::Path);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "path" => Ok(AddressingStyle::Path),
            "virtual" => Ok(AddressingStyle::Virtual),
            _ => Err(invalid("S3_ADDRESSING_STYLE", raw, "path or virtual")),
        }
    }

    pub(crate) fn retry_schedule(&self) -> Result<RetrySchedule, ConfigError> {
        match self.get("UPLOAD_RETRY_SCHEDULE_S") {
            None => Ok(RetrySchedule::default()),
            Some(raw) => RetrySchedule::parse(raw).map_err(ConfigError::RetrySchedule),
        }
    }

    pub(crate) fn image_sink(&self) -> Result<ImageSink, ConfigError> {
        let Some(raw) = self.get("IMAGE_SINK") else {
            return Ok(ImageSink::Auto);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ImageSink::Auto),
            "backend" => Ok(ImageSink::Backend),
            "s3" => Ok(ImageSink::S3),
            "local" => Ok(ImageSink::Local),
            _ => Err(invalid("IMAGE_SINK", raw, "auto, backend, s3 or local")),
        }
    }
}

fn invalid(name: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::invalid(name, value, expected)
}
