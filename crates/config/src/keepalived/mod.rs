//! keepalived.conf reader: files in `-f` order → statement trees → the `Keepalived` model.
//!
//! `parse_file` reads one file (following its `include`s) and fills the model block by block;
//! `finish` resolves what needs the whole configuration (VRRP version from `global_defs`,
//! references between blocks) and runs keepalived's semantic checks (`validate`). Syntax lives in
//! `lexer` (with `params` for `@ID` lines and `$NAME` substitution), one file per block family
//! reads keywords, and nothing here touches the network.

mod args;
mod check_url;
mod checker;
mod global_defs;
pub mod lexer;
mod params;
mod real_server;
mod track_file;
mod tree;
mod validate;
mod vip;
mod virtual_server;
mod virtual_server_group;
mod vrrp_instance;
mod vrrp_script;
mod vrrp_sync_group;

use crate::diagnostics::{Diagnostics, Span};
use crate::model::{Keepalived, VrrpInstance};
use lexer::Stmt;

/// Top-level blocks keepalived has that fulcrum does not run yet: accepted with a warning.
const UNSUPPORTED_TOP: &[&str] = &[
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "vrrp_track_process",
    "bfd_instance",
    "garp_group",
    "linkbeat_interfaces",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
    "vrrp_track_interface",
    "track_process",
];
const TOP: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "virtual_server",
    "virtual_server_group",
    "include",
    "track_file",
    "vrrp_track_file",
];

/// Where instance settings were written and what needs resolving in `finish`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceExtra {
    /// `version` written in the instance.
    pub version: Option<(u8, Span)>,
    pub state: Option<Span>,
    pub priority: Option<Span>,
    pub advert_int: Option<Span>,
    pub virtual_router_id: Option<Span>,
    pub authentication: Option<Span>,
    pub auth_pass: Option<Span>,
    pub unicast_src_ip: Option<Span>,
    pub unicast_peer: Vec<Span>,
    pub nopreempt: Option<Span>,
    pub preempt_delay: Option<Span>,
    /// A script (`notify*`) is configured, for the script-security check.
    pub has_scripts: bool,
    /// `garp_master_delay|repeat|refresh` written in the instance (else the global default).
    pub garp_delay_set: bool,
    pub garp_repeat_set: bool,
    pub garp_refresh_set: bool,
    /// A `unicast_peer { }` block, for the empty-block check.
    pub unicast_peer_block: Option<Span>,
}

/// `vrrp_garp_master_delay|repeat|refresh` of global_defs: defaults for every instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct GarpDefaults {
    pub delay: Option<std::time::Duration>,
    pub repeat: Option<u32>,
    /// Some(None): refresh disabled (0).
    pub refresh: Option<Option<std::time::Duration>>,
}

/// Accumulates the model across every keepalived file of one load.
#[derive(Default)]
pub struct Parser {
    pub(crate) out: Keepalived,
    pub(crate) vrrp_version_span: Option<Span>,
    pub(crate) instances: Vec<(VrrpInstance, InstanceExtra)>,
    pub(crate) vs_protocol_missing: Vec<Span>,
    pub(crate) garp_defaults: GarpDefaults,
    /// keepalived's config id (`-i`), which selects `@ID` lines.
    config_id: Option<String>,
    groups: virtual_server_group::Groups,
}

impl Parser {
    /// A parser whose config id is the first label of the host name, as keepalived's default.
    pub fn new() -> Self {
        Parser {
            config_id: params::default_config_id(),
            ..Self::default()
        }
    }

    /// A parser with an explicit config id (keepalived's `-i ID`), for `@ID` conditional lines.
    pub fn with_config_id(id: impl Into<String>) -> Self {
        Parser {
            config_id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Reads one file given with `-f` (and whatever it includes).
    pub fn parse_file(&mut self, path: &str, text: &str, diags: &mut Diagnostics) {
        let tree = lexer::parse_tree(path, text, self.config_id.clone(), diags);
        for stmt in &tree {
            self.top(stmt, diags);
        }
    }

    fn top(&mut self, stmt: &Stmt, d: &mut Diagnostics) {
        match stmt.keyword() {
            "global_defs" => {
                args::flag(&strip_block(stmt), d);
                if let Some(b) = args::block(stmt, d) {
                    global_defs::parse(
                        b,
                        &mut self.out.global_defs,
                        &mut self.vrrp_version_span,
                        &mut self.garp_defaults,
                        d,
                    );
                }
            }
            "vrrp_script" => {
                if let Some(s) = vrrp_script::parse(stmt, d) {
                    self.out.vrrp_scripts.push(s);
                }
            }
            "vrrp_instance" => {
                if let Some(i) = vrrp_instance::parse(stmt, d) {
                    self.instances.push(i);
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = vrrp_sync_group::parse(stmt, d) {
                    self.out.vrrp_sync_groups.push(g);
                }
            }
            "virtual_server_group" => virtual_server_group::parse(stmt, &mut self.groups, d),
            "track_file" | "vrrp_track_file" => {
                if let Some(t) = track_file::parse(stmt, d) {
                    self.out.track_files.push(t);
                }
            }
            "virtual_server" => {
                if let Some((vs, protocol_written)) = virtual_server::parse(stmt, d) {
                    if !protocol_written {
                        self.vs_protocol_missing.push(vs.span.clone());
                    }
                    self.out.virtual_servers.push(vs);
                }
            }
            _ => args::unknown(
                stmt,
                "the top level of keepalived.conf",
                TOP,
                UNSUPPORTED_TOP,
                d,
            ),
        }
    }

    /// Resolves defaults and references across all files, checks the whole, returns the model.
    pub fn finish(mut self, diags: &mut Diagnostics) -> Keepalived {
        virtual_server_group::resolve(&mut self.out.virtual_servers, &self.groups, diags);
        validate::resolve_and_check(&mut self, diags);
        let Parser {
            mut out, instances, ..
        } = self;
        out.vrrp_instances = instances.into_iter().map(|(i, _)| i).collect();
        out
    }
}

/// The statement without its block, for checking the words alone.
fn strip_block(stmt: &Stmt) -> Stmt {
    Stmt {
        words: stmt.words.clone(),
        block: None,
    }
}
