//! What the YouTube stream reads: the ingest URL, an extra trusted root for a private ingest
//! server, and the longest a stream may run.

use std::path::PathBuf;

/// The plugin's ingest (contract §9.7): RTMPS to YouTube's RTMPS host, port 443.
pub const DEFAULT_INGEST_URL: &str = "rtmps://a.rtmps.youtube.com:443/live2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `YOUTUBE_INGEST_URL`, parsed.
    pub ingest: IngestUrl,
    /// `RTMP_CA_FILE`: PEM certificates trusted besides the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// `MAX_STREAM_DURATION_S`.
    pub max_duration_s: u64,
}

/// An `rtmp://` or `rtmps://` base URL: host, port and application path; the stream key is
/// appended at publish time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestUrl {
    pub tls: bool,
    /// Without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// The RTMP application, e.g. `live2`.
    pub app: String,
    /// The URL as `tcUrl` carries it: `rtmps://host:port/app`.
    pub tc_url: String,
}

impl IngestUrl {
    pub fn parse(url: &str) -> Option<IngestUrl> {
        let url = url.trim();
        let (tls, rest) = if let Some(rest) = strip_prefix_ci(url, "rtmps://") {
            (true, rest)
        } else {
            (false, strip_prefix_ci(url, "rtmp://")?)
        };
        let (authority, path) = rest.split_once('/')?;
        let app = path.trim_matches('/');
        if app.is_empty() || app.contains(['?', '#', ' ']) {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok().filter(|p| *p > 0)?,
            None if tls => 443,
            None => 1935,
        };
        if host.is_empty() || host.contains(['@', ' ', '/']) {
            return None;
        }
        let scheme = if tls { "rtmps" } else { "rtmp" };
        let shown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Some(IngestUrl {
            tls,
            host: host.to_string(),
            port,
            app: app.to_string(),
            tc_url: format!("{scheme}://{shown}:{port}/{app}"),
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_urls() {
        let yt = IngestUrl::parse(DEFAULT_INGEST_URL).unwrap();
        assert!(yt.tls);
        assert_eq!(
            (yt.host.as_str(), yt.port, yt.app.as_str()),
            ("a.rtmps.youtube.com", 443, "live2")
        );
        assert_eq!(yt.tc_url, DEFAULT_INGEST_URL);
        let lan = IngestUrl::parse("rtmp://192.168.1.5/live/").unwrap();
        assert_eq!((lan.tls, lan.port, lan.app.as_str()), (false, 1935, "live"));
        assert_eq!(IngestUrl::parse("rtmps://[::1]/x").unwrap().port, 443);
        for bad in [
            "http://x/live",
            "rtmp://host",
            "rtmp:///live",
            "rtmp://h:0/a",
            "rtmp://h:x/a",
        ] {
            assert!(IngestUrl::parse(bad).is_none(), "{bad}");
        }
    }
}
