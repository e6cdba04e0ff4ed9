//! The setup page (`GET /setup`): the `www/setup.html` template filled in from the pairing state.
//!
//! The template holds all the markup and uses the Mustache subset of `http::template`. Rust
//! decides which state is shown; the template decides how it looks. No value reaches the page
//! unescaped, so a hostile backend URL or error text cannot inject markup.

use super::preview::HLS_ROOT;
use crate::http::template::{html_escape, render, Scope, Value};
use crate::pairing::state::PairingStatus;

/// What the setup page shows: the pairing state and how to reach this camera.
pub struct SetupView {
    pub status: PairingStatus,
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

const EXAMPLE_HOST: &str = "<this-ip>";

/// The one pairing panel the page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Panel {
    Paired,
    Code,
    Registering,
    Error,
    Idle,
}

impl Panel {
    /// A relay in use means paired whatever the pairing run says.
    fn of(status: PairingStatus, relay_enabled: bool, code: &str) -> Panel {
        if relay_enabled {
            return Panel::Paired;
        }
        match status {
            PairingStatus::Paired => Panel::Paired,
            PairingStatus::Waiting if !code.is_empty() => Panel::Code,
            // A `waiting` state without a code is a code on its way.
            PairingStatus::Waiting | PairingStatus::Registering => Panel::Registering,
            PairingStatus::Error => Panel::Error,
            PairingStatus::Idle => Panel::Idle,
        }
    }

    /// The status chip: its style and its words.
    fn chip(self) -> (&'static str, &'static str) {
        match self {
            Panel::Paired => ("ok", "Paired"),
            Panel::Error => ("bad", "Needs attention"),
            Panel::Code => ("ready", "Pairing ready"),
            Panel::Registering | Panel::Idle => ("idle", "Not connected"),
        }
    }
}

fn setup_scope(v: &SetupView) -> Scope {
    let code = trimmed(&v.pairing_code);
    let panel = Panel::of(v.status, v.relay_enabled, code);
    let is_paired = panel == Panel::Paired;
    let (chip_kind, chip_text) = panel.chip();
    let backend = v.pairing_backend_url.trim();

    Scope(vec![
        ("status", Value::text(v.status.as_str())),
        ("relay_enabled", Value::Flag(v.relay_enabled)),
        ("chip_kind", Value::text(chip_kind)),
        ("chip_text", Value::text(chip_text)),
        ("is_paired", Value::Flag(is_paired)),
        ("show_code", Value::Flag(panel == Panel::Code)),
        ("show_error", Value::Flag(panel == Panel::Error)),
        ("show_registering", Value::Flag(panel == Panel::Registering)),
        ("show_idle", Value::Flag(panel == Panel::Idle)),
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

#[cfg(test)]
#[path = "setup_page_tests.rs"]
mod tests;
