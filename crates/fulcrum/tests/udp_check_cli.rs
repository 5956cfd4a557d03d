//! `fulcrum udp-check ADDRESS PORT` (the LBaaS UDP-CONNECT check) on loopback: a port with a
//! UDP socket bound is up (exit 0) whether it answers or not, a closed port (the kernel
//! answers ICMP port unreachable) is down (exit 1), a bad address is a usage error (2).

use std::process::Command;

fn check(addr: &str, port: u16) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_fulcrum"))
        .args(["udp-check", addr, &port.to_string()])
        .output()
        .expect("run fulcrum")
        .status
        .code()
}

#[test]
fn udp_check_verdicts() {
    // Bound and silent: up (as `nc -uz`: no ICMP error within the second).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    assert_eq!(check("127.0.0.1", port), Some(0));
    // Bound and answering: up.
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let echo_port = echo.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        if let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    assert_eq!(check("127.0.0.1", echo_port), Some(0));
    let _ = t.join();
    // Closed: the port unreachable makes it down.
    drop(silent);
    assert_eq!(check("127.0.0.1", port), Some(1));
    assert_eq!(check("::1", port), Some(1));
    assert_eq!(check("not-an-ip", 53), Some(2));
}
