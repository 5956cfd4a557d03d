//! Listening sockets passed from a running fulcrum to the one replacing it (`haproxy -sf PID`,
//! `-st PID`, with or without `-x`), so a takeover resets no connection.
//!
//! With SO_REUSEPORT alone, connections the kernel already queued on the old process's
//! sockets are reset when it closes them (measured: about 2 per takeover under 4 concurrent
//! clients). HAProxy avoids that with `-x SOCKET` (the old process's stats socket passes its
//! listeners). fulcrum does the same without a stats socket: every running fulcrum serves
//! its listening sockets on the abstract unix socket `fulcrum-handover-PID`, to processes of
//! the same user (or root) only; the new process fetches them before opening anything, and
//! its binds take the ones whose address matches (getsockname), as with socket activation.
//! The kernel sockets then outlive the old process, and nothing queued on them is lost.
//!
//! Wire format: messages of one byte (`+`: more follow, `.`: last) carrying up to 200
//! descriptors each as `SCM_RIGHTS`.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use socket2::Socket;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

const PER_MESSAGE: usize = 200;

/// The abstract socket name a process serves its sockets on.
pub fn name(pid: u32) -> String {
    format!("fulcrum-handover-{pid}")
}

fn abstract_addr(pid: u32) -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name(pid).as_bytes())
}

/// Serves our listening sockets to a successor, for as long as the process runs.
pub async fn serve() {
    let listener = match std::os::unix::net::UnixListener::bind_addr(&match abstract_addr(
        std::process::id(),
    ) {
        Ok(a) => a,
        Err(_) => return,
    }) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("handover: cannot listen on @{}: {e}; a process taking over will not receive our sockets", name(std::process::id()));
            return;
        }
    };
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|_| tokio::net::UnixListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("handover: {e}");
            return;
        }
    };
    let me = nix::unistd::geteuid().as_raw();
    while let Ok((conn, _)) = listener.accept().await {
        let allowed = conn
            .peer_cred()
            .is_ok_and(|c| c.uid() == me || c.uid() == 0);
        if !allowed {
            tracing::warn!("handover: refused a request from another user");
            continue;
        }
        let sockets = crate::inherit::exported();
        let n = sockets.len();
        let sent = conn.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            s.set_write_timeout(Some(Duration::from_secs(5)))?;
            send(&s, &sockets)
        });
        match sent {
            Ok(()) => {
                crate::inherit::set_handed_over();
                tracing::info!(
                    "handover: passed {n} listening socket(s) to the process taking over"
                );
            }
            Err(e) => tracing::warn!("handover: sending our sockets failed: {e}"),
        }
    }
}

fn send(s: &std::os::unix::net::UnixStream, sockets: &[Socket]) -> std::io::Result<()> {
    let fds: Vec<RawFd> = sockets.iter().map(AsRawFd::as_raw_fd).collect();
    let chunks: Vec<&[RawFd]> = if fds.is_empty() {
        vec![&[]]
    } else {
        fds.chunks(PER_MESSAGE).collect()
    };
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let byte = if i == last { b"." } else { b"+" };
        let cmsg = [ControlMessage::ScmRights(chunk)];
        let cmsgs: &[ControlMessage] = if chunk.is_empty() { &[] } else { &cmsg };
        sendmsg::<()>(
            s.as_raw_fd(),
            &[IoSlice::new(byte)],
            cmsgs,
            MsgFlags::empty(),
            None,
        )
        .map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// Fetches the listening sockets of process `pid` (blocking, bounded by `timeout`) and keeps
/// them for our binds; returns how many arrived.
pub fn fetch(pid: u32, timeout: Duration) -> Result<usize, String> {
    let addr = abstract_addr(pid).map_err(|e| e.to_string())?;
    let s = std::os::unix::net::UnixStream::connect_addr(&addr).map_err(|e| {
        format!(
            "process {pid} does not offer its sockets (@{}): {e}",
            name(pid)
        )
    })?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; PER_MESSAGE]);
        let msg = recvmsg::<()>(
            s.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("receiving sockets from process {pid}: {e}"))?;
        if msg.bytes == 0 {
            return Err(format!(
                "process {pid} closed the handover before its last message"
            ));
        }
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(v) = c {
                    got.extend(
                        v.into_iter()
                            .filter_map(crate::inherit::adopt_received)
                            .map(Socket::from),
                    );
                }
            }
        }
        if byte[0] == b'.' {
            break;
        }
    }
    let n = got.len();
    crate::inherit::add_passed(got);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_sockets_cross_in_several_messages() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        let sockets: Vec<Socket> = (0..450)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .expect("bind")
                    .into()
            })
            .collect();
        let addrs: Vec<_> = sockets
            .iter()
            .map(|s| s.local_addr().expect("addr").as_socket())
            .collect();
        let sender = std::thread::spawn(move || send(&a, &sockets));
        b.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut got = Vec::new();
        loop {
            let mut byte = [0u8; 1];
            let mut iov = [IoSliceMut::new(&mut byte)];
            let mut space = nix::cmsg_space!([RawFd; PER_MESSAGE]);
            let msg = recvmsg::<()>(
                b.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .expect("recv");
            for c in msg.cmsgs().expect("cmsgs") {
                if let ControlMessageOwned::ScmRights(v) = c {
                    got.extend(
                        v.into_iter()
                            .filter_map(crate::inherit::adopt_received)
                            .map(Socket::from),
                    );
                }
            }
            if byte[0] == b'.' {
                break;
            }
        }
        sender.join().expect("sender").expect("send");
        let got_addrs: Vec<_> = got
            .iter()
            .map(|s| s.local_addr().expect("addr").as_socket())
            .collect();
        assert_eq!(got_addrs, addrs);
    }
}
