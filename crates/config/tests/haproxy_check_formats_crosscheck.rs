//! The fetches a health check's expressions may read, as the real `haproxy -c` 2.6 decides: a
//! check has no client connection, no frontend and no request, and haproxy refuses the fetches
//! that read them ("sample fetch <req.len]> may not be reliably used here because it needs
//! 'request buffer' which is not available here."). Every fetch fulcrum knows is put in an
//! `http-check send hdr` value and both verdicts and words compared; then the other check
//! keywords that take a log-format string or a sample expression. Under
//! FULCRUM_REQUIRE_NETNS=1 a missing haproxy fails the test; without it the expected refusals
//! written here are still checked.

use std::path::Path;
use std::process::Command;

const HEAD: &str = "defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nbackend b\n  option httpchk\n  stick-table type ip size 1k store gpc0,gpt0,conn_cnt,conn_rate(1s),http_req_rate(1s),bytes_in_rate(1s)\n";

/// A call of fetch `name` that haproxy 2.6 parses (its arguments).
fn example(name: &str) -> String {
    let arg = match name {
        "bool" => "(true)",
        "ipv4" => "(1.2.3.4)",
        "ipv6" => "(::1)",
        "meth" => "(GET)",
        "bin" => "(00)",
        "int" => "(1)",
        "env" => "(HOME)",
        "var" => "(txn.x)",
        "fc_rtt" | "fc_rttvar" => "(ms)",
        "srv_is_up" | "srv_conn" | "srv_queue" => "(b/s)",
        "capture.req.hdr" | "capture.res.hdr" => "(0)",
        "req.payload" | "payload" | "res.payload" | "req.payload_lv" | "payload_lv"
        | "res.payload_lv" => "(0,1)",
        "http_auth" | "http_auth_group" => "(u)",
        "nbsrv" | "connslots" | "be_conn" | "queue" | "avg_queue" => "(b)",
        "sc_get_gpt" | "sc_get_gpc" | "sc_gpc_rate" | "sc_inc_gpc" | "sc_clr_gpc" => "(0,0)",
        "src_get_gpt" | "src_get_gpc" | "src_gpc_rate" | "src_inc_gpc" | "src_clr_gpc" => "(0,b)",
        "req.hdr" | "hdr" | "req.fhdr" | "res.hdr" | "shdr" | "res.fhdr" | "req.hdr_ip"
        | "hdr_ip" | "req.cook" | "cook" | "res.cook" | "scook" | "url_param" | "urlp"
        | "req.body_param" => "(x)",
        n if n.starts_with("sc_") => "(0)",
        _ => "",
    };
    format!("{name}{arg}")
}

/// What `text` says of a check's fetch: the words of the refusal, if any.
fn refusal(text: &str) -> Option<String> {
    let at = text.find("sample fetch <")?;
    let rest = &text[at..];
    let end = rest.find(" which is not available here")?;
    Some(rest[..end].to_string())
}

/// haproxy's output on `file`; `None` without haproxy.
fn haproxy(file: &Path) -> Option<String> {
    let out = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout))
}

