//! The setup page's tests: what each pairing state shows, escaping, links and LAN URLs.

use super::*;

const TEMPLATE: &str = include_str!("../../www/setup.html");

fn view(status: PairingStatus) -> SetupView {
    SetupView {
        status,
        relay_enabled: false,
        pairing_code: None,
        code_expires_at: None,
        pairing_error: None,
        pairing_backend_url: "https://api.cml-relab.org".into(),
        backend_is_default: true,
        backend_reachable: Some(true),
        relay_backend_url: None,
        camera_id: None,
        relay_connected: false,
        clock_skew: None,
        local_api_key: Some("local-key-123".into()),
        lan_urls: vec![],
        port: 8018,
        version: "0.1.0",
    }
}

fn waiting() -> SetupView {
    SetupView {
        pairing_code: Some("ABC123".into()),
        code_expires_at: Some("2026-04-22T10:10:00Z".into()),
        ..view(PairingStatus::Waiting)
    }
}

fn paired() -> SetupView {
    SetupView {
        relay_enabled: true,
        relay_backend_url: Some("wss://api.cml-relab.org/plugins/rpi-cam/ws/connect".into()),
        camera_id: Some("cam-42".into()),
        backend_reachable: None,
        ..view(PairingStatus::Paired)
    }
}

fn page(v: &SetupView) -> String {
    let html = render_setup(TEMPLATE, v);
    assert!(!html.contains("{{"), "placeholders left:\n{html}");
    assert!(!html.contains("could not be shown"), "{html}");
    html
}

/// ` onclick=`-style attributes.
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        letters > 0 && rest[letters..].starts_with('=')
    })
}

#[test]
fn a_broken_template_gives_an_error_page() {
    // The page says what went wrong, escaped, instead of failing.
    let html = render_setup("<p>{{#<script>}}", &view(PairingStatus::Idle));
    assert!(html.contains("could not be shown"), "{html}");
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script>"),
        "{html}"
    );
}

#[test]
fn every_page_has_the_fixed_parts() {
    for v in [
        view(PairingStatus::Idle),
        view(PairingStatus::Registering),
        waiting(),
        view(PairingStatus::Error),
        paired(),
    ] {
        let html = page(&v);
        for s in [
            "RPi Camera — Setup",
            "Pair, refresh, or unpair from this page.",
            "data-theme-toggle",
            "Theme: Auto",
            "/logo.svg",
            "/site.js",
            "/setup.js",
            "Pairing details",
            "URL",
            "Change",
            "Local access",
            "Local API key",
            "Direct LAN access for browser, app, and scripts.",
            "Browser and script access",
            "Native RELab app latency boost",
            "Relay pairing still uses the 6-character code above.",
            "HLS preview",
            "API",
            "picamd 0.1.0",
        ] {
            assert!(html.contains(s), "{} lacks {s:?}", v.status.as_str());
        }
        let details = html
            .split("<details class=\"setup-advanced\"")
            .nth(1)
            .unwrap();
        let details_tag = &details[..details.find('>').unwrap()];
        assert!(
            !details_tag.contains("open"),
            "local access starts collapsed"
        );
        assert!(!html.contains("http-equiv=\"refresh\""));
        assert!(!html.contains(".local"));
        assert!(
            !has_inline_handler(&html),
            "the CSP forbids inline handlers"
        );
        assert_eq!(
            html.matches("<script").count(),
            2,
            "only the two script files"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains(&format!("data-pairing-status=\"{}\"", v.status.as_str())));
    }
}

