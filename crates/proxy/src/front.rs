//! What a client connection is, as the sample language's `so_*` and `fc_*` fetches read it: the
//! listener that accepted it (`so_id`, `so_name`: the bind's `id` and `name`), its addresses as
//! the connection layer left them (`fc_src fc_dst` and ports: after the PROXY header and
//! `tcp-request connection` rules, before any later `set-src`), the PROXY header it started
//! with (`fc_rcvd_proxy`, `fc_pp_authority`, `fc_pp_unique_id`) and the kernel's TCP_INFO of
//! its socket (`fc_rtt fc_rttvar fc_unacked fc_sacked fc_retrans fc_fackets fc_lost
//! fc_reordering`), answered as HAProxy 2.6 answers them.
//!
//! [`ConnFacts`] is kept in the connection's rule state (`track::Tracking`), made only for
//! frontends whose configuration reads these fetches: other connections carry nothing more.
//! Also the worker thread's number (`thread`).

use fulcrum_sample::fetch::Fetch;
use fulcrum_sample::Value;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;

/// The fetches [`ConnFacts::fetch`] answers.
pub use fulcrum_sample::fetch::CONN_FACTS as FETCHES;

/// What the listener knows of a new connection before its session starts.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    /// The bind's `name`.
    pub name: Option<Arc<str>>,
    /// The TCP socket (none: a unix socket), for TCP_INFO.
    pub fd: Option<RawFd>,
    /// A PROXY header read before the session (a TLS bind reads it before its handshake), and
    /// the socket's own addresses then.
    pub pp: Option<Box<crate::proxy_protocol::Header>>,
    pub fc: Option<(SocketAddr, SocketAddr)>,
}

/// One client connection's facts.
#[derive(Debug)]
pub struct ConnFacts {
    /// The listener's number in its frontend (HAProxy's `luid`).
    pub id: u16,
    pub name: Option<Arc<str>>,
    /// (source, destination) of the socket, as `tcp-request connection` rules left them.
    pub fc: (SocketAddr, SocketAddr),
    /// A unix-socket client (no IP addresses: `fc_src` and the rest have no value).
    pub unix: bool,
    pub rcvd_proxy: bool,
    /// PROXY v2 TLVs `PP2_TYPE_AUTHORITY` (0x02) and `PP2_TYPE_UNIQUE_ID` (0x05).
    pub authority: Option<Box<[u8]>>,
    pub unique_id: Option<Box<[u8]>>,
    /// The socket, read only while the session that owns it runs (rules and its log lines).
    pub fd: Option<RawFd>,
}

impl ConnFacts {
    /// The facts of a connection accepted by listener `id`, at addresses `fc`, after its PROXY
    /// header `pp` (when the bind has `accept-proxy`).
    pub fn new(
        id: u16,
        seed: Seed,
        fc: (SocketAddr, SocketAddr),
        unix: bool,
        pp: Option<&crate::proxy_protocol::Header>,
    ) -> ConnFacts {
        use crate::proxy_protocol::{PP2_TYPE_AUTHORITY, PP2_TYPE_UNIQUE_ID};
        let tlv = |t: u8| -> Option<Box<[u8]>> { pp?.tlv(t).map(Box::from) };
        ConnFacts {
            id,
            name: seed.name,
            fc,
            unix,
            rcvd_proxy: pp.is_some(),
            authority: tlv(PP2_TYPE_AUTHORITY),
            unique_id: tlv(PP2_TYPE_UNIQUE_ID),
            fd: seed.fd,
        }
    }

    /// The value of fetch `f` (one of [`FETCHES`]); `None`: none here.
    pub fn fetch(&self, f: &Fetch) -> Option<Value> {
        let int = |n: i64| Some(Value::Sint(n));
        let ip = |a: SocketAddr| match crate::net::canonical(a.ip()) {
            std::net::IpAddr::V4(v) => Value::Ipv4(v),
            std::net::IpAddr::V6(v) => Value::Ipv6(v),
        };
        let addrs = (!self.unix).then_some(self.fc);
        match f.kw.name {
            "so_id" => int(i64::from(self.id)),
            "so_name" => Some(Value::Str(self.name.as_deref()?.as_bytes().to_vec())),
            "fc_src" => Some(ip(addrs?.0)),
            "fc_dst" => Some(ip(addrs?.1)),
            "fc_src_port" => int(i64::from(addrs?.0.port())),
            "fc_dst_port" => int(i64::from(addrs?.1.port())),
            "fc_rcvd_proxy" => Some(Value::Bool(self.rcvd_proxy)),
            "fc_pp_authority" => Some(Value::Str(self.authority.as_deref()?.to_vec())),
            "fc_pp_unique_id" => Some(Value::Str(self.unique_id.as_deref()?.to_vec())),
            "fc_src_is_local" => Some(Value::Bool(is_local(addrs?.0.ip()))),
            "fc_dst_is_local" => Some(Value::Bool(is_local(addrs?.1.ip()))),
            name => {
                let info = tcp_info(self.fd?)?;
                let us = matches!(f.args.first(), Some(fulcrum_sample::fetch::Arg::Str(u)) if u == b"us");
                let time = |v: u32| int(i64::from(if us { v } else { v / 1000 }));
                match name {
                    "fc_rtt" => time(info.rtt),
                    "fc_rttvar" => time(info.rttvar),
                    "fc_unacked" => int(i64::from(info.unacked)),
                    "fc_sacked" => int(i64::from(info.sacked)),
                    "fc_retrans" => int(i64::from(info.retrans)),
                    "fc_fackets" => int(i64::from(info.fackets)),
                    "fc_lost" => int(i64::from(info.lost)),
                    "fc_reordering" => int(i64::from(info.reordering)),
                    _ => None,
                }
            }
        }
    }
}

