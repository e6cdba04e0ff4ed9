//! The HTTP edge to the RELab backend for pairing and self-unpair (ureq, rustls with ring).
//! Redirects are not followed; every answer, whatever its status, comes back as a
//! [`BackendReply`] for the sans-IO flow to judge.

use std::io::Read;
use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use super::backend_api::{BackendApi, PollStyle};
use super::material::PairingMaterial;
use super::reply::{BackendReply, Exchange, TransportError};
use crate::config::url::is_loopback_url;

/// Answers are small JSON documents; anything longer is cut (it is only ever logged).
const MAX_BODY_BYTES: u64 = 64 * 1024;

/// The plugin's pairing client timeouts (contract/plugin.md §5.2).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            write: Duration::from_secs(5),
        }
    }
}

pub struct BackendClient {
    agent: Agent,
}

impl BackendClient {
    /// A client for the backend at `base`. A proxy from the environment is used, except for
    /// a loopback backend.
    pub fn new(base: &str) -> BackendClient {
        BackendClient::with_timeouts(base, Timeouts::default())
    }

    pub fn with_timeouts(base: &str, timeouts: Timeouts) -> BackendClient {
        let mut config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("picamd/{}", env!("CARGO_PKG_VERSION")))
            .timeout_resolve(Some(timeouts.connect))
            .timeout_connect(Some(timeouts.connect))
            .timeout_send_request(Some(timeouts.write))
            .timeout_send_body(Some(timeouts.write))
            .timeout_recv_response(Some(timeouts.read))
            .timeout_recv_body(Some(timeouts.read));
        if is_loopback_url(base) {
            config = config.proxy(None);
        }
        BackendClient {
            agent: Agent::new_with_config(config.build()),
        }
    }

    /// `POST …/pairing/register` with the material's code, fingerprint and public key.
    pub fn register(&self, api: &BackendApi, material: &PairingMaterial) -> Exchange {
        let body = material.register_body().to_string();
        let result = self
            .agent
            .post(api.register_url())
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        exchange(result)
    }

    /// `GET …/pairing/poll?code&fingerprint` or `POST …/pairing/poll {"code","fingerprint"}`.
    pub fn poll(&self, api: &BackendApi, code: &str, fingerprint: &str) -> Exchange {
        let request = api.poll_request(code, fingerprint);
        let result = match (request.style, request.json_body) {
            (PollStyle::Post, Some(body)) => self
                .agent
                .post(&request.url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes()),
            _ => self.agent.get(&request.url).call(),
        };
        exchange(result)
    }

    /// `DELETE …/cameras/{id}/self` with a device JWT (204 expected).
    pub fn self_unpair(&self, api: &BackendApi, camera_id: &str, assertion: &str) -> Exchange {
        let result = self
            .agent
            .delete(api.self_unpair_url(camera_id))
            .header("Authorization", &format!("Bearer {assertion}"))
            .call();
        exchange(result)
    }
}

fn exchange(result: Result<Response<Body>, ureq::Error>) -> Exchange {
    let mut response = result.map_err(classify)?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, date) = (header("content-type"), header("date"));
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_BODY_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| classify(ureq::Error::Io(e)))?;
    Ok(BackendReply {
        status: response.status().as_u16(),
        content_type: content_type.unwrap_or_default(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        date,
    })
}