#[test]
fn waiting_shows_the_code_and_its_countdown() {
    let html = page(&waiting());
    for s in [
        ">ABC123<",
        "data-pairing-expiry",
        "data-expires-at=\"2026-04-22T10:10:00Z\"",
        "data-ttl-ms=\"600000\"",
        "Enter this code in ReLab.",
        "Refresh after pairing or unpairing to see the latest state.",
        "Copy pairing code",
        "Generate a new pairing code",
        "Pairing ready",
        "No relay yet. Pairing keeps retrying.",
        "data-relay-enabled=\"false\"",
    ] {
        assert!(html.contains(s), "lacks {s:?}");
    }
    assert!(!html.contains("Paired"));
    assert!(!html.contains("unpair-dialog"));
    assert_eq!(html.matches("Generate a new pairing code").count(), 1);

    // Without an expiry time the countdown runs from page load.
    let html = page(&SetupView {
        code_expires_at: None,
        ..waiting()
    });
    assert!(html.contains("data-expires-at=\"\""));
    // A `waiting` state whose code has not arrived yet is not "ready".
    let html = page(&SetupView {
        pairing_code: Some("  ".into()),
        ..waiting()
    });
    assert!(html.contains("Not connected") && !html.contains("data-pairing-expiry"));
    assert!(html.contains("Requesting a pairing code"));
}

#[test]
fn other_states() {
    let html = page(&SetupView {
        pairing_error: Some("backend said 409: code in use".into()),
        ..view(PairingStatus::Error)
    });
    assert!(html.contains("Needs attention"));
    assert!(html.contains(">backend said 409: code in use<"));
    assert!(html.contains("Generate a new pairing code"));
    assert!(page(&view(PairingStatus::Error)).contains("Pairing ran into a problem."));

    let html = page(&view(PairingStatus::Registering));
    assert!(html.contains("Not connected") && html.contains("Requesting a pairing code"));

    let html = page(&view(PairingStatus::Idle));
    assert!(html.contains("Not connected") && html.contains("Pairing has not started yet."));
    assert!(html.contains("Generate a new pairing code"));
    assert!(!html.contains("Copy pairing code"));

    let html = page(&SetupView {
        pairing_backend_url: String::new(),
        ..view(PairingStatus::Idle)
    });
    assert!(html.contains("Pairing is off"));
    assert!(!html.contains("Generate a new pairing code"));
}

#[test]
fn paired_offers_unpair_and_shows_the_relay() {
    let html = page(&paired());
    for s in [
        "Paired",
        "Connecting now.",
        "data-unpair-open",
        "unpair-dialog",
        "wss://api.cml-relab.org/plugins/rpi-cam/ws/connect",
        "cam-42",
        "URL",
        "Not checked",
        "data-relay-enabled=\"true\"",
    ] {
        assert!(html.contains(s), "lacks {s:?}");
    }
    for s in [
        "No relay yet",
        "Pairing ready",
        "Needs attention",
        "Generate a new pairing code",
        "data-pairing-expiry",
    ] {
        assert!(!html.contains(s), "has {s:?}");
    }
    // Paired by status, relay not up yet: no unpair (nothing to unpair), still "Paired".
    let html = page(&SetupView {
        relay_enabled: false,
        ..paired()
    });
    assert!(html.contains("Paired") && html.contains("Connecting now."));
    assert!(!html.contains("unpair-dialog") && !html.contains("No relay yet"));
}

#[test]
fn a_connected_relay_and_clock_skew_are_shown() {
    let html = page(&SetupView {
        relay_connected: true,
        ..paired()
    });
    assert!(html.contains("paired with RELab and connected") && html.contains(">Connected<"));
    assert!(!html.contains("Connecting now."));
    // Not paired: a stale "connected" flag shows nothing.
    let html = page(&SetupView {
        relay_connected: true,
        ..waiting()
    });
    assert!(!html.contains(">Connected<"));

    let skew = "This camera's clock is 600 s behind the backend's.";
    for v in [waiting(), paired(), view(PairingStatus::Error)] {
        let html = page(&SetupView {
            clock_skew: Some(skew.into()),
            ..v
        });
        assert!(html.contains(&format!("role=\"status\">{}<", html_escape(skew))));
    }
    assert!(!page(&waiting()).contains("warning-text"));
}

