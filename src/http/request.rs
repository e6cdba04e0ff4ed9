//! A request as the router sees it, whether it came over HTTP or (later) through the relay.

use std::net::SocketAddr;

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Percent-decoded path, always starting with `/`.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: Option<SocketAddr>,
    /// A command the backend sent through the relay (not a network client).
    pub relayed: bool,
    /// The HTTP server has room to park this request in its responder: a route that must
    /// wait for media may answer `Response::parked` instead of blocking its thread.
    pub may_park: bool,
    /// Read and answered by the HTTP responder thread, with no connection thread.
    pub on_responder: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget(pub &'static str);

impl Request {
    /// Builds a request from a method and a request target (`/path?query`, or absolute-form).
    pub fn new(method: &str, target: &str) -> Result<Request, BadTarget> {
        // Absolute-form (`http://host/path`) is what proxies send; anything else must be a path.
        let origin_form;
        let target = match ["http://", "https://"]
            .iter()
            .find_map(|s| target.strip_prefix(s))
        {
            Some(rest) => match rest.find(['/', '?']) {
                Some(j) if rest[j..].starts_with('?') => {
                    origin_form = format!("/{}", &rest[j..]);
                    origin_form.as_str()
                }
                Some(j) => &rest[j..],
                None => "/",
            },
            None => target,
        };
        let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
        if !raw_path.starts_with('/') {
            return Err(BadTarget("the request target must start with /"));
        }
        let path = percent_decode(raw_path)?;
        Ok(Request {
            method: method.to_string(),
            path,
            query: query.to_string(),
            ..Request::default()
        })
    }

    /// A header's value; names compare case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> Result<String, BadTarget> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(BadTarget("truncated percent escape"))?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(BadTarget("bad percent escape"));
            }
            let hex = std::str::from_utf8(hex).map_err(|_| BadTarget("bad percent escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| BadTarget("bad percent escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return Err(BadTarget("NUL in path"));
    }
    String::from_utf8(out).map_err(|_| BadTarget("path is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_decodes() {
        let r = Request::new("GET", "/a%20b/c?x=1&y").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("GET", "/a b/c", "x=1&y")
        );
        assert_eq!(Request::new("GET", "http://h:1/p?q").unwrap().path, "/p");
        assert_eq!(Request::new("GET", "http://h").unwrap().path, "/");
        assert_eq!(Request::new("GET", "https://h/p").unwrap().path, "/p");
        let r = Request::new("GET", "http://h:1?a=b").unwrap();
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/", "a=b"));
        let r = Request::new("GET", "/p?cb=http://x/y").unwrap();
        assert_eq!(
            (r.path.as_str(), r.query.as_str()),
            ("/p", "cb=http://x/y"),
            "URLs in queries stay"
        );
        for bad in ["x", "/%zz", "/%4", "/%00", "/%ff", "/%+f", "ftp://h/p"] {
            assert!(Request::new("GET", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_case_insensitive() {
        let mut r = Request::new("GET", "/").unwrap();
        r.headers.push(("X-Api-Key".into(), "k".into()));
        assert_eq!(r.header("x-api-key"), Some("k"));
        assert_eq!(r.header("other"), None);
    }
}
