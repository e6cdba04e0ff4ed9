//! The `picamd` command.

use std::process::ExitCode;
use std::sync::Arc;

use picamd::api::Api;
use picamd::config::{self, Config};
use picamd::http::server::HttpServer;
use picamd::pairing::{bootstrap, link};
use picamd::pipeline::Pipeline;
use picamd::runtime::Runtime;
use picamd::system::interfaces;
use picamd::{banner, housekeeping, v4l2_cli};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match args.first().map(String::as_str) {
        Some("serve") => &args[1..],
        Some("show-key") => return show_key(&args[1..]),
        Some("v4l2-probe") => return run_v4l2(v4l2_cli::probe),
        Some("v4l2-capture") => return run_v4l2(|| v4l2_cli::capture(&args[1..])),
        Some("v4l2-encode") => return run_v4l2(|| v4l2_cli::encode(&args[1..])),
        Some("--help" | "-h" | "help") => {
            print!("{}", config::help());
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("picamd {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => &args[..],
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = match Config::load(flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("picamd: {e}");
            return ExitCode::from(2);
        }
    };
    serve(config)
}

/// `picamd show-key`: prints the local API key, making it on first use as a first boot would.
fn show_key(flags: &[String]) -> ExitCode {
    let config = match Config::load(flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("picamd: {e}");
            return ExitCode::from(2);
        }
    };
    match bootstrap::show_key(&config.relab) {
        Ok(key) => {
            println!("{key}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("picamd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The V4L2 test subcommands: JSON lines on stdout, the exit code they chose.
fn run_v4l2(command: impl FnOnce() -> v4l2_cli::Outcome) -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let outcome = command();
    if let Some(note) = &outcome.note {
        eprintln!("picamd: {note}");
    }
    for line in &outcome.lines {
        println!("{line}");
    }
    ExitCode::from(outcome.code)
}

fn serve(config: Config) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&config.data_dir) {
        eprintln!(
            "picamd: cannot create the data directory {}: {e}",
            config.data_dir.display()
        );
        return ExitCode::FAILURE;
    }
    let listen = config.listen;
    let max_connections = config.max_connections;
    let keys = match bootstrap::bootstrap_from_disk(&config.relab) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("picamd: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (level, line) in &keys.log {
        log::log!(*level, "{line}");
    }
    let rt = match Runtime::new(config, keys) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("picamd: cannot prepare the captures and their uploads: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server =
        match HttpServer::start(listen, max_connections, Arc::new(Api::new(Arc::clone(&rt)))) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("picamd: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
    let _pipeline = match Pipeline::start(&rt) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("picamd: cannot start the camera pipeline: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = housekeeping::spawn(Arc::clone(&rt)) {
        eprintln!("picamd: cannot start the housekeeping thread: {e}");
        return ExitCode::FAILURE;
    }
    let addr = server.local_addr();
    let lan = interfaces::candidate_urls(addr.port());
    let base = lan
        .first()
        .cloned()
        .unwrap_or_else(|| format!("http://<this-ip>:{}", addr.port()));
    log::info!("{}", banner::render(&rt, &format!("{base}/setup")));
    // After the banner, whose note says the pairing code follows.
    if let Err(e) = link::start(Arc::clone(&rt)) {
        eprintln!("picamd: cannot start the pairing and relay thread: {e}");
        return ExitCode::FAILURE;
    }
    log::info!(
        "picamd {} listening on http://{addr}/",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("live preview: {base}/preview/hls/cam-preview/index.m3u8");
    server.join();
    ExitCode::SUCCESS
}
