//! File names inside the LL-HLS path. Every name carries the timeline's prefix (new at each
//! process start) so a restarted daemon never collides with what a browser or proxy cached
//! from an earlier one. Within a timeline media sequence numbers never repeat, and each
//! encoder session has its own numbered init segment.

/// One resource of the preview, parsed from its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlsFile {
    Playlist,
    Init {
        prefix: String,
        session: u64,
    },
    Segment {
        prefix: String,
        msn: u64,
    },
    Part {
        prefix: String,
        msn: u64,
        index: u32,
    },
}

pub const PLAYLIST: &str = "index.m3u8";

pub fn init_name(prefix: &str, session: u64) -> String {
    format!("{prefix}-init-{session}.mp4")
}

pub fn segment_name(prefix: &str, msn: u64) -> String {
    format!("{prefix}-{msn}.m4s")
}

pub fn part_name(prefix: &str, msn: u64, index: u32) -> String {
    format!("{prefix}-{msn}.{index}.m4s")
}

impl HlsFile {
    /// Parses a file name; `None` for anything that is not one of ours.
    pub fn parse(name: &str) -> Option<HlsFile> {
        if name == PLAYLIST {
            return Some(HlsFile::Playlist);
        }
        let (prefix, rest) = name.split_once('-')?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let prefix = prefix.to_string();
        if let Some(session) = rest
            .strip_prefix("init-")
            .and_then(|r| r.strip_suffix(".mp4"))
        {
            let session = parse_number(session)?;
            return Some(HlsFile::Init { prefix, session });
        }
        let stem = rest.strip_suffix(".m4s")?;
        match stem.split_once('.') {
            None => Some(HlsFile::Segment {
                prefix,
                msn: parse_number(stem)?,
            }),
            Some((msn, index)) => Some(HlsFile::Part {
                prefix,
                msn: parse_number(msn)?,
                index: u32::try_from(parse_number(index)?).ok()?,
            }),
        }
    }
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(HlsFile::parse("index.m3u8"), Some(HlsFile::Playlist));
        assert_eq!(
            HlsFile::parse(&init_name("ab12", 3)),
            Some(HlsFile::Init {
                prefix: "ab12".into(),
                session: 3
            })
        );
        assert_eq!(
            HlsFile::parse(&segment_name("ab12", 42)),
            Some(HlsFile::Segment {
                prefix: "ab12".into(),
                msn: 42
            })
        );
        assert_eq!(
            HlsFile::parse(&part_name("ab12", 42, 3)),
            Some(HlsFile::Part {
                prefix: "ab12".into(),
                msn: 42,
                index: 3
            })
        );
    }

    #[test]
    fn rejects_foreign_names() {
        for bad in [
            "",
            "-init-0.mp4",
            "ab-init.mp4",
            "ab-init-.mp4",
            "ab-init-x.mp4",
            "ab-",
            "ab-x.m4s",
            "ab-1.m4",
            "ab-1.2.3.m4s",
            "a/b-1.m4s",
            "ab-+1.m4s",
            "ab-99999999999999999999.m4s",
            "ab-1.99999999999.m4s",
            "../etc/passwd",
        ] {
            assert_eq!(HlsFile::parse(bad), None, "{bad}");
        }
    }
}
