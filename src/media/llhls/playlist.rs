//! Renders the LL-HLS media playlist by hand (no crate writes LL-HLS tags).

use std::fmt::Write;

use super::names;
use super::timeline::{Segment, Timeline};
use crate::clock::rfc3339_ms;
use crate::media::TIMESCALE;

/// Seconds with five decimals, as EXTINF and EXT-X-PART durations.
fn secs(ticks: u64) -> String {
    let hundred_thousandths = (ticks * 100_000 + u64::from(TIMESCALE) / 2) / u64::from(TIMESCALE);
    format!(
        "{}.{:05}",
        hundred_thousandths / 100_000,
        hundred_thousandths % 100_000
    )
}

/// Seconds with five decimals, rounded up, so no part can exceed the advertised target.
fn secs_ceil(ticks: u64) -> String {
    let hundred_thousandths = (ticks * 100_000).div_ceil(u64::from(TIMESCALE));
    format!(
        "{}.{:05}",
        hundred_thousandths / 100_000,
        hundred_thousandths % 100_000
    )
}

/// How many segments a delta update replaces with EXT-X-SKIP: the complete ones wholly
/// before the skip boundary, stopping at the first one that carries EXT-X-DISCONTINUITY.
/// Clients rebuild skipped segments from their last copy, and a skipped discontinuity is
/// easy to miscount; so a delta update never hides one (it is kept on the first segment
/// after the skip).
fn skipped_segments(listed: &[&Segment], skip_until: u64) -> usize {
    let Some(first) = listed.first() else {
        return 0;
    };
    let mut remaining: u64 = listed.iter().map(|s| s.duration()).sum();
    let mut skipped = 0;
    for seg in listed {
        let same_session = seg.session.number == first.session.number;
        if !seg.complete || !same_session || remaining.saturating_sub(seg.duration()) < skip_until {
            break;
        }
        remaining -= seg.duration();
        skipped += 1;
    }
    skipped
}

