//! `compression algo|type|offload` answers as the real HAProxy 2.6 does on the same config:
//! for each request (paths whose answers are or are not eligible, several `Accept-Encoding`
//! values, HTTP/1.0, HEAD) the client sees the same status, `Content-Encoding`,
//! `Transfer-Encoding`, `Content-Length`, `Vary` and `ETag` fields, the server sees the same
//! `Accept-Encoding`, and the body decodes to the server's bytes. `curl --compressed` gets the
//! same bytes from both.

mod common;

use common::{free_port, head_server, Fulcrum, Scratch};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn body() -> Vec<u8> {
    (0..3000u32)
        .flat_map(|i| format!("line {i} hello compression\n").into_bytes())
        .collect()
}

/// The answer the test server gives for `path`: extra fields, and how the body is framed
/// (Some(true) chunked, Some(false) Content-Length, None until close).
fn route(path: &str) -> (u16, Vec<&'static str>, Option<bool>) {
    match path {
        "/text" | "/raw" => (
            200,
            vec!["Content-Type: text/html; charset=utf-8", "ETag: \"abc\""],
            Some(false),
        ),
        "/weak" => (
            200,
            vec!["Content-Type: text/plain", "ETag: W/\"abc\""],
            Some(false),
        ),
        "/chunked" => (200, vec!["Content-Type: text/plain"], Some(true)),
        "/png" => (200, vec!["Content-Type: image/png"], Some(false)),
        "/close" => (200, vec!["Content-Type: text/plain"], None),
        "/vary" => (
            200,
            vec!["Content-Type: text/plain", "Vary: Cookie"],
            Some(false),
        ),
        "/badetag" => (
            200,
            vec!["Content-Type: text/plain", "ETag: abc"],
            Some(false),
        ),
        "/notype" => (200, vec![], Some(false)),
        "/encoded" => (
            200,
            vec!["Content-Type: text/plain", "Content-Encoding: br"],
            Some(false),
        ),
        "/notransform" => (
            200,
            vec!["Content-Type: text/plain", "Cache-Control: no-transform"],
            Some(false),
        ),
        "/multipart" => (
            200,
            vec!["Content-Type: multipart/mixed; boundary=x"],
            Some(false),
        ),
        "/created" => (201, vec!["Content-Type: text/plain"], Some(true)),
        _ => (404, vec!["Content-Type: text/html"], Some(false)),
    }
}

/// A test server: answers each request per `route`, echoing the `Accept-Encoding` it got.
fn answer(text: &str) -> Vec<u8> {
    let first = text.lines().next().unwrap_or("");
    let path = first.split(' ').nth(1).unwrap_or("/");
    let is_head = first.starts_with("HEAD");
    let ae: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("accept-encoding")
                .then_some(v.trim())
        })
        .collect();
    let ae = if ae.is_empty() {
        "-".to_string()
    } else {
        ae.join(",")
    };
    let (status, fields, framing) = route(path);
    let data = body();
    let mut out = format!("HTTP/1.1 {status} X\r\nX-Seen-AE: {ae}\r\n");
    for f in fields {
        out.push_str(f);
        out.push_str("\r\n");
    }
    match framing {
        Some(true) => out.push_str("Transfer-Encoding: chunked\r\n"),
        Some(false) => out.push_str(&format!("Content-Length: {}\r\n", data.len())),
        None => out.push_str("Connection: close\r\n"),
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !is_head {
        if framing == Some(true) {
            for piece in data.chunks(5000) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(&data);
        }
    }
    out
}

fn config(sock: &Path, port: u16, app: u16) -> String {
    format!(
        "global\n stats socket {sock} level admin\n\
         defaults\n mode http\n timeout connect 1s\n timeout client 5s\n timeout server 5s\n\
         frontend f\n bind 127.0.0.1:{port}\n compression algo gzip\n compression offload\n\
         use_backend raw if {{ path_beg /raw }}\n default_backend b\n\
         backend b\n compression algo gzip deflate\n compression type text/html text/plain\n\
         server s 127.0.0.1:{app}\n\
         backend raw\n compression algo raw-deflate\n\
         server s 127.0.0.1:{app}\n",
        sock = sock.display()
    )
}

