//! The keepalived parser never panics, whatever it is fed: text built from real keywords,
//! braces, quotes, comments, numbers, addresses and junk; the real test configs with random
//! deletions, insertions and truncations; and plain arbitrary strings.

use fulcrum_config::keepalived::Parser;
use fulcrum_config::Diagnostics;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "virtual_server",
    "real_server",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "url",
    "path",
    "status_code",
    "digest",
    "state",
    "MASTER",
    "BACKUP",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "authentication",
    "auth_type",
    "auth_pass",
    "PASS",
    "AH",
    "virtual_ipaddress",
    "unicast_peer",
    "unicast_src_ip",
    "track_script",
    "track_interface",
    "weight",
    "group",
    "fwmark",
    "lb_algo",
    "lb_kind",
    "nb_get_retry",
    "nat_mask",
    "persistence_timeout",
    "protocol",
    "TCP",
    "sorry_server",
    "misc_path",
    "misc_timeout",
    "delay_loop",
    "connect_port",
    "notify_master",
    "script",
    "interval",
    "dev",
    "label",
    "brd",
    "scope",
    "{",
    "}",
    "{ }",
    "\"",
    "\"quoted words\"",
    "#",
    "!",
    "\n",
    "\n",
    "\n",
    " ",
    "0",
    "1",
    "255",
    "256",
    "-1",
    "0.1",
    "40.96",
    "99999999999999999999",
    "10.99.0.1",
    "10.99.0.1/24",
    "2001:db8::1",
    "2001:db8::1/129",
    "300",
    "65536",
    "200-299",
    "ü",
    "\t",
    "\r",
    "include",
    "include /nonexistent-fulcrum-dir/*.conf",
    "VI_1",
    "chk",
    "$X=",
    "$X= \\\n",
    "${X}",
    "$X",
    "@main",
    "@^main",
    "\\",
    "${_PWD}",
    "${_HASH}",
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

/// The real configs of `keepalived_cases/`, to mutate.
fn case_texts() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keepalived_cases");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    out.sort();
    assert!(out.len() >= 20, "expected the case files");
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, piece: String },
    Truncate { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), piece()).prop_map(|(at, piece)| Edit::Insert { at, piece }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match e {
            Edit::Delete { at, len } => {
                let start = at % n;
                let end = (start + len).min(chars.len());
                if start < end {
                    chars.drain(start..end);
                }
            }
            Edit::Insert { at, piece } => {
                let at = (at % n).min(chars.len());
                chars.splice(at..at, piece.chars());
            }
            Edit::Truncate { at } => chars.truncate(at % n),
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_keyword_soup(pieces in prop::collection::vec(piece(), 0..120)) {
        run(&pieces.join(" "));
    }

    #[test]
    fn never_panics_on_mutated_real_configs(which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..8)) {
        let texts = case_texts();
        run(&apply(&texts[which.index(texts.len())], &edits));
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        run(&text);
    }
}