/// Renders the playlist. With `skip`, segments older than the skip boundary are replaced by
/// one EXT-X-SKIP tag (a delta update).
pub fn render(tl: &Timeline, skip: bool) -> String {
    let cfg = tl.config();
    let target = tl.config().target_duration_secs();
    let part_target = u64::from(cfg.part_target);
    let skip_until = 6 * target * u64::from(TIMESCALE);
    let listed: Vec<&Segment> = tl.listed().collect();
    let mut out = String::with_capacity(2048);
    out.push_str("#EXTM3U\n#EXT-X-VERSION:10\n");
    let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
    let _ = writeln!(
        out,
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={},CAN-SKIP-UNTIL={}",
        secs_ceil(3 * part_target),
        secs(skip_until)
    );
    let _ = writeln!(
        out,
        "#EXT-X-PART-INF:PART-TARGET={}",
        secs_ceil(part_target)
    );
    let first_msn = listed.first().map_or(tl.current_msn(), |s| s.msn);
    let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{first_msn}");
    // The discontinuity sequence number of the first listed segment: one per session.
    let first_session = listed
        .first()
        .map_or(tl.session().number, |s| s.session.number);
    if first_session > 0 {
        let _ = writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{first_session}");
    }

    // Parts are listed for the segments within three target durations of the live edge.
    let total: u64 = listed.iter().map(|s| s.duration()).sum();
    let parts_from = total.saturating_sub(3 * target * u64::from(TIMESCALE));
    let skipped = if skip {
        skipped_segments(&listed, skip_until)
    } else {
        0
    };
    if skipped > 0 {
        let _ = writeln!(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}");
    }
    if listed.is_empty() {
        write_map(&mut out, tl.prefix(), tl.session().number);
    }

    let mut start = 0;
    for (i, seg) in listed.iter().enumerate() {
        start += seg.duration();
        if i < skipped {
            continue;
        }
        let new_session = i > 0 && listed[i - 1].session.number != seg.session.number;
        // DISCONTINUITY, MAP and PROGRAM-DATE-TIME all precede the segment's first part.
        if new_session {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        // The MAP follows any SKIP so that it still precedes every segment it applies to.
        if i == skipped || new_session {
            write_map(&mut out, tl.prefix(), seg.session.number);
        }
        let _ = writeln!(
            out,
            "#EXT-X-PROGRAM-DATE-TIME:{}",
            rfc3339_ms(seg.program_date_us())
        );
        if start > parts_from || !seg.complete {
            for part in &seg.parts {
                let _ = write!(
                    out,
                    "#EXT-X-PART:DURATION={},URI=\"{}\"",
                    secs(u64::from(part.duration)),
                    names::part_name(tl.prefix(), part.msn, part.index)
                );
                out.push_str(if part.independent {
                    ",INDEPENDENT=YES\n"
                } else {
                    "\n"
                });
            }
        }
        if seg.complete {
            let _ = writeln!(out, "#EXTINF:{},", secs(seg.duration()));
            let _ = writeln!(out, "{}", names::segment_name(tl.prefix(), seg.msn));
        }
    }
    let (msn, index) = tl.next_part();
    let _ = writeln!(
        out,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"",
        names::part_name(tl.prefix(), msn, index)
    );
    out
}

fn write_map(out: &mut String, prefix: &str, session: u64) {
    let _ = writeln!(
        out,
        "#EXT-X-MAP:URI=\"{}\"",
        names::init_name(prefix, session)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::llhls::timeline::{NewPart, TimelineConfig};
    use std::sync::Arc;

    fn timeline(segments: usize, open_parts: usize) -> Timeline {
        let cfg = TimelineConfig {
            prefix: "s1".into(),
            part_target: 18_000,
            segment_target: 90_000,
            window_segments: 7,
            first_msn: 0,
        };
        let mut tl = Timeline::new(cfg, Arc::from(&b"init"[..]), "avc1.42c01f".into());
        let mut t = 1_763_725_552_000_000u64;
        for _ in 0..segments {
            for i in 0..5 {
                tl.push_part(NewPart::at(18_000, i == 0, Arc::from(&b"p"[..]), t));
                t += 200_000;
            }
            tl.close_segment();
        }
        for i in 0..open_parts {
            tl.push_part(NewPart::at(18_000, i == 0, Arc::from(&b"p"[..]), t));
            t += 200_000;
        }
        tl
    }

    #[test]
    fn formats_time() {
        assert_eq!(secs(18_000), "0.20000");
        assert_eq!(secs_ceil(18_018), "0.20020");
        assert_eq!(secs_ceil(1), "0.00002");
    }

    #[test]
    fn full_playlist_has_the_required_tags() {
        let text = render(&timeline(8, 2), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#EXTM3U");
        assert!(lines.contains(&"#EXT-X-VERSION:10"));
        assert!(lines.contains(&"#EXT-X-TARGETDURATION:1"));
        assert!(lines.contains(
            &"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.60000,CAN-SKIP-UNTIL=6.00000"
        ));
        assert!(lines.contains(&"#EXT-X-PART-INF:PART-TARGET=0.20000"));
        assert!(lines.contains(&"#EXT-X-MEDIA-SEQUENCE:1"));
        assert!(lines.contains(&"#EXT-X-MAP:URI=\"s1-init-0.mp4\""));
        assert_eq!(text.matches("#EXTINF:1.00000,").count(), 7);
        assert_eq!(text.matches("#EXT-X-PROGRAM-DATE-TIME:").count(), 8);
        assert_eq!(
            *lines.last().unwrap(),
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s1-8.2.m4s\""
        );
        assert!(text.contains("#EXT-X-PART:DURATION=0.20000,URI=\"s1-8.0.m4s\",INDEPENDENT=YES\n"));
        assert!(text.contains("#EXT-X-PART:DURATION=0.20000,URI=\"s1-8.1.m4s\"\n"));
        // Parts only for segments ending within three target durations of the end (7.4 s):
        // segments 5, 6 and 7 and the open 8.
        assert!(!text.contains("s1-4.4.m4s"));
        assert!(text.contains("s1-5.0.m4s"));
        // Tags of a parent segment come before its first part.
        let pdt = text.rfind("#EXT-X-PROGRAM-DATE-TIME").unwrap();
        assert!(pdt < text.find("s1-8.0.m4s").unwrap());
    }

    #[test]
    fn delta_update_skips_beyond_the_boundary() {
        let text = render(&timeline(7, 1), true);
        assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"), "{text}");
        assert!(!text.contains("s1-0.m4s"));
        assert!(text.contains("s1-1.m4s"));
        assert!(text.find("EXT-X-SKIP").unwrap() < text.find("EXT-X-MAP").unwrap());
        // Too short to skip anything: a delta request gets the full playlist.
        let short = render(&timeline(3, 0), true);
        assert!(!short.contains("EXT-X-SKIP"));
    }
}
