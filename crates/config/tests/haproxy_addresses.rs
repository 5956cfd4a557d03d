//! Server address forms (`unix@`, `/PATH`, `abns@`, `ipv4@`, `ipv6@`), `source` in proxies and
//! on server lines, and the `peers`/`resolvers` sections fulcrum checks but does not run:
//! exact FILE:LINE messages as `fulcrum check` prints them.

use fulcrum_config::model::{BindAddress, ServerPort, UnixAddress};
use fulcrum_config::{load_sources, Loaded, Source};
use std::net::SocketAddr;

fn load(text: &str) -> Loaded {
    load_sources(&[Source {
        name: "t.cfg",
        text,
    }])
}

fn errors(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect()
}

fn warnings(text: &str) -> Vec<String> {
    load(text)
        .diagnostics
        .warnings()
        .map(|d| d.to_string())
        .collect()
}

const HEAD: &str =
    "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n";

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("literal")
}

#[test]
fn unix_abns_and_tcp_prefixed_servers_and_binds() {
    let l = load(&format!(
        "{HEAD}backend b\n server u unix@/run/app.sock\n server p /run/p.sock check\n server a abns@app\n server v4 ipv4@127.0.0.1:80\n server v6 ipv6@::1:81\n server t tcp@127.0.0.1:82\n server t4 tcp4@127.0.0.1:83 source tcp4@127.0.0.2\n server t6 tcp6@[::1]:84\nfrontend f\n bind tcp@127.0.0.1:8080\n bind tcp4@:8081\n bind tcp6@[::1]:8082\n default_backend b\n"
    ));
    assert!(
        l.is_ok(),
        "{:#?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let s = &l.config.proxy("b").expect("b").servers;
    assert_eq!(
        s[0].address.unix,
        Some(UnixAddress::Path("/run/app.sock".into()))
    );
    assert_eq!(
        s[1].address.unix,
        Some(UnixAddress::Path("/run/p.sock".into()))
    );
    assert_eq!(s[2].address.unix, Some(UnixAddress::Abns("app".into())));
    assert_eq!(s[2].address.host, "abns@app");
    assert_eq!(
        (
            s[3].address.unix.as_ref(),
            s[3].address.ip,
            s[3].address.port
        ),
        (
            None,
            Some("127.0.0.1".parse().expect("ip")),
            ServerPort::Fixed(80)
        )
    );
    assert_eq!(
        (s[4].address.ip, s[4].address.port),
        (Some("::1".parse().expect("ip")), ServerPort::Fixed(81))
    );
    assert_eq!(
        (s[5].address.ip, s[5].address.port),
        (
            Some("127.0.0.1".parse().expect("ip")),
            ServerPort::Fixed(82)
        )
    );
    assert_eq!(
        (s[6].address.port, s[6].source),
        (ServerPort::Fixed(83), Some(sa("127.0.0.2:0")))
    );
    assert_eq!(
        (s[7].address.ip, s[7].address.port),
        (Some("::1".parse().expect("ip")), ServerPort::Fixed(84))
    );
    let b = &l.config.proxy("f").expect("f").binds;
    assert_eq!(
        (b[0].port_first, b[1].address.clone(), b[2].port_first),
        (8080, BindAddress::AnyV4, 8082)
    );
    assert_eq!(b[2].address, BindAddress::Ip("::1".parse().expect("ip")));
}

#[test]
fn server_address_errors() {
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server u unix@\n")),
        vec!["t.cfg:7: error: missing path in server address 'unix@' (expected unix@/PATH)"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a abns@\n")),
        vec!["t.cfg:7: error: missing name in server address 'abns@' (expected abns@NAME)"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a udp@127.0.0.1:80\n")),
        vec!["t.cfg:7: error: server address 'udp@127.0.0.1:80': address family 'udp@' cannot reach a server (expected HOST:PORT, ipv4@, ipv6@, tcp@, unix@PATH, /PATH or abns@NAME)"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a sockpair@3\n")),
        vec!["t.cfg:7: error: server address 'sockpair@3': passing connections over a socket pair (sockpair@) is not supported by fulcrum yet"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a tcp6@127.0.0.1:80\n")),
        vec!["t.cfg:7: error: server address 'tcp6@127.0.0.1:80': address '127.0.0.1' does not match its family prefix"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a ipv4@::1:80\n")),
        vec!["t.cfg:7: error: server address 'ipv4@::1:80': address '::1' does not match its family prefix"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server a unix@${{FULCRUM_H1B_UNDEFINED}}\n")),
        vec!["t.cfg:7: error: environment variable 'FULCRUM_H1B_UNDEFINED' used in address 'unix@${FULCRUM_H1B_UNDEFINED}' is not defined"]
    );
}

#[test]
fn source_in_defaults_backend_and_server() {
    let l = load(&format!(
        "{HEAD} source 127.0.0.2\nbackend b\n server s1 127.0.0.1:80\n server s2 127.0.0.1:81 source 127.0.0.3:2000 check\nbackend c\n source ipv6@::1\n server s 127.0.0.1:80\n server t 127.0.0.1:80 source [::1]:7000\nbackend d\n default-server source 127.0.0.6 check\n server s 127.0.0.1:80\n"
    ));
    assert!(
        l.is_ok(),
        "{:#?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let b = l.config.proxy("b").expect("b");
    assert_eq!(b.source, Some(sa("127.0.0.2:0")));
    assert_eq!(b.server_source(&b.servers[0]), Some(sa("127.0.0.2:0")));
    assert_eq!(b.server_source(&b.servers[1]), Some(sa("127.0.0.3:2000")));
    assert!(b.servers[1].check, "the option after source is read");
    let c = l.config.proxy("c").expect("c");
    assert_eq!(c.server_source(&c.servers[0]), Some(sa("[::1]:0")));
    assert_eq!(c.server_source(&c.servers[1]), Some(sa("[::1]:7000")));
    let d = l.config.proxy("d").expect("d");
    assert_eq!(
        (d.server_source(&d.servers[0]), d.servers[0].check),
        (Some(sa("127.0.0.6:0")), true),
        "default-server source"
    );
}

#[test]
fn source_errors() {
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source 0.0.0.0 usesrc clientip\n server s 127.0.0.1:80\n")),
        vec!["t.cfg:7: error: 'source ... usesrc clientip' (transparent proxying: connecting from the client's address) is not supported by fulcrum yet"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server s 127.0.0.1:80 source 0.0.0.0 usesrc client\n")),
        vec!["t.cfg:7: error: 'source ... usesrc client' (transparent proxying: connecting from the client's address) is not supported by fulcrum yet"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source 127.0.0.2 interface eth0\n")),
        vec!["t.cfg:7: error: 'source ... interface eth0' (binding to a network device) is not supported by fulcrum yet"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source foo\n")),
        vec!["t.cfg:7: error: 'source foo': invalid address 'foo' (expected an IPv4 or IPv6 address)"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source\n")),
        vec!["t.cfg:7: error: 'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source 127.0.0.2 foo\n")),
        vec!["t.cfg:7: error: 'source' only supports optional keywords 'interface' and 'usesrc', found 'foo'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source 127.0.0.2:1-2\n")),
        vec!["t.cfg:7: error: 'source 127.0.0.2:1-2': port range not permitted here (only on a server line)"]
    );
    assert_eq!(
        errors(&format!(
            "{HEAD}backend b\n server s 127.0.0.1:80 source 127.0.0.2:5-4\n"
        )),
        vec!["t.cfg:7: error: 'source 127.0.0.2:5-4': invalid port range '5-4'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n server s 127.0.0.1:80 source 127.0.0.2:1024-2048\n")),
        vec!["t.cfg:7: error: 'source 127.0.0.2:1024-2048': a source port range is not supported by fulcrum yet (write one port, or none)"]
    );
    assert_eq!(
        errors(&format!("{HEAD}backend b\n source ${{FULCRUM_H1B_UNDEFINED}}\n")),
        vec!["t.cfg:7: error: environment variable 'FULCRUM_H1B_UNDEFINED' used in address '${FULCRUM_H1B_UNDEFINED}' is not defined"]
    );
    // A frontend has no servers: HAProxy ignores it there with a warning, so does fulcrum.
    let w = warnings(&format!("{HEAD}frontend f\n bind :80\n source 127.0.0.2\n"));
    assert!(
        w.iter()
            .any(|w| w
                == "t.cfg:8: warning: 'source' is not allowed in a 'frontend' section; ignored"),
        "{w:?}"
    );
}

#[test]
fn peers_run_and_resolvers_are_checked_but_not_run() {
    let text = "global\n localpeer a\npeers mypeers\n peer a 127.0.0.1:10000\n server d ipv6@::1:10001\n peer e [::1]:10002\nresolvers dns\n nameserver n1 127.0.0.1:53\n nameserver n2 udp@[::1]:53\n nameserver n3 tcp@127.0.0.1:53\n hold valid 10s\n";
    let l = load(text);
    assert!(
        l.is_ok(),
        "{:#?}",
        l.diagnostics.errors().collect::<Vec<_>>()
    );
    let p = &l.config.peers[0];
    assert_eq!(p.name, "mypeers");
    let names: Vec<_> = p.peers.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["a", "d", "e"]);
    assert_eq!(p.peers[1].address, Some("[::1]:10001".parse().unwrap()));
    let w = warnings(text);
    assert!(
        !w.iter().any(|w| w.contains("peers")),
        "a peers section is run, not warned about: {w:?}"
    );
    assert!(
        w.contains(&"t.cfg:7: warning: section 'resolvers dns' is not run by fulcrum yet (server names are resolved once at start); its addresses are checked, the rest is ignored".to_string()),
        "{w:?}"
    );
    // No peer is this node (HAProxy removes such a section with a warning): not run.
    let text = "global\n localpeer z\npeers mypeers\n peer a 127.0.0.1:10000\n\
                backend b\n stick-table type ip size 1k peers mypeers\n stick on src\n server s 127.0.0.1:80\n";
    let l = load(text);
    let b = l.config.backend("b").unwrap();
    assert!(l
        .config
        .stick_peers(b.stick_table.as_ref().unwrap())
        .is_none());
    let l = load(&text.replace("localpeer z", "localpeer a"));
    let b = l.config.backend("b").unwrap();
    assert!(l
        .config
        .stick_peers(b.stick_table.as_ref().unwrap())
        .is_some());
    let w: Vec<String> = warnings(text)
        .into_iter()
        .filter(|w| w.contains("peers"))
        .collect();
    assert_eq!(
        w,
        ["t.cfg:3: warning: peers section 'mypeers' has no peer named 'z' (this node: global 'localpeer', else the cluster's 'node', else the host name): its stick tables are not replicated"]
    );
}

#[test]
fn peers_section_tables_are_named_section_slash_table() {
    let l = load("global\n localpeer a\npeers p\n peer a 127.0.0.1:10000\n table t type string len 16 size 1k expire 1m store http_req_cnt\ndefaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\nbackend b\n stick on req.cook(c) table p/t\n http-request track-sc0 src table p/t\n server s 127.0.0.1:80\n");
    let t = l
        .config
        .table_named("p/t")
        .expect("the peers section's table");
    assert_eq!(t.len, Some(16));
    assert_eq!(t.peers.as_deref(), Some("p"));
    assert!(l.config.table_named("t").is_none());
    let e = errors("peers p\n peer a 127.0.0.1:10000\n table t type ip size 1k\n table t type ip size 1k\n table u type ip size 1k peers p\n");
    assert_eq!(
        e,
        vec![
            "t.cfg:4: error: peers 'p': table 't' is defined twice".to_string(),
            "t.cfg:5: error: table 'u': 'peers' is not allowed in a peers section's table (it is replicated by its own section)".to_string(),
        ]
    );
}

#[test]
fn peer_and_nameserver_address_errors() {
    let e = errors(
        "peers p\n peer a ${FULCRUM_H1B_UNDEFINED}:10000\n peer b 127.0.0.1:99999\n peer c 127.0.0.1:1000-1002\n peer d unix@/run/p.sock\n bind unix@\n peer f\n shards 2\n peer g 127.0.0.1:1 shard 1\n peer h 127.0.0.1:2\n peer h 127.0.0.1:3\nresolvers r\n nameserver n1 ${FULCRUM_H1B_UNDEFINED}:53\n nameserver n2 127.0.0.1\n nameserver n3 unix@/x\n nameserver n4 bad!host:53\n nameserver n5\n",
    );
    let ip_only = "fulcrum's peers take an IP address and a port (such as 10.0.0.2:10000); host names, UNIX sockets and port ranges are not supported";
    assert_eq!(
        e,
        vec![
            "t.cfg:2: error: environment variable 'FULCRUM_H1B_UNDEFINED' used in address '${FULCRUM_H1B_UNDEFINED}:10000' is not defined".to_string(),
            format!("t.cfg:3: error: peer address '127.0.0.1:99999': {ip_only}"),
            format!("t.cfg:4: error: peer address '127.0.0.1:1000-1002': {ip_only}"),
            format!("t.cfg:5: error: peer address 'unix@/run/p.sock': {ip_only}"),
            format!("t.cfg:6: error: peers bind address 'unix@': {ip_only}"),
            "t.cfg:7: error: 'peer f' expects an address such as 10.0.0.2:10000 (the local peer's too: it listens there)".to_string(),
            "t.cfg:8: error: 'shards' in a peers section is not run by fulcrum (supported: 'peer NAME IP:PORT', 'bind IP:PORT', 'server NAME [IP:PORT]', 'table NAME ...')".to_string(),
            "t.cfg:9: error: 'peer g': option 'shard' is not run by fulcrum's peers (no TLS, no shards): only 'peer NAME IP:PORT' is".to_string(),
            "t.cfg:11: error: peer 'h' is already defined in peers 'p' (at t.cfg:10)".to_string(),
            "t.cfg:13: error: environment variable 'FULCRUM_H1B_UNDEFINED' used in address '${FULCRUM_H1B_UNDEFINED}:53' is not defined".to_string(),
            "t.cfg:14: error: nameserver address '127.0.0.1': missing port (expected ADDRESS:PORT such as 10.0.0.53:53)".to_string(),
            "t.cfg:15: error: nameserver address 'unix@/x': a nameserver is reached over IP (expected ADDRESS:PORT)".to_string(),
            "t.cfg:16: error: invalid host 'bad!host' in nameserver address 'bad!host:53' (expected an IP address or a DNS name)".to_string(),
            "t.cfg:17: error: 'nameserver n5' expects an address such as 10.0.0.53:53".to_string(),
        ]
    );
}

#[test]
fn stick_tables_name_a_defined_peers_section() {
    let e = errors(
        "defaults\n mode tcp\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
         peers mine\n bind 127.0.0.1:10000\n server me\n server other 127.0.0.2:10000\n\
         backend b\n stick-table type ip size 1k peers mine\n stick on src\n server s 127.0.0.1:80\n\
         backend c\n stick-table type ip size 1k peers theirs\n stick on src\n server s 127.0.0.1:80\n\
         peers empty\n",
    );
    assert_eq!(
        e,
        vec![
            "t.cfg:18: error: peers section 'empty' has no peer (expected 'peer NAME IP:PORT' lines)",
            "t.cfg:15: error: stick-table in backend 'c' names peers 'theirs' but no 'peers theirs' section is defined",
        ]
    );
    let e = errors("peers p\n server me\n server you\n peer x 127.0.0.1:1\n");
    assert_eq!(
        e,
        vec![
            "t.cfg:2: error: 'server me' has no address and peers section 'p' has no 'bind IP:PORT': the local peer needs one of them",
            "t.cfg:3: error: 'server you' has no address and peers section 'p' has no 'bind IP:PORT': the local peer needs one of them",
            "t.cfg:1: error: peers section 'p' has more than one 'server' without an address (only the local peer has none)",
        ]
    );
}
