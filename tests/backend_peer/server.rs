//! The listener: one thread per accepted connection, HTTP keep-alive until the client closes
//! or the connection is upgraded to the relay WebSocket; orderly stop on drop.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::encoding::uuid4;
use super::http::{HttpConn, Incoming, Request};
use super::relay;
use super::response::{write_response, Response};
use super::router::{self, Routed};
use super::state::Shared;
use super::ws_upgrade;

pub fn spawn(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    thread::Builder::new()
        .name("backend-peer-accept".into())
        .spawn(move || accept_loop(listener, shared))
        .expect("spawning the backend peer's accept thread")
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.is_stopping() {
            return;
        }
        let Ok(stream) = stream else { continue };
        let serial = shared.next_serial();
        if let Ok(handle) = stream.try_clone() {
            shared.sockets.lock().unwrap().insert(serial, handle);
        }
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("backend-peer-conn".into())
            .spawn(move || {
                serve_connection(stream, &conn_shared);
                conn_shared.sockets.lock().unwrap().remove(&serial);
            });
        let mut threads = shared.threads.lock().unwrap();
        threads.retain(|t| !t.is_finished());
        if let Ok(handle) = spawned {
            threads.push(handle);
        }
    }
}

/// Stops accepting, shuts every connection down and waits for the threads.
pub fn stop(shared: &Arc<Shared>, accept_thread: Option<JoinHandle<()>>) {
    shared.stopping.store(true, Ordering::SeqCst);
    // Wake the blocking accept() so it sees the flag.
    let _ = TcpStream::connect(("127.0.0.1", shared.port));
    if let Some(handle) = accept_thread {
        let _ = handle.join();
    }
    for socket in shared.sockets.lock().unwrap().values() {
        let _ = socket.shutdown(Shutdown::Both);
    }
    let threads = std::mem::take(&mut *shared.threads.lock().unwrap());
    for handle in threads {
        let _ = handle.join();
    }
}

/// The backend echoes an inbound `X-Request-ID` (trimmed, at most 255 characters).
fn request_id(request: &Request) -> String {
    match request.header("x-request-id").map(str::trim) {
        Some(id) if !id.is_empty() => id.chars().take(255).collect(),
        _ => uuid4(),
    }
}

fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) {
    let mut conn = HttpConn::new(stream);
    loop {
        let request = match conn.read_request() {
            Incoming::Request(request) => request,
            Incoming::Closed => return,
            Incoming::Malformed(why) => {
                shared.event(format!("malformed HTTP request: {why}"));
                let response = Response::new(400, "text/plain; charset=utf-8", why.into_bytes());
                let date = shared.clock.http_date();
                let _ = write_response(&mut conn.stream, &response, &date, &uuid4(), false);
                return;
            }
            Incoming::TooLarge => {
                let response = Response::detail(413, "Request body too large.");
                let date = shared.clock.http_date();
                let _ = write_response(&mut conn.stream, &response, &date, &uuid4(), false);
                return;
            }
        };
        let id = request_id(&request);
        match router::route(shared, &request, &id) {
            Routed::Respond(response) => {
                // Like uvicorn, a refused upgrade ends the connection.
                let keep_alive =
                    request.keep_alive && !request.has_header("upgrade") && !shared.is_stopping();
                let date = shared.clock.http_date();
                if write_response(&mut conn.stream, &response, &date, &id, keep_alive).is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Routed::Upgrade { camera_id, key } => {
                let head = ws_upgrade::switching_protocols(&key, &shared.clock.http_date());
                let leftover = conn.take_leftover();
                relay::serve(Arc::clone(shared), conn.stream, &head, leftover, camera_id);
                return;
            }
        }
    }
}
