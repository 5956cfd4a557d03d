//! Renders load balancers as haproxy.cfg text, the way Octavia's amphora driver does: one
//! `frontend LISTENER_ID` per listener, one `backend POOL_ID:LISTENER_ID` per pool a listener
//! uses, one `server MEMBER_ID` per member. A pure function of the state (unit-tested, and the
//! output is checked by the real `haproxy -c` in the tests).
//!
//! The running fulcrum appends this text to its files (see fulcrum's api_bridge), so it carries
//! no `global` section; `render_standalone` adds one for printing or for a real haproxy.

use crate::state::{b, i, s, Obj, State};
use std::fmt::Write;

/// Everything that should run: load balancers that are up and not in ERROR, without the
/// objects being deleted.
pub fn render_all(state: &State) -> String {
    let mut lbs: Vec<&Obj> = state
        .all("loadbalancer")
        .filter(|o| s(o, "provisioning_status") != "ERROR")
        .filter(|o| s(o, "provisioning_status") != "PENDING_DELETE")
        .collect();
    lbs.sort_by_key(|o| i(o, "_seq"));
    let mut out = String::new();
    for lb in lbs {
        out.push_str(&render_lb(state, s(lb, "id")));
    }
    out
}

/// The VIP addresses of the load balancers `render_all` runs.
pub fn vips(state: &State) -> Vec<std::net::IpAddr> {
    let mut out: Vec<std::net::IpAddr> = state
        .all("loadbalancer")
        .filter(|o| !matches!(s(o, "provisioning_status"), "ERROR" | "PENDING_DELETE"))
        .filter(|o| b(o, "admin_state_up"))
        .filter_map(|o| s(o, "vip_address").parse().ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One load balancer with a `global` section, as Octavia writes its haproxy.cfg.
/// PING monitors are external checks, which haproxy runs only with `external-check` (and
/// `insecure-fork-wanted`) in `global`, as Octavia's base template writes them.
pub fn render_standalone(state: &State, lb: &str) -> String {
    let text = render_lb(state, lb);
    let external = if text.contains("\n    option external-check\n") {
        "    external-check\n    insecure-fork-wanted\n"
    } else {
        ""
    };
    format!("# Configuration for loadbalancer {lb}\nglobal\n    maxconn 50000\n{external}\n{text}")
}

fn live(o: &Obj) -> bool {
    s(o, "provisioning_status") != "PENDING_DELETE"
}

/// The sections of one load balancer (no `global`).
pub fn render_lb(state: &State, lb_id: &str) -> String {
    let mut out = String::new();
    let Some(lb) = state.get("loadbalancer", lb_id) else {
        return out;
    };
    if !b(lb, "admin_state_up") || !live(lb) {
        return out;
    }
    let vip = s(lb, "vip_address");
    let _ = writeln!(out, "# loadbalancer {lb_id}");
    let _ = writeln!(
        out,
        "defaults\n    log global\n    retries 3\n    option redispatch\n"
    );
    for lid in state.children("listener", "loadbalancer_id", lb_id) {
        let Some(l) = state.get("listener", &lid) else {
            continue;
        };
        // UDP and SCTP listeners are LVS virtual servers (render_lvs.rs).
        if !live(l) || !b(l, "admin_state_up") || crate::render_lvs::is_l4(s(l, "protocol")) {
            continue;
        }
        out.push_str(&frontend(state, vip, l));
        let mut pools = Vec::new();
        if let Some(p) = l.get("default_pool_id").and_then(|v| v.as_str()) {
            pools.push(p.to_string());
        }
        for pid in state.children("l7policy", "listener_id", &lid) {
            if let Some(p) = state.get("l7policy", &pid) {
                let rp = s(p, "redirect_pool_id");
                if !rp.is_empty() && !pools.iter().any(|x| x == rp) {
                    pools.push(rp.to_string());
                }
            }
        }
        for pid in pools {
            if let Some(p) = state.get("pool", &pid).filter(|p| live(p)) {
                out.push_str(&backend(state, l, p));
            }
        }
    }
    out
}

fn mode(protocol: &str) -> &'static str {
    match protocol {
        "HTTP" | "TERMINATED_HTTPS" => "http",
        _ => "tcp",
    }
}

fn addr(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn frontend(state: &State, vip: &str, l: &Obj) -> String {
    let lid = s(l, "id");
    let m = mode(s(l, "protocol"));
    let mut o = String::new();
    let _ = writeln!(o, "frontend {lid}");
    let limit = i(l, "connection_limit");
    let _ = writeln!(o, "    maxconn {}", if limit < 0 { 50000 } else { limit });
    let terminated = s(l, "protocol") == "TERMINATED_HTTPS";
    if terminated {
        // Octavia writes the older `redirect scheme https if !{ ssl_fc }`; the `http-request`
        // form is the same rule (and on a bind that is TLS only the condition never holds).
        let _ = writeln!(o, "    http-request redirect scheme https if !{{ ssl_fc }}");
        let _ = writeln!(
            o,
            "    bind {} ssl crt-list {}{}",
            addr(vip, i(l, "protocol_port")),
            crate::certs::crt_list(lid).display(),
            crate::tls_refs::bind_options(l)
        );
    } else {
        let _ = writeln!(o, "    bind {}", addr(vip, i(l, "protocol_port")));
    }
    let _ = writeln!(o, "    mode {m}");
    if let Some(cidrs) = l.get("allowed_cidrs").and_then(|v| v.as_array()) {
        let list: Vec<&str> = cidrs.iter().filter_map(|c| c.as_str()).collect();
        if !list.is_empty() {
            // Octavia enforces allowed_cidrs outside haproxy (the VIP port's security group);
            // here the frontend does it: an HTTP listener denies with 403, a TCP/HTTPS one
            // rejects the connection (accepted by the API only once fulcrum runs
            // `tcp-request connection`, see checks::tcp_request_runs).
            let _ = writeln!(o, "    acl allowed-cidr src {}", list.join(" "));
            if m == "http" {
                let _ = writeln!(o, "    http-request deny if !allowed-cidr");
            } else {
                let _ = writeln!(o, "    tcp-request connection reject if !allowed-cidr");
            }
        }
    }
    if m == "http" {
        if let Some(h) = l.get("insert_headers").and_then(|v| v.as_object()) {
            if h.get("X-Forwarded-For")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                let _ = writeln!(o, "    option forwardfor");
            }
            if h.get("X-Forwarded-Proto")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                let proto = if terminated { "https" } else { "http" };
                let _ = writeln!(o, "    http-request set-header X-Forwarded-Proto {proto}");
            }
            if h.get("X-Forwarded-Port")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                let _ = writeln!(
                    o,
                    "    http-request set-header X-Forwarded-Port %[dst_port]"
                );
            }
            if terminated {
                for (name, value) in SSL_HEADERS {
                    if h.get(*name)
                        .and_then(|v| v.as_str())
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                    {
                        let _ = writeln!(o, "    http-request set-header {name} {value}");
                    }
                }
            }
        }
    }
    // Octavia applies policies by `position` (creation order among equals).
    let mut policies = state.children("l7policy", "listener_id", lid);
    policies.sort_by_key(|p| {
        state
            .get("l7policy", p)
            .map_or(i64::MAX, |o| i(o, "position"))
    });
    for pid in policies {
        if let Some(p) = state
            .get("l7policy", &pid)
            .filter(|p| live(p) && b(p, "admin_state_up"))
        {
            o.push_str(&l7policy(state, lid, p));
        }
    }
    if let Some(p) = l.get("default_pool_id").and_then(|v| v.as_str()) {
        let _ = writeln!(o, "    default_backend {p}:{lid}");
    }
    let _ = writeln!(o, "    timeout client {}", i(l, "timeout_client_data"));
    if i(l, "timeout_tcp_inspect") > 0 {
        let _ = writeln!(
            o,
            "    tcp-request inspect-delay {}",
            i(l, "timeout_tcp_inspect")
        );
    }
    o.push('\n');
    o
}

