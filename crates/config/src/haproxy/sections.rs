//! Sections of haproxy.cfg: where one opens (its keyword, name and `from` defaults), which
//! named `defaults` it inherits, and what closing it adds to the parser's results.

use super::*;
use crate::diagnostics::Diagnostics;
use crate::model::ProxyKind;
use line::Line;

impl Parser {
    pub(super) fn open_section(&mut self, line: &Line<'_>, diags: &mut Diagnostics) {
        let kw = line.keyword();
        let span = line.span.clone();
        self.var_reads.section();
        match kw {
            "global" => {
                if line.words.len() > 1 {
                    diags.warning(
                        &span,
                        "'global' takes no argument; the rest of the line is ignored",
                    );
                }
                self.global_seen = true;
                if self.global.span.is_none() {
                    self.global.span = Some(span);
                }
                self.section = Section::Global;
            }
            "defaults" => {
                let (name, from) = match section_name_and_from(line, false, diags) {
                    Some(v) => v,
                    None => {
                        self.section = Section::Skipped;
                        return;
                    }
                };
                let mut d = match from {
                    Some(parent) => match self.find_defaults(&parent) {
                        Some(p) => p.clone(),
                        None => {
                            diags.error(&span, format!("defaults section '{parent}' named by 'from' was not found above this line"));
                            Defaults::builtin()
                        }
                    },
                    None => Defaults::builtin(),
                };
                d.proxy.name = name.clone().unwrap_or_default();
                // the order warnings see this section's own lines only
                d.order = Default::default();
                d.name = name;
                d.span = span;
                self.section = Section::Defaults(d);
            }
            "frontend" | "backend" | "listen" => {
                let kind = match kw {
                    "frontend" => ProxyKind::Frontend,
                    "backend" => ProxyKind::Backend,
                    _ => ProxyKind::Listen,
                };
                let Some((Some(name), from)) = section_name_and_from(line, true, diags) else {
                    self.section = Section::Skipped;
                    return;
                };
                let base = match from {
                    Some(parent) => match self.find_defaults(&parent) {
                        Some(d) => d.clone(),
                        None => {
                            diags.error(&span, format!("defaults section '{parent}' named by 'from' was not found above this line"));
                            self.last_defaults.clone()
                        }
                    },
                    None => self.last_defaults.clone(),
                };
                if defaults_rules::has_rules(&base.proxy) {
                    let section = base.name.clone().unwrap_or_default();
                    if let Err(e) =
                        defaults_rules::check_user(&mut self.rule_users, &section, &base.span, kind)
                            .and_then(|()| {
                                defaults_rules::check_side(&base.proxy, &base.span, kind)
                            })
                    {
                        diags.error(&span, e);
                    }
                }
                let mut proxy = proxy::inherit(&base.proxy, name, kind, span);
                proxy.defaults = base.name.clone();
                self.section = Section::Proxy(Draft {
                    proxy,
                    server: base.server,
                    redirects: Vec::new(),
                    order: Default::default(),
                    log: base.log,
                    formats: Default::default(),
                });
            }
            "http-errors" => {
                self.section = match http_errors::open(line, diags) {
                    Some(h) => Section::HttpErrors(Box::new(h)),
                    None => Section::Skipped,
                };
            }
            "cache" => {
                self.section = match cache::open(line, &self.global.caches, diags) {
                    Some(c) => Section::Cache(Box::new(c)),
                    None => Section::Skipped,
                };
            }
            "userlist" => {
                self.section = match userlist::open(line, &self.userlists, diags) {
                    Some(u) => Section::Userlist(Box::new(u)),
                    None => Section::Skipped,
                };
            }
            "resolvers" => {
                diags.warning(&span, peers::resolvers_not_run(line.arg(1).unwrap_or("")));
                self.section = Section::Resolvers;
            }
            "peers" => {
                self.section = match peers::open(line, diags) {
                    Some(p) => {
                        if let Some(first) = self.peers.iter().find(|q| q.name == p.name) {
                            diags.error(
                                &span,
                                format!(
                                    "peers section '{}' is already defined at {}",
                                    p.name, first.span
                                ),
                            );
                        }
                        Section::Peers(Box::new(p))
                    }
                    None => Section::Skipped,
                };
            }
            "cluster" => {
                if let Some(first) = &self.cluster {
                    diags.error(
                        &span,
                        format!(
                            "only one 'cluster' section is allowed (the first is at {})",
                            first.span
                        ),
                    );
                }
                self.section = Section::Cluster(Box::new(cluster::open(line, diags)));
            }
            "api" => {
                self.section = if api::open(&mut self.api, line, diags) {
                    Section::Api
                } else {
                    Section::Skipped
                };
            }
            // HAProxy 2.6 starts the command only in master-worker mode (else refuses the
            // section); fulcrum starts no program: a supervisor (systemd) does that job.
            "program" => {
                diags.error(
                    &span,
                    format!("'program {}' sections are not run by fulcrum: start the command with your service manager (systemd) instead", line.arg(1).unwrap_or("")),
                );
                self.section = Section::Skipped;
            }
            other => {
                diags.warning(
                    &span,
                    format!(
                        "section '{other}' is not supported by fulcrum yet; its lines are ignored"
                    ),
                );
                self.section = Section::Skipped;
            }
        }
    }

