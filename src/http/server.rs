//! The HTTP front: tiny_http reads requests on its own threads; a fixed pool of our workers
//! answers them. A request that may wait for media (a blocking playlist reload, a hinted
//! part) is moved to a thread of its own, so it never holds a worker or the accept loop.

use std::io::Read;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use super::{Request, Response};

/// Bodies larger than this are refused with 413 before they are read.
pub const MAX_BODY: usize = 1 << 20;
/// Requests parked at once; beyond this new waiters get 503.
pub const MAX_PARKED: usize = 2048;

/// What the server calls: the router, and whether a request may wait for media.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: &Request) -> Response;
    fn may_block(&self, req: &Request) -> bool;
}

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Binds and starts `workers` worker threads.
    pub fn start<H: Handler>(
        addr: SocketAddr,
        workers: usize,
        handler: Arc<H>,
    ) -> std::io::Result<HttpServer> {
        let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
        let server = Arc::new(server);
        let parked = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..workers.max(1) {
            let server = Arc::clone(&server);
            let handler = Arc::clone(&handler);
            let parked = Arc::clone(&parked);
            handles.push(
                thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || worker(&server, handler, &parked))?,
            );
        }
        Ok(HttpServer {
            server,
            workers: handles,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Serves until the process ends.
    pub fn join(self) {
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn worker<H: Handler>(server: &tiny_http::Server, handler: Arc<H>, parked: &Arc<AtomicUsize>) {
    loop {
        let incoming = match server.recv() {
            Ok(r) => r,
            Err(e) => {
                log::warn!("accepting a request failed: {e}");
                continue;
            }
        };
        let mut incoming = incoming;
        let req = match convert(&mut incoming) {
            Ok(req) => req,
            Err(resp) => {
                respond(incoming, resp);
                continue;
            }
        };
        if !handler.may_block(&req) {
            respond(incoming, dispatch(handler.as_ref(), &req));
            continue;
        }
        if parked.fetch_add(1, Ordering::SeqCst) >= MAX_PARKED {
            parked.fetch_sub(1, Ordering::SeqCst);
            respond(
                incoming,
                Response::detail(503, "Too many waiting requests").with_header("Retry-After", "1"),
            );
            continue;
        }
        let handler = Arc::clone(&handler);
        let parked = Arc::clone(parked);
        let spawned = thread::Builder::new()
            .name("http-wait".into())
            .spawn(move || {
                respond(incoming, dispatch(handler.as_ref(), &req));
                parked.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            log::error!("cannot start a thread for a waiting request: {e}");
        }
    }
}

/// Runs the handler; a panic becomes a 500 instead of a dead worker.
fn dispatch<H: Handler>(handler: &H, req: &Request) -> Response {
    panic::catch_unwind(AssertUnwindSafe(|| handler.handle(req))).unwrap_or_else(|_| {
        log::error!("handler panicked on {} {}", req.method, req.path);
        Response::detail(500, "Internal Server Error")
    })
}

fn convert(incoming: &mut tiny_http::Request) -> Result<Request, Response> {
    let mut req = Request::new(incoming.method().as_str(), incoming.url())
        .map_err(|e| Response::detail(400, e.0))?;
    req.peer = incoming.remote_addr().copied();
    req.headers = incoming
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    if incoming.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(Response::detail(413, "Request body too large"));
    }
    let mut body = Vec::new();
    incoming
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| Response::detail(400, "Could not read the request body"))?;
    if body.len() > MAX_BODY {
        return Err(Response::detail(413, "Request body too large"));
    }
    req.body = body;
    Ok(req)
}

fn respond(incoming: tiny_http::Request, resp: Response) {
    let length = resp.body.len();
    let mut out = tiny_http::Response::new(
        tiny_http::StatusCode(resp.status),
        Vec::new(),
        resp.body.into_reader(),
        Some(length),
        None,
    )
    .with_chunked_threshold(usize::MAX);
    for (name, value) in &resp.headers {
        match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(h) => out.add_header(h),
            Err(()) => log::warn!("dropping an invalid header {name:?}"),
        }
    }
    // The client may have gone away; nothing to do about it.
    let _ = incoming.respond(out);
}
