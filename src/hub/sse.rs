//! The `stream-image` Server-Sent Events framing, byte for byte as the reference hub writes
//! it (contract A.2): `event: image-update` LF `data: data:image/jpg;base64,<base64>` LF LF.
//! Note `image/jpg`; no `id:`, `retry:` or comments.

use crate::base64;

pub const CONTENT_TYPE: &str = "text/event-stream";

/// One event carrying `jpeg` (empty before the camera sent anything).
pub fn image_event(jpeg: &[u8]) -> Vec<u8> {
    let b64 = base64::encode_standard(jpeg);
    let mut event = Vec::with_capacity(b64.len() + 64);
    event.extend_from_slice(b"event: image-update\ndata: data:image/jpg;base64,");
    event.extend_from_slice(b64.as_bytes());
    event.extend_from_slice(b"\n\n");
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes() {
        assert_eq!(
            image_event(b"\xff\xd8\xff"),
            b"event: image-update\ndata: data:image/jpg;base64,/9j/\n\n"
        );
        assert_eq!(
            image_event(b""),
            b"event: image-update\ndata: data:image/jpg;base64,\n\n"
        );
    }
}
