//! A single byte range from a `Range` header (RFC 9110 §14), sans-IO: what part of a body of
//! a known length to send. Several ranges or a header that does not parse are ignored (the
//! whole body, 200), as the RFC allows; a range that starts past the end is 416.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable range: the whole body.
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// No byte of the range exists (416 with `Content-Range: bytes */len`).
    Unsatisfiable,
}

pub fn byte_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(spec) = header.map(str::trim).and_then(|h| {
        h.get(..6)
            .filter(|u| u.eq_ignore_ascii_case("bytes="))
            .map(|_| &h[6..])
    }) else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), num(first), num(last)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if last.is_empty() || end.is_some() => {
            if end.is_some_and(|e| e < start) {
                return ByteRange::Full;
            }
            if start >= len {
                return ByteRange::Unsatisfiable;
            }
            ByteRange::Partial {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            }
        }
        _ => ByteRange::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRange::*;

    #[test]
    fn single_ranges_suffixes_and_what_is_ignored() {
        let p = |start, end| Partial { start, end };
        for (h, want) in [
            (None, Full),
            (Some("bytes=0-99"), p(0, 99)),
            (Some("Bytes=10-"), p(10, 999)),
            (Some("bytes=990-2000"), p(990, 999)),
            (Some("bytes=-100"), p(900, 999)),
            (Some("bytes=-5000"), p(0, 999)),
            (Some("bytes=1000-"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=5-1"), Full),
            (Some("bytes=0-1,5-6"), Full),
            (Some("items=0-1"), Full),
            (Some("bytes=x-1"), Full),
            (Some("bytes=+1-2"), Full),
            (Some("bytes=-"), Full),
            (Some("bytes=99999999999999999999999-"), Full),
        ] {
            assert_eq!(byte_range(h, 1000), want, "{h:?}");
        }
        assert_eq!(byte_range(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
