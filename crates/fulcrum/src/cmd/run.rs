//! `fulcrum run`: load the files, refuse to start on any error, then hand over to the supervisor.

use crate::supervisor::Supervisor;
use fulcrum_config::{load_files_with, LoadOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// What a run needs besides the files; the daemon personalities fill the extra fields.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub files: Vec<PathBuf>,
    /// Written with our pid once serving; removed on exit.
    pub pidfiles: Vec<PathBuf>,
    /// HAProxy's `-N`: the global maxconn when the config sets none.
    pub default_maxconn: Option<u32>,
    /// HAProxy's `-sf`: old processes told to finish (SIGUSR1) once we serve.
    pub finish_pids: Vec<u32>,
    /// HAProxy's `-st`: old processes told to stop (SIGTERM) once we serve.
    pub terminate_pids: Vec<u32>,
    /// Command-line settings of every load (the first and each reload).
    pub load: LoadOptions,
    /// Where `fulcrum reload` finds this process.
    pub control: PathBuf,
    /// HAProxy's `-S`: the master CLI socket (see compat/master_cli.rs).
    pub master_cli: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            files: Vec::new(),
            pidfiles: Vec::new(),
            default_maxconn: None,
            finish_pids: Vec::new(),
            terminate_pids: Vec::new(),
            load: LoadOptions::default(),
            control: crate::control::default_path(),
            master_cli: None,
        }
    }
}

pub fn run(opts: RunOptions) -> ExitCode {
    init_logging();
    // Before any thread: take systemd's activated sockets and clear LISTEN_* (see inherit.rs).
    fulcrum_proxy::inherit::init();
    let loaded = load_files_with(&opts.files, &opts.load);
    for d in loaded.diagnostics.iter() {
        eprintln!("{d}");
    }
    if !loaded.is_ok() {
        tracing::error!("configuration has errors; not starting");
        return ExitCode::from(1);
    }
    if let Err(e) = crate::privileges::check(&loaded.config.global) {
        tracing::error!("{e}; not starting");
        return ExitCode::from(1);
    }
    let mut config = loaded.config;
    if config.global.maxconn.is_none() {
        config.global.maxconn = opts.default_maxconn;
    }
    // `ulimit-n`, `maxconn` derived from the limit, `strict-limits` (HAProxy's start-up).
    if let Err(msg) = crate::fd_limit::apply(&mut config) {
        tracing::error!("{msg}; not starting");
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // `-sf`/`-st`: take the old processes' listening sockets first (see proxy/handover.rs).
    for pid in opts.finish_pids.iter().chain(&opts.terminate_pids) {
        match fulcrum_proxy::handover::fetch(*pid, std::time::Duration::from_secs(5)) {
            Ok(n) => tracing::info!("handover: received {n} listening socket(s) from process {pid}"),
            Err(msg) => tracing::warn!("handover: {msg}; binding anew (connections queued on its sockets may be reset when it stops)"),
        }
    }
    {
        let _guard = runtime.enter();
        runtime.spawn(fulcrum_proxy::handover::serve());
    }
    let mut master_file = None;
    if let Some(spec) = &opts.master_cli {
        let listener = crate::cmd::compat::master_cli::parse_spec(spec)
            .and_then(|s| crate::cmd::compat::master_cli::bind(&s));
        match listener {
            Ok(l) => {
                master_file = l.file();
                let _guard = runtime.enter();
                runtime.spawn(l.serve());
            }
            Err(msg) => {
                tracing::error!("{msg}");
                return ExitCode::from(1);
            }
        }
    }
    let result = runtime.block_on(Supervisor::new(opts).run(config));
    if let Some(f) = &master_file {
        crate::cmd::compat::master_cli::remove_file(f);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// rustls warns on every handshake whose SNI holds an IP address (not a host name by RFC 6066;
/// wrk sends the address it dials): a line per connection on stderr, from the client's doing.
/// The name is ignored as HAProxy ignores it, silently, unless `FULCRUM_LOG` names rustls.
const CLIENT_HELLO_NOISE: &str = "rustls::msgs::handshake=error";

fn init_logging() {
    let env = std::env::var("FULCRUM_LOG").ok();
    let mut filter = env
        .as_deref()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    if !env.is_some_and(|f| f.contains("rustls")) {
        if let Ok(d) = CLIENT_HELLO_NOISE.parse() {
            filter = filter.add_directive(d);
        }
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
