//! The `picamd` command.

use std::process::ExitCode;
use std::sync::Arc;

use picamd::api::Api;
use picamd::config::{self, Config};
use picamd::http::server::HttpServer;
use picamd::pipeline::Pipeline;
use picamd::runtime::Runtime;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags = match args.first().map(String::as_str) {
        Some("serve") => &args[1..],
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
    let rt = Runtime::new(config);
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
    let addr = server.local_addr();
    log::info!(
        "picamd {} listening on http://{addr}/",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("live preview: http://{addr}/preview/hls/cam-preview/index.m3u8");
    server.join();
    ExitCode::SUCCESS
}
