//! LL-HLS delivery rules as seen over HTTP by a client.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{preload_hint, Picamd, PLAYLIST};

fn attr<'a>(playlist: &'a str, tag: &str) -> &'a str {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix(tag))
        .unwrap_or_else(|| panic!("{tag} missing"))
}

#[test]
fn playlist_rules_and_blocking() {
    let cam = Picamd::start(&[]);
    let first = cam.get(PLAYLIST);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    // "Now": browsers revalidate; an edge may share it for a second.
    assert_eq!(
        first.header("cache-control"),
        Some("public, max-age=0, s-maxage=1")
    );
    let text = first.text();
    assert_eq!(attr(&text, "#EXT-X-VERSION:"), "10");
    assert_eq!(attr(&text, "#EXT-X-PART-INF:"), "PART-TARGET=0.20000");
    assert!(attr(&text, "#EXT-X-SERVER-CONTROL:")
        .contains("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.60000"));

    // The init and a part: immutable media.
    let map = attr(&text, "#EXT-X-MAP:URI=").trim_matches('"');
    let init = cam.get(&format!("/preview/hls/cam-preview/{map}"));
    assert_eq!(init.status, 200);
    assert_eq!(init.header("content-type"), Some("video/mp4"));
    assert!(init.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(&init.body[4..8], b"ftyp");

    // 50 clients block on the next part; all are answered once it appears.
    let (hint_uri, msn, part) = preload_hint(&text);
    let barrier = Arc::new(Barrier::new(51));
    let port = cam.port;
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let path = format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}");
                let resp = common::request(port, "GET", &path, &[], b"").unwrap();
                (resp.status, resp.text(), Instant::now())
            })
        })
        .collect();
    barrier.wait();
    let answers: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    let first_at = answers.iter().map(|a| a.2).min().unwrap();
    let last_at = answers.iter().map(|a| a.2).max().unwrap();
    for (status, body, _) in &answers {
        assert_eq!(*status, 200);
        assert!(
            body.contains(&format!("URI=\"{hint_uri}\"")),
            "the awaited part is listed"
        );
    }
    assert!(
        last_at - first_at < Duration::from_millis(500),
        "answered together"
    );

    // The hinted part itself: blocks until complete, then arrives whole.
    let next = cam.get(&format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}"));
    // An answer to a directive stays valid: cacheable for three target durations.
    assert_eq!(next.header("cache-control"), Some("public, max-age=3"));
    let (hint2, _, _) = preload_hint(&next.text());
    let part_resp = cam.get(&format!("/preview/hls/cam-preview/{hint2}"));
    assert_eq!(part_resp.status, 200);
    assert_eq!(&part_resp.body[4..8], b"moof");
    assert_eq!(
        part_resp.header("content-length").unwrap(),
        part_resp.body.len().to_string()
    );

    // Bad directives are 400 with a detail.
    for query in [
        "_HLS_part=1",
        "_HLS_msn=abc",
        &format!("_HLS_msn={}", msn + 50),
        "_HLS_skip=maybe",
    ] {
        let resp = cam.get(&format!("{PLAYLIST}?{query}"));
        assert_eq!(resp.status, 400, "{query}");
        assert_eq!(resp.header("cache-control"), Some("no-store"), "{query}");
        assert!(resp.json()["detail"].is_string());
    }

    // Other query parameters (tokens, even URLs) are ignored, never rerouted.
    assert_eq!(cam.get(&format!("{PLAYLIST}?token=http://x/y")).status, 200);

    // Unknown media: 404 JSON, never cached. An old session's prefix is unknown too.
    for path in ["ffffffff-init.mp4", "nope.m3u8", "x-1.2.m4s"] {
        let resp = cam.get(&format!("/preview/hls/cam-preview/{path}"));
        assert_eq!(resp.status, 404, "{path}");
        assert_eq!(resp.header("cache-control"), Some("no-store"));
    }
    // Traversal is refused before anything is looked up (the plugin's 422).
    let resp = cam.get("/preview/hls/cam-preview/../index.m3u8");
    assert_eq!(resp.status, 422);
    assert_eq!(resp.header("cache-control"), Some("no-store"));
}