/// Octavia's X-SSL-* headers of a TERMINATED_HTTPS listener: (name, value).
pub const SSL_HEADERS: &[(&str, &str)] = &[
    ("X-SSL-Client-Verify", "%[ssl_c_verify]"),
    ("X-SSL-Client-Has-Cert", "%[ssl_c_used]"),
    ("X-SSL-Client-DN", "%{+Q}[ssl_c_s_dn]"),
    ("X-SSL-Client-CN", "%{+Q}[ssl_c_s_dn(cn)]"),
    ("X-SSL-Issuer", "%{+Q}[ssl_c_i_dn]"),
    ("X-SSL-Client-SHA1", "%{+Q}[ssl_c_sha1,hex]"),
    ("X-SSL-Client-Not-Before", "%{+Q}[ssl_c_notbefore]"),
    ("X-SSL-Client-Not-After", "%{+Q}[ssl_c_notafter]"),
];

/// `acl`s for the rules and the action, as Octavia's template writes them.
fn l7policy(state: &State, lid: &str, p: &Obj) -> String {
    let pid = s(p, "id");
    let mut o = String::new();
    let mut names = Vec::new();
    for rid in state.children("l7rule", "l7policy_id", pid) {
        let Some(r) = state
            .get("l7rule", &rid)
            .filter(|r| live(r) && b(r, "admin_state_up"))
        else {
            continue;
        };
        let Some(cond) = rule_condition(r) else {
            continue;
        };
        let name = rid.clone();
        let _ = writeln!(o, "    acl {name} {cond}");
        names.push(if b(r, "invert") {
            format!("!{name}")
        } else {
            name
        });
    }
    if names.is_empty() {
        return o;
    }
    let cond = names.join(" ");
    match s(p, "action") {
        "REJECT" => {
            let _ = writeln!(o, "    http-request deny if {cond}");
        }
        "REDIRECT_TO_URL" => {
            let code = p
                .get("redirect_http_code")
                .and_then(|v| v.as_i64())
                .unwrap_or(302);
            let _ = writeln!(
                o,
                "    http-request redirect location {} code {code} if {cond}",
                s(p, "redirect_url")
            );
        }
        "REDIRECT_PREFIX" => {
            let code = p
                .get("redirect_http_code")
                .and_then(|v| v.as_i64())
                .unwrap_or(302);
            let _ = writeln!(
                o,
                "    http-request redirect prefix {} code {code} if {cond}",
                s(p, "redirect_prefix")
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "    use_backend {}:{lid} if {cond}",
                s(p, "redirect_pool_id")
            );
        }
    }
    o
}

