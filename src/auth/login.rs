//! The pieces of `POST /auth/login` and `POST /auth/logout` (§1.3) that need no I/O: the form
//! body, the redirect target and the session cookie.

use std::fmt::Write;

/// How long the session cookie lives, in seconds (12 hours, the session lifetime).
pub const SESSION_MAX_AGE: u64 = 43_200;

/// The fields of an `application/x-www-form-urlencoded` body, in order. `+` is a space, `%XX`
/// escapes are decoded, a malformed escape is kept as written, and bytes that are not UTF-8
/// become U+FFFD (as Python's `unquote_plus` does). A field without `=` has an empty value.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = match field.iter().position(|&b| b == b'=') {
                Some(i) => (&field[..i], &field[i + 1..]),
                None => (field, &b""[..]),
            };
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    if h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        u8::from_str_radix(h, 16).ok()
                    } else {
                        None
                    }
                });
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where to send the browser after login: `target` if it is a path on this server, else `/`.
///
/// Anything with a scheme or host, or not starting with `/`, falls back to `/`. So do
/// `//host` (scheme-relative) and `/\host` (browsers read `\` as `/`), and targets with control
/// characters (browsers drop tabs and newlines, which could turn `/\t/host` into `//host`; CR
/// and LF would also break the `Location` header). The fragment is dropped; the path and query
/// are kept as written, except that spaces and non-ASCII are percent-encoded for the header.
pub fn safe_redirect(target: &str) -> String {
    let without_fragment = target.split('#').next().unwrap_or("");
    let local = without_fragment.strip_prefix('/').is_some_and(|rest| {
        !rest.starts_with(['/', '\\']) && !rest.chars().any(|c| c.is_ascii_control())
    });
    if !local {
        return "/".into();
    }
    let kept = without_fragment
        .strip_suffix('?')
        .unwrap_or(without_fragment);
    let mut out = String::with_capacity(kept.len());
    for &byte in kept.as_bytes() {
        if byte == b' ' || !byte.is_ascii() {
            let _ = write!(out, "%{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// The `Set-Cookie` value that starts a browser session. Attributes are in the order Starlette
/// writes them.
pub fn session_cookie(name: &str, token: &str, secure: bool) -> String {
    let mut cookie =
        format!("{name}={token}; HttpOnly; Max-Age={SESSION_MAX_AGE}; Path=/; SameSite=lax");
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The `Set-Cookie` value that deletes the session cookie (as Starlette's `delete_cookie`);
/// a `Secure` cookie can only be replaced by another `Secure` one.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    let mut cookie = format!(
        "{name}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax"
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_a_login_form() {
        assert_eq!(
            parse_form(b"api_key=abc%2B1+2&redirect_url=%2Fcamera%3Ftab%3Dlive"),
            pairs(&[("api_key", "abc+1 2"), ("redirect_url", "/camera?tab=live")])
        );
    }

    #[test]
    fn form_parsing_is_lenient() {
        assert_eq!(parse_form(b""), pairs(&[]));
        assert_eq!(
            parse_form(b"&&a&b=&=c&d=1=2"),
            pairs(&[("a", ""), ("b", ""), ("", "c"), ("d", "1=2")])
        );
        assert_eq!(
            parse_form(b"x=%zz%4%&y=%e2%82%ac&z=%FF"),
            pairs(&[("x", "%zz%4%"), ("y", "€"), ("z", "\u{fffd}")])
        );
        assert_eq!(parse_form(b"k=%+1"), pairs(&[("k", "% 1")]));
        assert_eq!(parse_form("é=ü".as_bytes()), pairs(&[("é", "ü")]));
        assert_eq!(parse_form(b"a=%"), pairs(&[("a", "%")]));
        assert_eq!(parse_form(b"a=%\xff1"), pairs(&[("a", "%\u{fffd}1")]));
    }

    #[test]
    fn test_auth_redirect_cases() {
        assert_eq!(safe_redirect("/"), "/");
        assert_eq!(
            safe_redirect("https://evil.example/phish?next=/camera"),
            "/"
        );
        assert_eq!(safe_redirect("/camera?tab=live"), "/camera?tab=live");
        assert_eq!(safe_redirect("camera"), "/");
    }

    #[test]
    fn redirects_off_this_server_fall_back() {
        for bad in [
            "",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/camera\r\nSet-Cookie: x=1",
            "http:/evil",
            "javascript:alert(1)",
            "?tab=live",
            "#/camera",
            " /camera",
        ] {
            assert_eq!(safe_redirect(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn redirects_keep_path_and_query_but_not_the_fragment() {
        assert_eq!(safe_redirect("/camera?tab=live#top"), "/camera?tab=live");
        assert_eq!(safe_redirect("/setup#x"), "/setup");
        assert_eq!(safe_redirect("/setup?"), "/setup");
        assert_eq!(safe_redirect("/a/b?next=//x&y=\\z"), "/a/b?next=//x&y=\\z");
        assert_eq!(safe_redirect("/docs/"), "/docs/");
        assert_eq!(safe_redirect("/a b/é"), "/a%20b/%C3%A9");
        assert_eq!(safe_redirect("/%2F%2Fevil"), "/%2F%2Fevil");
    }

    #[test]
    fn cookie_attributes() {
        let cookie = session_cookie("relab_session", "tok-123", false);
        assert_eq!(
            cookie,
            "relab_session=tok-123; HttpOnly; Max-Age=43200; Path=/; SameSite=lax"
        );
        assert!(!cookie.contains("Secure"));
        assert_eq!(
            session_cookie("relab_session", "t", true),
            "relab_session=t; HttpOnly; Max-Age=43200; Path=/; SameSite=lax; Secure"
        );
        let cleared = clear_cookie("relab_session", false);
        assert!(cleared.starts_with("relab_session="));
        assert!(cleared.contains("; Max-Age=0;"));
        assert!(cleared.contains("; Path=/"));
    }
}
