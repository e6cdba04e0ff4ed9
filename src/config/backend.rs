//! Where the RELab backend is and how it speaks: read by pairing, the backend upload sink and
//! the thumbnail uploader (no secrets, so every one of them can hold a copy).

use super::pairing_api::{ApiPrefix, PollMethod};

pub const DEFAULT_PAIRING_BACKEND_URL: &str = "https://api.cml-relab.org";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSettings {
    /// `PAIRING_BACKEND_URL`; empty turns pairing and backend uploads off.
    pub url: String,
    /// `PAIRING_API_PREFIX` (picamd's): the backend's API prefix, `auto` by default.
    pub api_prefix: ApiPrefix,
    /// `PAIRING_POLL_METHOD` (picamd's): GET or POST polling, `auto` by default.
    pub poll_method: PollMethod,
    /// `APP_ENV=development`: media URLs the backend answers with may be plain http.
    pub development: bool,
}
