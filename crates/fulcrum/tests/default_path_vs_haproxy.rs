//! `default-path config|parent|origin` side by side with the real HAProxy 2.6: two config
//! files in different directories of a relocatable package, loaded from a third directory by
//! relative names (`-f ../pkg/conf/a.cfg -f ../pkg/other/b.cfg`), name relative files of every
//! kind read while parsing — `errorfile`, an `http-errors` section's, `return file`, `acl -f`,
//! `map_beg()` (also `../`), `crt`, `crt-list` and its relative entries — and both proxies
//! must answer the same from the same files: the page bodies, the HTTPS answers, `show map`
//! and `show acl` (names as written). The same package with `default-path current` is
//! refused by both (`haproxy -c`, `fulcrum check`): the policy is what finds the files.

mod common;
mod tls_support;

use common::{free_port, Running, Scratch};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One side's package: `pkg/conf`, `pkg/other`, `pkg/certs` under `root`.
struct Side {
    root: PathBuf,
    ports: [u16; 5],
    sock: PathBuf,
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn package(side: &Side, site_pem: &Path, policy: &str) {
    let pkg = side.root.join("pkg");
    let [p0, p1, p2, p3, p4] = side.ports;
    std::fs::create_dir_all(pkg.join("certs")).expect("certs");
    std::fs::copy(site_pem, pkg.join("certs/site.pem")).expect("copy cert");
    write(&pkg.join("conf/geo.map"), "/map conf-dir\n/up conf-dir\n");
    write(&pkg.join("geo.map"), "/up parent-dir\n");
    write(&pkg.join("conf/ips.lst"), "127.0.0.1\n");
    write(&pkg.join("conf/hello.txt"), "hello from conf\n");
    write(&pkg.join("other/hello.txt"), "hello from other\n");
    write(&pkg.join("conf/list.txt"), "../certs/site.pem\n");
    let page = |code: &str, text: &str| {
        format!("HTTP/1.0 {code}\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{text}\n")
    };
    write(
        &pkg.join("conf/503.http"),
        &page("503 Service Unavailable", "conf 503"),
    );
    write(
        &pkg.join("conf/403.http"),
        &page("403 Forbidden", "conf 403"),
    );
    write(
        &pkg.join("conf/a.cfg"),
        &format!(
            "global\n default-path {policy}\n stats socket {sock} level admin\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n errorfile 503 503.http\n\
             http-errors errs\n errorfile 403 403.http\n\
             frontend f\n bind 127.0.0.1:{p0}\n bind 127.0.0.1:{p1} ssl crt ../certs/site.pem\n bind 127.0.0.1:{p2} ssl crt-list list.txt\n\
             errorfiles errs\n acl local src -f ips.lst\n\
             http-request return status 200 content-type text/plain file hello.txt if {{ path /file }}\n\
             http-request return status 200 content-type text/plain lf-string %[path,map_beg(geo.map)] if {{ path /map }}\n\
             http-request set-header x-geo %[path,map_beg(../geo.map)]\n\
             http-request return status 200 content-type text/plain lf-string %[req.hdr(x-geo)] if {{ path /up }}\n\
             http-request deny deny_status 403 if local {{ path /deny }}\n\
             default_backend none\n\
             backend none\n server s 127.0.0.1:1 disabled\n",
            sock = side.sock.display(),
        ),
    );
    // the policy carries over to the next file, whose own directory it names; a second
    // `default-path` replaces it at once
    write(
        &pkg.join("other/b.cfg"),
        &format!(
            "frontend g\n bind 127.0.0.1:{p3}\n http-request return status 200 content-type text/plain file hello.txt\n\
             global\n default-path origin {conf}\n\
             frontend h\n bind 127.0.0.1:{p4}\n http-request return status 200 content-type text/plain file hello.txt\n",
            conf = pkg.join("conf").display(),
        ),
    );
}

/// `haproxy -c` / `fulcrum check` on the package from `cwd`; whether it was accepted.
fn accepted(cmd: &mut Command, cwd: &Path) -> (bool, String) {
    let out = cmd
        .current_dir(cwd)
        .args(["-f", "../pkg/conf/a.cfg", "-f", "../pkg/other/b.cfg"])
        .stdin(Stdio::null())
        .output()
        .expect("run the check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return "connect failed".into();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    let status = all.split(' ').nth(1).unwrap_or("").to_string();
    let body = all.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    format!("{status} {body}")
}

fn query(sock: &Path, cmd: &str) -> String {
    let mut s = UnixStream::connect(sock).expect("stats socket");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(format!("{cmd}\n").as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The file references of `show map` / `show acl`: `(name) ... from file 'name'` (ids differ
/// between the two: HAProxy counts its own internal references).
fn file_refs(answer: &str) -> Vec<String> {
    answer
        .lines()
        .filter_map(|l| {
            let rest = l.split_once(' ')?.1;
            rest.starts_with("(")
                .then(|| rest.split(" used by").next().unwrap_or(rest).to_string())
                .filter(|r| !r.starts_with("()"))
        })
        .collect()
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(program: &str, args: &[&str], cwd: &Path) -> Running {
    Running(
        Command::new(program)
            .args(args)
            .args(["-f", "../pkg/conf/a.cfg", "-f", "../pkg/other/b.cfg"])
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}")),
    )
}

#[test]
fn relative_files_are_read_as_haproxy_reads_them() {
    let scratch = Scratch::new("default-path");
    let ca = tls_support::Ca::new(&scratch.0.join("ca"), "default-path CA");
    let site = ca.issue(
        "site",
        "site.test",
        &["site.test"],
        tls_support::Key::Ec,
        false,
    );
    let side = |name: &str| Side {
        root: scratch.0.join(name),
        ports: [
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        ],
        sock: scratch.0.join(format!("{name}.sock")),
    };
    let (f, h) = (side("f"), side("h"));
    let fulcrum = env!("CARGO_BIN_EXE_fulcrum");
    // from the package's own directories' sibling, `current` finds none of the files
    for s in [&f, &h] {
        package(s, &site, "current");
        std::fs::create_dir_all(s.root.join("elsewhere")).expect("cwd");
    }
    let cwd = |s: &Side| s.root.join("elsewhere");
    let (ok, text) = accepted(Command::new("haproxy").arg("-c"), &cwd(&h));
    assert!(
        !ok,
        "haproxy accepted 'default-path current' from elsewhere: {text}"
    );
    let (ok, text) = accepted(Command::new(fulcrum).arg("check"), &cwd(&f));
    assert!(
        !ok,
        "fulcrum accepted 'default-path current' from elsewhere: {text}"
    );
    for s in [&f, &h] {
        package(s, &site, "config");
    }
    let (ok, text) = accepted(Command::new("haproxy").arg("-c"), &cwd(&h));
    assert!(ok, "haproxy -c: {text}");
    let (ok, text) = accepted(Command::new(fulcrum).arg("check"), &cwd(&f));
    assert!(ok, "fulcrum check: {text}");
    let control = scratch.0.join("control.sock");
    let control = control.to_str().expect("utf-8");
    let _f = start(fulcrum, &["run", "--control", control], &cwd(&f));
    let _h = start("haproxy", &["-db"], &cwd(&h));
    for (s, what) in [(&f, "fulcrum"), (&h, "haproxy")] {
        for p in s.ports {
            wait_port(p, what);
        }
    }
    let mut seen = Vec::new();
    for (i, path) in [
        (0, "/file"),
        (0, "/map"),
        (0, "/up"),
        (0, "/deny"),
        (0, "/"),
        (3, "/"),
        (4, "/"),
    ] {
        let (a, b) = (get(f.ports[i], path), get(h.ports[i], path));
        assert_eq!(a, b, "port #{i} {path}: fulcrum, then haproxy");
        seen.push(a);
    }
    assert_eq!(
        seen,
        [
            "200 hello from conf\n",
            "200 conf-dir",
            "200 parent-dir",
            "403 conf 403\n",
            "503 conf 503\n",
            "200 hello from other\n",
            "200 hello from conf\n",
        ]
    );
    let ca_pem = ca.ca_pem();
    for i in [1, 2] {
        let a = tls_support::curl(&ca_pem, "site.test", f.ports[i], &[]);
        let b = tls_support::curl(&ca_pem, "site.test", h.ports[i], &[]);
        assert_eq!(a, b, "HTTPS port #{i}: fulcrum, then haproxy");
        assert_eq!(a, (0, "conf 503\n".to_string()), "HTTPS port #{i}");
    }
    for cmd in ["show map", "show acl"] {
        let (a, b) = (query(&f.sock, cmd), query(&h.sock, cmd));
        assert_eq!(file_refs(&a), file_refs(&b), "{cmd}:\n{a}\n----\n{b}");
        assert!(!file_refs(&a).is_empty(), "{cmd}: {a}");
    }
    assert_eq!(
        file_refs(&query(&f.sock, "show map")),
        [
            "(geo.map) pattern loaded from file 'geo.map'",
            "(../geo.map) pattern loaded from file '../geo.map'"
        ]
    );
}
