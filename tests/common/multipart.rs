//! `multipart/form-data` bodies, as a hub camera sends its pictures.

/// The content type and body of a form with `fields`; a field called `image` goes as a JPEG
/// file.
pub fn form(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "picamd-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes(),
        );
        if *name == "image" {
            body.extend(b"; filename=\"image.jpg\"\r\nContent-Type: image/jpeg");
        }
        body.extend(b"\r\n\r\n");
        body.extend(*value);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
