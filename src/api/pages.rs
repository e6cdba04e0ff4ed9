//! The setup page (`GET /setup`): the `www/setup.html` template filled in from the pairing state.
//!
//! The template holds all the markup and uses a small subset of Mustache:
//! - `{{name}}` a value, always HTML-escaped (flags print as `true`/`false`);
//! - `{{#name}}…{{/name}}` shown when a flag is true or a text is non-empty, or once per item
//!   of a list (the item's names are looked up first);
//! - `{{^name}}…{{/name}}` shown when a flag is false, a text is empty or a list is empty.
//!
//! Rust decides which state is shown; the template decides how it looks. No value reaches the
//! page unescaped, so a hostile backend URL or error text cannot inject markup.

use std::fmt;

use super::preview::HLS_ROOT;

/// What the setup page shows: the pairing state and how to reach this camera.
pub struct SetupView {
    /// `idle`, `registering`, `waiting`, `paired` or `error` (anything else reads as idle).
    pub status: String,
    pub relay_enabled: bool,
    pub pairing_code: Option<String>,
    /// RFC 3339; the page counts down to it (or to load time + 10 min when absent).
    pub code_expires_at: Option<String>,
    pub pairing_error: Option<String>,
    pub pairing_backend_url: String,
    pub backend_is_default: bool,
    /// `None` when no probe ran (for example while paired).
    pub backend_reachable: Option<bool>,
    pub relay_backend_url: Option<String>,
    pub camera_id: Option<String>,
    /// Whether the relay's WebSocket is up.
    pub relay_connected: bool,
    /// A warning that this device's clock disagrees with the backend's.
    pub clock_skew: Option<String>,
    pub local_api_key: Option<String>,
    /// `http://ip:port`, best first.
    pub lan_urls: Vec<String>,
    pub port: u16,
    pub version: &'static str,
}

