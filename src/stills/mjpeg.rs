//! MJPEG live view (`multipart/x-mixed-replace`): one encoder thread shared by every viewer.
//!
//! The thread encodes the newest camera frame only while someone watches, at the highest rate
//! any viewer asked for (capped by `max_fps`), and never the same frame twice. It publishes
//! each JPEG into a single slot; viewers wait on a condition variable for a newer one. A slow
//! viewer therefore only skips pictures for itself (it always gets the newest, nothing queues),
//! and the capture thread is never touched beyond reading the latest frame.

use std::collections::BTreeMap;
use std::io::{self, IoSlice, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::encode::jpeg::JpegError;
use crate::http::response::StreamBody;
use crate::http::{Body, Response};
use crate::media::Frame;
use crate::sync::{CondvarExt, LockExt};

pub const CONTENT_TYPE: &str = "multipart/x-mixed-replace; boundary=frame";
/// MJPEG_MAX_FPS when unset or unusable.
pub const DEFAULT_MAX_FPS: f64 = 15.0;
/// The slowest rate a viewer can ask for; slower would leave a gone client unnoticed for long.
pub const MIN_FPS: f64 = 0.1;
/// Upper bound for MJPEG_MAX_FPS: more is only CPU spent on a preview.
pub const FPS_LIMIT: f64 = 60.0;

/// How soon to look again when the camera had no new frame yet.
const POLL: Duration = Duration::from_millis(10);
/// With no new picture for this long, a viewer is sent the newest one again, so a client that
/// went away is noticed (the write fails) even while the camera is stalled.
const KEEPALIVE: Duration = Duration::from_secs(2);
/// A viewer that got no picture at all for this long is let go (no camera, encoder failing).
const NO_PICTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns a raw frame into JPEG bytes (the daemon passes the stills encoder).
pub type EncodeFn = Arc<dyn Fn(&Frame) -> Result<Vec<u8>, JpegError> + Send + Sync>;

#[derive(Clone)]
struct Jpeg {
    data: Arc<[u8]>,
    /// Which encode this is (1 for the first); viewers wait for a larger one.
    generation: u64,
}

#[derive(Default)]
struct State {
    /// Viewer id → the rate it asked for.
    viewers: BTreeMap<u64, f64>,
    next_viewer: u64,
    /// A viewer joined since the last JPEG: encode now rather than at the next tick.
    viewer_waiting: bool,
    /// The newest JPEG; dropped when the last viewer leaves so nobody is shown a stale one.
    jpeg: Option<Jpeg>,
    encoded: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake_encoder: Condvar,
    new_jpeg: Condvar,
    max_fps: f64,
}

pub struct MjpegHub {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl MjpegHub {
    /// Starts the (idle) encoder thread. `latest` must be cheap: it is called at up to the
    /// encode rate, plus a poll while the camera has nothing new.
    pub fn start(
        latest: impl Fn() -> Option<Frame> + Send + Sync + 'static,
        encode: EncodeFn,
        max_fps: f64,
    ) -> Arc<MjpegHub> {
        let max_fps = if max_fps.is_finite() && max_fps > 0.0 {
            max_fps.clamp(MIN_FPS, FPS_LIMIT)
        } else {
            log::warn!("MJPEG: max fps {max_fps} is unusable, using {DEFAULT_MAX_FPS}");
            DEFAULT_MAX_FPS
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_encoder: Condvar::new(),
            new_jpeg: Condvar::new(),
            max_fps,
        });
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("mjpeg".into())
            .spawn(move || encode_loop(&worker, &latest, &encode));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // Viewers then see no picture and are let go after NO_PICTURE_TIMEOUT.
                log::error!("MJPEG: cannot start the encoder thread: {e}");
                None
            }
        };
        Arc::new(MjpegHub { shared, thread })
    }

    pub fn viewers(&self) -> usize {
        self.shared.state.lock_unpoisoned().viewers.len()
    }

    /// JPEGs made since the start (failed encodes not counted).
    pub fn frames_encoded(&self) -> u64 {
        self.shared.state.lock_unpoisoned().encoded
    }

    pub fn max_fps(&self) -> f64 {
        self.shared.max_fps
    }

    fn join(self: &Arc<Self>, fps: f64) -> Viewer {
        let mut st = self.shared.state.lock_unpoisoned();
        let id = st.next_viewer;
        st.next_viewer += 1;
        st.viewers.insert(id, fps);
        st.viewer_waiting = true;
        let seen = st.jpeg.as_ref().map_or(0, |j| j.generation);
        drop(st);
        self.shared.wake_encoder.notify_one();
        Viewer {
            hub: Arc::clone(self),
            id,
            seen,
        }
    }
}

