//! Wires the LBaaS API (crates/api) into the running process: starts it when the config has an
//! `api` section, and answers what it asks of the supervisor. An accepted API change becomes
//! rendered haproxy.cfg text that is loaded after the `-f` files through the same in-process
//! reload as SIGHUP (`load`), so a SIGHUP keeps the API's load balancers too.

use crate::runtime_api::command::{self, Command, Parsed};
use crate::runtime_api::Level;
use fulcrum_api::ToFulcrum;
use fulcrum_config::{load_sources_with, Config, LoadOptions, Loaded, Source};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// The name the API's text carries in diagnostics.
pub const SOURCE_NAME: &str = "<lbaas-api>";

pub struct ApiBridge {
    rx: mpsc::Receiver<ToFulcrum>,
}

/// Starts the API (its listener bound before this returns) when the config has an `api`
/// section; the API's first apply brings back what its store holds.
pub async fn start(config: &Config) -> anyhow::Result<Option<ApiBridge>> {
    let Some(api) = &config.api else {
        return Ok(None);
    };
    let Some(bind) = api.bind else {
        anyhow::bail!("api section without bind");
    };
    let (tx, rx) = mpsc::channel(16);
    let shared = fulcrum_api::open(api, tx).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("api: cannot bind {bind}: {e}"))?;
    tracing::info!("LBaaS API listening on {bind}");
    fulcrum_api::spawn(shared, listener);
    Ok(Some(ApiBridge { rx }))
}

/// The next request from the API (never, without an API).
pub async fn recv(bridge: &mut Option<ApiBridge>) -> Option<ToFulcrum> {
    match bridge {
        Some(b) => b.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The files, then the API's rendered text, as one load.
pub fn load(files: &[PathBuf], options: &LoadOptions, api_text: &str) -> Loaded {
    if api_text.is_empty() {
        return fulcrum_config::load_files_with(files, options);
    }
    let mut texts = Vec::new();
    for p in files {
        match std::fs::read(p) {
            Ok(b) => texts.push((
                p.display().to_string(),
                String::from_utf8_lossy(&b).into_owned(),
            )),
            // Unreadable now: the files-only load reports it as every reload does.
            Err(_) => return fulcrum_config::load_files_with(files, options),
        }
    }
    let mut sources: Vec<Source<'_>> = texts
        .iter()
        .map(|(n, t)| Source { name: n, text: t })
        .collect();
    sources.push(Source {
        name: SOURCE_NAME,
        text: api_text,
    });
    load_sources_with(&sources, options)
}

/// `show stat` as the runtime API answers it.
pub fn show_stat(live: &mut crate::runtime_api::live::Live<'_>) -> String {
    match command::parse(&["show", "stat"], Level::Admin) {
        Parsed::Run(c @ Command::ShowStat(_)) => crate::runtime_api::exec::execute(&c, live),
        _ => String::new(),
    }
}
