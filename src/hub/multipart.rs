//! Just enough `multipart/form-data` (RFC 7578) for `POST /camera/update-image`: the parts'
//! names and bytes. Sans-IO; borrowed slices of the body, nothing copied.

#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (media, params) = content_type.split_once(';')?;
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 70).then_some(v)
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parts of `body`; `None` when it is not well-formed.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let opening = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let start = find(body, opening.as_bytes())?;
    let mut rest = &body[start + opening.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, delimiter.as_bytes())?;
        let name = head.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
            })
        })?;
        parts.push(Part {
            name,
            data: &content[..end],
        });
        rest = &content[end + delimiter.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_as_python_requests_sends_it() {
        let ct = "multipart/form-data; boundary=b0a3";
        let body = b"--b0a3\r\nContent-Disposition: form-data; name=\"cameraId\"\r\n\r\n1\r\n\
--b0a3\r\nContent-Disposition: form-data; name=\"image\"; filename=\"image.jpg\"\r\n\
Content-Type: image/jpeg\r\n\r\n\xff\xd8\r\n\xff\xd9\r\n--b0a3--\r\n";
        let parts = parse(body, boundary(ct).unwrap()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data),
            ("cameraId", &b"1"[..])
        );
        assert_eq!(parts[1].data, b"\xff\xd8\r\n\xff\xd9");
    }

    #[test]
    fn malformed() {
        assert_eq!(boundary("application/json"), None);
        assert_eq!(boundary("multipart/form-data; boundary=\"q\""), Some("q"));
        assert!(parse(b"--x\r\nno head end", "x").is_none());
        assert!(parse(b"nothing", "x").is_none());
        assert_eq!(parse(b"--x--\r\n", "x"), Some(vec![]));
    }
}
