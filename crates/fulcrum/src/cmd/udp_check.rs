//! `fulcrum udp-check ADDRESS PORT`: the check an LBaaS UDP-CONNECT health monitor runs (as a
//! keepalived MISC_CHECK), doing what Octavia's `udp_check.sh` does with `nc -uz -w1`: send a
//! datagram to the member and call it down only if the member's host answers with ICMP port
//! unreachable (the connected socket then reports ECONNREFUSED) within a second; an answer or
//! silence is up. Exit 0 up, 1 down, 2 on bad arguments.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

/// How long an ICMP error is waited for (nc's `-w1`).
const WAIT: Duration = Duration::from_secs(1);

pub fn run(address: &str, port: u16) -> ExitCode {
    let ip: IpAddr = match address.trim_matches(['[', ']']).parse() {
        Ok(ip) => ip,
        Err(_) => {
            eprintln!("fulcrum udp-check: '{address}' is not an IP address");
            return ExitCode::from(2);
        }
    };
    match probe(SocketAddr::new(ip, port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fulcrum udp-check: {ip} port {port}: {e}");
            ExitCode::from(1)
        }
    }
}

fn probe(to: SocketAddr) -> std::io::Result<()> {
    let local: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().map_err(std::io::Error::other)?
    } else {
        "[::]:0".parse().map_err(std::io::Error::other)?
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(to)?;
    sock.set_read_timeout(Some(WAIT))?;
    sock.send(b"X")?;
    let mut buf = [0u8; 512];
    match sock.recv(&mut buf) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
