//! Playlist delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) from a query string.

use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    pub msn: Option<u64>,
    pub part: Option<u32>,
    /// `_HLS_skip=YES` (or `v2`): the client asks for a delta update.
    pub skip: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError(pub String);

impl fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
                "_HLS_msn" => d.msn = Some(number(key, value)?),
                "_HLS_part" => {
                    let part = number(key, value)?;
                    d.part = Some(u32::try_from(part).map_err(|_| too_large(key))?);
                }
                "_HLS_skip" => match value {
                    "YES" | "v2" => d.skip = true,
                    _ => {
                        return Err(DirectiveError(format!(
                            "_HLS_skip must be YES or v2, got {value:?}"
                        )))
                    }
                },
                _ => {}
            }
        }
        if d.part.is_some() && d.msn.is_none() {
            return Err(DirectiveError("_HLS_part requires _HLS_msn".into()));
        }
        Ok(d)
    }

    pub fn blocks(&self) -> bool {
        self.msn.is_some()
    }
}

fn number(key: &str, value: &str) -> Result<u64, DirectiveError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectiveError(format!(
            "{key} must be a decimal integer, got {value:?}"
        )));
    }
    value.parse().map_err(|_| too_large(key))
}

fn too_large(key: &str) -> DirectiveError {
    DirectiveError(format!("{key} is out of range"))
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
}