fn rule_condition(r: &Obj) -> Option<String> {
    let value = s(r, "value");
    let key = s(r, "key");
    let m = match s(r, "compare_type") {
        "REGEX" => "-m reg",
        "STARTS_WITH" => "-m beg",
        "ENDS_WITH" => "-m end",
        "CONTAINS" => "-m sub",
        _ => "-m str",
    };
    let fetch = match s(r, "type") {
        "HOST_NAME" => "req.hdr(host) -i".to_string(),
        "PATH" => "path".to_string(),
        "FILE_TYPE" => return Some(format!("path_end -m str .{value}")),
        "HEADER" => format!("req.hdr({key})"),
        "COOKIE" => format!("req.cook({key})"),
        _ => return None,
    };
    Some(format!("{fetch} {m} {value}"))
}

fn balance(alg: &str) -> &'static str {
    match alg {
        "LEAST_CONNECTIONS" => "leastconn",
        "SOURCE_IP" | "SOURCE_IP_PORT" => "source",
        _ => "roundrobin",
    }
}

/// Octavia's expected_codes ("200", "200,202", "200-204") as haproxy's `rstatus` regex.
pub fn expected_codes(codes: &str) -> String {
    if let Some((a, z)) = codes.split_once('-') {
        if let (Ok(a), Ok(z)) = (a.trim().parse::<u16>(), z.trim().parse::<u16>()) {
            let all: Vec<String> = (a..=z).map(|c| c.to_string()).collect();
            return all.join("|");
        }
    }
    if codes.contains(',') {
        return format!(
            "({})",
            codes
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("|")
        );
    }
    codes.trim().to_string()
}

