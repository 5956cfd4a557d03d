//! fulcrum's config layer: reads HAProxy and keepalived files into one typed, validated model.
//!
//! Data flows one way: files → dialect parser (with diagnostics) → validation → `Config`.
//! `load_files` reads every `-f` file in order (HAProxy `defaults` carry across files, as in
//! HAProxy), tells the dialects apart by content, and returns the model together with every
//! problem found, so `fulcrum check` can report all of them at once.

pub mod detect;
pub mod diagnostics;
pub mod haproxy;
pub mod keepalived;
pub mod model;
pub mod model_cache;
pub mod model_checks;
pub mod model_codec;
pub mod model_extras;
pub mod model_fds;
pub mod model_ids;
pub mod model_keywords;
pub mod model_limits;
pub mod model_userlist;
pub mod socks4;
pub mod tls;
pub mod units;
pub mod validate;

pub use diagnostics::{show_diag, Diagnostic, Diagnostics, Severity, Span};
pub use model::Config;

use model::{Dialect, SourceFile};
use std::path::Path;

/// A loaded config: the model as far as it could be built, and what was wrong.
/// The model is only safe to run when `diagnostics.has_errors()` is false.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Diagnostics,
}

impl Loaded {
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.has_errors()
    }
}

/// One input: a name to show in diagnostics and its text.
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// Settings of a load that come from the command line rather than the files.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// keepalived's `-i ID`: selects `@ID` conditional lines (default: the host name's first part).
    pub keepalived_config_id: Option<String>,
}

/// Reads and parses every file in order. An unreadable file is an error diagnostic, not a panic.
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Loaded {
    load_files_with(paths, &LoadOptions::default())
}

/// `load_files` with command-line settings.
pub fn load_files_with<P: AsRef<Path>>(paths: &[P], options: &LoadOptions) -> Loaded {
    let mut texts = Vec::with_capacity(paths.len());
    let mut read_errors = Diagnostics::new();
    for p in paths {
        let name = p.as_ref().display().to_string();
        match std::fs::read(p.as_ref()) {
            Ok(bytes) => texts.push((name, String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) => read_errors.error(&Span::new(name, 0), format!("cannot read file: {e}")),
        }
    }
    let sources: Vec<Source<'_>> = texts
        .iter()
        .map(|(n, t)| Source {
            name: n.as_str(),
            text: t.as_str(),
        })
        .collect();
    let mut loaded = load_sources_with(&sources, options);
    read_errors.extend(loaded.diagnostics);
    loaded.diagnostics = read_errors;
    loaded
}

/// Parses in-memory sources in order, as `load_files` does with files.
pub fn load_sources(sources: &[Source<'_>]) -> Loaded {
    load_sources_with(sources, &LoadOptions::default())
}

/// `load_sources` with command-line settings.
pub fn load_sources_with(sources: &[Source<'_>], options: &LoadOptions) -> Loaded {
    let mut diags = Diagnostics::new();
    let mut haproxy = haproxy::Parser::new();
    let mut keepalived = match &options.keepalived_config_id {
        Some(id) => keepalived::Parser::with_config_id(id.clone()),
        None => keepalived::Parser::new(),
    };
    let mut files = Vec::new();
    for src in sources {
        let dialect = detect::detect(src.text);
        files.push(SourceFile {
            path: src.name.to_string(),
            dialect,
        });
        match dialect {
            Dialect::Haproxy => haproxy.parse_file(src.name, src.text, &mut diags),
            Dialect::Keepalived => keepalived.parse_file(src.name, src.text, &mut diags),
        }
    }
    let cluster = haproxy.take_cluster();
    let peers = haproxy.take_peers();
    let userlists = haproxy.take_userlists(&mut diags);
    let api = haproxy.take_api(&mut diags);
    let (global, mut proxies) = haproxy.finish(&mut diags);
    haproxy::after_response::never_matching(&mut proxies, &mut diags);
    let keepalived = keepalived.finish(&mut diags);
    let config = Config {
        files,
        global,
        proxies,
        keepalived,
        cluster,
        api,
        peers,
        userlists,
    };
    validate::validate(&config, &mut diags);
    if let Some(span) = &config.global.zero_warning {
        let n = diags.warnings().count();
        if n > 0 {
            diags.error(
                span,
                format!("'zero-warning' is set and {n} warning(s) were emitted: the configuration is refused"),
            );
        }
    }
    Loaded {
        config,
        diagnostics: diags,
    }
}
