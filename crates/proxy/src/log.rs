//! Traffic logs: `option httplog` / `option tcplog` lines in HAProxy's formats.
//!
//! A line is built once per request/connection and sent to each `log` target of the proxy:
//! `stderr`/`stdout` (`fd@2`/`fd@1`) get the raw line; `HOST[:PORT]` with an optional `ipv4@`,
//! `ipv6@`, `udp@`, `udp4@` or `udp6@` prefix (port 514 by default, a name is resolved once
//! when the configuration loads) gets an RFC 3164 syslog datagram; a path or `unix@PATH`
//! (`/dev/log`) gets the same over a unix datagram socket, `abns@NAME` over an abstract one;
//! `fd@N` writes it, newline-terminated, to the inherited descriptor N (a connected socket or a
//! pipe). Sending never blocks the request path (datagrams are fire-and-forget, stderr writes
//! one line).
//!
//! Frames as HAProxy 2.6 writes them, newline-terminated, cut to the target's `len` (1024 by
//! default): `rfc3164` `<PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: MSG`, `rfc5424` `<PRI>1
//! ISO-DATE HOST|- TAG PID - SD|- MSG` (SD from `log-format-sd`), `short` `<SEVERITY>MSG`,
//! `raw` `MSG`. TAG is `log-tag` (the proxy's, else the global one, else the program's
//! name); HOST is `log-send-hostname`'s.

use fulcrum_config::model::LogTarget;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::{SystemTime, UNIX_EPOCH};

enum Sink {
    Stderr,
    Stdout,
    Udp(UdpSocket, SocketAddr),
    Unix(UnixDatagram, String),
    Abns(UnixDatagram, std::os::unix::net::SocketAddr),
    Fd(std::sync::Arc<std::fs::File>),
}

/// The `format` of a `log` target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// No `format`: rfc3164 without a host name unless `log-send-hostname`.
    Default,
    /// An explicit `format rfc3164`: haproxy 2.6 then writes a host name, `localhost`
    /// without `log-send-hostname` (measured).
    Rfc3164,
    Rfc5424,
    Short,
    Raw,
}

struct Out {
    sink: Sink,
    frame: Frame,
    /// The longest datagram (`len`).
    len: usize,
    /// The facility, times 8 (the severity is added per line).
    pri: u8,
    /// LEVEL: lines more verbose are not sent here.
    max: Option<u8>,
    /// MINLEVEL: lines are sent at least this severe.
    min: Option<u8>,
    /// `sample RANGES:SIZE`: the ranks (from 1, in cycles of SIZE) of the lines sent here,
    /// and the lines seen so far (after the level filter, as HAProxy counts them).
    sample: Option<(
        fulcrum_config::model::LogSample,
        std::sync::atomic::AtomicU64,
    )>,
}

impl Out {
    /// Whether the next line (at a level this target takes) is one its `sample` keeps.
    fn sampled(&self) -> bool {
        let Some((s, seen)) = &self.sample else {
            return true;
        };
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rank = (n % u64::from(s.size)) as u32 + 1;
        s.ranges.iter().any(|&(lo, hi)| lo <= rank && rank <= hi)
    }
}

pub struct Logger {
    outs: Vec<Out>,
    tag: String,
    /// `log-send-hostname`: the name in the header.
    host: Option<String>,
    /// `log-format-sd`: the structured data of the traffic lines on `rfc5424` targets.
    pub sd: Option<fulcrum_sample::Format>,
    /// `error-log-format`: the line of a connection that failed before a request
    /// (`log_error`); `None`: HAProxy's fixed line.
    pub error_format: Option<fulcrum_sample::Format>,
    /// Traffic lines logged so far (`%lc`).
    count: std::sync::atomic::AtomicU64,
}

fn facility(name: &str) -> u8 {
    const F: &[&str] = &[
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
        "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
        "local5", "local6", "local7",
    ];
    F.iter().position(|f| *f == name).unwrap_or(16) as u8
}

/// Syslog severity `info`.
pub const INFO: u8 = 6;

