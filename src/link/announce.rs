//! What the link logs for an operator: the boxed PAIRING READY banner (contract §11) and where
//! the setup page is.

use crate::config::url::is_loopback_url;

const SEP_WIDTH: usize = 54;

pub fn separator() -> String {
    "═".repeat(SEP_WIDTH)
}

/// Logged on every new pairing code; starts with a newline so the box stands on its own.
pub fn pairing_ready(code: &str, setup: &str, backend: &str) -> String {
    let sep = separator();
    let code: String = code.chars().filter(|c| !c.is_control()).collect();
    [
        String::new(),
        sep.clone(),
        "  PAIRING READY".to_string(),
        format!("  PAIRING CODE: {code}"),
        format!("  Setup    : {setup}"),
        format!("  Backend  : {}", backend.trim_end_matches('/')),
        "  Claim in : RELab app > Cameras > Add Camera".to_string(),
        sep,
    ]
    .join("\n")
}

/// Where an operator finds the setup page: under `BASE_URL` when that is not loopback, else
/// at the first LAN address (`lan_urls` as `http://ip:port`), else just `/setup`.
pub fn setup_location(base_url: &str, lan_urls: &[String]) -> String {
    if !is_loopback_url(base_url) {
        return format!("{}/setup", base_url.trim_end_matches('/'));
    }
    match lan_urls.first() {
        Some(url) => format!("{}/setup", url.trim_end_matches('/')),
        None => "/setup".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_ready_has_the_contract_shape() {
        let text = pairing_ready("ABC234", "/setup", "https://api.cml-relab.org/");
        let lines: Vec<&str> = text.split('\n').collect();
        let sep = "═".repeat(54);
        assert_eq!(
            lines,
            [
                "",
                sep.as_str(),
                "  PAIRING READY",
                "  PAIRING CODE: ABC234",
                "  Setup    : /setup",
                "  Backend  : https://api.cml-relab.org",
                "  Claim in : RELab app > Cameras > Add Camera",
                sep.as_str(),
            ]
        );
        assert!(pairing_ready("AB\nC", "/setup", "").contains("PAIRING CODE: ABC\n"));
    }

    #[test]
    fn setup_location_prefers_base_url_then_the_lan() {
        let lan = vec!["http://192.168.1.42:8018".to_string()];
        assert_eq!(
            setup_location("http://127.0.0.1:8018/", &lan),
            "http://192.168.1.42:8018/setup"
        );
        assert_eq!(setup_location("http://localhost:8018/", &[]), "/setup");
        assert_eq!(
            setup_location("https://cam.example/", &lan),
            "https://cam.example/setup"
        );
    }
}
