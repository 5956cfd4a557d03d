//! `global_defs { ... }`: router_id, VRRP version, script security and e-mail settings.
//!
//! keepalived has many more global keywords than fulcrum runs; the real ones are accepted with
//! a "not supported yet" warning so existing files load, anything else is an error.

use super::args;
use super::lexer::Stmt;
use super::GarpDefaults;
use crate::diagnostics::{Diagnostics, Span};
use crate::model::GlobalDefs;

const KNOWN: &[&str] = &[
    "router_id",
    "vrrp_version",
    "enable_script_security",
    "script_user",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
];

/// Real keepalived global_defs keywords (keepalived.conf(5)) that fulcrum does not apply yet.
const UNSUPPORTED: &[&str] = &[
    "vrrp_skip_check_adv_addr",
    "vrrp_strict",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "lvs_id",
    "enable_traps",
    "checker_log_all_failures",
    "no_email_faults",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "default_interface",
    "lvs_sync_daemon",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_timeouts",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_min_garp",
    "vrrp_garp_extra_if",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_down_timer_adverts",
    "vrrp_iptables",
    "vrrp_ipsets",
    "vrrp_nftables",
    "nftables",
    "vrrp_check_unicast_src",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_dbus",
    "dbus_service_name",
    "script_security",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_startup_delay",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "random_seed",
    "umask",
    "instance",
    "net_namespace",
    "namespace_with_ipsets",
    "use_pid_dir",
    "linkbeat_use_polling",
    "vrrp_dont_use_vmac",
    "dynamic_interfaces",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vrrp_track_process",
    "config_save_dir",
    "config_copy_directory",
    "tmp_config_directory",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "vrrp_strict_mode",
    "checker_process_monitor",
    "vrrp_socket_priority",
];

pub fn parse(
    stmts: &[Stmt],
    g: &mut GlobalDefs,
    version_span: &mut Option<Span>,
    garp: &mut GarpDefaults,
    d: &mut Diagnostics,
) {
    for stmt in stmts {
        match stmt.keyword() {
            "router_id" => g.router_id = args::one(stmt, d).map(|w| w.text.clone()),
            "vrrp_version" => {
                if let Some(w) = args::one(stmt, d) {
                    if let Some(v) = args::u8_in(w, "vrrp_version", 2, 3, d) {
                        g.vrrp_version = Some(v);
                        *version_span = Some(w.span.clone());
                    }
                }
            }
            "enable_script_security" => {
                args::flag(stmt, d);
                g.enable_script_security = true;
            }
            "script_user" => {
                args::no_block(stmt, d);
                match stmt.args() {
                    [] => d.error(
                        stmt.span(),
                        "'script_user' expects USERNAME [GROUPNAME], found nothing",
                    ),
                    [user] => g.script_user = Some(user.text.clone()),
                    [user, group, ..] => {
                        g.script_user = Some(format!("{} {}", user.text, group.text));
                    }
                }
            }
            "notification_email" => {
                args::flag(
                    &Stmt {
                        words: stmt.words.clone(),
                        block: None,
                    },
                    d,
                );
                if let Some(b) = args::block(stmt, d) {
                    if b.is_empty() {
                        d.warning(
                            stmt.span(),
                            "empty notification_email block: no mail is sent (keepalived warns too)",
                        );
                    }
                    for line in b {
                        args::no_block(line, d);
                        g.notification_email
                            .extend(line.words.iter().map(|w| w.text.clone()));
                    }
                }
            }
            "notification_email_from" => {
                g.notification_email_from = args::one(stmt, d).map(|w| w.text.clone())
            }
            "smtp_server" => {
                args::no_block(stmt, d);
                match stmt.args() {
                    [] => d.error(
                        stmt.span(),
                        "'smtp_server' expects an address [PORT], found nothing",
                    ),
                    [addr] => g.smtp_server = Some(addr.text.clone()),
                    [addr, port, ..] => {
                        if let Some(p) = args::port(port, "smtp_server port", false, d) {
                            let host = if addr.text.contains(':') {
                                format!("[{}]", addr.text)
                            } else {
                                addr.text.clone()
                            };
                            g.smtp_server = Some(format!("{host}:{p}"));
                        }
                    }
                }
            }
            "smtp_connect_timeout" => {
                if let Some(w) = args::one(stmt, d) {
                    g.smtp_connect_timeout = args::seconds(w, "smtp_connect_timeout", d);
                    if g.smtp_connect_timeout.is_some_and(|t| t.is_zero()) {
                        d.warning(
                            &w.span,
                            "smtp_connect_timeout must be greater than 0; using 1 s, as keepalived",
                        );
                        g.smtp_connect_timeout = Some(std::time::Duration::from_secs(1));
                    }
                }
            }
            "smtp_helo_name" => g.smtp_helo_name = args::one(stmt, d).map(|w| w.text.clone()),
            "smtp_alert" => g.smtp_alert = Some(args::opt_bool(stmt, d)),
            "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(args::opt_bool(stmt, d)),
            "smtp_alert_checker" => g.smtp_alert_checker = Some(args::opt_bool(stmt, d)),
            "vrrp_garp_master_delay" => {
                if let Some(w) = args::one(stmt, d) {
                    garp.delay = args::seconds(w, "vrrp_garp_master_delay", d);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(w) = args::one(stmt, d) {
                    garp.repeat = args::u32_in(w, "vrrp_garp_master_repeat", 1, u32::MAX, d);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(w) = args::one(stmt, d) {
                    garp.refresh = args::seconds(w, "vrrp_garp_master_refresh", d)
                        .map(|t| (!t.is_zero()).then_some(t));
                }
            }
            // Checked as keepalived checks them (a value, in range), then ignored with the
            // "not supported yet" warning: they only pace or repeat gratuitous ARPs.
            kw @ ("vrrp_garp_interval" | "vrrp_gna_interval") => {
                if let Some(w) = args::one(stmt, d) {
                    let ok = w
                        .text
                        .parse::<f64>()
                        .is_ok_and(|v| (0.000_001..=4_294.967_295).contains(&v));
                    if ok {
                        args::unknown(stmt, "global_defs", KNOWN, UNSUPPORTED, d);
                    } else {
                        d.error(
                            &w.span,
                            format!("{kw} must be a number of seconds in 0.000001..4294.967295, found '{}'", w.text),
                        );
                    }
                }
            }
            kw @ ("vrrp_garp_master_refresh_repeat" | "vrrp_garp_lower_prio_repeat") => {
                if let Some(w) = args::one(stmt, d) {
                    let lo = if kw == "vrrp_garp_master_refresh_repeat" {
                        1
                    } else {
                        0
                    };
                    if args::u32_in(w, kw, lo, u32::MAX, d).is_some() {
                        args::unknown(stmt, "global_defs", KNOWN, UNSUPPORTED, d);
                    }
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(w) = args::one(stmt, d) {
                    if args::seconds(w, "vrrp_garp_lower_prio_delay", d).is_some() {
                        args::unknown(stmt, "global_defs", KNOWN, UNSUPPORTED, d);
                    }
                }
            }
            _ => args::unknown(stmt, "global_defs", KNOWN, UNSUPPORTED, d),
        }
    }
}
