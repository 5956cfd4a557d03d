//! HAProxy's address forms on `bind` and `log`, through the real binary: unix sockets (with
//! `mode`/`user`/`group` checked by stat), `abns@` reached by curl `--abstract-unix-socket`
//! and by HAProxy's padded name, HTTP and TCP mode over them, unix clients logged as `unix:1`
//! and given no X-Forwarded-For, a reload that keeps the unix socket (same inode) without
//! failing a request; `fd@N` binds on sockets this test opened and passed down, `log fd@N`, and
//! `sockpair@N` receiving a connection as a descriptor.

mod compat_support;

use compat_support::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

fn have_curl(test: &str) -> bool {
    if tool("curl").is_none() {
        skip(test, "curl is not installed (Debian package curl)");
        return false;
    }
    true
}

#[test]
fn unix_and_abns_binds_serve_http_and_tcp_and_survive_reload() {
    if !have_curl("unix_and_abns_binds") {
        return;
    }
    let t = TempDir::new("unixbind");
    let echo = echo_backend();
    let web = t.path("web.sock");
    let tcp = t.path("tcp.sock");
    let abns = format!("fulcrum-test-{}", std::process::id());
    // Ownership can only be given away as root.
    let owner = if is_root() {
        " user nobody group nogroup"
    } else {
        ""
    };
    let cfg = |tag: &str| {
        format!(
            "global\n  nbthread 2\n{DEFAULTS}  log stderr local0\n  option httplog\n\
             frontend web\n  bind unix@{web} mode 600{owner}\n  bind abns@{abns}\n  option forwardfor\n  http-response set-header X-Gen {tag}\n  default_backend echo\n\
             frontend tcpfe\n  mode tcp\n  option tcplog\n  bind {tcp} mode 666\n  default_backend echo\n\
             backend echo\n  server e {echo}\n",
            web = web.display(),
            tcp = tcp.display(),
        )
    };
    let file = t.file("f.cfg", &cfg("one"));
    let mut cmd = Command::new(fulcrum());
    cmd.args(["run", "-f"])
        .arg(&file)
        .env("FULCRUM_CONTROL", t.path("ctl.sock"));
    let mut f = Running::spawn(cmd, t.path("log"));
    assert!(
        wait_until(Duration::from_secs(10), || get_unix(&web)),
        "no answer on {}: {}",
        web.display(),
        f.output()
    );

    // The socket file: a socket, mode 600, owned as asked.
    let meta = std::fs::metadata(&web).expect("stat web.sock");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(&tcp)
            .expect("stat tcp.sock")
            .permissions()
            .mode()
            & 0o777,
        0o666
    );
    if is_root() {
        let nobody = nix::unistd::User::from_name("nobody")
            .expect("getpwnam")
            .expect("user nobody");
        let nogroup = nix::unistd::Group::from_name("nogroup")
            .expect("getgrnam")
            .expect("group nogroup");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (nobody.uid.as_raw(), nogroup.gid.as_raw())
        );
    }

    // HTTP over the unix socket with curl: served, no X-Forwarded-For (HAProxy adds none for
    // unix clients), and logged as `unix:1`.
    let (ok, body) = curl(&[
        "-i",
        "--unix-socket",
        web.to_str().expect("utf8"),
        "http://fulcrum/u",
    ]);
    assert!(ok && body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains("x-gen: one") || body.contains("X-Gen: one"),
        "{body}"
    );
    assert!(
        !body.to_ascii_lowercase().contains("x-forwarded-for"),
        "unix client got X-Forwarded-For: {body}"
    );
    // The line is written once the answer is sent: wait for this request's (the readiness
    // probe above has one too).
    assert!(
        wait_until(Duration::from_secs(3), || f
            .output()
            .contains("\"GET /u HTTP/1.1\"")),
        "no log line for /u: {}",
        f.output()
    );
    assert!(f.output().contains("unix:1 ["), "{}", f.output());

    // abns@: the plain name (curl) and HAProxy's NUL-padded one.
    let (ok, body) = curl(&["-i", "--abstract-unix-socket", &abns, "http://fulcrum/a"]);
    assert!(
        ok && body.starts_with("HTTP/1.1 200"),
        "abns@ via curl: {body}"
    );
    let mut padded = abns.as_bytes().to_vec();
    padded.resize(107, 0);
    {
        use std::os::linux::net::SocketAddrExt;
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(&padded).expect("abstract name");
        let s = UnixStream::connect_addr(&addr).expect("connect to HAProxy's padded abns name");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        assert!(get_over(s), "padded abns@ name not served");
    }

    // TCP mode over a unix socket.
    let (ok, body) = curl(&[
        "-i",
        "--unix-socket",
        tcp.to_str().expect("utf8"),
        "http://fulcrum/t",
    ]);
    assert!(
        ok && body.starts_with("HTTP/1.1 200") && body.contains("GET /t HTTP/1.1"),
        "tcp mode over unix: {body}"
    );

    // Reload: the socket file stays the same (same inode) and no request fails meanwhile.
    let ino = meta.ino();
    std::fs::write(&file, cfg("two")).expect("rewrite config");
    let load = {
        let web = web.clone();
        fulcrum_testlab::load::Load::start(2000, move || get_unix(&web))
    };
    load.wait_more(20);
    f.signal("HUP");
    let reloaded = wait_until(Duration::from_secs(10), || {
        let (ok, body) = curl(&[
            "-i",
            "--unix-socket",
            web.to_str().unwrap_or_default(),
            "http://fulcrum/r",
        ]);
        ok && (body.contains("x-gen: two") || body.contains("X-Gen: two"))
    });
    load.wait_more(20);
    let (sent, failed) = load.finish();
    assert!(reloaded, "reload not applied: {}", f.output());
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests over the unix socket failed during reload"
    );
    assert!(sent > 0);
    assert_eq!(
        std::fs::metadata(&web).expect("stat after reload").ino(),
        ino,
        "the unix socket was re-created by the reload"
    );

    // Stopping removes the socket files.
    f.signal("TERM");
    assert!(
        f.wait_exit(Duration::from_secs(10)).is_some(),
        "fulcrum did not stop"
    );
    assert!(!web.exists() && !tcp.exists(), "socket files left behind");
}

