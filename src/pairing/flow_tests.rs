//! The pairing flow's tests: every branch of contract/plugin.md §5 and the §12 checklist.

use super::*;
use crate::config::pairing_api::PollMethod;

const NOW: i64 = 1_795_271_794;
const DATE_NOW: &str = "Sat, 21 Nov 2026 14:36:34 GMT";
const ZERO: Duration = Duration::ZERO;

fn flow_with(prefix: &str, auto: bool) -> PairingFlow {
    PairingFlow::new(FlowSettings {
        api: BackendApi::new("http://127.0.0.1:8001/", prefix, PollMethod::Auto),
        auto_prefix: auto,
        register_retry: Duration::from_secs(1),
        poll_interval: Duration::from_secs(3),
        allow_plaintext_relay: false,
    })
}

fn flow() -> PairingFlow {
    flow_with("", true)
}

fn reply(status: u16, body: &str) -> Exchange {
    Ok(BackendReply::new(status, body))
}

fn timeout() -> Exchange {
    Err(TransportError::Timeout("timed out".into()))
}

/// A flow that has registered `code` and waits for its first poll.
fn registered(code: &str) -> PairingFlow {
    let mut f = flow();
    assert_eq!(f.start(), Next::NewMaterial { delay: ZERO });
    assert_eq!(f.material_ready(code, NOW), Next::Register { delay: ZERO });
    assert_eq!(f.view().status, PairingStatus::Registering);
    assert_eq!(
        f.register_outcome(reply(201, r#"{"code":"x","expires_in":600}"#), NOW),
        Next::Poll {
            delay: Duration::from_secs(3)
        }
    );
    f.take_log();
    f
}

fn paired_body() -> String {
    r#"{"status":"paired","camera_id":"cam-1","ws_url":"wss://relab.example/plugins/rpi-cam/ws/connect","auth_scheme":"device_assertion","key_id":"kid-1"}"#.to_string()
}

fn lines(f: &mut PairingFlow) -> Vec<String> {
    f.take_log().into_iter().map(|(_, l)| l).collect()
}

fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn a_new_code_shows_with_its_expiry() {
    let mut f = flow();
    assert_eq!(f.view().status, PairingStatus::Idle);
    f.start();
    f.material_ready("ABC234", NOW);
    let v = f.view();
    assert_eq!(v.code.as_deref(), Some("ABC234"));
    assert_eq!(v.expires_at_unix, Some(NOW + 600));
    assert_eq!((v.error.clone(), v.clock_skew.clone()), (None, None));
}

#[test]
fn register_then_poll_waiting_then_paired() {
    let mut f = registered("ABC234");
    assert_eq!(f.view().status, PairingStatus::Waiting);
    assert_eq!(f.confirmed_prefix(), Some(""));
    let waiting =
        r#"{"status":"waiting","camera_id":null,"ws_url":null,"auth_scheme":null,"key_id":null}"#;
    assert_eq!(
        f.poll_outcome(reply(200, waiting), NOW),
        Next::Poll {
            delay: Duration::from_secs(3)
        }
    );
    assert_eq!(f.view().code.as_deref(), Some("ABC234"));
    let next = f.poll_outcome(reply(200, &paired_body()), NOW);
    assert_eq!(
        next,
        Next::Complete(PairedBootstrap {
            camera_id: "cam-1".into(),
            ws_url: "wss://relab.example/plugins/rpi-cam/ws/connect".into(),
            auth_scheme: "device_assertion".into(),
            key_id: "kid-1".into(),
        })
    );
    assert_eq!(next.delay(), ZERO);
    let v = f.view();
    assert_eq!(v.status, PairingStatus::Paired);
    assert_eq!((v.code.clone(), v.expires_at_unix), (None, None));
    assert!(f.take_log().is_empty());
}

#[test]
fn a_missing_auth_scheme_means_device_assertion() {
    let mut f = registered("ABC234");
    let body = r#"{"status":"paired","camera_id":"c","ws_url":"wss://x/ws","key_id":"k"}"#;
    assert!(matches!(
        f.poll_outcome(reply(200, body), NOW),
        Next::Complete(PairedBootstrap { auth_scheme, .. }) if auth_scheme == "device_assertion"
    ));
}

#[test]
fn conflict_registers_new_material_within_the_attempts() {
    let mut f = flow();
    f.start();
    f.material_ready("AAAAAA", NOW);
    assert_eq!(
        f.register_outcome(reply(409, "{}"), NOW),
        Next::NewMaterial { delay: ZERO }
    );
    assert!(has(&lines(&mut f), "PAIRING CODE IN USE | code=AAAAAA"));
    assert_eq!(
        f.material_ready("BBBBBB", NOW),
        Next::Register { delay: ZERO }
    );
    assert_eq!(
        f.register_outcome(reply(409, "{}"), NOW),
        Next::NewMaterial { delay: ZERO }
    );
    f.material_ready("CCCCCC", NOW);
    // The third attempt in a row fails the cycle.
    assert_eq!(
        f.register_outcome(reply(409, "{}"), NOW),
        Next::NewMaterial {
            delay: Duration::from_secs(10)
        }
    );
    let log = lines(&mut f);
    assert!(has(
        &log,
        "Failed to register pairing code after 3 attempts"
    ));
    assert!(has(&log, "Pairing cycle failed | retry_in_s=10"));
    assert_eq!(f.view().status, PairingStatus::Error);
    // The next cycle has its three attempts again.
    f.material_ready("DDDDDD", NOW);
    assert_eq!(
        f.register_outcome(reply(409, "{}"), NOW),
        Next::NewMaterial { delay: ZERO }
    );
    f.material_ready("EEEEEE", NOW);
    assert!(matches!(
        f.register_outcome(reply(201, "{}"), NOW),
        Next::Poll { .. }
    ));
    assert_eq!(f.view().code.as_deref(), Some("EEEEEE"));
}

#[test]
fn register_timeouts_are_retried_then_fail_the_cycle() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    for _ in 0..2 {
        assert_eq!(
            f.register_outcome(timeout(), NOW),
            Next::Register {
                delay: Duration::from_secs(1)
            }
        );
        assert_eq!(
            lines(&mut f),
            ["PAIRING REGISTER TIMEOUT | code=ABC234 retry_in_s=1"]
        );
        assert_eq!(f.view().code.as_deref(), Some("ABC234"), "same code");
    }
    assert_eq!(
        f.register_outcome(timeout(), NOW),
        Next::NewMaterial {
            delay: Duration::from_secs(10)
        }
    );
    let log = lines(&mut f);
    assert!(has(
        &log,
        "Failed to register pairing code after 3 attempts."
    ));
    let v = f.view();
    assert_eq!(v.status, PairingStatus::Error);
    assert_eq!(v.error.as_deref(), Some(ERROR_RETRYING));
    assert_eq!(v.code, None);
}

#[test]
fn other_success_statuses_use_up_attempts() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    assert_eq!(
        f.register_outcome(reply(200, "{}"), NOW),
        Next::Register { delay: ZERO }
    );
    assert_eq!(
        f.register_outcome(reply(202, "{}"), NOW),
        Next::Register { delay: ZERO }
    );
    assert!(matches!(
        f.register_outcome(reply(200, "{}"), NOW),
        Next::NewMaterial { .. }
    ));
    assert_eq!(f.view().status, PairingStatus::Error);
}

