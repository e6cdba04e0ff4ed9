//! Between envelopes and the router: a relayed command becomes the request the plugin's
//! loopback call would have made, and the router's response becomes a response envelope.

use crate::http::percent;
use std::net::{Ipv4Addr, SocketAddr};

use serde_json::Value;

use super::envelope::{self, Command, TEXT_FRAME_LIMIT};
use super::outbox::Outgoing;
use crate::http::{Request, Response};

/// The backend cannot take a bigger message (uvicorn's default limit).
pub const MAX_BINARY: usize = 16 * 1024 * 1024;
/// Only W3C trace context reaches the router; everything else (Authorization included) is
/// dropped, as by the plugin.
const FORWARDED_HEADERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The request for `cmd`, at the already normalised `path`, from loopback and carrying the
/// relay key (`auth`: header name and key) when there is one.
pub fn request(cmd: &Command, path: String, auth: Option<(&str, &str)>) -> Request {
    let mut headers: Vec<(String, String)> = cmd
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            FORWARDED_HEADERS
                .contains(&name.as_str())
                .then(|| (name, value.clone()))
        })
        .collect();
    if let Some((name, key)) = auth {
        headers.push((name.to_string(), key.to_string()));
    }
    let body = match &cmd.body {
        Some(body) => {
            headers.push(("content-type".into(), "application/json".into()));
            body.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    Request {
        method: cmd.method.clone(),
        path,
        query: query_string(&cmd.params),
        headers,
        body,
        peer: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        relayed: true,
        may_park: false,
        on_responder: false,
    }
}

fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent::encode(k), percent::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether a body goes as a binary message (models 0.5.2): the media type, lowercased,
/// starts with `image/` or `video/` or is `application/octet-stream`.
pub fn is_binary(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("image/")
        || media.starts_with("video/")
        || media == "application/octet-stream"
}

/// The envelope(s) answering `id` with `resp`.
pub fn reply(id: &str, resp: &Response) -> Outgoing {
    if resp.body.is_stream() {
        let text = envelope::error_response(id, 406, "Streaming responses cannot be relayed.");
        return Outgoing::Text(text);
    }
    let status = if (100..=599).contains(&resp.status) {
        resp.status
    } else {
        502
    };
    let content_type = resp.header("Content-Type").filter(|ct| !ct.is_empty());
    let bytes = resp.body.to_vec();
    if bytes.len() > MAX_BINARY {
        let text = envelope::error_response(id, 502, "Response too large to relay.");
        return Outgoing::Text(text);
    }
    let binary = |body: Vec<u8>| Outgoing::WithBinary {
        header: envelope::response(id, status, content_type, true, Value::Null),
        body,
    };
    if is_binary(content_type) {
        return binary(bytes);
    }
    let data = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ (Value::Object(_) | Value::Array(_) | Value::String(_) | Value::Null)) => v,
        // Numbers and booleans are not allowed as `data`; the text stands for itself.
        _ => match std::str::from_utf8(&bytes) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => return binary(bytes),
        },
    };
    let text = envelope::response(id, status, content_type, false, data);
    if text.len() > TEXT_FRAME_LIMIT {
        // The backend closes the socket on a text frame over 64 KiB; as a binary body the
        // caller still gets the same bytes.
        return binary(bytes);
    }
    Outgoing::Text(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::StreamBody;
    use crate::http::Body;
    use serde_json::json;

    fn command(body: Option<Value>) -> Command {
        Command {
            id: "id-1".into(),
            method: "PATCH".into(),
            path: "/camera/controls".into(),
            params: vec![("a b".into(), "x/y&z".into()), ("n".into(), "3".into())],
            body,
            headers: vec![
                ("TraceParent".into(), "00-1-2-01".into()),
                ("baggage".into(), "k=v".into()),
                ("Authorization".into(), "Bearer stolen".into()),
                ("X-API-Key".into(), "forged".into()),
            ],
        }
    }

    fn text_of(out: Outgoing) -> Value {
        match out {
            Outgoing::Text(t) => serde_json::from_str(&t).unwrap(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn builds_the_loopback_request() {
        let cmd = command(Some(json!({"controls": {"Brightness": 0.5}})));
        let req = request(
            &cmd,
            "/camera/controls".into(),
            Some(("X-API-Key", "LOCAL_k")),
        );
        assert_eq!(req.method, "PATCH");
        assert_eq!(req.path, "/camera/controls");
        assert_eq!(req.query, "a%20b=x%2Fy%26z&n=3");
        assert_eq!(req.peer, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(req.header("traceparent"), Some("00-1-2-01"));
        assert_eq!(req.header("baggage"), Some("k=v"));
        assert_eq!(req.header("authorization"), None);
        assert_eq!(
            req.header("x-api-key"),
            Some("LOCAL_k"),
            "the forged key is dropped"
        );
        assert_eq!(
            req.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("x-api-key"))
                .count(),
            1
        );
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(
            serde_json::from_slice::<Value>(&req.body).unwrap(),
            json!({"controls": {"Brightness": 0.5}})
        );
        let bare = request(&command(None), "/p".into(), None);
        assert!(bare.body.is_empty() && bare.header("content-type").is_none());
        assert!(bare.header("x-api-key").is_none());
    }

    #[test]
    fn binary_detection_follows_the_models() {
        for ct in [
            "image/jpeg",
            "video/mp4",
            "VIDEO/MP4; codecs=x",
            "application/octet-stream",
            " image/png ",
        ] {
            assert!(is_binary(Some(ct)), "{ct}");
        }
        for ct in [
            "application/json",
            "text/plain; charset=utf-8",
            "application/vnd.apple.mpegurl",
            "application/octet-streamx",
            "x-image/png",
            "",
        ] {
            assert!(!is_binary(Some(ct)), "{ct}");
        }
        assert!(!is_binary(None));
    }

    #[test]
    fn json_text_and_empty_bodies() {
        let v = text_of(reply("a", &Response::json(200, &json!({"x": [1]}))));
        assert_eq!(v["data"], json!({"x": [1]}));
        assert_eq!(v["content_type"], "application/json");
        assert_eq!(v["has_binary"], false);
        let playlist = Response::new(
            200,
            "application/vnd.apple.mpegurl",
            Body::Text("#EXTM3U\n".into()),
        );
        assert_eq!(text_of(reply("a", &playlist))["data"], "#EXTM3U\n");
        let v = text_of(reply("a", &Response::empty(204)));
        assert_eq!(
            (
                v["status"].clone(),
                v["content_type"].clone(),
                v["data"].clone()
            ),
            (json!(204), Value::Null, json!(""))
        );
        let number = Response::new(200, "application/json", Body::Static(b"42"));
        assert_eq!(
            text_of(reply("a", &number))["data"],
            "42",
            "numbers are not valid data"
        );
        let null = Response::new(200, "application/json", Body::Static(b"null"));
        assert_eq!(text_of(reply("a", &null))["data"], Value::Null);
        let keys: Vec<String> = text_of(reply("a", &null))
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            ["id", "type", "status", "content_type", "has_binary", "data"]
        );
    }

    #[test]
    fn binary_bodies_go_as_a_pair() {
        let jpeg = Response::new(200, "image/jpeg", Body::Bytes(vec![0xff, 0xd8, 0, 1]));
        let Outgoing::WithBinary { header, body } = reply("img", &jpeg) else {
            panic!("expected a pair");
        };
        assert_eq!(
            header,
            r#"{"id":"img","type":"response","status":200,"content_type":"image/jpeg","has_binary":true,"data":null}"#
        );
        assert_eq!(body, [0xff, 0xd8, 0, 1]);
        let invalid_utf8 = Response::new(200, "text/plain", Body::Bytes(vec![0xc3, 0x28]));
        assert!(
            matches!(reply("a", &invalid_utf8), Outgoing::WithBinary { body, .. } if body == [0xc3, 0x28])
        );
    }

    #[test]
    fn text_over_64_kib_goes_as_binary_instead() {
        let fits = "a".repeat(TEXT_FRAME_LIMIT - 200);
        let resp = Response::new(200, "text/plain", Body::Text(fits.as_str().into()));
        assert!(matches!(reply("a", &resp), Outgoing::Text(t) if t.len() <= TEXT_FRAME_LIMIT));
        let big = "a".repeat(TEXT_FRAME_LIMIT);
        let resp = Response::new(200, "text/plain", Body::Text(big.as_str().into()));
        match reply("a", &resp) {
            Outgoing::WithBinary { header, body } => {
                assert!(
                    header.contains(r#""content_type":"text/plain","has_binary":true,"data":null"#)
                );
                assert_eq!(body, big.as_bytes());
            }
            other => panic!("expected a pair, got {other:?}"),
        }
    }

    #[test]
    fn streams_and_oversized_bodies_are_refused_with_a_detail() {
        let stream = Response::new(
            200,
            "multipart/x-mixed-replace",
            Body::Stream(StreamBody::new(|_| Ok(()))),
        );
        let v = text_of(reply("s", &stream));
        assert_eq!(
            (v["status"].clone(), v["data"]["detail"].clone()),
            (json!(406), json!("Streaming responses cannot be relayed."))
        );
        let huge = Response::new(200, "video/mp4", Body::Bytes(vec![0; MAX_BINARY + 1]));
        assert_eq!(text_of(reply("h", &huge))["status"], 502);
    }
}