/// `show stat` columns of PROXY/SVNAME, by name, as numbers.
fn stat(sock: &Path, proxy: &str, svname: &str, cols: &[&str]) -> Vec<u64> {
    common::stat(sock, proxy, svname, cols)
        .iter()
        .map(|v| v.parse().unwrap_or(u64::MAX))
        .collect()
}

struct Seen {
    status: String,
    /// The fields compared, lower-cased, in order.
    fields: Vec<String>,
    /// The body as decoded (de-chunked, decompressed).
    body: Vec<u8>,
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            panic!("bad chunked body")
        };
        let size = std::str::from_utf8(&b[..nl]).expect("size");
        let n = usize::from_str_radix(size.split(';').next().unwrap_or(""), 16).expect("hex size");
        b = &b[nl + 2..];
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[..n]);
        b = &b[n + 2..];
    }
}

fn request(port: u16, method: &str, path: &str, version: &str, ae: Option<&str>) -> Seen {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/{version}\r\nHost: t\r\nConnection: close\r\n");
    if let Some(ae) = ae {
        req.push_str(&format!("Accept-Encoding: {ae}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&all[..end]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("")
        .to_string();
    const KEPT: &[&str] = &[
        "content-encoding",
        "transfer-encoding",
        "content-length",
        "vary",
        "etag",
        "x-seen-ae",
        "content-type",
    ];
    let fields: Vec<String> = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim().to_ascii_lowercase();
            KEPT.contains(&n.as_str())
                .then(|| format!("{n}: {}", v.trim()))
        })
        .collect();
    let raw = &all[end..];
    let chunked = fields.iter().any(|f| f == "transfer-encoding: chunked");
    let wire = if chunked { dechunk(raw) } else { raw.to_vec() };
    let mut body = Vec::new();
    let enc = fields
        .iter()
        .find_map(|f| f.strip_prefix("content-encoding: "));
    match (enc, path.starts_with("/raw")) {
        (Some("gzip"), _) => {
            flate2::read::GzDecoder::new(&wire[..])
                .read_to_end(&mut body)
                .expect("gzip body");
        }
        (Some("deflate"), false) => {
            flate2::read::ZlibDecoder::new(&wire[..])
                .read_to_end(&mut body)
                .expect("zlib body");
        }
        (Some("deflate"), true) => {
            flate2::read::DeflateDecoder::new(&wire[..])
                .read_to_end(&mut body)
                .expect("raw deflate body");
        }
        _ => body = wire,
    }
    Seen {
        status,
        fields,
        body,
    }
}

#[test]
fn compression_answers_as_haproxy() {
    if !fulcrum_testlab::require::tool("compression_vs_haproxy", "haproxy", "haproxy") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
    let app = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || head_server(listener, answer));
    let scratch = Scratch::new("compression");
    let (fport, hport) = (free_port(), free_port());
    let (fsock, hsock) = (scratch.0.join("f.sock"), scratch.0.join("h.sock"));
    let fcfg = scratch.write("f.cfg", &config(&fsock, fport, app));
    let hcfg = scratch.write("h.cfg", &config(&hsock, hport, app));
    let _f = Fulcrum::start(&fcfg);
    let _h =
        fulcrum_testlab::process::Child::haproxy_listening(&hcfg, scratch.0.join("h.log"), hport);
    assert!(
        fulcrum_testlab::wait::listening(fport, Duration::from_secs(10)),
        "fulcrum never listened on {fport}"
    );

    let gz = Some("gzip");
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("GET", "/text", "1.1", gz),
        ("GET", "/text", "1.1", Some("deflate")),
        ("GET", "/text", "1.1", Some("gzip;q=0.5, deflate;q=0.9")),
        ("GET", "/text", "1.1", Some("deflate, gzip")),
        ("GET", "/text", "1.1", Some("*")),
        ("GET", "/text", "1.1", Some("br, gzip;q=0")),
        ("GET", "/text", "1.1", None),
        ("GET", "/text", "1.0", gz),
        ("HEAD", "/text", "1.1", gz),
        ("GET", "/weak", "1.1", gz),
        ("GET", "/chunked", "1.1", gz),
        ("GET", "/created", "1.1", gz),
        ("GET", "/png", "1.1", gz),
        ("GET", "/close", "1.1", gz),
        ("GET", "/vary", "1.1", gz),
        ("GET", "/badetag", "1.1", gz),
        ("GET", "/notype", "1.1", gz),
        ("GET", "/encoded", "1.1", gz),
        ("GET", "/notransform", "1.1", gz),
        ("GET", "/multipart", "1.1", gz),
        ("GET", "/missing", "1.1", gz),
        ("GET", "/raw", "1.1", Some("deflate")),
    ];
    let want = body();
    let mut compressed = 0;
    for &(method, path, version, ae) in cases {
        let what = format!("{method} {path} HTTP/{version} Accept-Encoding: {ae:?}");
        let h = request(hport, method, path, version, ae);
        let f = request(fport, method, path, version, ae);
        assert_eq!(f.status, h.status, "{what}: status");
        assert_eq!(f.fields, h.fields, "{what}: fields");
        assert_eq!(f.body.len(), h.body.len(), "{what}: decoded body length");
        assert!(f.body == h.body, "{what}: decoded bodies differ");
        if method == "GET" && f.status.starts_with('2') {
            assert!(f.body == want, "{what}: the body is not the server's");
        }
        if f.fields
            .iter()
            .any(|l| l.starts_with("content-encoding: deflate") || l == "content-encoding: gzip")
        {
            compressed += 1;
        }
    }
    // the comparison compared something: both compressed the eligible answers
    assert!(compressed >= 8, "only {compressed} compressed answers");

    // show stat: the same compressed responses per proxy and the same bytes fed to the
    // compressor (haproxy 2.6 counts one more byte per chunked answer, seen as +2 here);
    // fewer bytes out than in (the compressors differ, so comp_out is not compared)
    for (px, sv) in [("f", "FRONTEND"), ("b", "BACKEND"), ("raw", "BACKEND")] {
        let cols = ["comp_rsp", "comp_byp", "comp_in"];
        let (fv, hv) = (stat(&fsock, px, sv, &cols), stat(&hsock, px, sv, &cols));
        assert_eq!(fv[..2], hv[..2], "{px}/{sv}: {cols:?}");
        assert!(
            fv[2] <= hv[2] && hv[2] - fv[2] <= fv[0],
            "{px}/{sv}: comp_in {fv:?} {hv:?}"
        );
        let io = stat(&fsock, px, sv, &["comp_in", "comp_out"]);
        assert!(
            io[0] > 0 && io[1] > 0 && io[1] < io[0] / 3,
            "{px}/{sv}: {io:?}"
        );
    }

    // two compressed answers on one keep-alive connection (curl reuses it): both decode
    for port in [fport, hport] {
        let out = Command::new("curl")
            .args(["-s", "--compressed", "--max-time", "10"])
            .arg(format!("http://127.0.0.1:{port}/chunked"))
            .arg(format!("http://127.0.0.1:{port}/text"))
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl keep-alive {port}");
        assert!(
            out.stdout == [want.clone(), want.clone()].concat(),
            "keep-alive on {port}"
        );
    }

    // curl --compressed decodes both to the server's bytes
    for port in [fport, hport] {
        for path in ["/text", "/chunked"] {
            let out = Command::new("curl")
                .args(["-s", "--compressed", "--max-time", "10"])
                .arg(format!("http://127.0.0.1:{port}{path}"))
                .output()
                .expect("run curl");
            assert!(out.status.success(), "curl {port}{path}");
            assert!(
                out.stdout == want,
                "curl --compressed {port}{path}: not the server's bytes"
            );
        }
    }
}
