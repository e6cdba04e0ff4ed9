//! The YouTube stream service the API drives: at most one stream at a time, started with a
//! key and stopped by `DELETE`, SIGTERM, the duration limit or the server.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Sender};
use rustls::ClientConfig;

use super::status::{Ended, Snapshot, State, StreamStatus};
use super::worker::{self, Job};
use crate::clock::unix_us;
use crate::config::stream::StreamSettings;
use crate::fanout::Fanout;
use crate::media::AccessUnit;
use crate::preview::PreviewHold;
use crate::sync::LockExt;

/// Access units the stream thread may fall behind by (about 2 s at 30 fps) before it drops
/// to the next IDR.
const QUEUE: usize = 64;
/// The most `stop` waits for the thread to say goodbye to the server.
pub const STOP_WAIT: Duration = Duration::from_secs(2);

/// What the API shows of the running stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// `https://youtube.com/watch?v=<broadcast_key>`.
    pub watch_url: String,
    pub status: Snapshot,
}

#[derive(Debug)]
pub enum StreamError {
    /// A stream runs already (its watch URL).
    Active(String),
    /// None runs.
    NotActive,
    /// `RTMP_CA_FILE` cannot be used.
    Tls(String),
    Spawn(std::io::Error),
    /// The stream ended before it went live (the reason; the stream is torn down).
    Failed(Ended),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Active(url) => write!(
                f,
                "Stream active in youtube mode at {url}. Stop streaming first."
            ),
            StreamError::NotActive => write!(f, "No stream active"),
            StreamError::Tls(e) => write!(f, "Cannot set up TLS for the ingest server: {e}"),
            StreamError::Spawn(e) => write!(f, "Cannot start the stream thread: {e}"),
            StreamError::Failed(why) => write!(f, "The stream failed: {}", why.describe()),
        }
    }
}

struct Running {
    watch_url: String,
    status: Arc<StreamStatus>,
    stop: Sender<Ended>,
    thread: JoinHandle<()>,
}

/// The video the stream carries.
#[derive(Debug, Clone, Copy)]
pub struct VideoInfo {
    pub fps: f64,
    pub kbps: f64,
}

pub struct YoutubeStreams {
    settings: StreamSettings,
    units: Arc<Fanout<Arc<AccessUnit>>>,
    video: VideoInfo,
    running: Mutex<Option<Running>>,
    /// The status of the stream that ended last (for `/health` and telemetry).
    last: Mutex<Option<Snapshot>>,
    /// Totals over every stream since start-up (for `/metrics`).
    bytes_before: AtomicU64,
    reconnects_before: AtomicU64,
    /// Access units the stream thread could not take in time.
    pub dropped: Arc<AtomicU64>,
}

impl YoutubeStreams {
    pub fn new(
        settings: StreamSettings,
        units: Arc<Fanout<Arc<AccessUnit>>>,
        video: VideoInfo,
    ) -> YoutubeStreams {
        YoutubeStreams {
            settings,
            units,
            video,
            running: Mutex::new(None),
            last: Mutex::new(None),
            bytes_before: AtomicU64::new(0),
            reconnects_before: AtomicU64::new(0),
            dropped: Arc::default(),
        }
    }

