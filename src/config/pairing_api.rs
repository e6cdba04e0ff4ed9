//! picamd's own pairing settings: which API prefix and which poll style the RELab backend
//! speaks. The backend at the plugin's snapshot serves `/plugins/rpi-cam/…` and polls with GET;
//! the newer one serves `/v1/plugins/rpi-cam/…` and polls with a POSTed JSON body
//! (contract/plugin.md §13.2).

use super::error::ConfigError;

/// The prefix tried after a register 404 on no prefix, with `auto`.
pub const V1_PREFIX: &str = "/v1";

/// `PAIRING_API_PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPrefix {
    /// No prefix first; `/v1` when the pairing API is not found there.
    Auto,
    /// Exactly this prefix: `""` (written `none`) or a path like `/v1`, without a trailing `/`.
    Fixed(String),
}

/// `PAIRING_POLL_METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMethod {
    /// GET with a query string without a prefix, POST with a JSON body with one.
    Auto,
    Get,
    Post,
}

impl ApiPrefix {
    /// Reads the setting; an empty value means the default, `auto`.
    pub fn parse(raw: &str) -> Result<ApiPrefix, ConfigError> {
        let value = raw.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("auto") {
            return Ok(ApiPrefix::Auto);
        }
        if value.eq_ignore_ascii_case("none") || value == "/" {
            return Ok(ApiPrefix::Fixed(String::new()));
        }
        let path = value.trim_end_matches('/');
        let segments_ok = path.strip_prefix('/').is_some_and(|rest| {
            rest.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
            })
        });
        if !segments_ok {
            return Err(ConfigError::invalid(
                "PAIRING_API_PREFIX",
                raw,
                "auto, none, or a path such as /v1",
            ));
        }
        Ok(ApiPrefix::Fixed(path.to_string()))
    }

    pub fn describe(&self) -> &str {
        match self {
            ApiPrefix::Auto => "auto",
            ApiPrefix::Fixed(p) if p.is_empty() => "none",
            ApiPrefix::Fixed(p) => p,
        }
    }
}

impl PollMethod {
    /// Reads the setting (any case); an empty value means the default, `auto`.
    pub fn parse(raw: &str) -> Result<PollMethod, ConfigError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(PollMethod::Auto),
            "get" => Ok(PollMethod::Get),
            "post" => Ok(PollMethod::Post),
            _ => Err(ConfigError::invalid(
                "PAIRING_POLL_METHOD",
                raw,
                "auto, GET or POST",
            )),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PollMethod::Auto => "auto",
            PollMethod::Get => "GET",
            PollMethod::Post => "POST",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        for auto in ["", " ", "auto", "AUTO"] {
            assert_eq!(ApiPrefix::parse(auto).unwrap(), ApiPrefix::Auto, "{auto:?}");
        }
        for none in ["none", "None", "/"] {
            assert_eq!(
                ApiPrefix::parse(none).unwrap(),
                ApiPrefix::Fixed(String::new())
            );
        }
        assert_eq!(
            ApiPrefix::parse("/v1").unwrap(),
            ApiPrefix::Fixed("/v1".into())
        );
        assert_eq!(
            ApiPrefix::parse(" /v1/ ").unwrap(),
            ApiPrefix::Fixed("/v1".into())
        );
        assert_eq!(
            ApiPrefix::parse("/api/v2").unwrap(),
            ApiPrefix::Fixed("/api/v2".into())
        );
        for bad in [
            "v1",
            "//v1",
            "/v1//x",
            "/../v1",
            "/v 1",
            "/v1?x=1",
            "https://x/v1",
        ] {
            let err = ApiPrefix::parse(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid PAIRING_API_PREFIX"),
                "{bad}: {err}"
            );
        }
        assert_eq!(ApiPrefix::Auto.describe(), "auto");
        assert_eq!(ApiPrefix::Fixed(String::new()).describe(), "none");
        assert_eq!(ApiPrefix::Fixed("/v1".into()).describe(), "/v1");
    }

    #[test]
    fn poll_methods() {
        for (raw, method) in [
            ("", PollMethod::Auto),
            ("auto", PollMethod::Auto),
            ("GET", PollMethod::Get),
            ("get", PollMethod::Get),
            (" Post ", PollMethod::Post),
        ] {
            assert_eq!(PollMethod::parse(raw).unwrap(), method, "{raw:?}");
        }
        let err = PollMethod::parse("PUT").unwrap_err().to_string();
        assert!(err.starts_with("invalid PAIRING_POLL_METHOD"), "{err}");
        assert_eq!(PollMethod::Post.describe(), "POST");
    }
}
