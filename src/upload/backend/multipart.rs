//! `multipart/form-data` bodies (RFC 7578) for the backend's upload routes: a file part and
//! plain text fields.

pub struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    /// An empty form with a random boundary (it cannot occur in the parts we write: the
    /// fields are JSON and the file is JPEG, and 32 random hex digits are never guessed).
    pub fn new() -> Form {
        Form {
            boundary: format!("picamd-{}", crate::random::hex_id()),
            body: Vec::new(),
        }
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub fn file(mut self, name: &str, filename: &str, content_type: &str, bytes: &[u8]) -> Form {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
            self.boundary,
            quoted(name),
            quoted(filename)
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn text(mut self, name: &str, value: &str) -> Form {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
            self.boundary,
            quoted(name)
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The finished body, closing delimiter included.
    pub fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
    }
}

/// RFC 7578 §4.2: quotes and line breaks in a name are percent-encoded.
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited_as_rfc_7578_says() {
        let form = Form::new();
        let boundary = form
            .content_type()
            .split("boundary=")
            .nth(1)
            .unwrap()
            .to_string();
        let body = form
            .file("file", "a.jpg", "image/jpeg", b"\xff\xd8JPEG")
            .text("capture_metadata", r#"{"a": 1}"#)
            .finish();
        let expected = [
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").into_bytes(),
            b"\xff\xd8JPEG\r\n".to_vec(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"capture_metadata\"\r\n\r\n{{\"a\": 1}}\r\n--{boundary}--\r\n").into_bytes(),
        ]
        .concat();
        assert_eq!(body, expected);
        assert_ne!(Form::new().content_type(), Form::new().content_type());
        assert_eq!(quoted("a\"b\r\n"), "a%22b%0D%0A");
    }
}
