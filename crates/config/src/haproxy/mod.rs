//! haproxy.cfg parser: sections, `defaults` inheritance, and dispatch to keyword parsers.
//!
//! Several files are read in order through one `Parser`, as HAProxy does: a `defaults` section
//! in an earlier file applies to proxies in later ones. Each proxy starts as a copy of the last
//! `defaults` above it (or of `defaults NAME` named with `from NAME`), then its own lines apply.
//! Keyword parsing lives in the sibling modules; cross-proxy checks live in `validate.rs`.

mod acl;
pub(crate) mod after_response;
mod api;
mod bind;
pub mod cache;
pub mod cluster;
mod cond;
pub mod cond_expr;
mod counters;
mod defaults_rules;
mod extras;
mod fetch_refs;
mod global;
mod http_check;
pub mod http_errors;
mod http_formats;
mod http_reuse;
mod keywords;
mod l6_http;
mod lexer;
mod line;
mod literal_pct;
mod log_origin;
pub mod logformat;
mod options;
pub mod paths;
mod peers;
mod proxy;
mod redirect;
mod rule_order;
mod rules;
mod sections;
mod server;
mod source;
pub mod ssl;
mod ssl_global;
mod suggest;
mod tcp_check;
mod tcp_mode;
mod tcp_rules;
mod userlist;
mod var_reads;
mod vars;
mod wait_body;
use sections::is_section_keyword;

pub use acl::PREDEFINED as PREDEFINED_ACLS;
pub use lexer::{expand_address, split_line, Lexed};
pub use tcp_check::hex;

use crate::diagnostics::{Diagnostics, Span};
use crate::model::{Api, Global, Proxy, ProxyKind, Server};
use line::Line;

/// A `defaults` section: a proxy template and a server template (`default-server`).
#[derive(Clone)]
struct Defaults {
    name: Option<String>,
    span: Span,
    proxy: Proxy,
    server: Server,
    /// Where its `option httplog|httpslog` was written (`log_origin.rs`).
    log: log_origin::LogOrigin,
    /// Its own rules written so far, for HAProxy's warnings on their order (`rule_order.rs`).
    order: rule_order::Seen,
}

impl Defaults {
    fn builtin() -> Self {
        Defaults {
            name: None,
            span: Span::default(),
            proxy: proxy::new_proxy(String::new(), ProxyKind::Backend, Span::default()),
            server: server::default_server(),
            log: Default::default(),
            order: Default::default(),
        }
    }
}

/// A proxy being parsed, with the `default-server` template its `server` lines start from.
struct Draft {
    proxy: Proxy,
    server: Server,
    /// `redirect` rules, appended to `http-request` when the section ends (`redirect.rs`).
    redirects: Vec<crate::model::HttpRule>,
    /// The rules written so far, for HAProxy's warnings on their order (`rule_order.rs`).
    order: rule_order::Seen,
    /// Where its (or its defaults') `option httplog|httpslog` was written (`log_origin.rs`).
    log: log_origin::LogOrigin,
    /// What its lines' log-format strings and conditions read (`http_formats.rs`).
    formats: http_formats::HttpFormats,
}

enum Section {
    /// Before the first section keyword.
    None,
    Global,
    Defaults(Defaults),
    Proxy(Draft),
    /// A section HAProxy has but fulcrum does not run (yet): its lines are skipped.
    Skipped,
    /// `resolvers`: not run, but its addresses are checked.
    Resolvers,
    /// `peers NAME`: stick-table replication.
    Peers(Box<crate::model::Peers>),
    /// `cluster`: VIPs placed over N nodes through etcd.
    Cluster(Box<cluster::Draft>),
    /// The `api` section (fulcrum's LBaaS REST API).
    Api,
    /// `http-errors NAME`: error files for `errorfiles NAME`.
    HttpErrors(Box<http_errors::HttpErrors>),
    /// `cache NAME`: a small object cache for `cache-use` / `cache-store`.
    Cache(Box<crate::model_cache::CacheSection>),
    /// `userlist NAME`: users and groups for `http-request auth` and `http_auth()`.
    Userlist(Box<userlist::Draft>),
}

/// Looks up an environment variable by name.
pub type EnvFn = dyn Fn(&str) -> Option<String>;