#[test]
fn segments_parts_and_delta_updates() {
    let cam = Picamd::start(&[]);
    // Wait until the window is longer than the skip boundary (6 s), checking every reload.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut server_controls = std::collections::BTreeSet::new();
    let text = loop {
        let text = cam.get(PLAYLIST).text();
        server_controls.insert(format!(
            "{} {}",
            attr(&text, "#EXT-X-PART-INF:"),
            attr(&text, "#EXT-X-SERVER-CONTROL:")
        ));
        check_part_durations(&text);
        if text.matches("#EXTINF").count() >= 7 {
            break text;
        }
        assert!(Instant::now() < deadline, "window never filled: {text}");
        thread::sleep(Duration::from_millis(150));
    };
    assert_eq!(
        server_controls.len(),
        1,
        "PART-TARGET and hold-backs never change: {server_controls:?}"
    );
    // Every complete segment is exactly its parts, back to back.
    let lines: Vec<&str> = text.lines().collect();
    let seg_idx = lines
        .iter()
        .rposition(|l| l.ends_with(".m4s") && !l.starts_with('#'))
        .unwrap();
    let seg_uri = lines[seg_idx];
    let seg = cam.get(&format!("/preview/hls/cam-preview/{seg_uri}"));
    assert_eq!(seg.status, 200);
    let stem = seg_uri.trim_end_matches(".m4s");
    let part_uris: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("#EXT-X-PART:"))
        .filter_map(|l| l.split("URI=\"").nth(1))
        .map(|u| &u[..u.find('"').unwrap()])
        .filter(|u| u.starts_with(&format!("{stem}.")))
        .collect();
    assert_eq!(part_uris.len(), 5, "five 200 ms parts per 1 s segment");
    let joined: Vec<u8> = part_uris
        .iter()
        .flat_map(|u| cam.get(&format!("/preview/hls/cam-preview/{u}")).body)
        .collect();
    assert_eq!(joined, seg.body);

    // A full window is about 7 s; whether its oldest segment already lies wholly beyond the
    // 6 s boundary depends on how far the segment in progress has got (and, under load, on
    // segment lengths), so the delta update is asked for until it skips.
    let deadline = Instant::now() + Duration::from_secs(10);
    let delta = loop {
        let delta = cam.get(&format!("{PLAYLIST}?_HLS_skip=YES")).text();
        if delta.contains("#EXT-X-SKIP:") {
            break delta;
        }
        assert!(
            Instant::now() < deadline,
            "no delta update skipped anything: {delta}"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let skipped: usize = attr(&delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=")
        .parse()
        .unwrap();
    assert!(skipped >= 1);
    assert!(delta.len() < cam.get(PLAYLIST).text().len());
}

/// Every part is at most PART-TARGET and, unless it is independent or ends its segment, at
/// least 85% of it.
fn check_part_durations(text: &str) {
    let target: f64 = attr(text, "#EXT-X-PART-INF:PART-TARGET=").parse().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("#EXT-X-PART:DURATION=") else {
            continue;
        };
        let duration: f64 = rest.split(',').next().unwrap().parse().unwrap();
        assert!(duration <= target, "{line}");
        let ends_segment = lines.get(i + 1).is_some_and(|l| l.starts_with("#EXTINF"));
        if !line.contains("INDEPENDENT=YES") && !ends_segment {
            assert!(duration >= 0.85 * target, "{line}");
        }
    }
}

/// Milliseconds since the epoch of an RFC 3339 UTC date such as `2026-12-03T22:45:33.123Z`.
fn unix_ms(date: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| date[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs: f64 = date[17..date.len() - 1].parse().unwrap();
    ((days * 86_400 + n(11..13) * 3600 + n(14..16) * 60) as f64 * 1000.0 + secs * 1000.0).round()
        as i64
}

/// One listed segment as a client sees it.
#[derive(Debug)]
struct Listed {
    msn: u64,
    uri: String,
    date_ms: i64,
    extinf_ms: i64,
    discontinuity: bool,
    map: String,
}

fn listed_segments(text: &str) -> Vec<Listed> {
    let mut msn: u64 = attr(text, "#EXT-X-MEDIA-SEQUENCE:").parse().unwrap();
    let mut out = Vec::new();
    let (mut date, mut extinf, mut disc, mut map) = (None, None, false, String::new());
    for line in text.lines() {
        if line == "#EXT-X-DISCONTINUITY" {
            disc = true;
        } else if let Some(uri) = line.strip_prefix("#EXT-X-MAP:URI=") {
            map = uri.trim_matches('"').to_string();
        } else if let Some(d) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            date = Some(unix_ms(d));
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let secs: f64 = d.trim_end_matches(',').parse().unwrap();
            extinf = Some((secs * 1000.0).round() as i64);
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push(Listed {
                msn,
                uri: line.to_string(),
                date_ms: date.take().expect("a date on every segment"),
                extinf_ms: extinf.take().expect("EXTINF"),
                discontinuity: std::mem::take(&mut disc),
                map: map.clone(),
            });
            msn += 1;
        }
    }
    out
}

/// RFC 8216 §4.3.2.6: a segment's date is the previous one's plus its duration, unless a
/// discontinuity comes in between.
fn check_dates(segments: &[Listed]) {
    for pair in segments.windows(2) {
        if pair[1].discontinuity {
            continue;
        }
        let step = pair[1].date_ms - pair[0].date_ms;
        assert!(
            (step - pair[0].extinf_ms).abs() <= 1,
            "PROGRAM-DATE-TIME steps {step} ms over an EXTINF of {} ms: {segments:#?}",
            pair[0].extinf_ms
        );
    }
}

/// Blocking reloads, one segment at a time, until segment `msn` is complete.
fn wait_for_segment(cam: &Picamd, msn: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = cam.get(PLAYLIST).text();
        let last = listed_segments(&text).last().map_or(0, |s| s.msn);
        if last >= msn {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "segment {msn} never came: {text}"
        );
        let _ = cam.get(&format!("{PLAYLIST}?_HLS_msn={}", last + 1));
    }
}

