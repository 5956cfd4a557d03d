//! keepalived: `global_defs`, `vrrp_script`, `vrrp_instance`, `vrrp_sync_group`,
//! `virtual_server` / `real_server` and their checkers.

use super::*;
use crate::diagnostics::Span;
use serde::Serialize;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Keepalived {
    pub global_defs: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// `track_file NAME { file PATH weight W [reverse] init_file [V] [overwrite] }`
    /// (`vrrp_track_file` is its old name): read by real servers' `FILE_CHECK`.
    pub track_files: Vec<TrackFile>,
}

/// A file whose number a `FILE_CHECK` follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub span: Span,
    pub name: String,
    pub file: String,
    /// Default 1; 0 means "a non-zero value is a failure".
    pub weight: i32,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: write VALUE (default 0) at start when the file is
    /// missing, or always with `overwrite`.
    pub init_file: Option<(i64, bool)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    /// `vrrp_version`, default 2.
    pub vrrp_version: Option<u8>,
    pub enable_script_security: bool,
    pub script_user: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<String>,
    pub smtp_connect_timeout: Option<Duration>,
    /// `smtp_helo_name`, default the host name.
    pub smtp_helo_name: Option<String>,
    /// `smtp_alert [BOOL]`: the default for every instance (and checker) without its own.
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`: the default for VRRP instances, over `smtp_alert`.
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`: the default for checkers, over `smtp_alert`.
    pub smtp_alert_checker: Option<bool>,
}

