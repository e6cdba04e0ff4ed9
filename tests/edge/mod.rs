//! The edge in front of picamd, for `tests/edge_cache.rs` and `benches/edge.rs`: Debian's
//! Varnish and nginx started on loopback with the shipped configs (`deploy/`), and LL-HLS
//! followers that read the stream as a low-latency player does.
#![allow(dead_code, unused_imports)]

mod follower;
mod plain_client;
mod servers;

pub use follower::{compare, follow_many, Agent, Fetch, Plain, Trace};
pub use plain_client::PlainClient;
pub use servers::{Nginx, Varnish};
