//! `vrrp_instance NAME { ... }`: one VRRP virtual router as keepalived configures it.
//!
//! Reads each keyword into the model with keepalived's defaults (priority 100, advert_int 1s,
//! garp_master_delay 5s, garp_master_repeat 5) and remembers where things were written
//! (`InstanceExtra`) for the checks that need the whole file (see `validate`).

use super::args;
use super::lexer::Stmt;
use super::vip;
use super::InstanceExtra;
use crate::diagnostics::Diagnostics;
use crate::model::{
    Reference, TrackInterface, TrackScript, VrrpAuth, VrrpAuthType, VrrpInstance, VrrpState,
};
use std::time::Duration;

const KNOWN: &[&str] = &[
    "smtp_alert",
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "unicast_src_ip",
    "unicast_peer",
    "track_script",
    "track_interface",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "version",
];

/// Real keepalived vrrp_instance keywords fulcrum does not apply yet.
const UNSUPPORTED: &[&str] = &[
    "mcast_src_ip",
    "mcast_dst_ip",
    "dont_track_primary",
    "use_vmac",
    "vmac_xmit_base",
    "native_ipv6",
    "accept",
    "no_accept",
    "strict_mode",
    "skip_check_adv_addr",
    "debug",
    "lvs_sync_daemon_interface",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_refresh_repeat",
    "garp_extra_if",
    "garp_extra_if_vmac",
    "down_timer_adverts",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "virtual_routes",
    "virtual_rules",
    "track_file",
    "track_process",
    "track_bfd",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "notify_deleted",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "unicast_fault_no_peer",
    "unicast_ttl",
    "old_unicast_checksum",
    "check_unicast_src",
    "track_src_ip",
    "promote_secondaries",
    "no_preempt",
    "sync_group_tracking_weight",
    "vrrp_linkbeat_use_polling",
    "use_vmac_addr",
];

pub fn parse(stmt: &Stmt, d: &mut Diagnostics) -> Option<(VrrpInstance, InstanceExtra)> {
    let (name, span) = args::first_arg_or_error(stmt, "vrrp_instance", d)?;
    let body = args::block(stmt, d)?;
    let mut i = VrrpInstance {
        name,
        span,
        state: None,
        interface: None,
        virtual_router_id: 0,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        authentication: None,
        virtual_ipaddress: Vec::new(),
        virtual_ipaddress_excluded: Vec::new(),
        nopreempt: false,
        preempt_delay: None,
        unicast_src_ip: None,
        unicast_peer: Vec::new(),
        track_script: Vec::new(),
        track_interface: Vec::new(),
        notify: None,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        garp_master_delay: Duration::from_secs(5),
        garp_master_repeat: 5,
        garp_master_refresh: None,
        smtp_alert: None,
    };
    let mut x = InstanceExtra::default();
    for kw in body {
        keyword(kw, &mut i, &mut x, d);
    }
    Some((i, x))
}