#[test]
fn fd_binds_and_log_fd_use_inherited_descriptors() {
    let t = TempDir::new("fdbind");
    let echo = echo_backend();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp listener");
    let tcp_addr = tcp.local_addr().expect("addr");
    let ux_path = t.path("passed.sock");
    let ux = std::os::unix::net::UnixListener::bind(&ux_path).expect("unix listener");
    let (log_ours, log_theirs) = UnixStream::pair().expect("log pair");
    let (fd_tcp, fd_ux, fd_log) = (
        inheritable(&tcp),
        inheritable(&ux),
        inheritable(&log_theirs),
    );
    let cfg = t.file(
        "f.cfg",
        &format!(
            "{DEFAULTS}frontend web\n  bind fd@${{WEB_FD}}\n  bind fd@{fd_ux}\n  log fd@{fd_log} local0\n  option httplog\n  default_backend echo\n\
             backend echo\n  server e {echo}\n"
        ),
    );
    let mut cmd = Command::new(fulcrum());
    cmd.args(["run", "-f"])
        .arg(&cfg)
        .env("WEB_FD", fd_tcp.to_string())
        .env("FULCRUM_CONTROL", t.path("ctl.sock"));
    let f = Running::spawn(cmd, t.path("log"));
    private(&tcp);
    private(&ux);
    private(&log_theirs);
    drop(log_theirs);
    // Our copies stay open (the kernel queues connections on the shared socket either way),
    // but only fulcrum accepts on them.
    assert!(
        wait_until(Duration::from_secs(10), || testlab_get(tcp_addr)),
        "fd@ TCP socket not served: {}",
        f.output()
    );
    assert!(
        get_unix(&ux_path),
        "fd@ unix socket not served: {}",
        f.output()
    );
    // `log fd@N`: syslog lines, newline-terminated, on the descriptor we passed.
    log_ours
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut r = std::io::BufReader::new(&log_ours);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut r, &mut line).expect("a log line on fd@N");
    assert!(
        line.starts_with("<134>") && line.contains(" web echo/e ") && line.ends_with('\n'),
        "{line:?}"
    );
    drop(tcp);
    drop(ux);
}