/// fulcrum's errors on `file`, one string.
fn fulcrum(file: &Path) -> String {
    let loaded = fulcrum_config::load_files(&[file]);
    loaded
        .diagnostics
        .errors()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scratch directory of the test `tag`.
fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fulcrum-check-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn check_formats_refuse_the_fetches_haproxy_refuses() {
    let have = fulcrum_testlab::require::tool("HAProxy comparison", "haproxy", "haproxy");
    let dir = dir("fetches");
    let names: Vec<&str> = fulcrum_sample::fetch::FETCHES
        .iter()
        .chain(fulcrum_sample::fetch::COUNTER_FETCHES)
        .chain(fulcrum_sample::fetch::COUNTER_ARRAY_FETCHES)
        .chain(fulcrum_sample::fetch::TABLE_FETCHES)
        .map(|k| k.name)
        .collect();
    let mut refused = Vec::new();
    for name in names {
        let expr = example(name);
        let file = dir.join("c.cfg");
        let text = format!(
            "{HEAD}  http-check send hdr X \"%[{expr}]\"\n  server s 127.0.0.1:8081 check\n"
        );
        std::fs::write(&file, text).expect("write");
        let ours = fulcrum(&file);
        let our_refusal = refusal(&ours);
        if our_refusal.is_none() {
            assert!(
                ours.is_empty(),
                "{expr}: fulcrum refuses it otherwise: {ours}"
            );
        }
        if let Some(r) = &our_refusal {
            assert!(ours.contains(":9: error: "), "{expr}: at its line: {ours}");
            refused.push(format!("{name}: {r}"));
        }
        if have {
            let theirs = haproxy(&file).expect("haproxy runs");
            // A fetch haproxy 2.6 does not have (`pid`) is not compared.
            if !theirs.contains("unknown fetch method") {
                assert_eq!(
                    our_refusal,
                    refusal(&theirs),
                    "{expr}: fulcrum (left) vs haproxy -c (right): {ours}\n{theirs}"
                );
            }
        }
    }
    // Not vacuous without haproxy: some of what haproxy 2.6.12 refuses.
    for want in [
        "req.len: sample fetch <req.len]> may not be reliably used here because it needs 'request buffer'",
        "req.hdr: sample fetch <req.hdr(x)]> may not be reliably used here because it needs 'HTTP request headers'",
        "method: sample fetch <method]> may not be reliably used here because it needs 'HTTP request'",
        "fe_name: sample fetch <fe_name]> may not be reliably used here because it needs 'frontend'",
        "ssl_fc: sample fetch <ssl_fc]> may not be reliably used here because it needs 'client-side connection'",
    ] {
        assert!(refused.iter().any(|r| r == want), "{want}: {refused:#?}");
    }
    assert!(
        !refused
            .iter()
            .any(|r| r.starts_with("src:") || r.starts_with("res.hdr:")),
        "{refused:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// (check keyword line, what fulcrum's error names, the refusal's words) for the other places a
/// check reads samples.
const KEYWORDS: &[(&str, &str, &str)] = &[
    (
        "http-check send uri-lf \"/%[req.len]\"",
        "sample fetch <req.len]>",
        "because it needs 'request buffer'",
    ),
    (
        "http-check send hdr X \"a%[req.len,add(1)]b %[src]\"",
        "sample fetch <req.len,add(1)]b %[src]>",
        "because it needs 'request buffer'",
    ),
    (
        "http-check send hdr X \"%[src] %{+Q}[path]\"",
        "sample fetch <path]>",
        "because it needs 'HTTP request headers'",
    ),
    (
        "http-check expect string-lf \"%[fe_name]\"",
        "sample fetch <fe_name]>",
        "because it needs 'frontend'",
    ),
    (
        "http-check set-var-fmt(check.x) \"%[req.len]\"",
        "sample fetch <req.len]>",
        "because it needs 'request buffer'",
    ),
    (
        "http-check set-var(check.x) req.len,add(1)",
        "fetch method '",
        "extracts information from 'request buffer', none of which is available here",
    ),
    (
        "http-check set-var(check.x) ssl_fc",
        "fetch method '",
        "extracts information from 'client-side connection', none of which is available here",
    ),
];

#[test]
fn check_keywords_refuse_request_fetches_as_haproxy() {
    let have = fulcrum_testlab::require::tool("HAProxy comparison", "haproxy", "haproxy");
    let dir = dir("keywords");
    for (kw, ours_names, words) in KEYWORDS {
        for tcp in [false, true] {
            // The same keywords of `tcp-check` (`send-lf` for `send uri-lf`).
            let line = if tcp {
                kw.replace("http-check send uri-lf", "tcp-check send-lf")
                    .replace("http-check", "tcp-check")
            } else {
                kw.to_string()
            };
            if tcp && line.contains("send hdr") {
                continue;
            }
            let head = if tcp {
                HEAD.replace("option httpchk", "option tcp-check")
            } else {
                HEAD.to_string()
            };
            let file = dir.join("k.cfg");
            let text = format!("{head}  {line}\n  server s 127.0.0.1:8081 check\n");
            std::fs::write(&file, text).expect("write");
            let ours = fulcrum(&file);
            assert!(
                ours.contains(":9: error: ") && ours.contains(ours_names) && ours.contains(words),
                "{line}: {ours}"
            );
            if have {
                let theirs = haproxy(&file).expect("haproxy runs");
                assert!(
                    theirs.contains(&format!("parsing [{}:9]", file.display()))
                        && theirs.contains(words),
                    "{line}: haproxy -c says: {theirs}"
                );
            }
        }
    }
    // A check may read the server side, the response, variables: fulcrum and haproxy accept.
    let file = dir.join("ok.cfg");
    let text = format!("{HEAD}  http-check send hdr X \"%[src] %[srv_name] %[res.hdr(x)] %[var(check.x)] %[be_name]\"\n  http-check set-var(check.y) bc_src\n  server s 127.0.0.1:8081 check\n");
    std::fs::write(&file, text).expect("write");
    assert_eq!(fulcrum(&file), "");
    if have {
        let theirs = haproxy(&file).expect("haproxy runs");
        assert!(!theirs.contains("ALERT"), "{theirs}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
