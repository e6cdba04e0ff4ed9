//! Parked LL-HLS requests against the spawned binary: blocking playlist reloads and hinted
//! parts wait in the HTTP responder (no connection thread), are all answered when the part
//! is published with the same headers the direct path gives, their connections serve the
//! next request, a client that hangs up is dropped, and beyond the cap requests wait in
//! their own thread. A follower's connection, once answered by the responder, is read and
//! served there with no connection thread. `/metrics` shows the counts
//! (`picamd_hls_parked_requests`, `picamd_hls_responder_requests_total`).

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{preload_hint, read_response, HttpResponse, Picamd, PLAYLIST};

/// One keep-alive connection.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(cam: &Picamd) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", cam.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Conn(BufReader::new(stream))
    }

    fn send(&mut self, path: &str, id: &str) {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {id}\r\n\
             Origin: http://127.0.0.1\r\n\r\n"
        );
        self.0.get_mut().write_all(req.as_bytes()).unwrap();
    }

    fn answer(&mut self) -> HttpResponse {
        read_response(&mut self.0, false).unwrap()
    }
}

fn gauge(cam: &Picamd, name: &str) -> u64 {
    let text = cam.authed("GET", "/metrics", "").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse::<f64>()
        .unwrap() as u64
}

fn wait_for_gauge(cam: &Picamd, name: &str, value: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = gauge(cam, name);
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed {now}, not {value}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The newest complete segment listed.
fn last_segment(playlist: &str) -> u64 {
    playlist
        .lines()
        .filter(|l| l.ends_with(".m4s") && !l.starts_with('#'))
        .filter_map(|l| l.trim_end_matches(".m4s").rsplit('-').next()?.parse().ok())
        .max()
        .expect("a segment")
}

/// The headers a parked answer and a direct one share (all but the length).
fn head_of(resp: &HttpResponse) -> Vec<(String, String)> {
    resp.headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
        .cloned()
        .collect()
}

#[test]
fn parked_viewers_are_all_answered_on_publish_and_keep_their_connection() {
    let cam = Picamd::start(&[]);
    let (hint, msn, part) = preload_hint(&cam.get(PLAYLIST).text());
    let reload = format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}");
    let hinted = format!("/preview/hls/cam-preview/{hint}");
    let mut viewers: Vec<(Conn, &str)> = (0..40)
        .map(|i| {
            let mut c = Conn::open(&cam);
            let path = if i % 4 == 0 { &hinted } else { &reload };
            c.send(path, &format!("viewer-{i}"));
            (c, path.as_str())
        })
        .collect();
    for (i, (c, path)) in viewers.iter_mut().enumerate() {
        let parked = c.answer();
        assert_eq!(parked.status, 200, "{path}");
        assert_eq!(parked.header("X-Request-Id"), Some(&*format!("viewer-{i}")));
        if path.contains("m3u8") {
            assert!(parked.text().contains(&format!("URI=\"{hint}\"")), "{path}");
        } else {
            assert_eq!(&parked.body[4..8], b"moof");
        }
        // The same request again on a new connection, answered at once this time by a
        // connection thread (the direct path), and on the same connection, read and
        // answered at once by the responder: the same headers (middleware, CORS, caching)
        // in the same order.
        let mut fresh = Conn::open(&cam);
        fresh.send(path, &format!("viewer-{i}"));
        let direct = fresh.answer();
        c.send(path, &format!("viewer-{i}"));
        let again = c.answer();
        assert_eq!((direct.status, again.status), (200, 200));
        assert_eq!(head_of(&parked), head_of(&direct), "{path}");
        assert_eq!(head_of(&again), head_of(&direct), "{path}");
        if !path.contains("m3u8") {
            assert_eq!(parked.body, direct.body, "a part never changes");
            assert_eq!(again.body, direct.body, "a part never changes");
        }
    }
    assert_eq!(gauge(&cam, "picamd_hls_parked_requests"), 0);
    assert_eq!(gauge(&cam, "picamd_hls_blocked_requests"), 0);
}

