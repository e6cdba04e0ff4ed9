//! The web UI: files from `www/`, built into the binary, or read from a folder in development.
//! Nothing outside that folder can be reached.

use std::path::{Path, PathBuf};

use super::{Body, Request, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/www_assets.rs"));
}

pub struct StaticFiles {
    dir: Option<PathBuf>,
}

impl StaticFiles {
    /// Serves the embedded copy, or `dir` when given.
    pub fn new(dir: Option<PathBuf>) -> StaticFiles {
        StaticFiles {
            dir: dir.and_then(|d| d.canonicalize().ok()),
        }
    }

    /// Answers GET/HEAD for a file; `None` when there is no such file.
    pub fn serve(&self, req: &Request) -> Option<Response> {
        self.file(&relative_name(&req.path)?)
    }

    /// A file by its name inside `www/` (`docs.html`, `icons/a.svg`); `None` when there is no
    /// such file or the name tries to leave the folder.
    pub fn file(&self, name: &str) -> Option<Response> {
        if name.is_empty() {
            return None;
        }
        let name = relative_name(&format!("/{name}"))?;
        let body = match &self.dir {
            Some(dir) => Body::Bytes(read_inside(dir, &name)?),
            None => Body::Static(embedded::ASSETS.iter().find(|(n, _)| *n == name)?.1),
        };
        Some(Response::new(200, content_type(&name), body).with_header("Cache-Control", "no-cache"))
    }
}

/// `/` → `index.html`; `/a/b.js` → `a/b.js`. `None` for anything with `.`/`..` segments,
/// empty segments, backslashes or a trailing slash.
fn relative_name(path: &str) -> Option<String> {
    if path == "/" {
        return Some("index.html".into());
    }
    let rel = path.strip_prefix('/')?;
    let ok = rel
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'));
    ok.then(|| rel.to_string())
}

fn read_inside(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let path = dir.join(name).canonicalize().ok()?;
    // A symlink could still point outside: only files that resolve inside are served.
    if !path.starts_with(dir) || !path.is_file() {
        return None;
    }
    std::fs::read(path).ok()
}

pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert_eq!(relative_name("/").as_deref(), Some("index.html"));
        assert_eq!(relative_name("/js/app.js").as_deref(), Some("js/app.js"));
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/./x",
            "/a//b",
            "/a/",
            "/a\\..\\b",
            "x",
        ] {
            assert_eq!(relative_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn folder_mode_refuses_escapes() {
        let root = std::env::temp_dir().join(format!("picamd-static-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/ok.txt"), b"ok").unwrap();
        std::fs::write(root.with_extension("secret"), b"no").unwrap();
        let files = StaticFiles::new(Some(root.clone()));
        let get = |p: &str| files.serve(&Request::new("GET", p).unwrap());
        assert_eq!(get("/sub/ok.txt").unwrap().body.to_vec(), b"ok");
        assert!(get("/sub").is_none(), "directories are not files");
        assert!(get("/missing").is_none());
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink(root.with_extension("secret"), root.join("link"));
            assert!(
                get("/link").is_none(),
                "symlinks out of the folder are refused"
            );
        }
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::remove_file(root.with_extension("secret")).unwrap();
    }
}
