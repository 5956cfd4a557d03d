//! Unit tests of `runtime`.

use super::*;

#[test]
fn listeners_are_numbered_as_haproxy_numbers_them() {
    let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "t",
        text: "defaults\n  mode http\nfrontend f\n  bind abns@a\n  bind unix@/x.sock id 2\n  bind 127.0.0.1:80-81\nfrontend g\n  bind /y.sock\n",
    }])
    .config;
    let w = wanted(&cfg).expect("wanted");
    let ids: Vec<(String, u16)> = w.iter().map(|w| (w.key.to_string(), w.id)).collect();
    assert_eq!(
        ids,
        [
            ("abns@a (padded)".to_string(), 1),
            ("abns@a".to_string(), 1),
            ("unix@/x.sock".to_string(), 2),
            ("127.0.0.1:80".to_string(), 3),
            ("127.0.0.1:81".to_string(), 4),
            ("unix@/y.sock".to_string(), 1),
        ]
    );
}
