//! The `picamd` command.

use std::process::ExitCode;

use picamd::internal::app;
use picamd::internal::config::{self, Config};
use picamd::internal::pairing::bootstrap;
use picamd::internal::v4l2_cli;

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
    match app::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("picamd: {e}");
            ExitCode::FAILURE
        }
    }
}