/// The page for `view`. Never fails: a broken template gives a short error page (and a log line).
pub fn render_setup(template: &str, view: &SetupView) -> String {
    match render(template, &[&setup_scope(view)]) {
        Ok(html) => html,
        Err(e) => {
            log::error!("setup page template: {e}");
            format!(
                "<!doctype html>\n<meta charset=\"utf-8\">\n<title>RPi Camera — Setup</title>\n\
                 <p>The setup page could not be shown: {}</p>\n",
                html_escape(&e.to_string())
            )
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ------------------------------------------------------------------------------- setup state

const EXAMPLE_HOST: &str = "<this-ip>";

fn setup_scope(v: &SetupView) -> Scope {
    let status = v.status.trim();
    let code = trimmed(&v.pairing_code);
    let is_paired = v.relay_enabled || status == "paired";
    let show_code = !is_paired && status == "waiting" && !code.is_empty();
    let show_error = !is_paired && status == "error";
    // A `waiting` state without a code is a code on its way.
    let show_registering = !is_paired && !show_code && matches!(status, "registering" | "waiting");
    let show_idle = !is_paired && !show_code && !show_error && !show_registering;
    let (chip_kind, chip_text) = if is_paired {
        ("ok", "Paired")
    } else if show_error {
        ("bad", "Needs attention")
    } else if show_code {
        ("ready", "Pairing ready")
    } else {
        ("idle", "Not connected")
    };
    let backend = v.pairing_backend_url.trim();

    Scope(vec![
        ("status", Value::text(status)),
        ("relay_enabled", Value::Flag(v.relay_enabled)),
        ("chip_kind", Value::text(chip_kind)),
        ("chip_text", Value::text(chip_text)),
        ("is_paired", Value::Flag(is_paired)),
        ("show_code", Value::Flag(show_code)),
        ("show_error", Value::Flag(show_error)),
        ("show_registering", Value::Flag(show_registering)),
        ("show_idle", Value::Flag(show_idle)),
        ("pairing_code", Value::text(code)),
        ("code_expires_at", Value::text(trimmed(&v.code_expires_at))),
        ("pairing_error", Value::text(trimmed(&v.pairing_error))),
        ("backend_set", Value::Flag(!backend.is_empty())),
        (
            "can_new_code",
            Value::Flag(!is_paired && !backend.is_empty()),
        ),
        ("pairing_backend_url", Value::text(backend)),
        // Only web URLs become links: a `javascript:` value must stay text.
        ("backend_is_link", Value::Flag(is_web_url(backend))),
        ("backend_is_default", Value::Flag(v.backend_is_default)),
        (
            "reachable_known",
            Value::Flag(v.backend_reachable.is_some()),
        ),
        ("reachable", Value::Flag(v.backend_reachable == Some(true))),
        (
            "relay_backend_url",
            Value::text(trimmed(&v.relay_backend_url)),
        ),
        ("camera_id", Value::text(trimmed(&v.camera_id))),
        (
            "relay_connected",
            Value::Flag(is_paired && v.relay_connected),
        ),
        ("clock_skew", Value::text(trimmed(&v.clock_skew))),
        ("local_api_key", Value::text(trimmed(&v.local_api_key))),
        ("lan", Value::List(lan_entries(&v.lan_urls, v.port))),
        ("port", Value::Text(v.port.to_string())),
        ("version", Value::text(v.version)),
    ])
}

fn trimmed(value: &Option<String>) -> &str {
    value.as_deref().map(str::trim).unwrap_or("")
}

fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// One entry (API base and HLS playlist) per LAN address, or a `<this-ip>` example when none
/// is known, so the reader still sees the shape of the URLs. Only real web URLs become links.
fn lan_entries(lan_urls: &[String], port: u16) -> Vec<Scope> {
    let mut bases: Vec<String> = lan_urls
        .iter()
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .collect();
    let example = bases.is_empty();
    if example {
        bases.push(format!("http://{EXAMPLE_HOST}:{port}"));
    }
    bases
        .into_iter()
        .map(|base| {
            let hls = format!("{base}{HLS_ROOT}cam-preview/index.m3u8");
            Scope(vec![
                ("is_link", Value::Flag(!example && is_web_url(&base))),
                ("api_url", Value::Text(base)),
                ("hls_url", Value::Text(hls)),
            ])
        })
        .collect()
}

// ------------------------------------------------------------------------------- the template

enum Value {
    Text(String),
    Flag(bool),
    List(Vec<Scope>),
}

impl Value {
    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

struct Scope(Vec<(&'static str, Value)>);

#[derive(Debug, PartialEq)]
enum TemplateError {
    /// `{{` without `}}`, or a tag that is not a plain name.
    BadTag(String),
    UnknownName(String),
    /// `{{#name}}` or `{{^name}}` without its `{{/name}}`.
    Unclosed(String),
    /// `{{/name}}` with no section open.
    StrayClose(String),
    /// `{{name}}` where `name` is a list.
    ListAsText(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::BadTag(t) => write!(f, "bad tag {{{{{t}}}}}"),
            TemplateError::UnknownName(n) => write!(f, "unknown name {n:?}"),
            TemplateError::Unclosed(n) => write!(f, "section {n:?} is not closed"),
            TemplateError::StrayClose(n) => write!(f, "{{{{/{n}}}}} closes no section"),
            TemplateError::ListAsText(n) => write!(f, "{n:?} is a list, not a value"),
        }
    }
}

/// One `{{…}}` tag: its trimmed content and the text after it.
fn next_tag(text: &str) -> Result<Option<(&str, &str, &str)>, TemplateError> {
    let Some(start) = text.find("{{") else {
        return Ok(None);
    };
    let after = &text[start + 2..];
    let end = after
        .find("}}")
        .ok_or_else(|| TemplateError::BadTag(after.chars().take(20).collect()))?;
    Ok(Some((
        &text[..start],
        after[..end].trim(),
        &after[end + 2..],
    )))
}

fn name(tag: &str) -> Result<&str, TemplateError> {
    let ok = !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(tag)
    } else {
        Err(TemplateError::BadTag(tag.to_string()))
    }
}

fn lookup<'a>(scopes: &[&'a Scope], name: &str) -> Result<&'a Value, TemplateError> {
    scopes
        .iter()
        .find_map(|scope| scope.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v))
        .ok_or_else(|| TemplateError::UnknownName(name.to_string()))
}

/// Splits `text` (just after `{{#name}}`) into the section's body and what follows `{{/name}}`.
fn split_section<'t>(text: &'t str, section: &str) -> Result<(&'t str, &'t str), TemplateError> {
    let mut depth = 0usize;
    let mut rest = text;
    while let Some((before, tag, after)) = next_tag(rest)? {
        if tag.strip_prefix(['#', '^']) == Some(section) {
            depth += 1;
        } else if tag.strip_prefix('/') == Some(section) {
            if depth == 0 {
                let tag_start = text.len() - rest.len() + before.len();
                return Ok((&text[..tag_start], after));
            }
            depth -= 1;
        }
        rest = after;
    }
    Err(TemplateError::Unclosed(section.to_string()))
}