fn backend(state: &State, l: &Obj, p: &Obj) -> String {
    let lid = s(l, "id");
    let pid = s(p, "id");
    let mut o = String::new();
    let _ = writeln!(o, "backend {pid}:{lid}");
    // A PROXY/PROXYV2 pool takes its listener's mode (Octavia's backend macro).
    let pool_mode = match s(p, "protocol") {
        "PROXY" | "PROXYV2" => mode(s(l, "protocol")),
        other => mode(other),
    };
    let _ = writeln!(o, "    mode {pool_mode}");
    let _ = writeln!(o, "    balance {}", balance(s(p, "lb_algorithm")));
    let persistence = p.get("session_persistence").and_then(|v| v.as_object());
    let ptype = persistence.map(|sp| s(sp, "type")).unwrap_or("");
    match ptype {
        "SOURCE_IP" => {
            let _ = writeln!(o, "    stick-table type ip size 10k");
            let _ = writeln!(o, "    stick on src");
        }
        "HTTP_COOKIE" => {
            let _ = writeln!(o, "    cookie SRV insert indirect nocache");
        }
        "APP_COOKIE" => {
            let name = persistence.map(|sp| s(sp, "cookie_name")).unwrap_or("");
            let _ = writeln!(o, "    stick-table type string len 64 size 10k");
            let _ = writeln!(o, "    stick store-response res.cook({name})");
            let _ = writeln!(o, "    stick match req.cook({name})");
        }
        _ => {}
    }
    let hm = state
        .children("healthmonitor", "pool_id", pid)
        .into_iter()
        .filter_map(|h| state.get("healthmonitor", &h).cloned())
        .find(|h| live(h) && b(h, "admin_state_up"));
    let mut check = String::new();
    if let Some(h) = &hm {
        let _ = writeln!(o, "    timeout check {}s", i(h, "timeout"));
        match s(h, "type") {
            "HTTP" | "HTTPS" => {
                let method = h
                    .get("http_method")
                    .and_then(|v| v.as_str())
                    .unwrap_or("GET");
                let url = h.get("url_path").and_then(|v| v.as_str()).unwrap_or("/");
                let codes = h
                    .get("expected_codes")
                    .and_then(|v| v.as_str())
                    .unwrap_or("200");
                let version = h.get("http_version").and_then(|v| v.as_f64());
                let domain = h.get("domain_name").and_then(|v| v.as_str());
                match (version, domain) {
                    (Some(1.1), Some(d)) => {
                        let _ = writeln!(
                            o,
                            "    option httpchk {method} {url} HTTP/1.1\\r\\nHost:\\ {d}"
                        );
                    }
                    (Some(v), _) => {
                        let _ = writeln!(o, "    option httpchk {method} {url} HTTP/{v:.1}\\r\\n");
                    }
                    _ => {
                        let _ = writeln!(o, "    option httpchk {method} {url}");
                    }
                }
                let _ = writeln!(o, "    http-check expect rstatus {}", expected_codes(codes));
            }
            "TLS-HELLO" => {
                let _ = writeln!(o, "    option ssl-hello-chk");
            }
            "PING" => {
                let _ = writeln!(o, "    option external-check");
                let _ = writeln!(
                    o,
                    "    external-check command {}",
                    crate::certs::ping_wrapper().display()
                );
            }
            _ => {}
        }
        let _ = write!(
            check,
            " check{} inter {}s fall {} rise {}",
            if s(h, "type") == "HTTPS" {
                " check-ssl verify none"
            } else {
                ""
            },
            i(h, "delay"),
            i(h, "max_retries_down"),
            i(h, "max_retries")
        );
    }
    let limit = i(l, "connection_limit");
    if limit >= 0 {
        let _ = writeln!(o, "    fullconn {limit}");
    }
    let _ = writeln!(o, "    option allbackups");
    let _ = writeln!(o, "    timeout connect {}", i(l, "timeout_member_connect"));
    let _ = writeln!(o, "    timeout server {}", i(l, "timeout_member_data"));
    for mid in state.children("member", "pool_id", pid) {
        let Some(m) = state.get("member", &mid).filter(|m| live(m)) else {
            continue;
        };
        let _ = write!(
            o,
            "    server {mid} {} weight {}{check}",
            addr(s(m, "address"), i(m, "protocol_port")),
            i(m, "weight")
        );
        if hm.is_some() {
            if let Some(a) = m.get("monitor_address").and_then(|v| v.as_str()) {
                let _ = write!(o, " addr {a}");
            }
            if let Some(port) = m.get("monitor_port").and_then(|v| v.as_i64()) {
                let _ = write!(o, " port {port}");
            }
        }
        if ptype == "HTTP_COOKIE" {
            let _ = write!(o, " cookie {mid}");
        }
        match s(p, "protocol") {
            "PROXY" => o.push_str(" send-proxy"),
            "PROXYV2" => o.push_str(" send-proxy-v2"),
            _ => {}
        }
        if b(m, "backup") {
            o.push_str(" backup");
        }
        if !b(m, "admin_state_up") {
            o.push_str(" disabled");
        }
        // Octavia's TLS pool: `ssl`, the pool's client certificate (`crt`), its CA
        // (`ca-file`, `crl-file`, `verify required`) or `verify none` without one, with the
        // client's SNI (`sni ssl_fc_sni`, behind a TERMINATED_HTTPS listener: elsewhere it
        // is empty, and left out).
        if b(p, "tls_enabled") {
            o.push_str(&crate::tls_refs::server_options(p));
            if s(l, "protocol") == "TERMINATED_HTTPS" {
                o.push_str(" sni ssl_fc_sni");
            }
        }
        o.push('\n');
    }
    o.push('\n');
    o
}
