//! The pairing routes: `GET /pairing/state`, `POST /pairing/code` and `DELETE /pairing`.
//!
//! The plugin leaves the last two open to anyone who can reach the port (contract §14.1).
//! picamd takes them from the local network only (the setup page on the LAN, and the backend
//! through the relay, whose requests come from 127.0.0.1), and refuses them when a browser
//! says another site sent them (the route table's `Guard::SameSite`), so a web page cannot
//! unpair a camera behind its visitor's back. The work itself is done by the link thread;
//! both answer 204 at once.

use serde_json::json;

use super::routes::Params;
use crate::http::{Request, Response};
use crate::link::LinkCommand;
use crate::runtime::Runtime;

pub const CROSS_SITE: &str = "Pairing control is not allowed from another site";
pub const BUSY: &str = "Pairing is busy; try again in a moment";

/// `{"status", "relay_enabled"}`, in that order.
pub fn state(rt: &Runtime, _: &Request, _: &Params) -> Response {
    let status = rt.link.pairing_view().status;
    Response::json(
        200,
        &json!({ "status": status.as_str(), "relay_enabled": rt.auth.relay_enabled() }),
    )
    .with_header("Cache-Control", "no-store")
}

/// `POST /pairing/code`: a new code, unless the camera is paired.
pub fn new_code(rt: &Runtime, _: &Request, _: &Params) -> Response {
    command(rt, LinkCommand::RotateCode)
}

/// `DELETE /pairing`: unpair and start pairing afresh.
pub fn unpair(rt: &Runtime, _: &Request, _: &Params) -> Response {
    command(rt, LinkCommand::Unpair)
}

fn command(rt: &Runtime, command: LinkCommand) -> Response {
    if rt.link.request(command) {
        Response::empty(204)
    } else {
        Response::detail(503, BUSY).with_header("Retry-After", "1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::test_runtime;

    fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new(method, path).unwrap();
        req.headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        req
    }

    #[test]
    fn commands_are_queued_for_the_link() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        let inbox = rt.link.take_inbox().unwrap();
        let params = Params::default();
        assert_eq!(
            new_code(&rt, &request("POST", "/pairing/code", &[]), &params).status,
            204
        );
        let same = [
            ("Host", "192.168.1.5:8018"),
            ("Origin", "http://192.168.1.5:8018"),
        ];
        assert_eq!(
            unpair(&rt, &request("DELETE", "/pairing", &same), &params).status,
            204
        );
        assert_eq!(inbox.try_recv(), Ok(LinkCommand::RotateCode));
        assert_eq!(inbox.try_recv(), Ok(LinkCommand::Unpair));
    }

    #[test]
    fn other_sites_are_refused() {
        let (rt, _dir) = test_runtime::runtime(&[("AUTHORIZED_API_KEYS", "[\"k-0123456789\"]")]);
        let inbox = rt.link.take_inbox().unwrap();
        for mut headers in [
            vec![
                ("Host", "localhost:8018"),
                ("Origin", "https://evil.example"),
            ],
            vec![("Host", "localhost:8018"), ("Origin", "null")],
            vec![("Origin", "http://localhost:8018")],
            vec![("Host", "127.0.0.1:8018"), ("Sec-Fetch-Site", "cross-site")],
        ] {
            // With a valid key: a session or key does not let another site in.
            headers.push(("X-API-Key", "k-0123456789"));
            let mut req = request("DELETE", "/pairing", &headers);
            req.peer = Some("192.168.1.20:5000".parse().unwrap());
            let resp = crate::api::handle(&rt, &req);
            assert_eq!(resp.status, 403, "{headers:?}");
            assert!(String::from_utf8(resp.body.to_vec())
                .unwrap()
                .contains(CROSS_SITE));
        }
        assert!(inbox.try_recv().is_err(), "nothing was queued");
    }

    #[test]
    fn a_full_inbox_answers_503() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        let req = request("POST", "/pairing/code", &[]);
        let statuses: Vec<u16> = (0..17)
            .map(|_| new_code(&rt, &req, &Params::default()).status)
            .collect();
        assert_eq!(statuses[..16], [204; 16]);
        assert_eq!(statuses[16], 503);
    }

    #[test]
    fn state_reports_the_link_view() {
        let (rt, _dir) = test_runtime::runtime(&[]);
        let resp = state(
            &rt,
            &request("GET", "/pairing/state", &[]),
            &Params::default(),
        );
        assert_eq!(
            String::from_utf8(resp.body.to_vec()).unwrap(),
            r#"{"status":"idle","relay_enabled":false}"#
        );
    }
}