fn testlab_get(addr: std::net::SocketAddr) -> bool {
    fulcrum_testlab::http::get_ok(addr, Duration::from_secs(2))
}

#[test]
fn sockpair_bind_receives_connections_as_descriptors() {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    let t = TempDir::new("sockpair");
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    let fd = inheritable(&theirs);
    let cfg = t.file(
        "f.cfg",
        &format!("{DEFAULTS}frontend web\n  bind sockpair@{fd}\n  http-request return status 200 content-type text/plain string passed\n"),
    );
    let mut cmd = Command::new(fulcrum());
    cmd.args(["run", "-f"])
        .arg(&cfg)
        .env("FULCRUM_CONTROL", t.path("ctl.sock"));
    let f = Running::spawn(cmd, t.path("log"));
    private(&theirs);
    drop(theirs);
    // A client connection whose server side we hand over, as HAProxy's sockpair@ sender does.
    let mut ok = false;
    for _ in 0..100 {
        let (client, server_side) = UnixStream::pair().expect("connection");
        let fds = [server_side.as_raw_fd()];
        sendmsg::<()>(
            ours.as_raw_fd(),
            &[IoSlice::new(b"\0")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .expect("sendmsg");
        drop(server_side);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        if get_over(client) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        ok,
        "no answer on a connection passed over sockpair@: {}",
        f.output()
    );
    // A TCP connection passed the same way is served too, with its real peer address.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let client = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (server_side, _) = l.accept().expect("accept");
    let fds = [server_side.as_raw_fd()];
    sendmsg::<()>(
        ours.as_raw_fd(),
        &[IoSlice::new(b"\0")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .expect("sendmsg");
    drop(server_side);
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert!(
        get_over(client),
        "TCP connection over sockpair@ not served: {}",
        f.output()
    );
}

/// `haproxy -sf OLD` with unix and abns binds: the new process takes the old one's sockets
/// (same inode, no second abstract bind), and the old one leaves the socket file in place.
#[test]
fn takeover_keeps_unix_and_abns_sockets() {
    let t = TempDir::new("unixsf");
    let web = t.path("web.sock");
    let abns = format!("fulcrum-sf-{}", std::process::id());
    let cfg = t.file(
        "f.cfg",
        &format!(
            "{DEFAULTS}frontend web\n  bind {}\n  bind abns@{abns}\n  http-request return status 200 content-type text/plain string served\n",
            web.display()
        ),
    );
    let haproxy = t.path("haproxy");
    std::os::unix::fs::symlink(fulcrum(), &haproxy).expect("symlink");
    let start = |old: Option<u32>, n: u32| {
        let mut cmd = Command::new(&haproxy);
        cmd.args(["-db", "-f"])
            .arg(&cfg)
            .env("FULCRUM_CONTROL", t.path(&format!("control{n}.sock")));
        if let Some(p) = old {
            cmd.args(["-sf", &p.to_string()]);
        }
        Running::spawn(cmd, t.path(&format!("log{n}")))
    };
    let mut a = start(None, 0);
    assert!(
        wait_until(Duration::from_secs(10), || get_unix(&web)),
        "{}",
        a.output()
    );
    let ino = std::fs::metadata(&web).expect("stat").ino();
    let b = start(Some(a.pid()), 1);
    assert!(
        a.wait_exit(Duration::from_secs(15))
            .is_some_and(|s| s.success()),
        "old process did not finish: {}",
        a.output()
    );
    assert!(b.output().contains("handover: received"), "{}", b.output());
    assert!(
        get_unix(&web),
        "not served after the takeover: {}",
        b.output()
    );
    assert_eq!(
        std::fs::metadata(&web)
            .expect("socket file after takeover")
            .ino(),
        ino,
        "socket re-created instead of taken over"
    );
    let (ok, body) = curl(&["--abstract-unix-socket", &abns, "http://x/"]);
    assert!(
        !have_curl_quiet() || (ok && body.contains("served")),
        "abns@ after takeover: {body} {}",
        b.output()
    );
}

fn have_curl_quiet() -> bool {
    tool("curl").is_some()
}

/// `log udp@HOST:PORT` and `log abns@NAME`: syslog datagrams arrive where the address says.
#[test]
fn log_targets_udp_and_abns_receive_syslog_lines() {
    use std::os::linux::net::SocketAddrExt;
    let t = TempDir::new("logtargets");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let name = format!("fulcrum-log-{}", std::process::id());
    let abns = std::os::unix::net::UnixDatagram::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name"),
    )
    .expect("abns");
    abns.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let port = free_port();
    let cfg = t.file(
        "f.cfg",
        &format!(
            "{DEFAULTS}  option httplog\n  log udp@localhost:{} local0\n  log abns@{name} local1 info\nfrontend web\n  bind 127.0.0.1:{port}\n  http-request return status 200 content-type text/plain string ok\n",
            udp.local_addr().expect("addr").port()
        ),
    );
    let mut cmd = Command::new(fulcrum());
    cmd.args(["run", "-f"])
        .arg(&cfg)
        .env("FULCRUM_CONTROL", t.path("ctl.sock"));
    let f = Running::spawn(cmd, t.path("log"));
    assert!(
        wait_until(Duration::from_secs(10), || testlab_get(
            ([127, 0, 0, 1], port).into()
        )),
        "{}",
        f.output()
    );
    let mut buf = [0u8; 2048];
    let n = udp
        .recv(&mut buf)
        .expect("a syslog datagram on udp@localhost");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        line.starts_with("<134>") && line.contains(" web web/<NOSRV> "),
        "{line}"
    );
    let n = abns.recv(&mut buf).expect("a syslog datagram on abns@");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // local1 (17) * 8 + info (6)
    assert!(
        line.starts_with("<142>") && line.contains("\"GET / HTTP/1.1\""),
        "{line}"
    );
}

/// `stats socket abns@NAME` (HAProxy's padded name) and `stats socket fd@N` answer the
/// runtime API.
#[test]
fn stats_socket_on_abns_and_inherited_fd() {
    use std::io::{Read, Write};
    use std::os::linux::net::SocketAddrExt;
    let t = TempDir::new("statsaddr");
    let name = format!("fulcrum-stats-{}", std::process::id());
    let passed =
        std::os::unix::net::UnixListener::bind(t.path("passed-stats.sock")).expect("listener");
    let fd = inheritable(&passed);
    let cfg = t.file(
        "f.cfg",
        &format!("global\n  stats socket abns@{name} level admin\n  stats socket fd@{fd} level admin\n{DEFAULTS}frontend web\n  bind 127.0.0.1:{}\n  http-request return status 200\n", free_port()),
    );
    let mut cmd = Command::new(fulcrum());
    cmd.args(["run", "-f"])
        .arg(&cfg)
        .env("FULCRUM_CONTROL", t.path("ctl.sock"));
    let f = Running::spawn(cmd, t.path("log"));
    private(&passed);
    let ask = |s: &mut dyn FnMut() -> Option<UnixStream>| -> String {
        let Some(mut c) = s() else {
            return String::new();
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = c.write_all(b"show info\n");
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    };
    let mut padded = name.as_bytes().to_vec();
    padded.resize(107, 0);
    let mut via_abns = || {
        UnixStream::connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(&padded).ok()?)
            .ok()
    };
    assert!(
        wait_until(Duration::from_secs(10), || ask(&mut via_abns)
            .contains("Pid: ")),
        "stats socket abns@ not answering: {}",
        f.output()
    );
    let path = t.path("passed-stats.sock");
    let mut via_fd = || UnixStream::connect(&path).ok();
    assert!(
        ask(&mut via_fd).contains("Pid: "),
        "stats socket fd@ not answering: {}",
        f.output()
    );
}
