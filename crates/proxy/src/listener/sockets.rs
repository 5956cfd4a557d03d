//! Socket options of a bind line set on its listening TCP sockets, as HAProxy 2.6 sets them
//! (`proto_tcp.c`): `defer-accept` (TCP_DEFER_ACCEPT of one second: a connection is
//! accepted once data arrived), `mss N` (TCP_MAXSEG; a negative N lowers the socket's
//! default MSS by |N|), `interface NAME` (SO_BINDTODEVICE).

use fulcrum_config::model_limits::BindLimits;
use socket2::Socket;
use std::os::fd::AsRawFd;

/// TCP_DEFER_ACCEPT (seconds). Neither nix nor socket2 offers this option on Linux, hence
/// the one `setsockopt` call here.
#[allow(unsafe_code)]
fn set_defer_accept(s: &Socket, secs: i32) -> std::io::Result<()> {
    // SAFETY: a valid descriptor, a pointer to an int that outlives the call, and its size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sets the bind's socket options on a listening socket before it is bound.
pub fn apply(s: &Socket, l: &BindLimits) -> std::io::Result<()> {
    if l.defer_accept {
        set_defer_accept(s, 1)?;
    }
    match l.mss {
        Some(n) if n > 0 => s.set_mss(n.unsigned_abs())?,
        Some(n) if n < 0 => {
            let default = s.mss()?;
            s.set_mss(default.saturating_sub(n.unsigned_abs()).max(1))?
        }
        _ => {}
    }
    if let Some(dev) = &l.interface {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Type};

    #[test]
    fn options_reach_the_socket() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
        let l = BindLimits {
            defer_accept: true,
            mss: Some(1200),
            ..Default::default()
        };
        apply(&s, &l).expect("apply");
        assert_eq!(s.mss().expect("mss"), 1200);
    }
}