/// Syslog severity number of a level name (`emerg` 0 .. `debug` 7).
fn severity(name: &str) -> Option<u8> {
    const L: &[&str] = &[
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    L.iter().position(|l| *l == name).map(|p| p as u8)
}

impl Logger {
    /// The logger of a proxy: its `log` targets, its `log-tag` (else the global one) and the
    /// global `log-send-hostname`. None when it has no target.
    pub fn for_proxy(
        p: &fulcrum_config::model::Proxy,
        g: &fulcrum_config::model::Global,
    ) -> Option<Logger> {
        let mut l = Logger::new(&p.logs)?;
        if let Some(tag) = p.options.log_tag.as_ref().or(g.log_tag.as_ref()) {
            l.tag = tag.clone();
        }
        l.host = g.log_send_hostname.as_ref().map(|h| {
            if h.is_empty() {
                hostname().to_string()
            } else {
                h.clone()
            }
        });
        Some(l)
    }

    /// None when the proxy has no `log` target.
    pub fn new(targets: &[LogTarget]) -> Option<Logger> {
        let mut outs = Vec::new();
        for t in targets {
            // `log ADDR FACILITY LEVEL MINLEVEL`: a line more verbose than LEVEL is not sent
            // there (traffic lines are `info`, as HAProxy sends them: a `notice` target gets
            // none); MINLEVEL raises the severity lines are sent with.
            let max = t.level.as_deref().and_then(severity);
            let min = t.min_level.as_deref().and_then(severity);
            let pri = facility(&t.facility) * 8;
            let a = t.address.as_str();
            let sink = if a == "stderr" || a == "fd@2" {
                Sink::Stderr
            } else if a == "stdout" || a == "fd@1" {
                Sink::Stdout
            } else if a.starts_with('/') || a.starts_with("unix@") {
                let path = a.trim_start_matches("unix@").to_string();
                match UnixDatagram::unbound() {
                    Ok(s) => Sink::Unix(s, path),
                    Err(_) => continue,
                }
            } else if let Some(name) = a.strip_prefix("abns@") {
                use std::os::linux::net::SocketAddrExt;
                match (
                    UnixDatagram::unbound(),
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()),
                ) {
                    (Ok(s), Ok(addr)) => {
                        let _ = s.set_nonblocking(true);
                        Sink::Abns(s, addr)
                    }
                    _ => continue,
                }
            } else if let Some(n) = a.strip_prefix("fd@") {
                match n
                    .parse::<i32>()
                    .map_err(|_| format!("'{n}' is not a descriptor number"))
                    .and_then(crate::inherit::log_fd)
                {
                    Ok(f) => Sink::Fd(f),
                    Err(msg) => {
                        tracing::warn!("{}: log target '{a}': {msg}; not logging there", t.span);
                        continue;
                    }
                }
            } else {
                let Some(addr) = udp_target(a) else {
                    tracing::warn!("{}: log target '{a}' is not an address fulcrum can send to (expected [udp@]HOST[:PORT], a path, abns@NAME or fd@N)", t.span);
                    continue;
                };
                let bind: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                match UdpSocket::bind(bind) {
                    Ok(s) => {
                        let _ = s.set_nonblocking(true);
                        Sink::Udp(s, addr)
                    }
                    Err(_) => continue,
                }
            };
            let frame = match t.format.as_deref() {
                Some("rfc5424") => Frame::Rfc5424,
                Some("short") => Frame::Short,
                Some("raw") => Frame::Raw,
                Some("rfc3164") => Frame::Rfc3164,
                _ => Frame::Default,
            };
            outs.push(Out {
                sink,
                frame,
                len: t.len.map_or(1024, |l| l as usize),
                pri,
                max,
                min,
                sample: t
                    .sample
                    .clone()
                    .map(|s| (s, std::sync::atomic::AtomicU64::new(0))),
            });
        }
        if outs.is_empty() {
            None
        } else {
            Some(Logger {
                outs,
                tag: program(),
                host: None,
                sd: None,
                error_format: None,
                count: Default::default(),
            })
        }
    }

    /// How many traffic lines were logged before this one (`%lc`), counting this one.
    pub fn count(&self) -> u64 {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// How many traffic lines were logged so far (`%lc` in a rule value: nothing counted).
    pub fn logged(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn send(&self, line: &str) {
        self.send_level(INFO, line);
    }

    /// [`Logger::send`] at a syslog level other than info (health lines: notice 5, a server
    /// DOWN alert 1, a backend without servers emerg 0, as HAProxy sends them).
    pub fn send_level(&self, level: u8, line: &str) {
        self.send_sd(level, line, None)
    }

    /// [`Logger::send_level`] with RFC 5424 structured data (`log-format-sd`), written on
    /// `rfc5424` targets.
    pub fn send_sd(&self, level: u8, line: &str, sd: Option<&str>) {
        for o in &self.outs {
            if o.max.is_some_and(|max| level > max) || !o.sampled() {
                continue;
            }
            let sev = o.min.map_or(level, |min| level.min(min));
            let pri = o.pri | (sev & 7);
            let mut frame = FRAME.take();
            match o.sink {
                // stderr/stdout get the bare line, as before.
                Sink::Stderr | Sink::Stdout => {
                    frame.clear();
                    frame.extend_from_slice(line.as_bytes());
                    frame.push(b'\n');
                }
                _ => self.frame(o, pri, sev, line, sd, &mut frame),
            }
            match &o.sink {
                Sink::Stderr => {
                    let _ = std::io::stderr().lock().write_all(&frame);
                }
                Sink::Stdout => {
                    let _ = std::io::stdout().lock().write_all(&frame);
                }
                Sink::Udp(s, addr) => {
                    let _ = s.send_to(&frame, addr);
                }
                Sink::Unix(s, path) => {
                    let _ = s.send_to(&frame, path);
                }
                Sink::Abns(s, addr) => {
                    let _ = s.send_to_addr(&frame, addr);
                }
                Sink::Fd(f) => {
                    let _ = (&**f).write_all(&frame);
                }
            }
            if frame.capacity() <= FRAME_KEEP {
                FRAME.set(frame);
            }
        }
    }

    /// One datagram in the target's format, cut to its `len` (newline included), written
    /// into `f` (emptied first).
    fn frame(&self, o: &Out, pri: u8, sev: u8, line: &str, sd: Option<&str>, f: &mut Vec<u8>) {
        f.clear();
        let pid = pid();
        let host = self.host.as_deref();
        let now = SystemTime::now();
        let mut num = itoa::Buffer::new();
        match o.frame {
            Frame::Default | Frame::Rfc3164 => {
                let host = match o.frame {
                    Frame::Rfc3164 => host.or(Some("localhost")),
                    _ => host,
                };
                // `<pri>Nov 23 09:00:00 host tag[pid]: `
                f.push(b'<');
                f.extend_from_slice(num.format(pri).as_bytes());
                f.push(b'>');
                write_header_date(f, now);
                f.push(b' ');
                if let Some(h) = host {
                    f.extend_from_slice(h.as_bytes());
                    f.push(b' ');
                }
                f.extend_from_slice(self.tag.as_bytes());
                f.push(b'[');
                f.extend_from_slice(num.format(pid).as_bytes());
                f.extend_from_slice(b"]: ");
            }
            Frame::Rfc5424 => {
                let offset = local_offset(now);
                let (y, mo, d, h, m, s, _) = civil(now, offset);
                let us = now
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_micros());
                let z = fulcrum_sample::localtime::offset_hhmm(offset);
                let head = format!(
                    "<{pri}>1 {y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{us:06}{}:{} {} {} {pid} - {} ",
                    &z[..3],
                    &z[3..],
                    host.unwrap_or("-"),
                    self.tag,
                    sd.filter(|s| !s.is_empty()).unwrap_or("-")
                );
                f.extend_from_slice(head.as_bytes());
            }
            Frame::Short => {
                f.push(b'<');
                f.extend_from_slice(num.format(sev).as_bytes());
                f.push(b'>');
            }
            Frame::Raw => {}
        }
        let room = o.len.saturating_sub(f.len() + 1);
        f.extend_from_slice(&line.as_bytes()[..line.len().min(room)]);
        f.push(b'\n');
    }
}

/// The host name (`%H`, `log-send-hostname`), as HAProxy's `hostname` (read once).
pub use crate::net::hostname;

/// The program's name, HAProxy's default tag (`haproxy` when fulcrum runs as `haproxy`).
fn program() -> String {
    let argv0 = std::env::args().next().unwrap_or_default();
    match argv0.rsplit('/').next() {
        Some("haproxy") => "haproxy".into(),
        _ => "fulcrum".into(),
    }
}

/// `[ipv4@|ipv6@|udp@|udp4@|udp6@]HOST[:PORT]`, port 514 by default; a name is resolved here,
/// once, keeping the first address of the family asked for.
pub fn udp_target(text: &str) -> Option<SocketAddr> {
    let (family, rest) = [
        ("udp4@", Some(true)),
        ("ipv4@", Some(true)),
        ("udp6@", Some(false)),
        ("ipv6@", Some(false)),
        ("udp@", None),
    ]
    .iter()
    .find_map(|(p, v4)| text.strip_prefix(p).map(|r| (*v4, r)))
    .unwrap_or((None, text));
    let fits = |a: &SocketAddr| match family {
        Some(v4) => a.is_ipv4() == v4,
        None => true,
    };
    if let Ok(a) = rest.parse::<SocketAddr>() {
        return Some(a).filter(fits);
    }
    let bare = rest.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Some(SocketAddr::new(ip, 514)).filter(fits);
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (rest, 514),
    };
    if host.is_empty() {
        return None;
    }
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.find(fits)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

thread_local! {
    /// The datagram being written, reused from line to line (one allocation per thread).
    static FRAME: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}
/// A frame buffer larger than this (a `len` raised far above the default) is not kept.
const FRAME_KEEP: usize = 16 * 1024;

/// The process id in every header, read once: `getpid` is a system call per log line
/// otherwise (glibc does not cache it), and fulcrum never forks after starting.
pub(crate) fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// (year, month, day, hour, minute, second, millisecond) of `t` shown `offset` seconds east
/// of UTC.
fn civil(t: SystemTime, offset: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64 + offset;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400) as u32;
    let (year, month, day) = fulcrum_sample::time::civil(days);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis(),
    )
}