#[test]
fn backend_reachability_and_kind() {
    let html = page(&view(PairingStatus::Idle));
    assert!(html.contains("Reachable") && !html.contains("Not reachable"));
    assert!(html.contains("Default RELab backend") && !html.contains("Custom backend"));
    assert!(html.contains("href=\"https://api.cml-relab.org\"") && html.contains("click to open"));

    let html = page(&SetupView {
        backend_reachable: Some(false),
        backend_is_default: false,
        pairing_backend_url: "http://192.168.1.5:8000".into(),
        ..view(PairingStatus::Idle)
    });
    assert!(
        html.contains("Not reachable") && html.contains("No relay yet. Pairing keeps retrying.")
    );
    assert!(html.contains("Custom backend") && !html.contains("Default RELab backend"));
}

#[test]
fn every_value_is_escaped() {
    let evil = "\"'><script>alert(1)</script>&";
    let escaped = "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;";
    let v = SetupView {
        pairing_code: Some(evil.into()),
        code_expires_at: Some(evil.into()),
        pairing_error: Some(evil.into()),
        pairing_backend_url: evil.into(),
        local_api_key: Some(evil.into()),
        lan_urls: vec![evil.into()],
        ..view(PairingStatus::Waiting)
    };
    let html = page(&v);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains(&format!("<code>{escaped}</code>")),
        "backend URL stays text"
    );
    let v = SetupView {
        relay_backend_url: Some(evil.into()),
        camera_id: Some(evil.into()),
        ..paired()
    };
    let html = page(&v);
    assert!(!html.contains("<script>alert") && html.matches(escaped).count() == 2);
    let v = SetupView {
        pairing_error: Some(evil.into()),
        ..view(PairingStatus::Error)
    };
    assert!(page(&v).contains(&format!(">{escaped}<")));
}

#[test]
fn only_web_urls_become_links() {
    let html = page(&SetupView {
        pairing_backend_url: "javascript:alert(1)".into(),
        ..view(PairingStatus::Idle)
    });
    assert!(!html.contains("href=\"javascript:"));
    assert!(html.contains("<code>javascript:alert(1)</code>"));
    let html = page(&SetupView {
        lan_urls: vec!["javascript:alert(1)".into()],
        ..view(PairingStatus::Idle)
    });
    assert!(!html.contains("href=\"javascript:"));
    assert!(html.contains("<code>javascript:alert(1)</code>"));
    let html = page(&SetupView {
        pairing_backend_url: "HTTPS://Example.org".into(),
        ..view(PairingStatus::Idle)
    });
    assert!(html.contains("href=\"HTTPS://Example.org\""));
}

#[test]
fn local_access_urls() {
    let html = page(&view(PairingStatus::Idle));
    assert!(html.contains("<code>http://&lt;this-ip&gt;:8018</code>"));
    assert!(
        !html.contains("href=\"http://&lt;this-ip"),
        "the example is not a link"
    );
    assert!(html.contains("http://&lt;this-ip&gt;:8018/preview/hls/cam-preview/index.m3u8"));
    assert!(html.contains("local-key-123"));

    let html = page(&SetupView {
        lan_urls: vec![
            "http://192.168.1.20:8018".into(),
            " http://10.0.0.7:9000/ ".into(),
            "".into(),
        ],
        ..view(PairingStatus::Idle)
    });
    assert!(!html.contains("this-ip"));
    assert!(html.contains("<a href=\"http://192.168.1.20:8018\">"));
    for s in [
        "<code>http://192.168.1.20:8018</code>",
        "<code>http://192.168.1.20:8018/preview/hls/cam-preview/index.m3u8</code>",
        "<code>http://10.0.0.7:9000</code>",
        "<code>http://10.0.0.7:9000/preview/hls/cam-preview/index.m3u8</code>",
    ] {
        assert!(html.contains(s), "lacks {s:?}");
    }
    assert_eq!(html.matches("<dt>HLS preview</dt>").count(), 2);

    // The example address follows the configured port; no key yet is said plainly.
    let html = page(&SetupView {
        port: 9090,
        local_api_key: None,
        ..view(PairingStatus::Idle)
    });
    assert!(html.contains("http://&lt;this-ip&gt;:9090/preview/hls/cam-preview/index.m3u8"));
    assert!(html.contains("Not generated yet.") && !html.contains("Copy key"));
}
