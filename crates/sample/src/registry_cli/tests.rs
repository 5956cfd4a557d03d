//! Unit tests of `registry_cli`.

use super::payload_lines;
use crate::expr::{compile_with, Compiler};
use crate::registry::{self, Registry};
use crate::value::Value;
use std::sync::Arc;

#[test]
fn add_map_payload_reads_as_haproxy_2_6() {
    assert_eq!(
        payload_lines("b.com be2\nc.com   be3 x\n"),
        (
            vec![
                ("b.com".into(), "be2".into()),
                ("c.com".into(), "be3 x".into())
            ],
            None
        )
    );
    // a newline does not end a key
    assert_eq!(
        payload_lines("d.com\ne.com be5\n"),
        (vec![("d.com\ne.com".into(), "be5".into())], None)
    );
    assert_eq!(payload_lines(""), (vec![], Some("\n".into())));
    assert_eq!(
        payload_lines("a 1\nlonely\n"),
        (vec![("a".into(), "1".into())], Some("lonely".into()))
    );
}

#[test]
fn one_table_per_file_changed_for_every_user() {
    let dir = std::env::temp_dir().join(format!("fulcrum-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("hosts.map");
    std::fs::write(&file, "a.com be_a\n# comment\nb.com be_b\n").expect("map");
    let f = file.display().to_string();
    let reg = Arc::new(Registry::default());
    let file_name: Arc<str> = "h.cfg".into();
    let (str_map, beg_map, acl) = registry::scope(&reg, || {
        let _at = registry::at(&file_name, 12);
        let s =
            compile_with(&format!("str(x),map({f},none)"), &mut Compiler::default()).expect("map");
        let _at = registry::at(&file_name, 20);
        let b = compile_with(&format!("str(x),map_beg({f})"), &mut Compiler::default())
            .expect("map_beg");
        let _at = registry::at(&file_name, 30);
        let words: Vec<String> = ["req.hdr(host)", "-f", &f]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = crate::acl::compile(&words, &mut Compiler::default()).expect("acl");
        (s, b, a)
    });
    reg.number();
    let map_of = |e: &crate::Expr| e.convs.last().and_then(|c| c.map.clone()).expect("map");
    let (s, b) = (map_of(&str_map), map_of(&beg_map));
    let look = |m: &Arc<std::sync::RwLock<crate::map::Map>>, k: &str| {
        m.read().expect("lock").lookup(&Value::str(k))
    };
    assert_eq!(look(&s, "c.com"), None);
    // One reference (map and ACL file): map users last first, then ACL users; an entry
    // counted once per compiled set (str, beg, the ACL's).
    let maps = reg.cli(&["show", "map"]).expect("show map");
    assert!(
        maps.contains(&format!(
            "({f}) pattern loaded from file '{f}' used by map at file 'h.cfg' line 20, by map at file 'h.cfg' line 12, by acl at file 'h.cfg' line 30. curr_ver=0 next_ver=0 entry_cnt=6"
        )),
        "{maps}"
    );
    let id = maps
        .lines()
        .nth(1)
        .and_then(|l| l.split(' ').next())
        .expect("id")
        .to_string();
    assert_eq!(
        reg.cli(&["add", "map", &format!("#{id}"), "c.com", "be_c"]),
        Some(String::new())
    );
    assert_eq!(look(&s, "c.com"), Some(b"be_c".to_vec()), "map_str sees it");
    assert_eq!(
        look(&b, "c.com/x"),
        Some(b"be_c".to_vec()),
        "map_beg sees it"
    );
    assert!(
        acl.sets[1]
            .read()
            .expect("lock")
            .matches(&Value::str("c.com")),
        "the -f ACL sees it"
    );
    assert_eq!(
        reg.cli(&["set", "map", &f, "c.com", "be_d"]),
        Some(String::new())
    );
    assert_eq!(look(&s, "c.com"), Some(b"be_d".to_vec()));
    assert_eq!(reg.cli(&["del", "map", &f, "c.com"]), Some(String::new()));
    assert_eq!(look(&b, "c.com/x"), None);
    assert_eq!(
        reg.cli(&["del", "map", &f, "c.com"]),
        Some("Key not found.\n".into())
    );
    let shown = reg.cli(&["show", "map", &f]).expect("show");
    assert_eq!(shown.lines().count(), 2, "{shown}");
    let first = shown.split(' ').next().expect("entry id").to_string();
    assert_eq!(
        reg.cli(&["del", "map", &f, &format!("#{first}")]),
        Some(String::new())
    );
    assert_eq!(look(&s, "a.com"), None, "deleted by its id");
    assert_eq!(reg.cli(&["clear", "map", &f]), Some(String::new()));
    assert_eq!(look(&s, "b.com"), None);
    assert_eq!(
        reg.cli(&["show", "map", "#99"]),
        Some("Unknown map identifier. Please use #<id> or <file>.\n".into())
    );
    assert_eq!(reg.cli(&["show", "stat"]), None);
    let _ = std::fs::remove_dir_all(&dir);
}