/// The system's local offset (seconds east of UTC) at `t`: HAProxy's dates are local.
fn local_offset(t: SystemTime) -> i64 {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    fulcrum_sample::localtime::offset_at(secs)
}

/// HAProxy's accept date in local time (`%t`, `%tr`): `23/Nov/2026:09:00:00.123`.
pub fn accept_date(t: SystemTime) -> String {
    let mut out = Vec::with_capacity(24);
    write_accept_date(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// [`accept_date`] appended to `out`. The part to the second is remembered per thread (every
/// log line writes one: formatting it each time was ~4,000 instructions per request).
pub fn write_accept_date(out: &mut Vec<u8>, t: SystemTime) {
    thread_local! {
        static LAST: PerSecond = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    per_second(&LAST, d.as_secs(), out, || {
        let mut full = accept_date_in(t, local_offset(t));
        full.truncate(full.len() - 4); // without `.mmm`
        full
    });
    let ms = d.subsec_millis();
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
    ]);
}

/// The syslog header's date (`Nov 23 09:00:00`, local time), remembered per thread for the
/// last second written.
fn write_header_date(out: &mut Vec<u8>, now: SystemTime) {
    thread_local! {
        static LAST: PerSecond = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    per_second(&LAST, secs, out, || {
        let (_, mon, day, h, m, s, _) = civil(now, local_offset(now));
        format!("{} {day:2} {h:02}:{m:02}:{s:02}", MONTHS[mon as usize - 1])
    });
}

/// A thread's last text to the second: (unix second, text).
type PerSecond = std::cell::RefCell<(u64, String)>;

/// Appends `text` of unix second `secs`, made once per second and thread (`cache` keeps the
/// last one; made again when the cache is in use further up the stack).
fn per_second(
    cache: &'static std::thread::LocalKey<PerSecond>,
    secs: u64,
    out: &mut Vec<u8>,
    text: impl FnOnce() -> String,
) {
    cache.with(|last| match last.try_borrow_mut() {
        Ok(mut last) => {
            if last.0 != secs {
                *last = (secs, text());
            }
            out.extend_from_slice(last.1.as_bytes());
        }
        Err(_) => out.extend_from_slice(text().as_bytes()),
    });
}

fn accept_date_in(t: SystemTime, offset: i64) -> String {
    let (y, mo, d, h, m, s, ms) = civil(t, offset);
    format!(
        "{d:02}/{}/{y}:{h:02}:{m:02}:{s:02}.{ms:03}",
        MONTHS[mo as usize - 1]
    )
}

/// HAProxy's date with its zone, to the second: `23/Nov/2026:09:00:00 +0000` in GMT (`%T`,
/// `%trg`) or local time (`%Tl`, `%trl`).
pub fn zoned_date(t: SystemTime, local: bool) -> String {
    let offset = if local { local_offset(t) } else { 0 };
    let (y, mo, d, h, m, s, _) = civil(t, offset);
    format!(
        "{d:02}/{}/{y}:{h:02}:{m:02}:{s:02} {}",
        MONTHS[mo as usize - 1],
        fulcrum_sample::localtime::offset_hhmm(offset)
    )
}

/// Milliseconds for a log field; -1 when the phase never happened, as HAProxy.
pub fn ms(d: Option<std::time::Duration>) -> i64 {
    d.map_or(-1, millis)
}

/// Whole milliseconds of `d` in 64-bit arithmetic (`Duration::as_millis` divides a `u128`:
/// a library call, several per log line).
pub fn millis(d: std::time::Duration) -> i64 {
    (d.as_secs() as i64)
        .saturating_mul(1000)
        .saturating_add(i64::from(d.subsec_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_format_like_haproxy() {
        let t = UNIX_EPOCH + Duration::from_millis(1_779_526_800_123);
        assert_eq!(accept_date_in(t, 0), "23/May/2026:09:00:00.123");
        assert_eq!(accept_date_in(t, 19_800), "23/May/2026:14:30:00.123");
    }

    #[test]
    fn udp_targets_as_haproxy_writes_them() {
        let a = |s: &str| udp_target(s).map(|a| a.to_string());
        assert_eq!(a("127.0.0.1:514").as_deref(), Some("127.0.0.1:514"));
        assert_eq!(a("udp@127.0.0.1:1514").as_deref(), Some("127.0.0.1:1514"));
        assert_eq!(a("127.0.0.1").as_deref(), Some("127.0.0.1:514"));
        assert_eq!(a("udp6@[::1]:600").as_deref(), Some("[::1]:600"));
        assert_eq!(a("udp4@[::1]:600"), None);
        assert_eq!(a("udp4@localhost:700").as_deref(), Some("127.0.0.1:700"));
        assert_eq!(a("udp@"), None);
    }

    #[test]
    fn level_filters_and_minlevel_raises_traffic_lines() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let addr = rx.local_addr().expect("addr").to_string();
        let target = |level: Option<&str>, min: Option<&str>| LogTarget {
            span: fulcrum_config::Span::new("t.cfg", 1),
            address: addr.clone(),
            facility: "local0".into(),
            level: level.map(Into::into),
            min_level: min.map(Into::into),
            format: None,
            len: None,
            sample: None,
        };
        // `notice` is more important than the traffic lines' `info`: nothing is sent there
        // (a notice line is).
        let notice = Logger::new(&[target(Some("notice"), None)]).expect("a target");
        notice.send("x");
        notice.send_level(5, "y");
        let mut b = [0u8; 512];
        let n = rx.recv(&mut b).expect("datagram");
        assert!(String::from_utf8_lossy(&b[..n]).starts_with("<133>"));
        let pri = |t: LogTarget| {
            Logger::new(&[t]).expect("a target").send("x");
            let mut b = [0u8; 512];
            let n = rx.recv(&mut b).expect("datagram");
            String::from_utf8_lossy(&b[..n])
                .split('>')
                .next()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(pri(target(None, None)), "<134");
        assert_eq!(pri(target(Some("debug"), None)), "<134");
        assert_eq!(pri(target(Some("info"), Some("notice"))), "<133");
    }
}