    /// Starts streaming to `<ingest>/<stream_key>` and waits up to `wait` for the server to
    /// accept it. A refusal in that time tears the stream down and is an error; a network
    /// error leaves it redialling (its state says so).
    pub fn start(
        &self,
        stream_key: &str,
        broadcast_key: &str,
        hold: PreviewHold,
        wait: Duration,
    ) -> Result<StreamInfo, StreamError> {
        let mut running = self.running.lock_unpoisoned();
        self.reap(&mut running);
        if let Some(r) = running.as_ref() {
            return Err(StreamError::Active(r.watch_url.clone()));
        }
        let tls = self.tls()?;
        let status = Arc::new(StreamStatus::new(
            self.settings.ingest.tc_url.clone(),
            unix_us(),
        ));
        let (stop_tx, stop_rx) = bounded(1);
        let job = Job {
            ingest: self.settings.ingest.clone(),
            key: stream_key.to_string(),
            tls,
            units: self
                .units
                .subscribe("youtube stream", QUEUE, Arc::clone(&self.dropped)),
            stop: stop_rx,
            status: Arc::clone(&status),
            deadline: Instant::now() + Duration::from_secs(self.settings.max_duration_s),
            fps: self.video.fps,
            video_kbps: self.video.kbps,
            hold,
        };
        let thread = std::thread::Builder::new()
            .name("youtube".into())
            .spawn(move || worker::run(job))
            .map_err(StreamError::Spawn)?;
        let watch_url = format!("https://youtube.com/watch?v={broadcast_key}");
        log::info!(
            "youtube stream starting to {} for {watch_url}",
            self.settings.ingest.tc_url
        );
        *running = Some(Running {
            watch_url: watch_url.clone(),
            status: Arc::clone(&status),
            stop: stop_tx,
            thread,
        });
        drop(running);
        let deadline = Instant::now() + wait;
        loop {
            let snap = status.snapshot();
            match snap.state {
                State::Live | State::Reconnecting => break,
                State::Ended => {
                    let mut running = self.running.lock_unpoisoned();
                    self.reap(&mut running);
                    let why = snap.ended.unwrap_or(Ended::NoVideo);
                    return Err(StreamError::Failed(why));
                }
                State::Connecting if Instant::now() >= deadline => break,
                State::Connecting => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        Ok(StreamInfo {
            watch_url,
            status: status.snapshot(),
        })
    }

    /// The running stream, if any.
    pub fn current(&self) -> Option<StreamInfo> {
        let mut running = self.running.lock_unpoisoned();
        self.reap(&mut running);
        running.as_ref().map(|r| StreamInfo {
            watch_url: r.watch_url.clone(),
            status: r.status.snapshot(),
        })
    }

    pub fn is_active(&self) -> bool {
        self.current().is_some()
    }

    /// The stream that ended last, if none runs.
    pub fn last_ended(&self) -> Option<Snapshot> {
        self.last.lock_unpoisoned().clone()
    }

    /// Ends the running stream (`FCUnpublish`, `deleteStream`) and waits up to
    /// [`STOP_WAIT`] for its thread.
    pub fn stop(&self, why: Ended) -> Result<(), StreamError> {
        let taken = {
            let mut running = self.running.lock_unpoisoned();
            self.reap(&mut running);
            running.take()
        };
        // Waited for without the lock: readers see no stream at once.
        let Some(r) = taken else {
            return Err(StreamError::NotActive);
        };
        let _ = r.stop.try_send(why);
        let deadline = Instant::now() + STOP_WAIT;
        while !r.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if r.thread.is_finished() {
            let _ = r.thread.join();
        } else {
            log::warn!("the youtube stream thread did not end within {STOP_WAIT:?}");
        }
        self.retire(&r.status);
        Ok(())
    }

    /// Bytes sent and reconnects over all streams since start-up.
    pub fn totals(&self) -> (u64, u64) {
        let mut bytes = self.bytes_before.load(Ordering::Relaxed);
        let mut reconnects = self.reconnects_before.load(Ordering::Relaxed);
        if let Some(info) = self.current() {
            bytes += info.status.bytes_sent;
            reconnects += info.status.reconnects;
        }
        (bytes, reconnects)
    }

    /// Forgets a stream whose thread ended by itself.
    fn reap(&self, running: &mut Option<Running>) {
        if running.as_ref().is_some_and(|r| r.status.is_ended()) {
            if let Some(r) = running.take() {
                let _ = r.thread.join();
                self.retire(&r.status);
            }
        }
    }

    fn retire(&self, status: &StreamStatus) {
        let snap = status.snapshot();
        self.bytes_before
            .fetch_add(snap.bytes_sent, Ordering::Relaxed);
        self.reconnects_before
            .fetch_add(snap.reconnects, Ordering::Relaxed);
        *self.last.lock_unpoisoned() = Some(snap);
    }

    fn tls(&self) -> Result<Option<Arc<ClientConfig>>, StreamError> {
        if !self.settings.ingest.tls {
            return Ok(None);
        }
        super::transport::tls_config(self.settings.ca_file.as_deref())
            .map(Some)
            .map_err(StreamError::Tls)
    }
}
