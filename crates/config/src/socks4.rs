//! What a server's `socks4 ADDR:PORT` means on the wire: HAProxy 2.6's SOCKS4 CONNECT request
//! (version 4, command 1, the server's port and IPv4 address, user id "HAProxy"). One copy for
//! the proxy's server connections and the health checks' connects (`via-socks4`,
//! `check-via-socks4`), which both depend on the config crate and not on each other.

use std::net::SocketAddr;

/// The CONNECT request for `dst`, as HAProxy 2.6 sends it; None for an IPv6 destination
/// (SOCKS4 carries IPv4 addresses only).
pub fn request(dst: SocketAddr) -> Option<Vec<u8>> {
    let SocketAddr::V4(v4) = dst else {
        return None;
    };
    let mut r = vec![0x04, 0x01];
    r.extend_from_slice(&v4.port().to_be_bytes());
    r.extend_from_slice(&v4.ip().octets());
    r.extend_from_slice(b"HAProxy\0");
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_haproxys() {
        // captured from haproxy 2.6 checking 127.0.0.2:6379 through a SOCKS4 proxy
        assert_eq!(
            request("127.0.0.2:6379".parse().expect("addr")),
            Some(b"\x04\x01\x18\xeb\x7f\x00\x00\x02HAProxy\x00".to_vec())
        );
        assert_eq!(request("[::1]:80".parse().expect("addr")), None);
    }
}
