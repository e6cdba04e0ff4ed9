//! What to tell the operator when the backend refuses the handshake. The backend answers
//! every auth failure with the same HTTP 403 (contract/backend.md §2.1), so the log names the
//! likely causes, and the clock difference when the response's `Date` shows one.

/// Clock differences up to this are normal (`Date` has one-second resolution, plus the RTT).
const SKEW_WORTH_MENTIONING_S: i64 = 5;

/// The WARN line for a 403 handshake. `server_date` is the response's `Date` (seconds since
/// the epoch), `now_unix` our clock when it arrived.
pub fn forbidden_message(server_date: Option<i64>, now_unix: i64) -> String {
    let mut text = "relay handshake refused (HTTP 403): the backend does not accept this camera's credentials — it was deleted or revoked (re-pair from /setup), or this device's clock is off (NTP)".to_string();
    if let Some(skew) = server_date.map(|date| now_unix - date) {
        if skew.abs() > SKEW_WORTH_MENTIONING_S {
            let side = if skew > 0 { "ahead of" } else { "behind" };
            text.push_str(&format!(
                "; this device's clock is {} s {side} the backend's",
                skew.abs()
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_causes_and_a_real_skew() {
        let base = forbidden_message(None, 1000);
        assert!(base.starts_with("relay handshake refused (HTTP 403)"));
        assert!(base.contains("deleted or revoked") && base.contains("NTP"));
        assert_eq!(forbidden_message(Some(1003), 1000), base, "3 s is noise");
        assert!(forbidden_message(Some(1600), 1000)
            .ends_with("; this device's clock is 600 s behind the backend's"));
        assert!(forbidden_message(Some(1000), 1010)
            .ends_with("; this device's clock is 10 s ahead of the backend's"));
    }
}