/// A cold start answers the first plain playlist request only once it lists two complete
/// segments (GStreamer 1.22 cannot start on one).
#[test]
fn a_cold_playlist_lists_two_segments() {
    let cam = Picamd::start(&[]);
    let text = cam.get(PLAYLIST).text();
    assert!(text.matches("#EXTINF").count() >= 2, "{text}");
    check_part_durations(&text);
}

/// The whole daemon stops for 1.2 s (SIGSTOP) and goes on: dates still step by exactly
/// EXTINF across the stall (media time keeps up to half a segment of it; the segmenter's unit
/// tests check how much), no part outgrows PART-TARGET, and the listed durations add up to
/// the dates' span.
#[test]
fn program_dates_follow_extinf_across_a_stall() {
    let cam = Picamd::start(&[]);
    let before = listed_segments(&cam.get(PLAYLIST).text());
    let first = before.last().unwrap().msn;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(cam.pid() as i32, libc::SIGSTOP) };
    thread::sleep(Duration::from_millis(1200));
    unsafe { libc::kill(cam.pid() as i32, libc::SIGCONT) };
    // Four more segments after the stall.
    let text = wait_for_segment(&cam, first + 5);
    check_part_durations(&text);
    let segments = listed_segments(&text);
    check_dates(&segments);
    assert!(segments.iter().all(|s| !s.discontinuity), "{text}");
    let from = segments.iter().position(|s| s.msn == first).unwrap();
    let (a, b) = (&segments[from], segments.last().unwrap());
    let media: i64 = segments[from..segments.len() - 1]
        .iter()
        .map(|s| s.extinf_ms)
        .sum();
    // Each date and EXTINF is rounded to the millisecond.
    let slack = (segments.len() - from) as i64;
    assert!(
        (b.date_ms - a.date_ms - media).abs() <= slack,
        "{segments:#?}"
    );
}

/// The encoder stops (POST /preview/stop), then a waiting viewer wakes it: the same playlist
/// goes on with the next MSN behind EXT-X-DISCONTINUITY and a new MAP, the old segments and
/// their init stay listed and downloadable, and the waiting request gets the new part.
#[test]
fn a_preview_restart_continues_the_playlist() {
    let cam = Picamd::start(&[]);
    let before = listed_segments(&cam.get(PLAYLIST).text());
    assert_eq!(cam.authed("POST", "/preview/stop", "").status, 204);
    // The session ends once no frames arrived for two seconds.
    thread::sleep(Duration::from_millis(2600));
    assert_eq!(cam.get("/health").json()["preview"], "stopped");
    let stopped = cam.get(&format!("{PLAYLIST}?_HLS_msn=0")).text();
    let (hint, msn, part) = preload_hint(&stopped);
    let last = listed_segments(&stopped).last().unwrap().msn;
    assert_eq!(
        (msn, part),
        (last + 1, 0),
        "the hint names the next session's first part"
    );
    assert!(
        cam.get("/health").json()["preview"] == "running",
        "that request woke it"
    );

    let text = cam
        .get(&format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part=0"))
        .text();
    assert!(
        text.contains(&format!("URI=\"{hint}\",INDEPENDENT=YES")),
        "{text}"
    );
    let after = cam.get(&format!("{PLAYLIST}?_HLS_msn={}", msn + 1)).text();
    let segments = listed_segments(&after);
    check_dates(&segments);
    let new = segments.iter().position(|s| s.msn == msn).unwrap();
    assert!(segments[new].discontinuity, "{after}");
    assert_eq!(segments.iter().filter(|s| s.discontinuity).count(), 1);
    assert_ne!(segments[new].map, segments[new - 1].map, "a new init");
    let position = |needle: &str| after.find(needle).unwrap();
    assert!(position("#EXT-X-DISCONTINUITY") < position(&format!("URI=\"{hint}\"")));
    // Everything from before the restart is still there.
    for old in &before {
        assert!(
            segments.iter().any(|s| s.uri == old.uri),
            "{} left",
            old.uri
        );
        let resp = cam.get(&format!("/preview/hls/cam-preview/{}", old.uri));
        assert_eq!(resp.status, 200, "{}", old.uri);
    }
    for map in [&segments[0].map, &segments[new].map] {
        let init = cam.get(&format!("/preview/hls/cam-preview/{map}"));
        assert_eq!(
            (init.status, &init.body[4..8]),
            (200, &b"ftyp"[..]),
            "{map}"
        );
    }
}
