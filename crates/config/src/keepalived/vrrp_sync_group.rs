//! `vrrp_sync_group NAME { group { VI_1 VI_2 } notify* }`: instances that change state together.
//! Member names are checked against the vrrp_instances in `validate`.

use super::args;
use super::lexer::Stmt;
use crate::diagnostics::Diagnostics;
use crate::model::{Reference, VrrpSyncGroup};

const KNOWN: &[&str] = &[
    "smtp_alert",
    "group",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
];
const UNSUPPORTED: &[&str] = &[
    "notify_stop",
    "global_tracking",
    "sync_group_tracking_weight",
    "track_script",
    "track_interface",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_priority_changes",
];

pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<VrrpSyncGroup> {
    let (name, span) = args::first_arg_or_error(stmt, "vrrp_sync_group", d)?;
    let body = args::block(stmt, d)?;
    let mut g = VrrpSyncGroup {
        name,
        span,
        group: Vec::new(),
        notify: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        smtp_alert: None,
    };
    let mut have_group = false;
    for kw in body {
        match kw.keyword() {
            "group" => {
                if let Some(b) = args::block(kw, d) {
                    have_group = true;
                    for line in b {
                        args::no_block(line, d);
                        g.group.extend(line.words.iter().map(|w| Reference {
                            name: w.text.clone(),
                            span: w.span.clone(),
                        }));
                    }
                }
            }
            "smtp_alert" => g.smtp_alert = Some(args::opt_bool(kw, d)),
            "notify" | "notify_master" | "notify_backup" | "notify_fault" => {
                let script = args::script_with_user(kw, d);
                let slot = match kw.keyword() {
                    "notify" => &mut g.notify,
                    "notify_master" => &mut g.notify_master,
                    "notify_backup" => &mut g.notify_backup,
                    _ => &mut g.notify_fault,
                };
                if script.is_some() {
                    *slot = script;
                }
            }
            _ => args::unknown(
                kw,
                &format!("vrrp_sync_group {}", g.name),
                KNOWN,
                UNSUPPORTED,
                d,
            ),
        }
    }
    if !have_group {
        d.error(
            stmt.span(),
            format!(
                "vrrp_sync_group {} has no 'group {{ ... }}' listing its vrrp_instances",
                g.name
            ),
        );
    }
    Some(g)
}