pub struct Parser {
    global: Global,
    global_seen: bool,
    proxies: Vec<Proxy>,
    named_defaults: Vec<Defaults>,
    last_defaults: Defaults,
    /// Which side (frontend or backend) inherited each rule-holding defaults section first.
    rule_users: std::collections::HashMap<String, ProxyKind>,
    section: Section,
    api: Option<Api>,
    env: std::rc::Rc<EnvFn>,
    /// What `setenv` and its siblings did so far (`env` sees it).
    env_ops: keywords::EnvOps,
    /// `default-path`: the policy in force (it carries over to later files).
    default_path: paths::Policy,
    /// The lines' base directory and TLS bases (`paths.rs`).
    paths: std::rc::Rc<paths::Paths>,
    cluster: Option<crate::model::Cluster>,
    peers: Vec<crate::model::Peers>,
    /// `http-errors` sections read so far.
    http_errors: Vec<http_errors::HttpErrors>,
    /// `errorfiles` lines of proxies naming a section not read yet: (index the proxy gets in
    /// `proxies`, the line's words, where).
    pending_errorfiles: Vec<(usize, Vec<String>, Span)>,
    /// `userlist` sections read so far.
    userlists: Vec<crate::model_userlist::Userlist>,
    /// Problems found when a section closed (a userlist's, a proxy's L6 warnings), reported by
    /// `take_userlists`.
    close_diags: Diagnostics,
    /// Fetches naming a backend, a server or a stick table (`nbsrv(B)`, `table_cnt(T)`...),
    /// checked once every proxy is read.
    fetch_refs: Vec<fetch_refs::Use>,
    /// The `peers` sections' table names (`SECTION/NAME`), kept when they are taken.
    peers_tables: Vec<String>,
    /// Variables read and set, for the warning about ones read that nothing sets.
    var_reads: var_reads::VarReads,
    literal_pct: literal_pct::LiteralPct,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser that expands `${VAR}` from the process environment.
    pub fn new() -> Self {
        Self::with_env(Box::new(|name| std::env::var(name).ok()))
    }

    /// A parser with its own variable lookup (tests).
    pub fn with_env(env: Box<EnvFn>) -> Self {
        let (env, env_ops) = keywords::env_with_ops(env);
        Parser {
            env_ops,
            global: Global::default(),
            global_seen: false,
            proxies: Vec::new(),
            named_defaults: Vec::new(),
            rule_users: Default::default(),
            last_defaults: Defaults::builtin(),
            section: Section::None,
            api: None,
            env,
            cluster: None,
            peers: Vec::new(),
            http_errors: Vec::new(),
            pending_errorfiles: Vec::new(),
            fetch_refs: Vec::new(),
            peers_tables: Vec::new(),
            var_reads: Default::default(),
            literal_pct: Default::default(),
            userlists: Vec::new(),
            close_diags: Diagnostics::new(),
            default_path: paths::Policy::default(),
            paths: Default::default(),
        }
    }

