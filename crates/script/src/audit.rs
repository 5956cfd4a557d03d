//! `fulcrum check`'s view of the scripts: every script line of a keepalived model prepared
//! under its `global_defs` policy, as `keepalived -t` checks them. With
//! `enable_script_security`, a script that would be refused at run time is an error at its
//! FILE:LINE (keepalived -t exits non-zero: "Disabling track script X due to insecure").
//! (The warning for scripts without `enable_script_security` is the config crate's.)

use crate::policy::Policy;
use crate::run::prepare;
use fulcrum_config::diagnostics::{Diagnostics, Span};
use fulcrum_config::model::{Checker, Keepalived};

/// Checks every script of `k`; problems go to `diags`.
pub fn audit(k: &Keepalived, diags: &mut Diagnostics) {
    let policy = Policy::from_global_defs(&k.global_defs);
    // vrrp_script with its own `user`: checked under that user.
    for s in k.vrrp_scripts.iter().filter(|s| s.user.is_some()) {
        let own = Policy::resolve(s.user.as_deref(), policy.security);
        if let Err(refused) = prepare(&own, &s.script) {
            diags.error(&s.span, format!("vrrp_script {}: {refused}", s.name));
        }
    }
    let mut lines: Vec<(&Span, String, &str)> = Vec::new();
    for s in k.vrrp_scripts.iter().filter(|s| s.user.is_none()) {
        lines.push((&s.span, format!("vrrp_script {}", s.name), &s.script));
    }
    for i in &k.vrrp_instances {
        for (kw, v) in [
            ("notify", &i.notify),
            ("notify_master", &i.notify_master),
            ("notify_backup", &i.notify_backup),
            ("notify_fault", &i.notify_fault),
            ("notify_stop", &i.notify_stop),
        ] {
            if let Some(v) = v {
                lines.push((&i.span, format!("vrrp_instance {} {kw}", i.name), v));
            }
        }
    }
    for g in &k.vrrp_sync_groups {
        for (kw, v) in [
            ("notify", &g.notify),
            ("notify_master", &g.notify_master),
            ("notify_backup", &g.notify_backup),
            ("notify_fault", &g.notify_fault),
        ] {
            if let Some(v) = v {
                lines.push((&g.span, format!("vrrp_sync_group {} {kw}", g.name), v));
            }
        }
    }
    for vs in &k.virtual_servers {
        for rs in &vs.real_servers {
            for c in &rs.checkers {
                if let Checker::MiscCheck {
                    span, misc_path, ..
                } = c
                {
                    lines.push((span, "MISC_CHECK misc_path".into(), misc_path));
                }
            }
        }
    }
    for (span, what, line) in &lines {
        if let Err(refused) = prepare(&policy, line) {
            diags.error(span, format!("{what}: {refused}"));
        }
    }
}
