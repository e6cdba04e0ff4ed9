//! S3 error answers: the `<Error><Code>…</Code><Message>…</Message></Error>` body, and whether
//! an error is the sink's (retry it later, for every capture) or the capture's.

use crate::upload::index::Blame;

/// The error code and message of an S3 error body, when it has them.
pub fn parse_error_body(body: &str) -> (Option<String>, Option<String>) {
    (element(body, "Code"), element(body, "Message"))
}

fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    let text = unescape(xml[start..start + len].trim());
    (!text.is_empty()).then_some(text)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Error codes that say the sink is unusable for every capture (credentials, clock, region,
/// bucket), whatever their HTTP status.
const SINK_WIDE_CODES: &[&str] = &[
    "AccessDenied",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidToken",
    "NoSuchBucket",
    "PermanentRedirect",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "SlowDown",
    "TemporaryRedirect",
];

/// Who an error answer blames: 5xx, 401/403, 408, 429, redirects and the codes above are the
/// sink's; any other refusal is this capture's.
pub fn blame(status: u16, code: Option<&str>) -> Blame {
    let sink_status = status >= 500 || matches!(status, 300..=399 | 401 | 403 | 408 | 429);
    if sink_status || code.is_some_and(|c| SINK_WIDE_CODES.contains(&c)) {
        Blame::Sink
    } else {
        Blame::Capture
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_code_and_message() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &amp; so on</Message><RequestId>1</RequestId></Error>"#;
        assert_eq!(
            parse_error_body(body),
            (
                Some("SignatureDoesNotMatch".into()),
                Some("The request signature we calculated does not match & so on".into())
            )
        );
        assert_eq!(parse_error_body(""), (None, None));
        assert_eq!(parse_error_body("<Error><Code></Code>"), (None, None));
        assert_eq!(parse_error_body("<html>bad gateway</html>"), (None, None));
    }

    #[test]
    fn blames() {
        assert_eq!(blame(403, Some("SignatureDoesNotMatch")), Blame::Sink);
        assert_eq!(blame(403, Some("InvalidAccessKeyId")), Blame::Sink);
        assert_eq!(blame(404, Some("NoSuchBucket")), Blame::Sink);
        assert_eq!(blame(400, Some("RequestTimeTooSkewed")), Blame::Sink);
        assert_eq!(blame(503, None), Blame::Sink);
        assert_eq!(blame(429, None), Blame::Sink);
        assert_eq!(blame(301, None), Blame::Sink);
        assert_eq!(blame(400, Some("EntityTooLarge")), Blame::Capture);
        assert_eq!(blame(400, None), Blame::Capture);
        assert_eq!(blame(413, None), Blame::Capture);
    }
}