    pub fn parse_file(&mut self, path: &str, text: &str, diags: &mut Diagnostics) {
        let file: std::sync::Arc<str> = std::sync::Arc::from(path);
        let env = self.env.clone();
        let mut blocks = cond::Blocks::default();
        // HAProxy applies the `default-path` policy again at each file (`paths.rs`)
        self.set_base(path);
        for (index, raw) in text.lines().enumerate() {
            let span = Span {
                file: file.clone(),
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            let lexed = match lexer::split_line(raw, &*env) {
                Ok(l) => l,
                Err(msg) => {
                    diags.error(&span, msg);
                    continue;
                }
            };
            if lexed.words.is_empty() {
                continue;
            }
            if lexed.words[0].starts_with('.')
                && blocks.directive(&lexed.words, &span, &*env, diags)
            {
                continue;
            }
            if !blocks.active() {
                continue;
            }
            let paths = self.paths.clone();
            let line = Line {
                words: &lexed.words,
                span,
                undefined: &lexed.undefined,
                env: &*env,
                paths: &paths,
            };
            let ((), uses) = fulcrum_sample::var_uses::collect(|| self.line(&line, diags));
            self.var_reads.line(&line.span, raw, line.words, uses);
            self.literal_pct.line(&line);
        }
        blocks.finish(diags);
        // A section never continues into the next file.
        self.close_section();
    }

    /// The `api` section, if one was written (checked once closed).
    pub fn take_api(&mut self, diags: &mut Diagnostics) -> Option<Api> {
        self.close_section();
        let api = self.api.take();
        if let Some(a) = &api {
            api::close(a, diags);
        }
        api
    }

    pub fn finish(mut self, diags: &mut Diagnostics) -> (Global, Vec<Proxy>) {
        self.close_section();
        keywords::close(&mut self.proxies);
        extras::settle_dispatch(&mut self.proxies, diags);
        self.global.keywords.environment = self.env_ops.borrow().clone();
        for (i, words, span) in std::mem::take(&mut self.pending_errorfiles) {
            let env = self.env.clone();
            let paths = self.paths.clone();
            let line = Line {
                words: &words,
                span: span.clone(),
                undefined: &[],
                env: &*env,
                paths: &paths,
            };
            if let Some(p) = self.proxies.get_mut(i) {
                if let Err(msg) =
                    http_errors::import_later(&mut p.errorfiles, &self.http_errors, &line)
                {
                    diags.error(&span, msg);
                }
            }
        }
        http_errors::resolve_rules(&mut self.proxies, &self.http_errors, diags);
        rules::conn::warn_h2(&self.proxies, diags);
        rules::conn::warn_nice(&self.proxies, diags);
        tcp_mode::warn_http_rules(&self.proxies, diags);
        // advice beyond HAProxy's: not under `zero-warning`, which would refuse a configuration
        // haproxy starts
        if self.global.zero_warning.is_none() {
            self.var_reads.warn(diags);
            self.literal_pct.warn(diags);
        }
        wait_body::warn_h2_servers(&self.proxies, diags);
        // a cache section refused for its contents still exists for the rules naming it
        let cache_names: Vec<String> = self.global.caches.iter().map(|c| c.name.clone()).collect();
        self.global.caches = std::mem::take(&mut self.global.caches)
            .into_iter()
            .filter_map(|c| cache::close(c, diags))
            .collect();
        cache::check_references(&cache_names, &self.proxies, diags);
        fetch_refs::check(&self.fetch_refs, &self.proxies, &self.peers_tables, diags);
        // `tune.comp.maxlevel` is global, wherever it was written
        for c in self
            .proxies
            .iter_mut()
            .filter_map(|p| p.options.compression.as_mut())
        {
            c.maxlevel = self.global.tune_comp_maxlevel;
        }
        for (span, msg) in server::limits::check_tracks(&mut self.proxies) {
            diags.error(&span, msg);
        }
        // `%HM`, `%TR`... in a TCP proxy's formats: refused, as haproxy 2.6 refuses them.
        for p in &self.proxies {
            for (span, msg) in logformat::check_tcp_mode(p) {
                diags.error(&span, msg);
            }
        }
        for p in &mut self.proxies {
            let global = self.global.tls.server_verify;
            for (span, msg) in server::check_tls_verify(&mut p.servers, global) {
                diags.error(&span, msg);
            }
        }
        // `capture ... id N` names a slot `declare capture` (or `capture ... header`) made,
        // wherever it was written (as HAProxy 2.6 checks once the file is read). A backend's
        // rules fill the slots of the frontend that the request came through (unchecked).
        for p in self.proxies.iter().filter(|p| p.kind.is_frontend()) {
            for (rules, response) in [
                (&p.http_request, false),
                (&p.http_response, true),
                (&p.http_after_response, true),
            ] {
                for r in rules {
                    if let crate::model::HttpAction::Capture { len, slot, .. } = &r.action {
                        let slots = p.captures.iter().filter(|c| c.response == response).count();
                        if *len == usize::MAX && *slot >= slots {
                            let side = if response { "response" } else { "request" };
                            diags.error(
                                &r.span,
                                format!("unable to find capture id '{slot}' referenced by http-{side} capture rule (proxy '{}' declares {slots} {side} capture slots)", p.name),
                            );
                        }
                    }
                }
            }
        }
        proxy::mark_rule_slots(&mut self.proxies);
        // `log global` stands for the global log targets, wherever `global` was written.
        for p in &mut self.proxies {
            if p.logs.iter().any(|l| l.address == "global") {
                let mut logs = Vec::new();
                for l in p.logs.drain(..) {
                    if l.address == "global" {
                        logs.extend(self.global.logs.iter().cloned());
                    } else {
                        logs.push(l);
                    }
                }
                p.logs = logs;
            }
        }
        log_origin::no_address(&self.proxies, diags);
        (self.global, self.proxies)
    }

    /// The `userlist` sections, once every file is read.
    pub fn take_userlists(
        &mut self,
        diags: &mut Diagnostics,
    ) -> Vec<crate::model_userlist::Userlist> {
        self.close_section();
        diags.extend(std::mem::take(&mut self.close_diags));
        std::mem::take(&mut self.userlists)
    }

    /// The `peers` sections, once every file is read.
    pub fn take_peers(&mut self) -> Vec<crate::model::Peers> {
        self.close_section();
        let peers = std::mem::take(&mut self.peers);
        self.peers_tables = peers
            .iter()
            .flat_map(|p| p.tables.iter().map(|(n, _)| n.clone()))
            .collect();
        peers
    }

    /// The `cluster` section, once every file is read.
    pub fn take_cluster(&mut self) -> Option<crate::model::Cluster> {
        self.cluster.take()
    }

    /// The base directory of the lines of `file` under the policy in force.
    fn set_base(&mut self, file: &str) {
        let mut p = (*self.paths).clone();
        p.base = self.default_path.base(file);
        self.paths = std::rc::Rc::new(p);
    }

    fn line(&mut self, line: &Line<'_>, diags: &mut Diagnostics) {
        // map and `-f` files named on the line are read under its base (`paths.rs`)
        let Some(base) = &line.paths.base else {
            return self.keyword_line(line, diags);
        };
        let ((), seen) = fulcrum_sample::files::with_base(base, || self.keyword_line(line, diags));
        for (name, file) in seen {
            let files = &mut self.global.keywords.pattern_files;
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, file));
            }
        }
    }

    fn keyword_line(&mut self, line: &Line<'_>, diags: &mut Diagnostics) {
        let kw = line.keyword();
        if is_section_keyword(kw) {
            self.close_section();
            self.open_section(line, diags);
            return;
        }
        match &mut self.section {
            Section::None => diags.error(
                &line.span,
                format!("'{kw}' appears before any section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen' first)"),
            ),
            Section::Global if keywords::is_env(kw) => {
                if let Err(msg) = keywords::env(&self.env_ops, &*self.env, line) {
                    diags.error(&line.span, msg);
                }
            }
            Section::Global if kw == "default-path" => match paths::Policy::parse(line.words) {
                Ok(policy) => {
                    self.default_path = policy;
                    self.set_base(&line.span.file);
                }
                Err(msg) => diags.error(&line.span, msg),
            },
            Section::Global => {
                global::keyword(&mut self.global, line, diags);
                if matches!(kw, "crt-base" | "ca-base") {
                    let mut p = (*self.paths).clone();
                    p.crt_base = self.global.tls.crt_base.clone();
                    p.ca_base = self.global.tls.ca_base.clone();
                    self.paths = std::rc::Rc::new(p);
                }
            }
            Section::Proxy(_)
                if kw == "errorfiles"
                    && line
                        .arg(1)
                        .is_some_and(|n| !self.http_errors.iter().any(|h| h.name == n)) =>
            {
                // an http-errors section written further down: resolved once all is read
                self.pending_errorfiles
                    .push((self.proxies.len(), line.words.to_vec(), line.span.clone()));
            }
            Section::Defaults(Defaults { proxy: p, .. })
            | Section::Proxy(Draft { proxy: p, .. })
                if kw == "errorfiles" =>
            {
                if let Err(msg) = http_errors::import(&mut p.errorfiles, &self.http_errors, line) {
                    diags.error(&line.span, msg);
                }
            }
            Section::HttpErrors(h) => http_errors::keyword(h, line, diags),
            Section::Cache(c) => cache::keyword(c, line, diags),
            Section::Userlist(u) => userlist::keyword(u, line, diags),
            Section::Defaults(d) => {
                rule_order::before(&mut d.order, line, diags);
                proxy::keyword(&mut d.proxy, &mut d.server, None, line, diags);
                rule_order::after(&mut d.order, &d.proxy, line);
                log_origin::note(&mut d.log, None, line, diags);
            }
            Section::Proxy(draft) if kw == "redirect" => {
                rule_order::before(&mut draft.order, line, diags);
                match redirect::parse(&draft.proxy, line) {
                    Ok(rule) => draft.redirects.push(rule),
                    Err(e) => diags.error(&line.span, e),
                }
            }
            Section::Proxy(draft) => {
                if let Err(e) = redirect::check_allow(line, &draft.redirects) {
                    diags.error(&line.span, e);
                    return;
                }
                let kind = draft.proxy.kind;
                rule_order::before(&mut draft.order, line, diags);
                let (((), refs), formats) = fulcrum_sample::format_uses::with_format_uses(|| {
                    fulcrum_sample::expr::with_proxy_refs(|| {
                        proxy::keyword(&mut draft.proxy, &mut draft.server, Some(kind), line, diags)
                    })
                });
                rule_order::after(&mut draft.order, &draft.proxy, line);
                log_origin::note(&mut draft.log, Some(&draft.proxy), line, diags);
                http_formats::note(&mut draft.formats, &draft.proxy, line, &formats);
                self.fetch_refs.extend(refs.into_iter().map(|r| fetch_refs::Use {
                    r,
                    proxy: draft.proxy.name.clone(),
                    kind,
                    span: line.span.clone(),
                }));
            }
            Section::Skipped => {}
            Section::Resolvers => peers::resolvers_keyword(line, diags),
            Section::Peers(p) => peers::keyword(p, line, diags),
            Section::Cluster(d) => cluster::keyword(d, line, diags),
            Section::Api => {
                if let Some(a) = self.api.as_mut() {
                    api::keyword(a, line, diags);
                }
            }
        }
    }
}

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod keywords_tests;
#[cfg(test)]
mod tests;
