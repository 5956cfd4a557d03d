//! The proxy crate's modules form layers with no import cycle, and this test keeps it so.
//!
//! Every module file under `src/` is read; its `crate::...` and `super::...` paths (outside
//! comments and `#[cfg(test)] mod` blocks) are its edges. `balance/`, `persist/` and the HTTP
//! session's files count as one module each ([`COLLAPSED`]). Each module must be placed in [`LAYERS`], and
//! may only use modules of lower layers: a new module, a new upward edge or a cycle fails here
//! with the offending edge named. Move the shared piece down (or the caller up) instead of
//! widening the table. (A parent's plain `child::Item` paths to its own submodules are not
//! edges: the parent declares them; their own `crate::`/`super::` uses are.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves: errors, clocks, counters, addresses, client streams, pure algorithms",
        &[
            "error",
            "clock",
            // An HTTP/2 connection's clock for its task's turn (std only).
            "http::h2::turn",
            "net",
            "counters",
            "stream",
            "addr",
            "inherit",
            "observe",
            "balance",
            "persist",
            "http::message",
            // What HAProxy's HTTP/1 parser tolerates, made parseable (pure bytes).
            "http::h1_relax",
            // `h1-case-adjust` names (pure bytes).
            "http::h1_case",
            // `req.body_param` and de-chunking for `req.body` (no crate uses).
            "http::body_param",
            // `userlist` credentials (Basic auth, crypt(3) hashes) for the http_auth fetches.
            "http::userlist",
            "farm::history",
            // A backend's queue in HAProxy's order (priority class, arrival + offset).
            "farm::queue",
            "termination",
            // `rate-limit sessions` (sans-IO counter, a tokio sleep).
            "rate_limit",
            // PROXY protocol v1/v2 parser and encoder (sans-IO).
            "proxy_protocol",
            // The NetScaler Client IP header (sans-IO).
            "netscaler_cip",
            "tls::der",
            "tls::sni",
            "tls::suites",
            "tls::hello",
            // The socket under a client's TLS stream, taken out while parked (tokio only).
            "tls::sock",
            // No new ticket on a TLS 1.2 resumption (a thread-local, no crate uses).
            "tls::renewal",
            // Free heap pages back to the system after a burst of connections parked.
            "trim",
            // Per-thread pools of buffers: the pool itself, the tunnels' byte buffers.
            "buf_pool",
            // `tune.http.logurilen`: the request line's capture cut (pure bytes).
            "log_uri",
            // `maxcompcpuusage`: the process's CPU use (reads /proc/self/stat).
            "cpu_usage",
            // A bind's socket options (`defer-accept`, `mss`, `interface`).
            "listener::sockets",
            // Kernel splicing between plain TCP sockets, its per-thread pipe pool.
            "splice",
            // Sends batched per runtime turn: a worker's turn task (tokio only).
            "runtime_turn",
            // `busy-polling`: a worker's task that keeps its driver polled (tokio only).
            "busy_poll",
            // Timeouts armed at a worker's tick when far (tokio only).
            "lazy_timer",
            // A connection task's two stages, the opening then the session (a future).
            "listener::stages",
        ],
    ),
    // `tls-ticket-keys` files (ring, the sample crate's base64; uses tls::renewal).
    ("ticket keys", &["tls::ticket_keys"]),
    // When a message body is spliced (uses splice; http::body uses it).
    ("body splicing", &["http::body_splice"]),
    // A client connection's facts for `so_*`/`fc_*` (uses net, proxy_protocol).
    ("client connection facts", &["front"]),
    // A bind's `maxconn` and the global accept rates (uses rate_limit); why no server
    // connection was had, with its termination flags (uses termination).
    ("accept limits, connect outcomes", &["listener::limits", "farm::outcome"]),
    // The `ssl_c_*` fetches of a client certificate (uses stream's ClientCert).
    ("client certificate fetches", &["http::ssl_client"]),
    (
        "socket options rules ask for: set-mark, set-tos (uses stream)",
        &["sockopt"],
    ),
    (
        "capture slots: `capture ... header`, `capture cookie`, `declare capture` (uses http::message)",
        &["http::capture"],
    ),
    (
        "a response the proxy makes itself: the neutral head and a body (uses http::message); the cache's Vary keys (uses http::message); the HTTP/1 head parser's fast path (fills http::message)",
        &["http::response", "http::cache_vary", "http::h1_fast"],
    ),
    (
        "HAProxy's error pages, replies and reason phrases (uses http::response); the object store of a `cache` section (sans-IO, uses http::message)",
        &["http::errors", "http::cache"],
    ),
    (
        "stick counters at run time; the process's TLS figures (on counters)",
        &[
            "track",
            "tls::totals",
            // Content inspection's fetches on received bytes (uses tls::hello, http::message).
            "payload",
        ],
    ),
    // The runtime socket's `show/set/clear table` (uses track, persist).
    // ... and the global `set-var proc.NAME` (uses track's process variables).
    ("stick-table commands", &["track_cli", "proc_vars"]),
    (
        "recording, servers, logs, sockets, ACLs, HTTP framing",
        &[
            "record",
            "server",
            // `slowstart`, `maxqueue`, `redir`, `on-marked-down` state (uses balance, clock).
            "server::limits",
            "log",
            "handover",
            "sockpair",
            "bind",
            // The HTTP/1 codec over the neutral head (`http::message`).
            "http::h1",
            // Per-thread pool of transaction buffers (uses http::message).
            "http::bufs",
            // Idle keep-alive connections parked without a task of their own (its tests use
            // stream).
            "park",
            "http::body",
            "http::headers",
            // HAProxy's acceptance checks of a request head (uses http::message).
            "http::validate",
            // `option http-restrict-req-hdr-names` (uses http::message).
            "http::hdr_names",
            // `option checkcache` (uses http::message).
            "http::checkcache",
            // `http-send-name-header` (uses http::message).
            "http::send_name",
            // `errorloc*` / `http-error` pages (uses http::errors).
            "http::error_reply",
            // `option originalto` (uses http::message, net).
            "http::originalto",
            // On main since the sample-language merge (uses http::message, net).
            "http::sample_env",
            "http::rewrite",
            // HAProxy's `%B` accounting (uses http::message).
            "http::log_bytes",
            // `set-src` and its siblings (uses the sample crate only).
            "http::set_addr",
            // What the cache stores and serves (uses http::message).
            "http::cache_policy",
            "tunnel",
            // The replicated stick tables' hubs (uses persist).
            "stick_sync",
            // The opening of a TCP session (client bytes kept until the server answers).
            "opening",
            // Reading a PROXY header off an accepted connection (`accept-proxy`).
            "accept_proxy",
            // TLS: certificate files, crt-lists, the connection type, the acceptor.
            "tls::certs",
            "tls::crtlist",
            "tls::conn",
            // HTTP/2 connections to servers, shared by sessions (h2 crate only).
            "connect::h2",
            // HTTP/2 header maps recycled per thread (http crate only).
            "http::h2::maps",
            // The per-thread blocks HTTP/2 heads sent cut their values from (bytes only).
            "http::h2::values",
            // An HTTP/2 connection's streams' deadlines on one timer; its set of streams
            // in recycled boxes (tokio, futures only).
            "http::h2::deadlines",
            "http::h2::streams",
            // The SOCKS4 request to a server's `socks4` proxy (tokio only).
            "socks4",
        ],
    ),
    // A generation's "end now" signal: `hard-stop-after`, `mworker-max-reloads` (uses park).
    ("ending a generation's connections", &["end"]),
    (
        "conditions: ACLs on the sample engine; variable actions; certificates by name",
        // tls::store: the runtime socket's `ssl cert` registry (uses tls::certs).
        // http::h2::convert: pure HTTP/2 <-> HTTP/1 heads (uses http::h1, http::message).
        // tls::x509_store: OpenSSL's store order and CRL text (uses tls::der).
        &["acl", "vars", "tls::store", "http::h2::convert", "tls::x509_store"],
    ),
    (
        "CA and CRL files by name (uses tls::store, tls::x509_store)",
        &["tls::cafiles"],
    ),
    (
        "the rustls settings of a certificate on a bind (uses tls::store, tls::cafiles); the stores' tests",
        &["tls::server_config", "tls::store::tests", "tls::cafiles::tests"],
    ),
    (
        "server connections, applets, log lines",
        &[
            "connect",
            "applet",
            "logline",
            "tcp_rules",
            "tls::acceptor",
            // Response compression (uses http::body, http::message).
            "http::compress",
            // HTTP/2 DATA frames <-> HTTP/1 body bytes, both codecs (uses http::h2::convert).
            "http::h2::frames",
            // One request's cache-use/cache-store (uses http::cache, http::cache_policy).
            "http::cache_flow",
            // `monitor-uri` / `monitor fail` (uses acl).
            "http::monitor",
            // `use-server`, `force-persist`, `ignore-persist` (uses acl).
            "http::server_rules",
        ],
    ),
    (
        "the `%` variables of a log line (uses logline, http::capture, http::sample_env)",
        &["log_vars"],
    ),
    (
        "HTTP rules, log-format lines, unique-id-format ids; the HTTP/2 stream as a session's client",
        &[
            "http::rules",
            "log_format",
            "http::unique_id",
            // A request's log facts for its rule values (uses log_vars, logline).
            "rule_facts",
            "http::h2::edge",
            // The TCP content-inspection phase (uses payload, stream).
            "tcp_inspect",
            // HTTP/2 to servers: heads and bodies (uses http::h2::convert, http::message).
            "http::h2::upstream",
        ],
    ),
    (
        "HTTP rules; TLS to servers; the runtime socket's crt-lists (uses tls::acceptor)",
        &["http::rules", "tls::connector", "tls::crtlists"],
    ),
    (
        "server farm (no HTTP), idle pools, the backend's HTTP policy, TLS by listening address",
        &["pool", "farm", "http::policy", "tls"],
    ),
    (
        "backend: farm + HTTP policy; the farm's persistence hooks and admin API",
        &[
            "backend",
            "farm::persistence",
            "farm::admin",
            "farm::retry",
            "farm::group",
            // slow-start rebuilds, a server's own queue (`maxqueue`), `redir` (uses farm)
            "farm::limits",
        ],
    ),
    (
        "compiled configuration, HTTP persistence",
        &["state", "http::persist"],
    ),
    (
        "where a stream is, for the sample language (uses state)",
        &["place"],
    ),
    (
        "the log line of a connection that failed before a request (uses state, log_format)",
        &["log_error"],
    ),
    (
        "routing, TLS handshakes; a server's `sni EXPR` on the request (uses http::sample_env)",
        &["route", "tls::handshake", "http::server_sni"],
    ),
    (
        "the stick rules of a TCP session (uses place, http::persist, tcp_inspect)",
        &["tcp_stick"],
    ),
    (
        "a TCP stream made HTTP, handed from the TCP session to the HTTP one (uses counters)",
        &["switch_mode"],
    ),
    ("TCP sessions", &["tcp"]),
    ("HTTP sessions", &["http::session"]),
    (
        "HTTP/2 connections: each stream one HTTP session",
        &[
            "http::h2::transaction",
            "http::h2",
            "http::h2::edge::tests",
            "http::h2::upstream::tests",
            "http::cache::tests",
            "rule_facts::tests",
        ],
    ),
    // The HTTP/2 stream future's size guard (a test: uses http::h2::transaction).
    ("HTTP/2 size guards", &["http::h2::size_tests"]),
    // An HTTP/2 connection's answers written by batch (a test: uses http::h2).
    ("HTTP/2 write batches", &["http::h2::batch_tests"]),
    ("accepting connections", &["listener", "listener::connection"]),
    // Clients waiting in the backlog accepted in one turn (a test: uses listener).
    ("accept batches", &["listener::accept_tests"]),
    ("worker threads, reloads", &["runtime"]),
    ("crate root", &["lib", "http"]),
    // The fuzz targets' entries (parsers fed from outside; fuzz/ and tests/fuzz_replay.rs).
    ("fuzz entries", &["fuzzing"]),
];