#[test]
fn register_404_tries_v1_in_auto_mode_then_stops() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    assert_eq!(
        f.register_outcome(reply(404, r#"{"detail":"Not Found"}"#), NOW),
        Next::Register { delay: ZERO }
    );
    assert_eq!(f.api().prefix(), "/v1");
    assert!(has(
        &lines(&mut f),
        "trying http://127.0.0.1:8001/v1/plugins/rpi-cam/pairing/register"
    ));
    assert_eq!(f.view().code.as_deref(), Some("ABC234"), "same material");
    assert_eq!(f.register_outcome(reply(404, ""), NOW), Next::Stop);
    let log = lines(&mut f);
    assert!(has(
        &log,
        "Pairing backend missing pairing API | stopping pairing"
    ));
    assert!(has(&log, "http://127.0.0.1:8001/plugins/rpi-cam/pairing/register and http://127.0.0.1:8001/v1/plugins/rpi-cam/pairing/register"));
    let v = f.view();
    assert_eq!(v.status, PairingStatus::Error);
    assert_eq!(v.error.as_deref(), Some(ERROR_API_NOT_FOUND));
    assert_eq!(v.code, None);
}

#[test]
fn auto_mode_remembers_the_prefix_that_worked() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    f.register_outcome(reply(404, ""), NOW);
    assert_eq!(f.confirmed_prefix(), None);
    assert!(matches!(
        f.register_outcome(reply(201, "{}"), NOW),
        Next::Poll { .. }
    ));
    assert_eq!(f.confirmed_prefix(), Some("/v1"));
    // Later cycles stay on /v1 and poll with POST.
    f.poll_outcome(reply(404, ""), NOW);
    f.material_ready("DEF234", NOW);
    assert_eq!(f.api().prefix(), "/v1");
    assert!(f.api().poll_request("DEF234", "fp").json_body.is_some());
    // A flow started on a learned /v1 falls back to no prefix once.
    let mut f = flow_with("/v1", true);
    f.start();
    f.material_ready("ABC234", NOW);
    assert_eq!(
        f.register_outcome(reply(404, ""), NOW),
        Next::Register { delay: ZERO }
    );
    assert_eq!(f.api().prefix(), "");
    assert_eq!(f.register_outcome(reply(404, ""), NOW), Next::Stop);
}