/// A consumer of the shared encoder's pictures other than an HTTP viewer (the hub push
/// client): it counts as a viewer at its rate, for as long as it is held.
pub struct Subscription(Viewer);

impl MjpegHub {
    pub fn subscribe(self: &Arc<Self>, fps: f64) -> Subscription {
        Subscription(self.join(viewer_fps(Some(fps), self.max_fps())))
    }
}

impl Subscription {
    /// Waits up to `timeout` for a picture this subscriber has not had; never the same twice.
    pub fn next_new(&mut self, timeout: Duration) -> Option<Arc<[u8]>> {
        let seen = self.0.seen;
        match self.0.next(timeout) {
            Next::Jpeg(jpeg) if self.0.seen > seen => Some(jpeg),
            _ => None,
        }
    }
}

impl Drop for MjpegHub {
    fn drop(&mut self) {
        self.shared.state.lock_unpoisoned().stop = true;
        self.shared.wake_encoder.notify_one();
        self.shared.new_jpeg.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The rate a viewer gets: what it asked for within [MIN_FPS, max]; the maximum when it
/// asked for nothing usable.
pub fn viewer_fps(requested: Option<f64>, max_fps: f64) -> f64 {
    match requested {
        Some(fps) if fps.is_finite() && fps > 0.0 => fps.clamp(MIN_FPS, max_fps),
        _ => max_fps,
    }
}

fn encode_loop(shared: &Shared, latest: &dyn Fn() -> Option<Frame>, encode: &EncodeFn) {
    let mut last_sequence: Option<u64> = None;
    let mut last_attempt: Option<Instant> = None;
    let mut poll_after = Instant::now();
    let mut last_error: Option<String> = None;
    loop {
        {
            let mut st = shared.state.lock_unpoisoned();
            loop {
                if st.stop {
                    return;
                }
                let Some(fps) = st.viewers.values().copied().reduce(f64::max) else {
                    // Nobody watches: sleep until someone does, and then start afresh.
                    last_sequence = None;
                    last_attempt = None;
                    st = shared.wake_encoder.wait_unpoisoned(st);
                    continue;
                };
                let period = Duration::from_secs_f64(1.0 / fps);
                let due = match last_attempt {
                    Some(t) if !st.viewer_waiting => (t + period).max(poll_after),
                    _ => poll_after,
                };
                let now = Instant::now();
                if due <= now {
                    break;
                }
                // Viewers joining or leaving wake this early.
                st = shared.wake_encoder.wait_timeout_unpoisoned(st, due - now).0;
            }
        }
        let now = Instant::now();
        let frame = latest().filter(|f| Some(f.sequence) != last_sequence);
        let Some(frame) = frame else {
            poll_after = now + POLL;
            continue;
        };
        last_sequence = Some(frame.sequence);
        last_attempt = Some(now);
        // As text: what is compared with the last failure and logged, a panic included.
        let result = match panic::catch_unwind(AssertUnwindSafe(|| encode(&frame))) {
            Ok(encoded) => encoded.map_err(|e| e.to_string()),
            Err(_) => Err("the JPEG encoder panicked".to_string()),
        };
        let mut st = shared.state.lock_unpoisoned();
        st.viewer_waiting = false;
        match result {
            Ok(bytes) => {
                last_error = None;
                st.encoded += 1;
                if !st.viewers.is_empty() {
                    st.jpeg = Some(Jpeg {
                        data: Arc::from(bytes),
                        generation: st.encoded,
                    });
                }
                drop(st);
                shared.new_jpeg.notify_all();
            }
            Err(e) => {
                drop(st);
                if last_error.as_ref() != Some(&e) {
                    log::warn!("MJPEG: cannot encode frame {}: {e}", frame.sequence);
                    last_error = Some(e);
                }
            }
        }
    }
}

/// One connected viewer; leaving (however the stream ends) is dropping it.
struct Viewer {
    hub: Arc<MjpegHub>,
    id: u64,
    /// Generation of the newest JPEG this viewer has seen (or skipped).
    seen: u64,
}

enum Next {
    Jpeg(Arc<[u8]>),
    Nothing,
    Stopped,
}

impl Viewer {
    /// Waits up to `timeout` for a JPEG newer than the last one seen; on timeout, the newest
    /// JPEG again (if any), so the connection gets written to.
    fn next(&mut self, timeout: Duration) -> Next {
        let shared = &self.hub.shared;
        let deadline = Instant::now() + timeout;
        let mut st = shared.state.lock_unpoisoned();
        loop {
            if st.stop {
                return Next::Stopped;
            }
            match &st.jpeg {
                Some(j) if j.generation > self.seen => {
                    self.seen = j.generation;
                    return Next::Jpeg(Arc::clone(&j.data));
                }
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return st
                    .jpeg
                    .as_ref()
                    .map_or(Next::Nothing, |j| Next::Jpeg(Arc::clone(&j.data)));
            }
            st = shared
                .new_jpeg
                .wait_timeout_unpoisoned(st, deadline - now)
                .0;
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let shared = &self.hub.shared;
        let mut st = shared.state.lock_unpoisoned();
        st.viewers.remove(&self.id);
        if st.viewers.is_empty() {
            st.jpeg = None;
            st.viewer_waiting = false;
        }
        drop(st);
        shared.wake_encoder.notify_one();
    }
}

/// The multipart body of one viewer: JPEGs at up to `fps` (see [`viewer_fps`]) until a write
/// fails. The viewer counts from the moment the body starts being written.
pub fn stream_body(hub: Arc<MjpegHub>, fps: Option<f64>) -> StreamBody {
    StreamBody::new(move |out| {
        let fps = viewer_fps(fps, hub.max_fps());
        let period = Duration::from_secs_f64(1.0 / fps);
        let mut viewer = hub.join(fps);
        drop(hub);
        // Each part is followed at once by the next boundary: browsers show a part only when
        // they see the boundary after it, which would otherwise lag a picture behind.
        out.write_all(b"--frame\r\n")?;
        out.flush()?;
        let started = Instant::now();
        let mut sent_any = false;
        let mut due = Instant::now();
        loop {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            match viewer.next(KEEPALIVE) {
                Next::Jpeg(jpeg) => {
                    write_part(out, &jpeg)?;
                    sent_any = true;
                }
                Next::Nothing if !sent_any && started.elapsed() >= NO_PICTURE_TIMEOUT => {
                    return Ok(());
                }
                Next::Nothing => continue,
                Next::Stopped => return Ok(()),
            }
            // No catching up after a slow write: the next picture is simply the newest.
            due = (due + period).max(Instant::now());
        }
    })
}

/// A `200` with the stream for one viewer.
pub fn stream_response(hub: Arc<MjpegHub>, fps: Option<f64>) -> Response {
    Response::new(200, CONTENT_TYPE, Body::Stream(stream_body(hub, fps)))
        .with_header("Cache-Control", "no-store")
        // For HTTP/1.0 caches, and for nginx in front, which would otherwise buffer the stream.
        .with_header("Pragma", "no-cache")
        .with_header("Expires", "0")
        .with_header("X-Accel-Buffering", "no")
}

fn write_part(out: &mut dyn Write, jpeg: &[u8]) -> io::Result<()> {
    let head = format!(
        "Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    );
    let mut parts = [
        IoSlice::new(head.as_bytes()),
        IoSlice::new(jpeg),
        IoSlice::new(b"\r\n--frame\r\n"),
    ];
    write_all_vectored(out, &mut parts)?;
    out.flush()
}

fn write_all_vectored(out: &mut dyn Write, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::server::{Handler, HttpServer};
    use crate::http::Request;
    use crate::testutil::{sequence_encoder, tiny_frame};
    use std::io::{BufRead, BufReader};
    use std::net::{SocketAddr, TcpStream};
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// A 100 fps camera.
    fn running_camera() -> impl Fn() -> Option<Frame> + Send + Sync + 'static {
        let start = Instant::now();
        move || Some(tiny_frame(start.elapsed().as_millis() as u64 / 10))
    }

    /// A camera the test advances by hand; no frame while the number is 0.
    fn manual_camera() -> (Arc<AtomicU64>, impl Fn() -> Option<Frame> + Send + Sync) {
        let sequence = Arc::new(AtomicU64::new(0));
        let reader = Arc::clone(&sequence);
        let camera = move || match reader.load(Ordering::SeqCst) {
            0 => None,
            n => Some(tiny_frame(n)),
        };
        (sequence, camera)
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn read_line(r: &mut impl BufRead) -> String {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    }

    /// Reads one multipart part (the opening boundary already read) and returns its payload.
    fn read_part(r: &mut impl BufRead) -> String {
        assert_eq!(read_line(r), "Content-Type: image/jpeg\r\n");
        let length = read_line(r);
        let n: usize = length
            .strip_prefix("Content-Length: ")
            .and_then(|v| v.trim_end().parse().ok())
            .unwrap_or_else(|| panic!("bad length line {length:?}"));
        assert_eq!(read_line(r), "\r\n");
        let mut payload = vec![0u8; n];
        r.read_exact(&mut payload).unwrap();
        let mut trailer = [0u8; 11];
        r.read_exact(&mut trailer).unwrap();
        assert_eq!(&trailer, b"\r\n--frame\r\n");
        String::from_utf8(payload).unwrap()
    }

    struct MjpegRoute(Arc<MjpegHub>);

    impl Handler for MjpegRoute {
        fn handle(&self, req: &Request) -> Response {
            let fps = req.query.strip_prefix("fps=").and_then(|v| v.parse().ok());
            stream_response(Arc::clone(&self.0), fps)
        }
    }

    fn serve(hub: &Arc<MjpegHub>) -> SocketAddr {
        let route = Arc::new(MjpegRoute(Arc::clone(hub)));
        HttpServer::start("127.0.0.1:0".parse().unwrap(), 8, route)
            .unwrap()
            .local_addr()
    }

    /// A viewer over HTTP, positioned at its first part.
    fn watch(addr: SocketAddr, fps: &str) -> BufReader<TcpStream> {
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(client, "GET /?fps={fps} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = BufReader::new(client);
        assert_eq!(read_line(&mut r), "HTTP/1.1 200 OK\r\n");
        let mut head = Vec::new();
        loop {
            match read_line(&mut r) {
                line if line == "\r\n" => break,
                line => head.push(line),
            }
        }
        assert!(head.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
        assert!(head.contains(&"Connection: close\r\n".to_string()));
        assert_eq!(read_line(&mut r), "--frame\r\n");
        r
    }

    #[test]
    fn viewers_get_their_own_rates_from_one_encoder() {
        let hub = MjpegHub::start(running_camera(), sequence_encoder(), 20.0);
        let addr = serve(&hub);
        let watch_for = |fps: &'static str| {
            thread::spawn(move || {
                let mut r = watch(addr, fps);
                let end = Instant::now() + Duration::from_millis(1500);
                let mut got = Vec::new();
                while Instant::now() < end {
                    let sequence: u64 = read_part(&mut r).parse().unwrap();
                    got.push((Instant::now(), sequence));
                }
                got
            })
        };
        let started = Instant::now();
        let (slow, fast) = (watch_for("2"), watch_for("10"));
        wait_for("both viewers", || hub.viewers() == 2);
        let (slow, fast) = (slow.join().unwrap(), fast.join().unwrap());
        let encoded = hub.frames_encoded();
        let elapsed = started.elapsed().as_secs_f64();
        for got in [&slow, &fast] {
            assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "newer frames only");
        }
        assert!(
            (2..=5).contains(&slow.len()),
            "2 fps viewer got {}",
            slow.len()
        );
        assert!(
            (8..=17).contains(&fast.len()),
            "10 fps viewer got {}",
            fast.len()
        );
        let min_gap = slow.windows(2).map(|w| w[1].0 - w[0].0).min().unwrap();
        assert!(min_gap >= Duration::from_millis(400), "{min_gap:?}");
        // The encoder ran at the fastest viewer's 10 fps, not at the 20 fps cap.
        assert!(
            encoded as f64 <= 10.0 * elapsed + 4.0,
            "{encoded} in {elapsed:.2} s"
        );
        assert_eq!(hub.max_fps(), 20.0);
    }

    #[test]
    fn a_viewer_that_leaves_stops_counting_and_encoding_stops() {
        let hub = MjpegHub::start(running_camera(), sequence_encoder(), 15.0);
        let addr = serve(&hub);
        let mut viewer = watch(addr, "15");
        read_part(&mut viewer);
        read_part(&mut viewer);
        assert_eq!(hub.viewers(), 1);
        drop(viewer);
        wait_for("the viewer to leave", || hub.viewers() == 0);
        let encoded = hub.frames_encoded();
        assert!(encoded >= 2);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(hub.frames_encoded(), encoded);
    }

    #[test]
    fn without_viewers_nothing_is_read_or_encoded() {
        let (looks, encodes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counter = Arc::clone(&looks);
        let camera = move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(tiny_frame(counter.load(Ordering::SeqCst) as u64))
        };
        let counter = Arc::clone(&encodes);
        let encoder: EncodeFn = Arc::new(move |f: &Frame| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(f.sequence.to_string().into_bytes())
        });
        let hub = MjpegHub::start(camera, encoder, 15.0);
        thread::sleep(Duration::from_millis(200));
        assert_eq!(looks.load(Ordering::SeqCst), 0);
        assert_eq!(encodes.load(Ordering::SeqCst), 0);
        assert_eq!((hub.viewers(), hub.frames_encoded()), (0, 0));
    }

    /// Runs one viewer's body into a socket pair; returns the reading end at the first part.
    fn viewer_on_socket(hub: &Arc<MjpegHub>, fps: Option<f64>) -> BufReader<UnixStream> {
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let body = stream_body(Arc::clone(hub), fps);
        thread::spawn(move || body.run(&mut ours));
        theirs
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut r = BufReader::new(theirs);
        assert_eq!(read_line(&mut r), "--frame\r\n");
        r
    }

    #[test]
    fn an_unchanged_frame_is_not_encoded_again() {
        let (sequence, camera) = manual_camera();
        let hub = MjpegHub::start(camera, sequence_encoder(), 60.0);
        let mut viewer = viewer_on_socket(&hub, None);
        sequence.store(1, Ordering::SeqCst);
        assert_eq!(read_part(&mut viewer), "1");
        thread::sleep(Duration::from_millis(300));
        assert_eq!(hub.frames_encoded(), 1);
        sequence.store(2, Ordering::SeqCst);
        assert_eq!(read_part(&mut viewer), "2");
        assert_eq!(hub.frames_encoded(), 2);
    }

    #[test]
    fn encoder_failures_and_panics_do_not_stop_the_hub() {
        let (sequence, camera) = manual_camera();
        let encoder: EncodeFn = Arc::new(|f: &Frame| match f.sequence {
            1 => panic!("encoder bug"),
            2 => Err(JpegError::EmptyFrame),
            n => Ok(n.to_string().into_bytes()),
        });
        let hub = MjpegHub::start(camera, encoder, 60.0);
        let mut viewer = viewer_on_socket(&hub, None);
        for n in 1..=3 {
            sequence.store(n, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(read_part(&mut viewer), "3");
        assert_eq!(hub.frames_encoded(), 1);
    }

    /// A client that takes each write only when the test reads it.
    struct Gated(crossbeam_channel::Sender<Vec<u8>>);

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .send(buf.to_vec())
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_viewer_skips_to_the_newest_picture_without_holding_anyone_up() {
        let (sequence, camera) = manual_camera();
        let hub = MjpegHub::start(camera, sequence_encoder(), 60.0);
        let (tx, rx) = crossbeam_channel::bounded(0);
        let body = stream_body(Arc::clone(&hub), None);
        let viewer = thread::spawn(move || body.run(&mut Gated(tx)));
        let next = || String::from_utf8(rx.recv().unwrap()).unwrap();
        assert_eq!(next(), "--frame\r\n");
        // After the first, the viewer is stuck writing part 1, while the hub goes on encoding.
        for n in 1..=4 {
            sequence.store(n, Ordering::SeqCst);
            wait_for("the next encode", || hub.frames_encoded() == n);
        }
        assert!(next().starts_with("Content-Type: image/jpeg\r\nContent-Length: 1\r\n"));
        assert_eq!(next(), "1");
        assert_eq!(next(), "\r\n--frame\r\n");
        assert!(next().starts_with("Content-Type"));
        assert_eq!(next(), "4", "the newest picture, not the next in a queue");
        assert_eq!(next(), "\r\n--frame\r\n");
        drop(rx);
        sequence.store(5, Ordering::SeqCst);
        assert!(viewer.join().unwrap().is_err(), "the write failed");
        assert_eq!(hub.viewers(), 0);
    }

    #[test]
    fn viewer_rates_stay_within_bounds() {
        assert_eq!(viewer_fps(None, 15.0), 15.0);
        assert_eq!(viewer_fps(Some(5.0), 15.0), 5.0);
        assert_eq!(viewer_fps(Some(100.0), 15.0), 15.0);
        assert_eq!(viewer_fps(Some(0.001), 15.0), MIN_FPS);
        for bad in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(viewer_fps(Some(bad), 15.0), 15.0, "{bad}");
        }
        let (_, camera) = manual_camera();
        assert_eq!(
            MjpegHub::start(camera, sequence_encoder(), f64::NAN).max_fps(),
            15.0
        );
        let (_, camera) = manual_camera();
        assert_eq!(
            MjpegHub::start(camera, sequence_encoder(), 1e9).max_fps(),
            FPS_LIMIT
        );
    }

    #[test]
    fn the_response_is_an_uncached_multipart_stream() {
        let (_, camera) = manual_camera();
        let resp = stream_response(MjpegHub::start(camera, sequence_encoder(), 15.0), Some(1.0));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some(CONTENT_TYPE));
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        assert_eq!(resp.header("x-accel-buffering"), Some("no"));
        assert!(resp.body.is_stream());
    }
}
