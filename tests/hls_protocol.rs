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
    assert_eq!(first.header("cache-control"), Some("no-cache"));
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

    let delta = cam.get(&format!("{PLAYLIST}?_HLS_skip=YES")).text();
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