#[test]
fn a_viewer_that_leaves_while_parked_is_dropped() {
    // Three-second segments: a reload for two segments ahead waits at least one segment.
    let cam = Picamd::start(&["--segment-ms", "3000"]);
    let playlist = cam.get(PLAYLIST).text();
    let ahead = last_segment(&playlist) + 2;
    let mut viewers: Vec<Conn> = (0..5).map(|_| Conn::open(&cam)).collect();
    for c in &mut viewers {
        c.send(&format!("{PLAYLIST}?_HLS_msn={ahead}"), "leaving");
    }
    wait_for_gauge(
        &cam,
        "picamd_hls_parked_requests",
        5,
        Duration::from_secs(2),
    );
    drop(viewers);
    wait_for_gauge(
        &cam,
        "picamd_hls_parked_requests",
        0,
        Duration::from_secs(2),
    );
    assert!(
        last_segment(&cam.get(PLAYLIST).text()) < ahead,
        "gone before their segment came: dropped, not answered"
    );
    assert_eq!(gauge(&cam, "picamd_hls_blocked_requests"), 0);
}

#[test]
fn beyond_the_cap_requests_wait_in_their_own_thread() {
    // The parking cap follows the connection cap.
    let cam = Picamd::start(&["--segment-ms", "3000", "--max-connections", "6"]);
    let playlist = cam.get(PLAYLIST).text();
    let ahead = last_segment(&playlist) + 2;
    // One at a time: eight connections opened at once would not all get one of six slots.
    let viewers: Vec<Conn> = (0..8)
        .map(|i| {
            let mut c = Conn::open(&cam);
            c.send(&format!("{PLAYLIST}?_HLS_msn={ahead}"), "capped");
            wait_for_gauge(
                &cam,
                "picamd_hls_blocked_requests",
                i + 1,
                Duration::from_secs(2),
            );
            c
        })
        .collect();
    assert_eq!(gauge(&cam, "picamd_hls_parked_requests"), 6);
    for mut c in viewers {
        let resp = c.answer();
        assert_eq!(resp.status, 200);
        assert!(resp.text().contains(&format!("-{ahead}.m4s")));
    }
    assert_eq!(gauge(&cam, "picamd_hls_blocked_requests"), 0);
}

#[test]
fn a_follower_on_one_connection_is_served_by_the_responder_alone() {
    let cam = Picamd::start(&[]);
    let (_, msn, _) = preload_hint(&cam.get(PLAYLIST).text());
    let mut c = Conn::open(&cam);
    // The segment the hint belongs to is not complete: this reload parks, and the
    // connection thread hands the connection to the responder.
    c.send(&format!("{PLAYLIST}?_HLS_msn={}", msn + 1), "first");
    let mut playlist = c.answer().text();
    assert!(playlist.contains(&format!("-{msn}.m4s")), "{playlist}");
    assert_eq!(gauge(&cam, "picamd_hls_responder_requests_total"), 0);
    // From here on every request (a hinted part, a blocking reload, a HEAD) is read and
    // answered by the responder: parked or at once, never by a connection thread.
    let rounds = 6;
    for round in 0..rounds {
        let (hint, msn, part) = preload_hint(&playlist);
        c.send(&format!("/preview/hls/cam-preview/{hint}"), "part");
        let got = c.answer();
        assert_eq!(got.status, 200, "round {round}");
        assert_eq!(&got.body[4..8], b"moof");
        c.send(
            &format!("{PLAYLIST}?_HLS_msn={msn}&_HLS_part={part}"),
            "reload",
        );
        let reload = c.answer();
        assert_eq!(reload.status, 200);
        playlist = reload.text();
        assert!(playlist.contains(&format!("URI=\"{hint}\"")), "{playlist}");
    }
    let (hint, _, _) = preload_hint(&playlist);
    let head = format!("HEAD /preview/hls/cam-preview/{hint} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    c.0.get_mut().write_all(head.as_bytes()).unwrap();
    let head = read_response(&mut c.0, true).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        gauge(&cam, "picamd_hls_responder_requests_total"),
        2 * rounds + 1
    );
    assert_eq!(gauge(&cam, "picamd_hls_parked_requests"), 0);
}