/// Module trees that count as one module: pure sub-libraries, the HTTP session with its
/// phase files (`http/session/*.rs` are methods of the session), the TCP session with its
/// own (`tcp/*.rs`), and the compiled
/// configuration with the files that build its parts (`state/*.rs`).
const COLLAPSED: &[&str] = &[
    "balance",
    "park",
    "persist",
    "counters",
    "http::session",
    "state",
    "http::rules",
    "server",
    "http::sample_env",
    "http::body",
    "runtime",
    "track",
    "splice",
    // The TCP session with its phase files (`tcp/exchange.rs`, its log facts, size guard).
    "tcp",
];

/// Module name of a file relative to `src/` (`http/session.rs` → `http::session`).
fn module_name(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        return "lib".into();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)] mod` blocks (which
/// stand at the end of a file).
fn code(text: &str) -> String {
    let mut end = text.len();
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        let after = after
            .strip_prefix("pub(crate) ")
            .or_else(|| after.strip_prefix("pub "))
            .unwrap_or(after);
        if after.starts_with("mod ") {
            end = at;
            break;
        }
        from = at + 1;
    }
    let text = &text[..end];
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn idents_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        let after = &rest[i + prefix.len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
            .unwrap_or(after.len());
        out.push(&after[..end]);
    }
    out
}

/// The module (among `modules`) a path such as `a::b::Item` names: its longest module prefix,
/// or the crate root.
fn resolve(modules: &BTreeSet<String>, path: &str) -> String {
    let path = path.split('{').next().unwrap_or("").trim_end_matches(':');
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    for n in (1..=parts.len()).rev() {
        let cand = parts[..n].join("::");
        if modules.contains(&cand) {
            return cand;
        }
    }
    "lib".into()
}

fn node(m: &str) -> String {
    for c in COLLAPSED {
        if m == *c || m.starts_with(&format!("{c}::")) {
            return c.to_string();
        }
    }
    m.to_string()
}

/// Module → modules it uses, from (module name, is `mod.rs`, source) triples.
fn edges(files: &[(String, bool, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = files.iter().map(|f| f.0.clone()).collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, is_mod, text) in files {
        let code = code(text);
        let mut used = BTreeSet::new();
        for p in idents_after(&code, "crate::") {
            used.insert(resolve(&modules, p));
        }
        // `super::` from `a/b.rs` is `a`; from `a/b/mod.rs` it is also `a`.
        let _ = is_mod;
        let parent = m.rsplit_once("::").map_or("", |(p, _)| p);
        for p in idents_after(&code, "super::") {
            let full = if parent.is_empty() {
                p.to_string()
            } else {
                format!("{parent}::{p}")
            };
            used.insert(if p.starts_with('{') || p.is_empty() {
                if parent.is_empty() {
                    "lib".into()
                } else {
                    parent.to_string()
                }
            } else {
                resolve(&modules, &full)
            });
        }
        let from = node(m);
        let entry = out.entry(from.clone()).or_default();
        for u in used {
            let to = node(&u);
            if to != from {
                entry.insert(to);
            }
        }
    }
    out
}

/// Every violation: unplaced modules, edges that do not go down a layer.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let layer = |m: &str| LAYERS.iter().position(|(_, ms)| ms.contains(&m));
    let mut out = Vec::new();
    for (from, tos) in graph {
        let Some(lf) = layer(from) else {
            out.push(format!(
                "module `{from}` is in no layer: place it in LAYERS"
            ));
            continue;
        };
        for to in tos {
            match layer(to) {
                None => out.push(format!("module `{to}` (used by `{from}`) is in no layer")),
                Some(lt) if lt >= lf => out.push(format!(
                    "`{from}` ({}) uses `{to}` ({}): a module may only use lower layers",
                    LAYERS[lf].0, LAYERS[lt].0
                )),
                Some(_) => {}
            }
        }
    }
    out
}

fn read_src(dir: &Path, root: &Path, out: &mut Vec<(String, bool, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_src(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(root).expect("under src");
            let text = std::fs::read_to_string(&p).expect("read module");
            let is_mod = p.file_name().is_some_and(|n| n == "mod.rs");
            out.push((module_name(rel), is_mod, text));
        }
    }
}

#[test]
fn modules_form_layers_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_src(&root, &root, &mut files);
    let graph = edges(&files);
    // Not vacuous: the parser sees the edges everyone knows are there.
    let has = |a: &str, b: &str| graph.get(a).is_some_and(|t| t.contains(b));
    assert!(
        has("backend", "farm") && has("backend", "http::policy"),
        "{graph:#?}"
    );
    assert!(
        has("http::session", "state") && has("runtime", "listener"),
        "{graph:#?}"
    );
    assert!(has("balance", "server") || graph.contains_key("balance"));
    assert!(
        graph.values().map(BTreeSet::len).sum::<usize>() > 40,
        "{graph:#?}"
    );
    let bad = violations(&graph);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The server farm never imports HTTP, and nothing below the sessions imports them.
    let farm = &graph["farm"];
    assert!(
        farm.iter().all(|m| !m.starts_with("http")),
        "farm uses {farm:?}"
    );
}

#[test]
fn a_cycle_or_an_upward_edge_is_reported() {
    let f = |m: &str, text: &str| (m.to_string(), false, text.to_string());
    // `farm` using the HTTP session: upward. `addr` using `bind`: same-layer cycle material.
    let files = vec![
        f("farm", "use crate::http::session::Session;\nuse crate::server::ServerRt;"),
        f("http::session", "use crate::farm::Farm;"),
        f("server", "// use crate::farm::Farm; (a comment is no edge)\n#[cfg(test)]\npub(crate) mod t { use crate::farm::Farm; }"),
        f("addr", "fn f() { crate::bind::open(); }"),
        f("bind", "use crate::addr::ListenKey;"),
        f("newmod", "use crate::addr::ListenKey;"),
    ];
    let graph = edges(&files);
    assert!(graph["server"].is_empty(), "{graph:?}");
    let bad = violations(&graph);
    let joined = bad.join("\n");
    assert!(joined.contains("`farm` (server farm"), "{joined}");
    assert!(joined.contains("uses `http::session`"), "{joined}");
    assert!(joined.contains("`addr` (leaves"), "{joined}");
    assert!(
        joined.contains("module `newmod` is in no layer"),
        "{joined}"
    );
    assert!(
        !joined.contains("`http::session` (HTTP sessions) uses `farm`"),
        "{joined}"
    );
}
