//! The keepalived parser never panics, whatever it is fed: text built from real keywords,
//! braces, quotes, comments, numbers, addresses and junk, and plain arbitrary strings.

use fulcrum_config::keepalived::Parser;
use fulcrum_config::Diagnostics;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group", "virtual_server", "real_server",
    "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "url", "path", "status_code", "digest",
    "state", "MASTER", "BACKUP", "interface", "virtual_router_id", "priority", "advert_int", "version",
    "authentication", "auth_type", "auth_pass", "PASS", "AH", "virtual_ipaddress", "unicast_peer",
    "unicast_src_ip", "track_script", "track_interface", "weight", "group", "fwmark", "lb_algo",
    "lb_kind", "nb_get_retry", "nat_mask", "persistence_timeout", "protocol", "TCP", "sorry_server",
    "misc_path", "misc_timeout", "delay_loop", "connect_port", "notify_master", "script", "interval",
    "dev", "label", "brd", "scope", "{", "}", "{ }", "\"", "\"quoted words\"", "#", "!", "\n", "\n", "\n",
    " ", "0", "1", "255", "256", "-1", "0.1", "40.96", "99999999999999999999", "10.99.0.1",
    "10.99.0.1/24", "2001:db8::1", "2001:db8::1/129", "300", "65536", "200-299", "ü", "\t", "\r",
    "include", "include /nonexistent-fulcrum-dir/*.conf", "VI_1", "chk",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(PIECES).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
    ]
}

fn run(text: &str) {
    let mut d = Diagnostics::new();
    let mut p = Parser::new();
    // A directory that does not exist: no `include` in generated text can reach real files.
    p.parse_file("/nonexistent-fulcrum-dir/prop.conf", text, &mut d);
    p.parse_file("/nonexistent-fulcrum-dir/prop2.conf", text, &mut d);
    let _ = p.finish(&mut d);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_keyword_soup(pieces in prop::collection::vec(piece(), 0..120)) {
        run(&pieces.join(" "));
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        run(&text);
    }
}