fn render(template: &str, scopes: &[&Scope]) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some((before, tag, after)) = next_tag(rest)? {
        out.push_str(before);
        rest = after;
        if let Some(section) = tag.strip_prefix(['#', '^']) {
            let section = name(section)?;
            let (body, after_section) = split_section(rest, section)?;
            rest = after_section;
            let inverted = tag.starts_with('^');
            match lookup(scopes, section)? {
                Value::Flag(on) if *on != inverted => out.push_str(&render(body, scopes)?),
                Value::Text(t) if t.is_empty() == inverted => out.push_str(&render(body, scopes)?),
                Value::List(items) if inverted && items.is_empty() => {
                    out.push_str(&render(body, scopes)?)
                }
                Value::List(items) if !inverted => {
                    for item in items {
                        let inner: Vec<&Scope> = std::iter::once(item)
                            .chain(scopes.iter().copied())
                            .collect();
                        out.push_str(&render(body, &inner)?);
                    }
                }
                _ => {}
            }
        } else if let Some(closed) = tag.strip_prefix('/') {
            return Err(TemplateError::StrayClose(closed.to_string()));
        } else {
            let var = name(tag)?;
            match lookup(scopes, var)? {
                Value::Text(t) => out.push_str(&html_escape(t)),
                Value::Flag(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::List(_) => return Err(TemplateError::ListAsText(var.to_string())),
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../www/setup.html");

    fn view(status: &str) -> SetupView {
        SetupView {
            status: status.into(),
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
            ..view("waiting")
        }
    }

    fn paired() -> SetupView {
        SetupView {
            relay_enabled: true,
            relay_backend_url: Some("wss://api.cml-relab.org/plugins/rpi-cam/ws/connect".into()),
            camera_id: Some("cam-42".into()),
            backend_reachable: None,
            ..view("paired")
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

    fn scope(pairs: Vec<(&'static str, Value)>) -> Scope {
        Scope(pairs)
    }

    #[test]
    fn escapes_the_five_html_characters() {
        assert_eq!(
            html_escape(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(html_escape("Kamera — été 42"), "Kamera — été 42");
        assert_eq!(html_escape(""), "");
    }

    #[test]
    fn template_values_flags_and_lists() {
        let items = vec![
            scope(vec![("n", Value::text("a"))]),
            scope(vec![("n", Value::text("<b>"))]),
        ];
        let s = scope(vec![
            ("x", Value::text("1 < 2")),
            ("on", Value::Flag(true)),
            ("off", Value::Flag(false)),
            ("empty", Value::text("")),
            ("items", Value::List(items)),
            ("none", Value::List(vec![])),
        ]);
        let r = |t: &str| render(t, &[&s]);
        assert_eq!(r("x={{ x }}").unwrap(), "x=1 &lt; 2");
        assert_eq!(r("{{on}}/{{off}}").unwrap(), "true/false");
        assert_eq!(r("{{#on}}yes{{/on}}{{^on}}no{{/on}}").unwrap(), "yes");
        assert_eq!(r("{{#off}}yes{{/off}}{{^off}}no{{/off}}").unwrap(), "no");
        assert_eq!(
            r("{{#x}}[{{x}}]{{/x}}{{#empty}}E{{/empty}}").unwrap(),
            "[1 &lt; 2]"
        );
        assert_eq!(r("{{^empty}}blank{{/empty}}").unwrap(), "blank");
        // List items see their own names first, then the outer ones.
        assert_eq!(
            r("{{#items}}{{n}}{{x}};{{/items}}").unwrap(),
            "a1 &lt; 2;&lt;b&gt;1 &lt; 2;"
        );
        assert_eq!(
            r("{{^items}}none{{/items}}{{^none}}none{{/none}}").unwrap(),
            "none"
        );
        // A section nested inside one of the same name closes at the right place.
        assert_eq!(r("{{#on}}a{{^on}}b{{/on}}c{{/on}}d").unwrap(), "acd");
        assert_eq!(r("no tags at all").unwrap(), "no tags at all");
        assert_eq!(
            r("single { brace } is text").unwrap(),
            "single { brace } is text"
        );
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let s = scope(vec![("on", Value::Flag(true)), ("l", Value::List(vec![]))]);
        let r = |t: &str| render(t, &[&s]);
        assert_eq!(
            r("{{missing}}"),
            Err(TemplateError::UnknownName("missing".into()))
        );
        assert_eq!(
            r("{{#on}}never closed"),
            Err(TemplateError::Unclosed("on".into()))
        );
        assert_eq!(
            r("{{#on}}{{#on}}x{{/on}}"),
            Err(TemplateError::Unclosed("on".into()))
        );
        assert_eq!(r("x{{/on}}"), Err(TemplateError::StrayClose("on".into())));
        assert_eq!(r("{{l}}"), Err(TemplateError::ListAsText("l".into())));
        assert!(matches!(r("{{ on"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{Bad-Name}}"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{}}"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{#}}x{{/}}"), Err(TemplateError::BadTag(_))));
        // The page says what went wrong, escaped, instead of failing.
        let html = render_setup("<p>{{#<script>}}", &view("idle"));
        assert!(html.contains("could not be shown"), "{html}");
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
    }

    #[test]
    fn every_page_has_the_fixed_parts() {
        for v in [
            view("idle"),
            view("registering"),
            waiting(),
            view("error"),
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
                assert!(html.contains(s), "{} lacks {s:?}", v.status);
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
            assert!(html.contains(&format!("data-pairing-status=\"{}\"", v.status)));
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
            ..view("error")
        });
        assert!(html.contains("Needs attention"));
        assert!(html.contains(">backend said 409: code in use<"));
        assert!(html.contains("Generate a new pairing code"));
        assert!(page(&view("error")).contains("Pairing ran into a problem."));

        let html = page(&view("registering"));
        assert!(html.contains("Not connected") && html.contains("Requesting a pairing code"));

        let html = page(&view("idle"));
        assert!(html.contains("Not connected") && html.contains("Pairing has not started yet."));
        assert!(html.contains("Generate a new pairing code"));
        assert!(!html.contains("Copy pairing code"));

        let html = page(&SetupView {
            pairing_backend_url: String::new(),
            ..view("idle")
        });
        assert!(html.contains("Pairing is off"));
        assert!(!html.contains("Generate a new pairing code"));

        // An unknown status reads as idle rather than breaking the page.
        assert!(page(&view("rebooting")).contains("Not connected"));
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
        for v in [waiting(), paired(), view("error")] {
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
        let html = page(&view("idle"));
        assert!(html.contains("Reachable") && !html.contains("Not reachable"));
        assert!(html.contains("Default RELab backend") && !html.contains("Custom backend"));
        assert!(
            html.contains("href=\"https://api.cml-relab.org\"") && html.contains("click to open")
        );

        let html = page(&SetupView {
            backend_reachable: Some(false),
            backend_is_default: false,
            pairing_backend_url: "http://192.168.1.5:8000".into(),
            ..view("idle")
        });
        assert!(
            html.contains("Not reachable")
                && html.contains("No relay yet. Pairing keeps retrying.")
        );
        assert!(html.contains("Custom backend") && !html.contains("Default RELab backend"));
    }

    #[test]
    fn every_value_is_escaped() {
        let evil = "\"'><script>alert(1)</script>&";
        let escaped = "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;";
        let v = SetupView {
            status: evil.into(),
            pairing_code: Some(evil.into()),
            code_expires_at: Some(evil.into()),
            pairing_error: Some(evil.into()),
            pairing_backend_url: evil.into(),
            local_api_key: Some(evil.into()),
            lan_urls: vec![evil.into()],
            ..view("waiting")
        };
        let html = page(&v);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains(&format!("data-pairing-status=\"{escaped}\"")));
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
            ..view("error")
        };
        assert!(page(&v).contains(&format!(">{escaped}<")));
    }

    #[test]
    fn only_web_urls_become_links() {
        let html = page(&SetupView {
            pairing_backend_url: "javascript:alert(1)".into(),
            ..view("idle")
        });
        assert!(!html.contains("href=\"javascript:"));
        assert!(html.contains("<code>javascript:alert(1)</code>"));
        let html = page(&SetupView {
            lan_urls: vec!["javascript:alert(1)".into()],
            ..view("idle")
        });
        assert!(!html.contains("href=\"javascript:"));
        assert!(html.contains("<code>javascript:alert(1)</code>"));
        let html = page(&SetupView {
            pairing_backend_url: "HTTPS://Example.org".into(),
            ..view("idle")
        });
        assert!(html.contains("href=\"HTTPS://Example.org\""));
    }

    #[test]
    fn local_access_urls() {
        let html = page(&view("idle"));
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
            ..view("idle")
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
            ..view("idle")
        });
        assert!(html.contains("http://&lt;this-ip&gt;:9090/preview/hls/cam-preview/index.m3u8"));
        assert!(html.contains("Not generated yet.") && !html.contains("Copy key"));
    }
}
