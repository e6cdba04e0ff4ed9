//! Playlist delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) from a query string.

use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    pub msn: Option<u64>,
    pub part: Option<u32>,
    /// `_HLS_skip=YES` (or `v2`): the client asks for a delta update.
    pub skip: bool,
}

/// A malformed `_HLS_*` directive; the text is the 400 response's detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectiveError {
    /// `_HLS_msn` or `_HLS_part` is not a decimal integer; the value given.
    NotANumber { key: &'static str, value: String },
    /// `_HLS_msn` or `_HLS_part` does not fit its type.
    OutOfRange { key: &'static str },
    /// `_HLS_skip` is neither `YES` nor `v2`; the value given.
    BadSkip(String),
    /// `_HLS_part` without `_HLS_msn`.
    PartWithoutMsn,
}

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectiveError::NotANumber { key, value } => {
                write!(f, "{key} must be a decimal integer, got {value:?}")
            }
            DirectiveError::OutOfRange { key } => write!(f, "{key} is out of range"),
            DirectiveError::BadSkip(value) => {
                write!(f, "_HLS_skip must be YES or v2, got {value:?}")
            }
            DirectiveError::PartWithoutMsn => f.write_str("_HLS_part requires _HLS_msn"),
        }
    }
}

impl std::error::Error for DirectiveError {}

impl Directives {
    /// Parses the raw query string (without `?`). Parameters other than `_HLS_*` are ignored.
    pub fn parse(query: &str) -> Result<Directives, DirectiveError> {
        let mut d = Directives::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "_HLS_msn" => d.msn = Some(number("_HLS_msn", value)?),
                "_HLS_part" => {
                    let part = number("_HLS_part", value)?;
                    d.part = Some(u32::try_from(part).map_err(|_| too_large("_HLS_part"))?);
                }
                "_HLS_skip" => match value {
                    "YES" | "v2" => d.skip = true,
                    _ => return Err(DirectiveError::BadSkip(value.to_string())),
                },
                _ => {}
            }
        }
        if d.part.is_some() && d.msn.is_none() {
            return Err(DirectiveError::PartWithoutMsn);
        }
        Ok(d)
    }

    pub fn blocks(&self) -> bool {
        self.msn.is_some()
    }
}

fn number(key: &'static str, value: &str) -> Result<u64, DirectiveError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectiveError::NotANumber {
            key,
            value: value.to_string(),
        });
    }
    value.parse().map_err(|_| too_large(key))
}

fn too_large(key: &'static str) -> DirectiveError {
    DirectiveError::OutOfRange { key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directives() {
        assert_eq!(Directives::parse("").unwrap(), Directives::default());
        let d = Directives::parse("token=x&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES").unwrap();
        assert_eq!(
            d,
            Directives {
                msn: Some(12),
                part: Some(3),
                skip: true
            }
        );
        assert!(d.blocks());
        assert_eq!(Directives::parse("_HLS_msn=4").unwrap().part, None);
    }

    #[test]
    fn rejects_bad_directives() {
        for bad in [
            "_HLS_part=1",
            "_HLS_msn=",
            "_HLS_msn=-1",
            "_HLS_msn=1.5",
            "_HLS_msn=abc",
            "_HLS_msn=99999999999999999999999",
            "_HLS_msn=1&_HLS_part=4294967296",
            "_HLS_skip=NO",
        ] {
            assert!(Directives::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_read_as_the_400_detail() {
        let text = |q: &str| Directives::parse(q).unwrap_err().to_string();
        assert_eq!(text("_HLS_part=1"), "_HLS_part requires _HLS_msn");
        assert_eq!(
            text("_HLS_msn=abc"),
            "_HLS_msn must be a decimal integer, got \"abc\""
        );
        assert_eq!(
            text("_HLS_msn=99999999999999999999999"),
            "_HLS_msn is out of range"
        );
        assert_eq!(
            text("_HLS_msn=1&_HLS_part=4294967296"),
            "_HLS_part is out of range"
        );
        assert_eq!(
            text("_HLS_skip=NO"),
            "_HLS_skip must be YES or v2, got \"NO\""
        );
    }
}