fn keyword(kw: &Stmt, i: &mut VrrpInstance, x: &mut InstanceExtra, d: &mut Diagnostics) {
    let context = format!("vrrp_instance {}", i.name);
    match kw.keyword() {
        "state" => {
            if let Some(w) = args::one(kw, d) {
                x.state = Some(w.span.clone());
                match w.text.as_str() {
                    "MASTER" => i.state = Some(VrrpState::Master),
                    "BACKUP" => i.state = Some(VrrpState::Backup),
                    other => d.error(
                        &w.span,
                        format!("state must be MASTER or BACKUP (upper case), found '{other}'"),
                    ),
                }
            }
        }
        "interface" => i.interface = args::one(kw, d).map(|w| w.text.clone()),
        "virtual_router_id" => {
            if let Some(w) = args::one(kw, d) {
                x.virtual_router_id = Some(w.span.clone());
                if let Some(v) = args::u8_in(w, "virtual_router_id", 1, 255, d) {
                    i.virtual_router_id = v;
                }
            }
        }
        "priority" => {
            if let Some(w) = args::one(kw, d) {
                x.priority = Some(w.span.clone());
                if let Some(v) = args::u8_in(w, "priority", 1, 255, d) {
                    i.priority = v;
                }
            }
        }
        "advert_int" => {
            if let Some(w) = args::one(kw, d) {
                if let Some(t) = args::seconds(w, "advert_int", d) {
                    if t.is_zero() {
                        d.error(&w.span, "advert_int must be greater than 0, found 0");
                    } else {
                        i.advert_int = t;
                        x.advert_int = Some(w.span.clone());
                    }
                }
            }
        }
        "version" => {
            if let Some(w) = args::one(kw, d) {
                if let Some(v) = args::u8_in(w, "version", 2, 3, d) {
                    x.version = Some((v, w.span.clone()));
                }
            }
        }
        "authentication" => {
            args::flag(
                &Stmt {
                    words: kw.words.clone(),
                    block: None,
                },
                d,
            );
            if let Some(b) = args::block(kw, d) {
                x.authentication = Some(kw.span().clone());
                i.authentication = authentication(b, &context, x, d);
            }
        }
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            args::flag(
                &Stmt {
                    words: kw.words.clone(),
                    block: None,
                },
                d,
            );
            if let Some(b) = args::block(kw, d) {
                let out = if kw.keyword() == "virtual_ipaddress" {
                    &mut i.virtual_ipaddress
                } else {
                    &mut i.virtual_ipaddress_excluded
                };
                vip::virtual_ipaddress(b, out, d);
            }
        }
        "nopreempt" => {
            args::flag(kw, d);
            x.nopreempt = Some(kw.span().clone());
            i.nopreempt = true;
        }
        // keepalived keeps `preempt` for backward compatibility: it is the default.
        "preempt" => {
            args::flag(kw, d);
            i.nopreempt = false;
        }
        "preempt_delay" => {
            x.preempt_delay = Some(kw.span().clone());
            if let Some(t) = args::one(kw, d).and_then(|w| args::seconds(w, "preempt_delay", d)) {
                if t > Duration::from_secs(1000) {
                    d.error(
                        kw.span(),
                        format!(
                            "preempt_delay must be 0..1000 seconds, found {}",
                            kw.words[1].text
                        ),
                    );
                } else {
                    i.preempt_delay = Some(t);
                }
            }
        }
        "unicast_src_ip" => {
            if let Some(w) = args::one(kw, d) {
                x.unicast_src_ip = Some(w.span.clone());
                i.unicast_src_ip = args::ip(w, "unicast_src_ip", d);
            }
        }
        "unicast_peer" => {
            x.unicast_peer_block = Some(kw.span().clone());
            if let Some(b) = args::block(kw, d) {
                vip::unicast_peer(b, &mut i.unicast_peer, &mut x.unicast_peer, d);
            }
        }
        "track_script" => {
            if let Some(b) = args::block(kw, d) {
                for line in b {
                    if let Some((name, weight)) = tracked(line, -253, 253, d) {
                        i.track_script.push(TrackScript {
                            script: Reference {
                                name,
                                span: line.span().clone(),
                            },
                            weight,
                        });
                    }
                }
            }
        }
        "track_interface" => {
            if let Some(b) = args::block(kw, d) {
                for line in b {
                    if let Some((name, weight)) = tracked(line, -254, 254, d) {
                        i.track_interface.push(TrackInterface {
                            span: line.span().clone(),
                            interface: name,
                            weight,
                        });
                    }
                }
            }
        }
        "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
            let script = args::script_with_user(kw, d);
            x.has_scripts |= script.is_some();
            let slot = match kw.keyword() {
                "notify" => &mut i.notify,
                "notify_master" => &mut i.notify_master,
                "notify_backup" => &mut i.notify_backup,
                "notify_fault" => &mut i.notify_fault,
                _ => &mut i.notify_stop,
            };
            if script.is_some() {
                *slot = script;
            }
        }
        "smtp_alert" => i.smtp_alert = Some(args::opt_bool(kw, d)),
        "garp_master_delay" => {
            if let Some(t) = args::one(kw, d).and_then(|w| args::seconds(w, "garp_master_delay", d))
            {
                i.garp_master_delay = t;
                x.garp_delay_set = true;
            }
        }
        "garp_master_repeat" => {
            if let Some(v) =
                args::one(kw, d).and_then(|w| args::u32_in(w, "garp_master_repeat", 1, 255, d))
            {
                i.garp_master_repeat = v;
                x.garp_repeat_set = true;
            }
        }
        "garp_master_refresh" => {
            if let Some(t) =
                args::one(kw, d).and_then(|w| args::seconds(w, "garp_master_refresh", d))
            {
                i.garp_master_refresh = if t.is_zero() { None } else { Some(t) };
                x.garp_refresh_set = true;
            }
        }
        _ => args::unknown(kw, &context, KNOWN, UNSUPPORTED, d),
    }
}