/// Whether `ip` is one of this host's addresses (`src_is_local` and the like): as HAProxy's
/// `addr_is_local`, whether a socket can be bound to it.
pub fn is_local(ip: std::net::IpAddr) -> bool {
    let ip = crate::net::canonical(ip);
    let domain = if ip.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    socket2::Socket::new(domain, socket2::Type::DGRAM, None)
        .and_then(|s| s.bind(&SocketAddr::new(ip, 0).into()))
        .is_ok()
}

/// The TCP_INFO fields the `fc_*` fetches read (times in microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub rtt: u32,
    pub rttvar: u32,
    pub unacked: u32,
    pub sacked: u32,
    pub retrans: u32,
    pub fackets: u32,
    pub lost: u32,
    pub reordering: u32,
    /// Segments received (the tests count a connection's segments with it).
    pub segs_in: u32,
}

/// The kernel's TCP_INFO of socket `fd` (`None`: not a TCP socket, or closed).
/// Neither nix nor socket2 offers this option, hence the one `getsockopt` call here.
#[allow(unsafe_code)]
pub fn tcp_info(fd: RawFd) -> Option<TcpInfo> {
    use nix::libc;
    let mut buf = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `buf` is a zero-initialised `tcp_info` (plain integers: every bit pattern is
    // valid) and `len` its size; the kernel writes at most `len` bytes into it. A closed or
    // non-TCP descriptor makes the call fail (checked) and leaves `buf` untouched.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: zero-initialised above, and a `tcp_info` of integers is valid for any bytes.
    let i = unsafe { buf.assume_init() };
    Some(TcpInfo {
        rtt: i.tcpi_rtt,
        rttvar: i.tcpi_rttvar,
        unacked: i.tcpi_unacked,
        sacked: i.tcpi_sacked,
        retrans: i.tcpi_retrans,
        fackets: i.tcpi_fackets,
        lost: i.tcpi_lost,
        reordering: i.tcpi_reordering,
        segs_in: i.tcpi_segs_in,
    })
}

thread_local! {
    static THREAD: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Numbers the calling worker thread (`thread`: from 0, as HAProxy's thread ids).
pub fn set_thread(i: usize) {
    THREAD.with(|t| t.set(i as i64));
}

/// The calling worker thread's number (0 outside the workers).
pub fn thread() -> i64 {
    THREAD.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_info_of_a_live_socket_and_not_of_others() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        use std::os::fd::AsRawFd;
        let info = tcp_info(c.as_raw_fd()).expect("tcp socket");
        // Loopback: a measured round trip exists and nothing is lost or unacknowledged.
        assert!(info.rtt > 0, "{info:?}");
        assert_eq!((info.unacked, info.lost), (0, 0));
        let u = std::os::unix::net::UnixDatagram::unbound().expect("unix");
        assert_eq!(tcp_info(u.as_raw_fd()), None);
        assert_eq!(tcp_info(-1), None);
    }

    #[test]
    fn local_addresses() {
        assert!(is_local("127.0.0.1".parse().expect("ip")));
        assert!(is_local("::ffff:127.0.0.1".parse().expect("ip")));
        // TEST-NET-3: never this host's.
        assert!(!is_local("203.0.113.9".parse().expect("ip")));
    }

    #[test]
    fn facts_answer_as_haproxy() {
        let a: SocketAddr = "10.0.0.1:1234".parse().expect("a");
        let b: SocketAddr = "10.0.0.2:80".parse().expect("b");
        let h = crate::proxy_protocol::Header {
            addrs: Some((a, b)),
            tlvs: vec![(0x02, b"example.com".to_vec()), (0x05, b"id-1".to_vec())],
        };
        let seed = Seed {
            name: Some("web".into()),
            ..Seed::default()
        };
        let f = ConnFacts::new(3, seed, (a, b), false, Some(&h));
        let get = |text: &str| {
            let e = fulcrum_sample::expr::compile(text).expect("compiles");
            f.fetch(&e.fetch)
        };
        assert_eq!(get("so_id"), Some(Value::Sint(3)));
        assert_eq!(get("so_name"), Some(Value::str("web")));
        assert_eq!(get("fc_src_port"), Some(Value::Sint(1234)));
        assert_eq!(get("fc_dst"), Some(Value::Ipv4([10, 0, 0, 2].into())));
        assert_eq!(get("fc_rcvd_proxy"), Some(Value::Bool(true)));
        assert_eq!(get("fc_pp_authority"), Some(Value::str("example.com")));
        assert_eq!(get("fc_pp_unique_id"), Some(Value::str("id-1")));
        // No socket: no TCP_INFO.
        assert_eq!(get("fc_rtt(us)"), None);
        let plain = ConnFacts::new(1, Seed::default(), (a, b), false, None);
        let e = fulcrum_sample::expr::compile("fc_pp_authority").expect("compiles");
        assert_eq!(plain.fetch(&e.fetch), None);
        let e = fulcrum_sample::expr::compile("so_name").expect("compiles");
        assert_eq!(plain.fetch(&e.fetch), None);
    }
}