/// Sorts a failure the way the plugin's httpx does: timeouts, failures to connect (DNS,
/// refused, unreachable, TLS), and the rest.
fn classify(error: ureq::Error) -> TransportError {
    use std::io::ErrorKind;
    let text = error.to_string();
    match &error {
        ureq::Error::Timeout(_) => TransportError::Timeout(text),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_) => TransportError::Connect(text),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportError::Timeout(text),
            ErrorKind::ConnectionRefused
            | ErrorKind::AddrNotAvailable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::NotConnected => TransportError::Connect(text),
            _ => TransportError::Other(text),
        },
        _ => TransportError::Other(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pairing_api::PollMethod;
    use crate::pairing::clock_skew::{self, SkewReading};
    use crate::pairing::identity::unix_now;
    use crate::pairing::test_backend::{Canned, TestBackend};

    fn material() -> PairingMaterial {
        PairingMaterial::generate().unwrap()
    }

    #[test]
    fn register_sends_the_contract_body_and_returns_any_status() {
        let backend = TestBackend::start(|req| match req.json()["code"].as_str() {
            Some(c) if c.starts_with('A') => Canned::json(409, r#"{"detail":"in use"}"#),
            _ => Canned::json(201, r#"{"code":"X","expires_in":600}"#),
        });
        let client = BackendClient::new(&backend.url());
        let api = BackendApi::new(&backend.url(), "", PollMethod::Auto);
        let mut m = material();
        m.code = "BCD234".into();
        let reply = client.register(&api, &m).unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(reply.content_type, "application/json");
        m.code = "ABC234".into();
        assert_eq!(client.register(&api, &m).unwrap().status, 409);

        let req = &backend.requests()[0];
        assert_eq!(
            (req.method.as_str(), req.target.as_str()),
            ("POST", "/plugins/rpi-cam/pairing/register")
        );
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.header("user-agent").unwrap().starts_with("picamd/"));
        assert!(req.header("authorization").is_none());
        let body = req.json();
        assert_eq!(body["code"], "BCD234");
        assert_eq!(body["rpi_fingerprint"], m.fingerprint.as_str());
        assert_eq!(body["key_id"], m.key_id.as_str());
        assert_eq!(body["public_key_jwk"]["kty"], "EC");
        assert!(body["public_key_jwk"]["use"].is_null());
    }

    #[test]
    fn polls_with_get_or_post_and_reads_waiting_paired_and_404() {
        let backend = TestBackend::start(|req| {
            let code = if req.method == "GET" {
                req.target
                    .split("code=")
                    .nth(1)
                    .unwrap_or("")
                    .split('&')
                    .next()
                    .unwrap_or("")
                    .to_string()
            } else {
                req.json()["code"].as_str().unwrap_or("").to_string()
            };
            match code.as_str() {
                "WAIT23" => Canned::json(
                    200,
                    r#"{"status":"waiting","camera_id":null,"ws_url":null,"auth_scheme":null,"key_id":null}"#,
                ),
                "PAIR23" => Canned::json(
                    200,
                    r#"{"status":"paired","camera_id":"c","ws_url":"wss://x/ws","auth_scheme":"device_assertion","key_id":"k"}"#,
                ),
                _ => Canned::json(404, r#"{"detail":"Invalid or expired pairing code."}"#)
                    .with_header("Content-Type", "application/problem+json"),
            }
        });
        let client = BackendClient::new(&backend.url());
        let get = BackendApi::new(&backend.url(), "", PollMethod::Auto);
        let post = BackendApi::new(&backend.url(), "/v1", PollMethod::Auto);
        let waiting = client.poll(&get, "WAIT23", "fp_1").unwrap();
        assert_eq!(waiting.status, 200);
        assert_eq!(waiting.json().unwrap()["status"], "waiting");
        let paired = client.poll(&post, "PAIR23", "fp_1").unwrap();
        assert_eq!(paired.json().unwrap()["camera_id"], "c");
        assert_eq!(client.poll(&get, "GONE23", "fp").unwrap().status, 404);

        let reqs = backend.requests();
        assert_eq!(reqs[0].method, "GET");
        assert_eq!(
            reqs[0].target,
            "/plugins/rpi-cam/pairing/poll?code=WAIT23&fingerprint=fp_1"
        );
        assert_eq!(reqs[1].method, "POST");
        assert_eq!(reqs[1].target, "/v1/plugins/rpi-cam/pairing/poll");
        assert_eq!(
            reqs[1].json(),
            serde_json::json!({"code": "PAIR23", "fingerprint": "fp_1"})
        );
    }

    #[test]
    fn self_unpair_sends_the_bearer_token_and_redirects_are_not_followed() {
        let backend = TestBackend::start(|req| {
            if req.target.starts_with("/v1/") {
                Canned::json(204, "")
            } else {
                Canned::json(307, "").with_header("Location", "/v1/elsewhere")
            }
        });
        let client = BackendClient::new(&backend.url());
        let v1 = BackendApi::new(&backend.url(), "/v1", PollMethod::Auto);
        let reply = client.self_unpair(&v1, "cam-1", "a.b.c").unwrap();
        assert_eq!(reply.status, 204);
        let req = &backend.requests()[0];
        assert_eq!(req.method, "DELETE");
        assert_eq!(req.target, "/v1/plugins/rpi-cam/device/cameras/cam-1/self");
        assert_eq!(req.header("authorization"), Some("Bearer a.b.c"));
        let legacy = BackendApi::new(&backend.url(), "", PollMethod::Auto);
        assert_eq!(
            client.self_unpair(&legacy, "cam-1", "t").unwrap().status,
            307
        );
        assert_eq!(backend.requests().len(), 2, "the redirect was not followed");
    }

    #[test]
    fn the_date_header_reveals_clock_skew() {
        let behind = crate::clock::unix_us() / 1_000_000 + 3600;
        let date = imf_fixdate(behind as i64);
        let backend =
            TestBackend::start(move |_| Canned::json(201, "{}").with_header("Date", &date));
        let client = BackendClient::new(&backend.url());
        let api = BackendApi::new(&backend.url(), "", PollMethod::Auto);
        let reply = client.register(&api, &material()).unwrap();
        let SkewReading::Skewed(skew) = clock_skew::read(reply.date.as_deref(), unix_now()) else {
            panic!("an hour off is skew: {:?}", reply.date);
        };
        assert!(
            (3598..=3600).contains(&skew.backend_minus_local_s),
            "{skew:?}"
        );
        assert!(skew.warning().contains("s behind the backend"));
    }

    #[test]
    fn transport_failures_are_sorted() {
        // Nothing listens on a port we just bound and released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let api = BackendApi::new(&url, "", PollMethod::Auto);
        let refused = BackendClient::new(&url).register(&api, &material());
        assert!(
            matches!(refused, Err(TransportError::Connect(_))),
            "{refused:?}"
        );

        let backend =
            TestBackend::start(|_| Canned::json(201, "{}").after(Duration::from_millis(1500)));
        let quick = Timeouts {
            read: Duration::from_millis(300),
            ..Timeouts::default()
        };
        let client = BackendClient::with_timeouts(&backend.url(), quick);
        let api = BackendApi::new(&backend.url(), "", PollMethod::Auto);
        let slow = client.poll(&api, "ABC234", "fp");
        assert!(matches!(slow, Err(TransportError::Timeout(_))), "{slow:?}");
    }

    /// `Sat, 21 Nov 2026 14:36:34 GMT` for a Unix time (test helper).
    fn imf_fixdate(unix: i64) -> String {
        let rfc = crate::clock::rfc3339_s(unix as u64 * 1_000_000);
        let (y, mo, d) = (&rfc[0..4], &rfc[5..7], &rfc[8..10]);
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][mo.parse::<usize>().unwrap() - 1];
        let weekday =
            ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(unix / 86_400 % 7) as usize];
        format!("{weekday}, {d} {month} {y} {} GMT", &rfc[11..19])
    }
}
