//! `include` across real temporary files: glob, relative paths, diagnostics carrying the
//! included file's own name and line, loops and nesting depth.

mod keepalived_support;

use fulcrum_config::Severity;
use keepalived_support::*;

const INSTANCE_A: &str = "vrrp_instance VI_A {\n    interface eth0\n    virtual_router_id 10\n    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n";
const INSTANCE_B: &str = "vrrp_instance VI_B {\n    interface eth0\n    virtual_router_id 11\n    virtual_ipaddress {\n        192.0.2.11\n    }\n}\n";

#[test]
fn glob_include_relative_to_the_including_file() {
    let dir = TempDir::new("glob");
    dir.write("conf.d/10-a.conf", INSTANCE_A);
    dir.write("conf.d/20-b.conf", INSTANCE_B);
    dir.write("conf.d/ignored.txt", "this is not matched {");
    let main = dir.write(
        "keepalived.conf",
        "global_defs {\n    router_id R1\n}\ninclude conf.d/*.conf\n",
    );
    let (k, d) = parse_files(&[&main]);
    assert!(d.is_empty(), "{}", show(&d));
    let names: Vec<&str> = k.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["VI_A", "VI_B"],
        "glob matches come in sorted order"
    );
    assert!(k.vrrp_instances[1].span.file.ends_with("conf.d/20-b.conf"));
    assert_eq!(k.vrrp_instances[1].span.line, 1);
}

#[test]
fn absolute_include_and_include_inside_a_block() {
    let dir = TempDir::new("abs");
    let vips = dir.write("vips.inc", "        192.0.2.20\n        192.0.2.21\n");
    let main = dir.write(
        "main.conf",
        &format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 1\n    virtual_ipaddress {{\n        include {}\n    }}\n}}\n",
            vips.display()
        ),
    );
    let (k, d) = parse_files(&[&main]);
    assert!(d.is_empty(), "{}", show(&d));
    assert_eq!(k.vrrp_instances[0].virtual_ipaddress.len(), 2);
    assert_eq!(k.vrrp_instances[0].virtual_ipaddress[1].span.line, 2);
}

#[test]
fn diagnostics_in_included_files_name_that_file_and_line() {
    let dir = TempDir::new("diag");
    let bad = dir.write(
        "sub/bad.conf",
        "\n\nvrrp_instance VI_X {\n    interface eth0\n    virtual_router_id 300\n}\n",
    );
    let main = dir.write("main.conf", "! main\ninclude sub/bad.conf\n");
    let (_, d) = parse_files(&[&main]);
    let e = find(
        &d,
        Severity::Error,
        "virtual_router_id must be 1..255, found 300",
    );
    assert_eq!(e.span.file.as_ref(), bad.display().to_string());
    assert_eq!(e.span.line, 5);
}

#[test]
fn nested_relative_includes_resolve_against_each_files_directory() {
    let dir = TempDir::new("nested");
    dir.write("a/b/leaf.conf", INSTANCE_B);
    dir.write("a/mid.conf", "include b/leaf.conf\n");
    let main = dir.write("main.conf", "include a/mid.conf\n");
    let (k, d) = parse_files(&[&main]);
    assert!(d.is_empty(), "{}", show(&d));
    assert_eq!(k.vrrp_instances[0].name, "VI_B");
}

#[test]
fn include_matching_nothing_warns_like_keepalived() {
    let dir = TempDir::new("nomatch");
    let main = dir.write("main.conf", &format!("include conf.d/*.conf\n{INSTANCE_A}"));
    let (k, d) = parse_files(&[&main]);
    assert!(errors(&d).is_empty(), "{}", show(&d));
    assert_eq!(find(&d, Severity::Warning, "matched no file").span.line, 1);
    assert_eq!(k.vrrp_instances.len(), 1);
}

#[test]
fn include_loop_is_refused_at_the_include_line() {
    let dir = TempDir::new("loop");
    dir.write("b.conf", "\ninclude a.conf\n");
    let a = dir.write("a.conf", &format!("{INSTANCE_A}include b.conf\n"));
    let (k, d) = parse_files(&[&a]);
    let e = find(&d, Severity::Error, "include loop");
    assert!(e.span.file.ends_with("b.conf"), "{e}");
    assert_eq!(e.span.line, 2);
    assert_eq!(k.vrrp_instances.len(), 1, "a.conf is read once");
}

#[test]
fn self_include_through_a_glob_is_refused() {
    let dir = TempDir::new("selfglob");
    let a = dir.write("a.conf", &format!("include *.conf\n{INSTANCE_A}"));
    dir.write("b.conf", INSTANCE_B);
    let (k, d) = parse_files(&[&a]);
    assert_eq!(find(&d, Severity::Error, "include loop").span.line, 1);
    assert_eq!(k.vrrp_instances.len(), 2);
}

#[test]
fn include_depth_is_bounded() {
    let dir = TempDir::new("depth");
    for n in 0..40 {
        dir.write(&format!("f{n}.conf"), &format!("include f{}.conf\n", n + 1));
    }
    dir.write("f40.conf", INSTANCE_A);
    let first = dir.0.join("f0.conf");
    let (k, d) = parse_files(&[&first]);
    let e = find(&d, Severity::Error, "nests deeper than");
    assert_eq!(e.span.line, 1);
    assert!(k.vrrp_instances.is_empty());
}

#[test]
fn unreadable_or_missing_literal_include() {
    let dir = TempDir::new("missing");
    let main = dir.write("main.conf", "include nothere.conf\n");
    let (_, d) = parse_files(&[&main]);
    assert_eq!(
        find(&d, Severity::Warning, "'nothere.conf' matched no file")
            .span
            .line,
        1
    );
}

#[test]
fn glob_characters_in_the_including_directory_are_literal() {
    let dir = TempDir::new("brack[et]");
    dir.write("conf.d/a.conf", INSTANCE_A);
    let main = dir.write("main.conf", "include conf.d/*.conf\n");
    let (k, d) = parse_files(&[&main]);
    assert!(d.is_empty(), "{}", show(&d));
    assert_eq!(k.vrrp_instances.len(), 1);
}