fn authentication(
    stmts: &[Stmt],
    context: &str,
    x: &mut InstanceExtra,
    d: &mut Diagnostics,
) -> Option<VrrpAuth> {
    let mut auth_type = None;
    let mut pass = None;
    for kw in stmts {
        match kw.keyword() {
            "auth_type" => {
                if let Some(w) = args::one(kw, d) {
                    match w.text.as_str() {
                        "PASS" => auth_type = Some(VrrpAuthType::Pass),
                        "AH" => auth_type = Some(VrrpAuthType::Ah),
                        other => d.error(
                            &w.span,
                            format!("auth_type must be PASS or AH, found '{other}'"),
                        ),
                    }
                }
            }
            "auth_pass" => {
                if let Some(w) = args::one(kw, d) {
                    x.auth_pass = Some(w.span.clone());
                    pass = Some(w.text.clone());
                }
            }
            _ => args::unknown(
                kw,
                &format!("authentication of {context}"),
                &["auth_type", "auth_pass"],
                &[],
                d,
            ),
        }
    }
    match (auth_type, pass) {
        (Some(auth_type), Some(auth_pass)) => Some(VrrpAuth {
            auth_type,
            auth_pass,
        }),
        (Some(_), None) => {
            let span = stmts
                .first()
                .map_or_else(Default::default, |s| s.span().clone());
            d.error(
                &span,
                "authentication has auth_type but no auth_pass: expected 'auth_pass SECRET'",
            );
            None
        }
        (None, Some(_)) => {
            let span = x.auth_pass.clone().unwrap_or_default();
            d.error(&span, "authentication has auth_pass but no auth_type: expected 'auth_type PASS' or 'auth_type AH'");
            None
        }
        (None, None) => None,
    }
}

/// One line of `track_script` / `track_interface`: `NAME [weight N] [reverse|noreverse]`.
fn tracked(line: &Stmt, lo: i32, hi: i32, d: &mut Diagnostics) -> Option<(String, Option<i32>)> {
    args::no_block(line, d);
    let name = line.words[0].text.clone();
    let mut weight = None;
    let mut rest = line.args().iter();
    while let Some(w) = rest.next() {
        match w.text.as_str() {
            "weight" => match rest.next() {
                Some(v) => weight = args::i32_in(v, "weight", lo, hi, d),
                None => d.error(
                    &w.span,
                    format!("'weight' expects a number {lo}..{hi}, found nothing"),
                ),
            },
            "reverse" => d.warning(&w.span, "'reverse' is not supported yet, ignored"),
            "noreverse" => {}
            other => {
                d.error(&w.span, format!("after '{name}' expected 'weight N' or nothing, found '{other}' (one name per line)"));
            }
        }
    }
    Some((name, weight))
}
