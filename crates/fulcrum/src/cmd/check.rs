//! `fulcrum check`: load every file, print every problem, summarize.
//!
//! Diagnostics go to stderr as `FILE:LINE: error|warning: message`; the summary line (or the
//! JSON model with `--dump`) goes to stdout. Exit 1 on any error, else 0.

use fulcrum_config::{load_files_with, Config, LoadOptions};
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(files: &[PathBuf], dump: bool) -> ExitCode {
    run_with(files, dump, &LoadOptions::default())
}

pub fn run_with(files: &[PathBuf], dump: bool, options: &LoadOptions) -> ExitCode {
    let mut loaded = load_files_with(files, options);
    // maps and `-f` files under `default-path` are compiled again below
    fulcrum_sample::files::install(&loaded.config.global.keywords.pattern_files);
    // Scripts are checked against the file system as `keepalived -t` checks them.
    fulcrum_script::audit(&loaded.config.keepalived, &mut loaded.diagnostics);
    if let Err(e) = crate::privileges::check(&loaded.config.global) {
        let span = loaded.config.global.span.clone().unwrap_or_default();
        loaded.diagnostics.error(&span, e);
    }
    for d in loaded.diagnostics.iter() {
        eprintln!("{d}");
    }
    // `use-service NAME` resolves against the services fulcrum has (the stats crate's).
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    let unknown = fulcrum_proxy::state::unknown_services(&loaded.config, &stats);
    for (span, msg) in &unknown {
        eprintln!("{span}: error: {msg}");
    }
    // Certificates, CA files and TLS settings are read as `run` would read them.
    let tls = if loaded.is_ok() {
        fulcrum_proxy::tls::check(&loaded.config)
    } else {
        Vec::new()
    };
    for msg in &tls {
        eprintln!("{}", error_line(msg));
    }
    // Stick rules are compiled as `run` compiles them (sample-keyed rules with their
    // conditions, and the `stick on src` of an address table): what `run` refuses, `check`
    // refuses.
    let sticks: Vec<String> = loaded
        .config
        .proxies
        .iter()
        .filter_map(|p| {
            fulcrum_proxy::persist::stick_sample::check(p, |c| {
                fulcrum_proxy::acl::compile_condition(c, &p.acls)
                    .map(|_| ())
                    .map_err(|e| e.0)
            })
            .err()
            .or_else(|| fulcrum_proxy::persist::stick::stick_on_src(p).err())
        })
        .collect();
    // A stick table's `store` list is read as `run` reads it (types, periods, arrays).
    let sticks: Vec<String> = sticks
        .into_iter()
        .chain(
            loaded
                .config
                .proxies
                .iter()
                .filter_map(|p| p.stick_table.as_ref())
                .chain(loaded.config.peers_tables().map(|(_, t)| t))
                .filter_map(|t| {
                    let e = fulcrum_proxy::track::parse_store(t).err()?;
                    Some(format!("{}: {e}", t.span))
                }),
        )
        .collect();
    for msg in &sticks {
        eprintln!("{}", error_line(msg));
    }
    let mut errors = loaded.diagnostics.errors().count() + unknown.len() + tls.len() + sticks.len();
    // Then the whole proxy is compiled as `run` compiles it (the checks above report every
    // problem of their kind; this one reports the first of the rest, as a start would).
    if errors == 0 {
        if let Err(e) = fulcrum_proxy::state::check(&loaded.config, &stats) {
            eprintln!("{}", error_line(&e.to_string()));
            errors += 1;
        }
    }
    let warnings = loaded.diagnostics.warnings().count();
    if errors > 0 {
        eprintln!(
            "Configuration is invalid: {errors} error{}, {warnings} warning{}.",
            plural(errors),
            plural(warnings)
        );
        return ExitCode::from(1);
    }
    if dump {
        match serde_json::to_string_pretty(&loaded.config) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("cannot serialize the model: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        println!("{}", summary(&loaded.config, warnings));
    }
    ExitCode::SUCCESS
}

/// `FILE:LINE: message` as `FILE:LINE: error: message`.
fn error_line(msg: &str) -> String {
    let mut parts = msg.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(f), Some(l), Some(rest)) if l.parse::<u32>().is_ok() => {
            format!("{f}:{l}: error:{rest}")
        }
        _ => format!("error: {msg}"),
    }
}

pub fn summary(config: &Config, warnings: usize) -> String {
    let frontends = config.frontends().count();
    let backends = config.backends().count();
    let servers: usize = config.backends().map(|b| b.servers.len()).sum();
    let k = &config.keepalived;
    format!(
        "Configuration is valid: {frontends} frontend{}, {backends} backend{}, {servers} server{}, {} VRRP instance{}, {} virtual server{} ({} file{}, {warnings} warning{}).",
        plural(frontends),
        plural(backends),
        plural(servers),
        k.vrrp_instances.len(),
        plural(k.vrrp_instances.len()),
        k.virtual_servers.len(),
        plural(k.virtual_servers.len()),
        config.files.len(),
        plural(config.files.len()),
        plural(warnings),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
