//! The CDN secret (`HLS_CDN_SECRET`): an edge or CDN that presents it as
//! `Authorization: Bearer <secret>` may read the LL-HLS files from any address, as MediaMTX's
//! `hlsCDNSecret` allows. Browsers never hold it, so it also stands in for the `Host` check.

use super::keys::constant_time_eq;
use crate::http::Request;

/// Whether `req` carries `secret` as its bearer token, compared in constant time. An empty
/// secret (the setting unset) matches nothing.
pub fn presents_cdn_secret(req: &Request, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some((scheme, token)) = req
        .header("Authorization")
        .and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(token.trim().as_bytes(), secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: Option<&str>) -> Request {
        let mut req = Request::new("GET", "/preview/hls/cam-preview/index.m3u8").unwrap();
        if let Some(v) = value {
            req.headers.push(("Authorization".into(), v.into()));
        }
        req
    }

    #[test]
    fn only_the_exact_bearer_secret_passes() {
        let secret = "0123456789abcdef-cdn";
        assert!(presents_cdn_secret(
            &with_authorization(Some("Bearer 0123456789abcdef-cdn")),
            secret
        ));
        assert!(presents_cdn_secret(
            &with_authorization(Some("bearer  0123456789abcdef-cdn ")),
            secret
        ));
        for wrong in [
            None,
            Some("Bearer 0123456789abcdef-cd"),
            Some("Bearer 0123456789abcdef-cdnx"),
            Some("Basic 0123456789abcdef-cdn"),
            Some("0123456789abcdef-cdn"),
            Some("Bearer"),
        ] {
            assert!(
                !presents_cdn_secret(&with_authorization(wrong), secret),
                "{wrong:?}"
            );
        }
        assert!(!presents_cdn_secret(
            &with_authorization(Some("Bearer ")),
            ""
        ));
    }
}
