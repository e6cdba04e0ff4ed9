//! `multipart/form-data` bodies (RFC 7578), parsed strictly enough to notice a sloppy client.

pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// `boundary` from a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = content_type.split(';');
    if !pieces
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    pieces.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let opening = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    if !body.starts_with(opening.as_bytes()) {
        return Err("body does not start with the boundary".into());
    }
    let mut cursor = opening.len();
    let mut parts = Vec::new();
    loop {
        if body[cursor..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[cursor..].starts_with(b"\r\n") {
            return Err("boundary not followed by CRLF".into());
        }
        cursor += 2;
        let head_end = find(body, b"\r\n\r\n", cursor).ok_or("part headers never end")?;
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let head = &body[cursor..head_end + 4];
        let headers = match httparse::parse_headers(head, &mut slots) {
            Ok(httparse::Status::Complete((_, headers))) => headers,
            _ => return Err("unparseable part headers".into()),
        };
        let mut disposition = None;
        let mut content_type = None;
        for h in headers.iter() {
            let value = String::from_utf8_lossy(h.value).into_owned();
            if h.name.eq_ignore_ascii_case("content-disposition") {
                disposition = Some(value);
            } else if h.name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_string());
            }
        }
        let disposition = disposition.ok_or("part without Content-Disposition")?;
        let params = disposition_params(&disposition)?;
        let name = params
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.clone())
            .ok_or("part without a name")?;
        let filename = params
            .iter()
            .find(|(k, _)| k == "filename")
            .map(|(_, v)| v.clone());
        let content_start = head_end + 4;
        let content_end =
            find(body, delimiter.as_bytes(), content_start).ok_or("part never terminated")?;
        parts.push(Part {
            name,
            filename,
            content_type,
            body: body[content_start..content_end].to_vec(),
        });
        cursor = content_end + delimiter.len();
    }
}

/// `form-data; name="file"; filename="a.jpg"` → [("name","file"),("filename","a.jpg")].
fn disposition_params(value: &str) -> Result<Vec<(String, String)>, String> {
    let (kind, mut rest) = value.split_once(';').unwrap_or((value, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(format!("Content-Disposition {kind:?} is not form-data"));
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return Ok(params);
        }
        let (key, after) = rest.split_once('=').ok_or("parameter without '='")?;
        let key = key.trim().to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => {
                        if let Some((_, c)) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated quoted parameter".into()),
                }
            };
            (value, &quoted[end + 1..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((key, value));
        rest = remaining;
    }
}