#[test]
fn a_fixed_prefix_stops_at_the_first_404() {
    for prefix in ["", "/v1"] {
        let mut f = flow_with(prefix, false);
        f.start();
        f.material_ready("ABC234", NOW);
        assert_eq!(
            f.register_outcome(reply(404, ""), NOW),
            Next::Stop,
            "{prefix:?}"
        );
        assert_eq!(f.view().error.as_deref(), Some(ERROR_API_NOT_FOUND));
    }
}

#[test]
fn poll_404_rotates_the_code_and_resets_the_backoff() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    // Two failures grow the backoff to 40 s.
    f.register_outcome(reply(500, ""), NOW);
    f.material_ready("ABC235", NOW);
    assert_eq!(
        f.register_outcome(reply(503, ""), NOW),
        Next::NewMaterial {
            delay: Duration::from_secs(20)
        }
    );
    f.material_ready("OLD234", NOW);
    f.register_outcome(reply(201, "{}"), NOW);
    f.take_log();
    assert_eq!(
        f.poll_outcome(
            reply(404, r#"{"detail":"Invalid or expired pairing code."}"#),
            NOW
        ),
        Next::NewMaterial { delay: ZERO }
    );
    assert_eq!(
        lines(&mut f),
        ["PAIRING ROTATING | expired_code=OLD234 reason=expired"]
    );
    f.material_ready("NEW234", NOW + 700);
    assert_eq!(f.view().expires_at_unix, Some(NOW + 1300));
    assert_eq!(
        f.register_outcome(reply(500, ""), NOW),
        Next::NewMaterial {
            delay: Duration::from_secs(10)
        },
        "the expiry reset the backoff"
    );
}

#[test]
fn backoff_doubles_to_two_minutes() {
    let mut f = flow();
    f.start();
    let mut delays = Vec::new();
    for _ in 0..6 {
        f.material_ready("ABC234", NOW);
        delays.push(
            f.register_outcome(reply(502, "bad gateway"), NOW)
                .delay()
                .as_secs(),
        );
    }
    assert_eq!(delays, [10, 20, 40, 80, 120, 120]);
    let log = lines(&mut f);
    assert!(has(
        &log,
        "Pairing backend http://127.0.0.1:8001 returned HTTP 502 — will retry."
    ));
    assert!(!has(&log, "bad gateway"), "5xx bodies are not logged");
    assert_eq!(
        f.view().error_text().as_deref(),
        Some("Pairing failed — retrying… (HTTP 502)")
    );
}

#[test]
fn poll_timeouts_keep_polling() {
    let mut f = registered("ABC234");
    assert_eq!(
        f.poll_outcome(timeout(), NOW),
        Next::Poll {
            delay: Duration::from_secs(3)
        }
    );
    assert_eq!(
        lines(&mut f),
        ["PAIRING POLL TIMEOUT | code=ABC234 retry_in_s=3"]
    );
    assert_eq!(f.view().status, PairingStatus::Waiting);
}

#[test]
fn connect_errors_say_unreachable() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    let next = f.register_outcome(
        Err(TransportError::Connect("connection refused".into())),
        NOW,
    );
    assert_eq!(
        next,
        Next::NewMaterial {
            delay: Duration::from_secs(10)
        }
    );
    let log = lines(&mut f);
    assert!(has(
        &log,
        "Pairing backend http://127.0.0.1:8001 could not be reached."
    ));
    let v = f.view();
    assert_eq!(v.status, PairingStatus::Error);
    assert_eq!(v.error.as_deref(), Some(ERROR_UNREACHABLE));
    assert_eq!(v.error_detail.as_deref(), Some("connection refused"));

    let mut f = registered("ABC234");
    f.poll_outcome(Err(TransportError::Other("connection reset".into())), NOW);
    assert_eq!(f.view().error.as_deref(), Some(ERROR_RETRYING));
    assert!(has(
        &lines(&mut f),
        "Pairing cycle failed | retry_in_s=10 | connection reset"
    ));
}

