//! Which relayed commands may run (contract/plugin.md §13 item 3, models 0.5.2): the path is
//! normalised first, then checked against 13 exact (method, path) pairs and one prefix.
//!
//! Normalising: percent-decoded until it no longer changes (at most 4 passes), absolute, no
//! `..`, trailing `/` stripped. Stricter than the models in two places, because the router
//! must never see what was not checked: a path still encoded after 4 passes is refused instead
//! of dispatched half-decoded, and so is one that decodes to control characters or non-UTF-8.

const MAX_DECODE_PASSES: usize = 4;

const EXACT: [(&str, &str); 13] = [
    ("DELETE", "/pairing"),
    ("DELETE", "/streams/youtube"),
    ("GET", "/camera"),
    ("GET", "/camera/controls"),
    ("GET", "/streams/youtube"),
    ("GET", "/system/local-access"),
    ("GET", "/system/telemetry"),
    ("PATCH", "/camera/controls"),
    ("POST", "/captures"),
    ("POST", "/preview/start"),
    ("POST", "/preview/stop"),
    ("POST", "/streams/youtube"),
    ("PUT", "/camera/focus"),
];

/// Everything below it (but not the folder itself) may be read.
const HLS_PREFIX: (&str, &str) = ("GET", "/preview/hls/");

/// The normalised path when `method` (upper case) may run on `path`, else `None`.
pub fn allowed_path(method: &str, path: &str) -> Option<String> {
    let path = normalise(path)?;
    let exact = EXACT.iter().any(|&(m, p)| m == method && p == path);
    let below_hls =
        method == HLS_PREFIX.0 && path.len() > HLS_PREFIX.1.len() && path.starts_with(HLS_PREFIX.1);
    (exact || below_hls).then_some(path)
}

/// The path the allow-list and the router see, or `None` when it is refused outright.
pub fn normalise(path: &str) -> Option<String> {
    let mut current = path.to_string();
    for _ in 0..MAX_DECODE_PASSES {
        let decoded = percent_decode(&current)?;
        if decoded == current {
            break;
        }
        current = decoded;
    }
    if percent_decode(&current)? != current {
        return None;
    }
    if !current.starts_with('/') || current.contains("..") || current.chars().any(char::is_control)
    {
        return None;
    }
    let trimmed = current.trim_end_matches('/');
    Some(if trimmed.is_empty() { "/" } else { trimmed }.to_string())
}

/// One pass of `%XX` decoding; malformed escapes stay as they are (like Python's `unquote`).
/// `None` when the decoded bytes are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |at: usize| bytes.get(at).and_then(|&b| char::from(b).to_digit(16));
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thirteen_pairs_and_the_hls_prefix_are_allowed() {
        for (method, path) in EXACT {
            assert_eq!(
                allowed_path(method, path).as_deref(),
                Some(path),
                "{method} {path}"
            );
        }
        for path in [
            "/preview/hls/cam-preview/index.m3u8",
            "/preview/hls/cam-preview/a1b2-3.0.m4s",
            "/preview/hls/x",
        ] {
            assert_eq!(allowed_path("GET", path).as_deref(), Some(path));
        }
    }

    #[test]
    fn the_contracts_rejected_examples_are_refused() {
        for (method, path) in [
            ("GET", "/captures/0123456789abcdef0123456789abcdef"),
            ("GET", "/captures"),
            ("PATCH", "/camera"),
            ("POST", "/preview/hls/cam-preview/index.m3u8"),
            ("DELETE", "/preview/hls/cam-preview/index.m3u8"),
            ("GET", "/preview/hls"),
            ("GET", "/preview/hls/"),
            ("POST", "/system/telemetry"),
            ("GET", "/stream.mjpg"),
            ("GET", "/local-key"),
            ("GET", "/metrics"),
            ("get", "/camera"),
            ("GET", "camera"),
            ("GET", ""),
        ] {
            assert_eq!(allowed_path(method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn paths_are_normalised_before_the_check() {
        assert_eq!(allowed_path("GET", "/camera/").as_deref(), Some("/camera"));
        assert_eq!(
            allowed_path("GET", "/camera///").as_deref(),
            Some("/camera")
        );
        assert_eq!(allowed_path("GET", "/%63amera").as_deref(), Some("/camera"));
        assert_eq!(
            allowed_path("GET", "/%2563amera").as_deref(),
            Some("/camera")
        );
        assert_eq!(
            allowed_path("GET", "/preview/hls/cam-preview%2Findex.m3u8").as_deref(),
            Some("/preview/hls/cam-preview/index.m3u8")
        );
        assert_eq!(normalise("/"), Some("/".into()));
        assert_eq!(
            normalise("/a%zzb"),
            Some("/a%zzb".into()),
            "malformed escapes stay"
        );
    }

    #[test]
    fn traversal_is_refused_however_it_is_encoded() {
        for path in [
            "/preview/hls/../local-key",
            "/preview/hls/%2e%2e/local-key",
            "/preview/hls/%2E%2E%2Flocal-key",
            "/preview/hls/%252e%252e/local-key",
            "/preview/hls/%25252e%25252e/x",
            "/preview/hls/a..b",
        ] {
            assert_eq!(allowed_path("GET", path), None, "{path}");
        }
    }

    #[test]
    fn over_encoded_control_and_non_utf8_paths_are_refused() {
        // Five layers of encoding: still encoded after 4 passes.
        assert_eq!(normalise("/%2525252563amera"), None);
        assert_eq!(normalise("/%25252563amera"), Some("/camera".into()));
        assert_eq!(normalise("/camera%00"), None);
        assert_eq!(normalise("/camera%0a"), None);
        assert_eq!(normalise("/%ff"), None);
        assert_eq!(normalise("%2Fcamera"), Some("/camera".into()));
    }
}