    pub(super) fn find_defaults(&self, name: &str) -> Option<&Defaults> {
        self.named_defaults
            .iter()
            .rev()
            .find(|d| d.name.as_deref() == Some(name))
    }

    pub(super) fn close_section(&mut self) {
        match std::mem::replace(&mut self.section, Section::None) {
            Section::Defaults(d) => {
                if d.name.is_some() {
                    self.named_defaults.push(d.clone());
                }
                self.last_defaults = d;
            }
            Section::Proxy(mut draft) => {
                // before the `redirect` rules join the `http-request` ones (haproxy does not
                // warn on theirs)
                l6_http::warn(&draft.proxy, &mut self.close_diags);
                l6_http::warn_unique_id(&draft.proxy, &mut self.close_diags);
                log_origin::close(&draft.proxy, &draft.log, &mut self.close_diags);
                http_formats::close(&draft.proxy, &draft.formats, &mut self.close_diags);
                draft.proxy.http_request.append(&mut draft.redirects);
                self.proxies.push(draft.proxy)
            }
            Section::HttpErrors(h) => self.http_errors.push(*h),
            // checked once every file is read (`finish`)
            Section::Cache(c) => self.global.caches.push(*c),
            Section::Userlist(u) => {
                let list = userlist::close(*u, &mut self.close_diags);
                self.userlists.push(list);
            }
            Section::Peers(p) => self.peers.push(*p),
            Section::Cluster(d) => {
                if self.cluster.is_none() {
                    self.cluster = Some(cluster::close(*d));
                }
            }
            Section::None
            | Section::Global
            | Section::Skipped
            | Section::Resolvers
            | Section::Api => {}
        }
    }
}

pub(super) const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "crt-store",
    "traces",
    "cluster",
    "api",
];

pub(super) fn is_section_keyword(kw: &str) -> bool {
    SECTIONS.contains(&kw)
}

/// `SECTION [NAME] [from DEFAULTS]`; `None` when the line is unusable (already reported).
pub(super) fn section_name_and_from(
    line: &Line<'_>,
    name_required: bool,
    diags: &mut Diagnostics,
) -> Option<(Option<String>, Option<String>)> {
    let kw = line.keyword();
    let args = &line.words[1..];
    let (name, rest) = match args.first() {
        Some(first) if first != "from" => (Some(first.clone()), &args[1..]),
        _ => (None, args),
    };
    if name_required && name.is_none() {
        diags.error(
            &line.span,
            format!("'{kw}' needs a name (expected '{kw} NAME')"),
        );
        return None;
    }
    if let Some(n) = &name {
        if let Some(bad) = n
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
        {
            diags.error(
                &line.span,
                format!("character '{bad}' is not permitted in {kw} name '{n}' (letters, digits, '-', '_', '.' and ':' only)"),
            );
            return None;
        }
    }
    let from = match rest {
        [] => None,
        [f, parent] if f == "from" => Some(parent.clone()),
        _ => {
            diags.error(
                &line.span,
                format!("unexpected words after '{kw}' (expected '{kw} NAME [from DEFAULTS]')"),
            );
            return None;
        }
    };
    Some((name, from))
}