#[test]
fn error_bodies_are_logged_cut_and_403_on_register_is_explained() {
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW);
    f.register_outcome(reply(403, r#"{"detail":"Registration is closed."}"#), NOW);
    let log = lines(&mut f);
    assert!(has(&log, "refusing anonymous camera registration"));
    assert!(has(&log, "Response body: Registration is closed."));

    f.material_ready("ABC234", NOW);
    let long = "y".repeat(400);
    f.register_outcome(reply(422, &long), NOW);
    let log = lines(&mut f);
    let expected = format!(
        "failed with HTTP 422. Response body: {}...",
        "y".repeat(157)
    );
    assert!(log.iter().any(|l| l.ends_with(&expected)), "{log:?}");

    let mut f = registered("ABC234");
    f.poll_outcome(reply(403, r#"{"detail":"Fingerprint mismatch"}"#), NOW);
    let log = lines(&mut f);
    assert!(has(&log, "Pairing request to http://127.0.0.1:8001/plugins/rpi-cam/pairing/poll failed with HTTP 403. Response body: Fingerprint mismatch"));
    assert!(!has(&log, "refusing anonymous"));
}

#[test]
fn nothing_logged_reveals_the_fingerprint() {
    let mut f = registered("ABC234");
    f.poll_outcome(reply(400, "nope"), NOW);
    for line in lines(&mut f) {
        assert!(!line.contains("fingerprint="), "{line}");
    }
}

#[test]
fn broken_poll_answers_fail_the_cycle() {
    for body in [
        "not json",
        r#"{"status":"paired","camera_id":"c"}"#,
        r#"{"status":"claimed"}"#,
        r#"{"nothing":1}"#,
        r#"{"status":"paired","camera_id":"c","ws_url":"wss://x","key_id":"k","auth_scheme":"api_key"}"#,
    ] {
        let mut f = registered("ABC234");
        assert_eq!(
            f.poll_outcome(reply(200, body), NOW),
            Next::NewMaterial {
                delay: Duration::from_secs(10)
            },
            "{body}"
        );
        assert_eq!(f.view().status, PairingStatus::Error, "{body}");
    }
}

#[test]
fn a_plaintext_relay_url_needs_permission() {
    let body = r#"{"status":"paired","camera_id":"c","ws_url":"ws://127.0.0.1:8001/plugins/rpi-cam/ws/connect","key_id":"k"}"#;
    let mut f = registered("ABC234");
    assert_eq!(f.poll_outcome(reply(200, body), NOW), Next::Stop);
    assert!(has(&lines(&mut f), "APP_ENV=development"));
    assert_eq!(f.view().error.as_deref(), Some(ERROR_PLAINTEXT_RELAY));

    let mut f = PairingFlow::new(FlowSettings {
        allow_plaintext_relay: true,
        api: BackendApi::new("http://127.0.0.1:8001", "", PollMethod::Auto),
        auto_prefix: true,
        register_retry: Duration::from_secs(1),
        poll_interval: Duration::from_secs(3),
    });
    f.start();
    f.material_ready("ABC234", NOW);
    f.register_outcome(reply(201, "{}"), NOW);
    assert!(matches!(
        f.poll_outcome(reply(200, body), NOW),
        Next::Complete(_)
    ));
}

#[test]
fn clock_skew_is_warned_once_per_cycle_and_shown() {
    let dated = |status: u16, date: &str| -> Exchange {
        Ok(BackendReply {
            date: Some(date.to_string()),
            ..BackendReply::new(status, r#"{"status":"waiting"}"#)
        })
    };
    let mut f = flow();
    f.start();
    f.material_ready("ABC234", NOW - 600);
    f.register_outcome(dated(201, DATE_NOW), NOW - 600);
    let log = lines(&mut f);
    assert_eq!(log.len(), 1);
    assert!(log[0].starts_with("clock skew: this device's clock is 600 s behind the backend (backend Date: Sat, 21 Nov 2026 14:36:34 GMT)"));
    assert_eq!(
        f.view()
            .clock_skew
            .as_ref()
            .map(|s| s.backend_minus_local_s),
        Some(600)
    );
    f.poll_outcome(dated(200, DATE_NOW), NOW - 600);
    assert!(lines(&mut f).is_empty(), "once per cycle");
    // A new cycle warns again.
    f.poll_outcome(dated(404, DATE_NOW), NOW - 600);
    f.material_ready("DEF234", NOW - 600);
    f.register_outcome(dated(201, DATE_NOW), NOW - 600);
    assert!(has(&lines(&mut f), "clock skew"));
    // A fixed clock clears it; an answer without Date changes nothing.
    f.poll_outcome(reply(200, r#"{"status":"waiting"}"#), NOW);
    assert!(f.view().clock_skew.is_some());
    f.poll_outcome(dated(200, DATE_NOW), NOW + 5);
    assert_eq!(f.view().clock_skew, None);
}

#[test]
fn material_and_persist_failures_retry_with_a_new_cycle() {
    let mut f = flow();
    f.start();
    assert_eq!(
        f.material_failed("no randomness"),
        Next::NewMaterial {
            delay: Duration::from_secs(10)
        }
    );
    assert_eq!(f.view().error_detail.as_deref(), Some("no randomness"));
    let mut f = registered("ABC234");
    assert!(matches!(
        f.poll_outcome(reply(200, &paired_body()), NOW),
        Next::Complete(_)
    ));
    assert!(matches!(
        f.persist_failed("disk full"),
        Next::NewMaterial { .. }
    ));
    assert_eq!(f.view().status, PairingStatus::Error);
}
