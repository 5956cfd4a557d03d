//! `fulcrum run`: load the files, refuse to start on any error, then hand over to the supervisor.

use crate::supervisor::Supervisor;
use fulcrum_config::load_files;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: Vec<PathBuf>) -> ExitCode {
    init_logging();
    let loaded = load_files(&files);
    for d in loaded.diagnostics.iter() {
        eprintln!("{d}");
    }
    if !loaded.is_ok() {
        tracing::error!("configuration has errors; not starting");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(Supervisor::new(files).run(loaded.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FULCRUM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
