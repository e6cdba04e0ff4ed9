//! The security headers every normal response carries (§2, and plugin 0.4+'s
//! `Cross-Origin-Resource-Policy`, `Cross-Origin-Opener-Policy` on pages and `no-store`
//! wherever a route sets no caching of its own), each set only if the route has not set it
//! already. Our Content-Security-Policies are stricter than the plugin's: our pages load
//! nothing from a CDN and use no inline scripts, and the preview player needs `blob:` media.

use super::Response;

/// For the pages `/` and `/setup`: the player fetches from wherever the API is reachable and
/// feeds MSE from `blob:` URLs.
pub const CSP_PAGES: &str = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; \
     media-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
     connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; base-uri 'self'; \
     form-action 'self'";
/// For `/docs…`.
pub const CSP_DOCS: &str = "default-src 'self'; script-src 'self'; style-src 'self' \
     'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'self'; form-action 'self'";
/// For everything else.
pub const CSP_DEFAULT: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The policy for a request path.
pub fn content_security_policy(path: &str) -> &'static str {
    match path {
        "/" | "/setup" | "/hub" => CSP_PAGES,
        p if p.starts_with("/docs") => CSP_DOCS,
        _ => CSP_DEFAULT,
    }
}

/// Adds the security headers to `resp`; `https` is whether `BASE_URL` uses https (HSTS).
pub fn apply(path: &str, https: bool, resp: &mut Response) {
    set_if_absent(resp, "X-Frame-Options", "DENY");
    set_if_absent(resp, "X-Content-Type-Options", "nosniff");
    set_if_absent(resp, "Referrer-Policy", "no-referrer");
    set_if_absent(
        resp,
        "Content-Security-Policy",
        content_security_policy(path),
    );
    if https {
        set_if_absent(resp, "Strict-Transport-Security", HSTS);
    }
    // Plugin 0.4+: no other origin may embed an answer, and pages get their own browsing
    // context group.
    set_if_absent(resp, "Cross-Origin-Resource-Policy", "same-origin");
    if resp
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("text/html"))
    {
        set_if_absent(resp, "Cross-Origin-Opener-Policy", "same-origin");
    }
    // Routes that may be cached (static files, media) say so; nothing else may be stored.
    if resp.header("Cache-Control").is_none() {
        resp.headers
            .push(("Cache-Control".into(), "no-store".into()));
        set_if_absent(resp, "Pragma", "no-cache");
        set_if_absent(resp, "Expires", "0");
    }
}

fn set_if_absent(resp: &mut Response, name: &str, value: &str) {
    if resp.header(name).is_none() {
        resp.headers.push((name.into(), value.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(path: &str, https: bool) -> Response {
        let mut resp = Response::not_found();
        apply(path, https, &mut resp);
        resp
    }

    #[test]
    fn baseline_headers_on_every_response() {
        let resp = applied("/camera", false);
        assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
        assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(resp.header("Referrer-Policy"), Some("no-referrer"));
        assert_eq!(resp.header("Content-Security-Policy"), Some(CSP_DEFAULT));
        assert!(resp.header("Strict-Transport-Security").is_none());
        assert_eq!(
            applied("/", true).header("Strict-Transport-Security"),
            Some("max-age=31536000; includeSubDomains")
        );
    }

    #[test]
    fn policies_read_exactly_as_specified() {
        assert_eq!(
            CSP_PAGES,
            "default-src 'self'; script-src 'self'; worker-src 'self' blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        );
        assert_eq!(
            CSP_DOCS,
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        );
    }

    #[test]
    fn csp_by_path() {
        for (path, csp) in [
            ("/", CSP_PAGES),
            ("/setup", CSP_PAGES),
            ("/setup/", CSP_DEFAULT),
            ("/docs", CSP_DOCS),
            ("/docs/oauth2-redirect", CSP_DOCS),
            ("/redoc", CSP_DEFAULT),
            ("/preview/hls/cam-preview/index.m3u8", CSP_DEFAULT),
        ] {
            assert_eq!(content_security_policy(path), csp, "{path}");
        }
    }

    #[test]
    fn test_middleware_worker_src_only_on_pages() {
        let page = applied("/", false);
        assert!(page
            .header("Content-Security-Policy")
            .unwrap()
            .contains("worker-src 'self' blob:"));
        for path in ["/camera", "/docs", "/redoc"] {
            let csp = applied(path, false);
            assert!(!csp
                .header("Content-Security-Policy")
                .unwrap()
                .contains("worker-src"));
        }
    }

    #[test]
    fn policies_load_nothing_from_elsewhere() {
        for csp in [CSP_PAGES, CSP_DOCS, CSP_DEFAULT] {
            assert!(!csp.contains("unsafe-inline' https"), "{csp}");
            assert!(!csp.contains("cdn"), "{csp}");
            assert!(!csp.contains("  "), "{csp}");
            assert!(csp.ends_with("form-action 'self'"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
        assert!(CSP_PAGES.contains("script-src 'self';"));
        assert!(CSP_PAGES.contains("media-src 'self' blob:"));
    }

    #[test]
    fn cross_origin_policies_and_no_store_by_default() {
        let resp = applied("/camera", false);
        assert_eq!(
            resp.header("Cross-Origin-Resource-Policy"),
            Some("same-origin")
        );
        assert!(
            resp.header("Cross-Origin-Opener-Policy").is_none(),
            "not a page"
        );
        assert_eq!(resp.header("Cache-Control"), Some("no-store"));
        assert_eq!(resp.header("Pragma"), Some("no-cache"));
        assert_eq!(resp.header("Expires"), Some("0"));
        let mut page = Response::new(
            200,
            "text/html; charset=utf-8",
            crate::http::Body::Bytes(Vec::new()),
        );
        apply("/", false, &mut page);
        assert_eq!(
            page.header("Cross-Origin-Opener-Policy"),
            Some("same-origin")
        );
        let mut media = Response::new(200, "video/mp4", crate::http::Body::Bytes(Vec::new()))
            .with_header("Cache-Control", "max-age=60");
        apply("/preview/hls/x.m4s", false, &mut media);
        assert_eq!(media.header("Cache-Control"), Some("max-age=60"), "kept");
        assert!(media.header("Pragma").is_none() && media.header("Expires").is_none());
    }

    #[test]
    fn existing_headers_are_kept() {
        let mut resp = Response::not_found()
            .with_header("Content-Security-Policy", "default-src 'none'")
            .with_header("x-frame-options", "SAMEORIGIN");
        apply("/", true, &mut resp);
        assert_eq!(
            resp.header("Content-Security-Policy"),
            Some("default-src 'none'")
        );
        assert_eq!(resp.header("X-Frame-Options"), Some("SAMEORIGIN"));
        let count = |name: &str| {
            resp.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count()
        };
        assert_eq!(count("X-Frame-Options"), 1);
        assert_eq!(count("Content-Security-Policy"), 1);
    }
}