/// `vrrp_script NAME { script ... interval ... }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub span: Span,
    pub script: String,
    /// Default 1s.
    pub interval: Duration,
    pub timeout: Option<Duration>,
    /// Default 0 (keepalived: -253..=253; 0 means a failing script puts the instance in FAULT).
    pub weight: i32,
    /// Default 1.
    pub fall: u32,
    /// Default 1.
    pub rise: u32,
    /// `user USER [GROUP]`: runs as that user instead of `script_user`.
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub span: Span,
    /// Initial state asked for; keepalived starts as BACKUP unless MASTER is named.
    pub state: Option<VrrpState>,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    /// Default 100; 255 means address owner.
    pub priority: u8,
    /// Default 1s; VRRPv3 allows centiseconds.
    pub advert_int: Duration,
    /// Resolved: `version` in the instance, else `vrrp_version` in global_defs, else 2;
    /// an IPv6 instance always runs 3 (as keepalived).
    pub version: u8,
    pub authentication: Option<VrrpAuth>,
    pub virtual_ipaddress: Vec<VirtualIp>,
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    pub nopreempt: bool,
    pub preempt_delay: Option<Duration>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<IpAddr>,
    pub track_script: Vec<TrackScript>,
    pub track_interface: Vec<TrackInterface>,
    pub notify: Option<String>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    pub notify_stop: Option<String>,
    /// Default 5s.
    pub garp_master_delay: Duration,
    /// Default 5.
    pub garp_master_repeat: u32,
    /// Default: no refresh.
    pub garp_master_refresh: Option<Duration>,
    /// `smtp_alert [BOOL]`: mail on state changes (None: global_defs decides).
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpAuth {
    pub auth_type: VrrpAuthType,
    pub auth_pass: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpAuthType {
    Pass,
    Ah,
}

/// One line of `virtual_ipaddress { ADDR[/PREFIX] [brd B] [dev X] [label L] [scope S] }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIp {
    pub span: Span,
    pub address: IpAddr,
    /// Default 32 for IPv4, 128 for IPv6 (as keepalived).
    pub prefix: u8,
    pub dev: Option<String>,
    pub label: Option<String>,
    pub brd: Option<IpAddr>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackScript {
    pub script: Reference,
    /// Overrides the script's own weight when written.
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackInterface {
    pub span: Span,
    pub interface: String,
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpSyncGroup {
    pub name: String,
    pub span: Span,
    pub group: Vec<Reference>,
    pub notify: Option<String>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_fault: Option<String>,
    /// `smtp_alert [BOOL]`: mail on the group's state changes.
    pub smtp_alert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServer {
    pub span: Span,
    pub address: VirtualServerAddress,
    /// Default 60s.
    pub delay_loop: Duration,
    /// `lb_algo` / `lvs_sched`, e.g. `rr`, `wrr`, `lc`, `wlc`, `sh`, `dh`; default `wlc`.
    pub lb_algo: String,
    /// `lb_kind` / `lvs_method`: NAT, DR, TUN; default NAT.
    pub lb_kind: LbKind,
    pub persistence_timeout: Option<Duration>,
    pub protocol: IpProtocol,
    /// `sorry_server IP [PORT]`; a missing port is the virtual server's.
    pub sorry_server: Option<(IpAddr, u16)>,
    /// Default 1.
    pub quorum: u32,
    pub hysteresis: u32,
    pub real_servers: Vec<RealServer>,
    /// `persistence_granularity MASK`: persistence per source network.
    pub persistence_granularity: Option<IpAddr>,
    /// Scripts run when the quorum is gained / lost.
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    /// `virtual_server group NAME`: the group's name; `address` is its first address and
    /// `also` the others.
    pub group: Option<String>,
    pub also: Vec<VirtualServerAddress>,
    /// `alpha`: real servers with checkers start DOWN until a check passes.
    pub alpha: bool,
    /// `omega`: on shutdown, the quorum_down script runs (if the quorum was up).
    pub omega: bool,
    /// `smtp_alert [BOOL]`: mail on its real servers' changes (None: global_defs decides).
    pub smtp_alert: Option<bool>,
    /// `expire_nodest_conn [BOOL]` (fulcrum's keyword for LVS's sysctl of that name, off by
    /// default as in LVS): a real server that goes DOWN loses its flows at once (conntrack
    /// entries and persistence entries), so its clients reconnect elsewhere immediately.
    pub expire_nodest_conn: bool,
    /// `allowed_cidrs CIDR...` (fulcrum's keyword, named after Octavia's listener field, which
    /// the LBaaS API renders for UDP/SCTP listeners): only clients from these networks reach
    /// the real servers; others are dropped (empty: everyone).
    pub allowed_cidrs: Vec<(IpAddr, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualServerAddress {
    Ip { ip: IpAddr, port: u16 },
    Fwmark(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LbKind {
    #[default]
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpProtocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServer {
    pub span: Span,
    pub ip: IpAddr,
    /// When not written: the virtual server's port (0 for a fwmark service).
    pub port: u16,
    /// Default 1.
    pub weight: u32,
    pub inhibit_on_failure: bool,
    pub checkers: Vec<Checker>,
    /// `smtp_alert [BOOL]`: mail on this server's changes (None: the virtual server decides).
    pub smtp_alert: Option<bool>,
    /// `uthreshold N`: no new flows once the server has N connections (IPVS's overload flag;
    /// 0 or absent: no limit).
    pub uthreshold: Option<u32>,
    /// `lthreshold N`: an overloaded server takes new flows again below N connections
    /// (absent or 0: below 3/4 of `uthreshold`, as IPVS).
    pub lthreshold: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum Checker {
    /// `HTTP_GET` (ssl = false) or `SSL_GET` (ssl = true).
    HttpGet {
        span: Span,
        ssl: bool,
        urls: Vec<CheckUrl>,
        /// Default 5s.
        connect_timeout: Duration,
        connect_port: Option<u16>,
        /// `retry` / `nb_get_retry`, default 1.
        retry: u32,
        /// Default 3s for HTTP_GET/SSL_GET (keepalived.conf(5); 1s is the TCP_CHECK default).
        delay_before_retry: Duration,
        /// `connect_ip`, `bindto`, `bind_port` (the rest of keepalived's connection options).
        addr: CheckAddrOpts,
        /// `http_protocol 1.0|1.0C|1.1` (default 1.0).
        http_protocol: HttpProtocol,
        /// `virtualhost` of the checker, else of the real server, else of the virtual server:
        /// the `Host:` header (and with `enable_sni`, the TLS server name).
        virtualhost: Option<String>,
        /// SSL_GET `enable_sni`.
        enable_sni: bool,
    },
    TcpCheck {
        span: Span,
        connect_timeout: Duration,
        connect_port: Option<u16>,
        retry: u32,
        delay_before_retry: Duration,
        addr: CheckAddrOpts,
    },
    /// `SMTP_CHECK { helo_name NAME }`: banner 220, `HELO NAME` → 250, `QUIT`.
    SmtpCheck {
        span: Span,
        conn: CheckConn,
        /// Default `smtpchecker.keepalived.org`.
        helo_name: String,
    },
    /// `DNS_CHECK { type T name N }`: a UDP query answered with rcode 0.
    DnsCheck {
        span: Span,
        conn: CheckConn,
        /// A NS CNAME SOA MX TXT AAAA as their numbers (default SOA = 6).
        query_type: u16,
        /// Default `.`.
        name: String,
    },
    /// `UDP_CHECK { payload HEX require_reply [HEX] min_reply_length N max_reply_length N }`.
    UdpCheck {
        span: Span,
        conn: CheckConn,
        /// None: a random payload, as keepalived.
        payload: Option<Vec<u8>>,
        require_reply: bool,
        /// The reply's first bytes as (value, mask of the bits compared); `x` nibbles are 0.
        reply: Vec<(u8, u8)>,
        /// Default 0.
        min_reply_length: u16,
        /// Default 255.
        max_reply_length: u16,
    },
    /// `PING_CHECK`: an ICMP (ICMPv6) echo answered within connect_timeout.
    PingCheck { span: Span, conn: CheckConn },
    /// `FILE_CHECK { track_file NAME weight W [reverse] }`: the number in a `track_file`.
    FileCheck {
        span: Span,
        track_file: String,
        /// None: the track_file's weight.
        weight: Option<(i32, bool)>,
    },
    MiscCheck {
        span: Span,
        misc_path: String,
        /// Default: the virtual server's delay_loop.
        misc_timeout: Option<Duration>,
        misc_dynamic: bool,
    },
}

/// A server's TLS settings for its health checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckTls {
    /// `check-ssl`.
    pub enabled: bool,
    pub sni: Option<String>,
    /// `check-alpn h2,http/1.1`.
    pub alpn: Vec<String>,
    /// `verify none`: the certificate is not checked (else `ca-file` is required, as HAProxy's
    /// default `ssl-server-verify required`).
    pub verify_none: bool,
    pub ca_file: Option<String>,
}

impl Checker {
    /// Where the checker block starts.
    pub fn span(&self) -> &Span {
        match self {
            Checker::HttpGet { span, .. }
            | Checker::TcpCheck { span, .. }
            | Checker::SmtpCheck { span, .. }
            | Checker::DnsCheck { span, .. }
            | Checker::UdpCheck { span, .. }
            | Checker::PingCheck { span, .. }
            | Checker::FileCheck { span, .. }
            | Checker::MiscCheck { span, .. } => span,
        }
    }
}

/// `url { path P [status_code N] [digest HEX] [virtualhost H] [regex R] [regex_no_match] }`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckUrl {
    pub path: String,
    /// Empty: any 2xx, as keepalived.
    pub status_code: Vec<u16>,
    pub digest: Option<String>,
    /// Over the checker's `virtualhost` for this url.
    pub virtualhost: Option<String>,
    /// `regex` (PCRE2 in keepalived; the `regex` crate's syntax here, with `regex_options`
    /// caseless/multiline/dotall/extended/ungreedy mapped to its flags): searched in the body.
    pub regex: Option<String>,
    /// `regex_no_match`: a match fails the check.
    pub regex_no_match: bool,
    /// `regex_min_offset` / `regex_max_offset`: where in the body a match may start.
    pub regex_min_offset: Option<usize>,
    pub regex_max_offset: Option<usize>,
}

/// `http_protocol` of HTTP_GET/SSL_GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum HttpProtocol {
    /// `GET P HTTP/1.0` (keepalived's default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`: HTTP/1.1 with `Connection: close`.
    Http11,
}

/// keepalived's connection options of a checker other than the port: `connect_ip` (default
/// the real server's address), `bindto` and `bind_port` (the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CheckAddrOpts {
    pub connect_ip: Option<IpAddr>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
}

/// Everything a socket checker shares (keepalived's `conn_opts` plus its retry timing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckConn {
    pub addr: CheckAddrOpts,
    pub connect_port: Option<u16>,
    /// Default 5s.
    pub connect_timeout: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
}
