//! (a) The floor on fulcrum's runtime: a tokio current-thread runtime with every driver
//! enabled (crates/proxy/src/runtime.rs), one task per client connection that connects with
//! `TcpStream::connect` + TCP_NODELAY (connect.rs) and forwards both directions in one future,
//! 16 KB per direction (not zeroed). tokio's readiness tracking skips the read that would return EAGAIN
//! after a short read, as fulcrum relies on: 4 system calls per small request plus the
//! amortized epoll_wait.

use crate::net::BUF;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let l = tokio::net::TcpListener::from_std(l)?;
        loop {
            let (c, _) = match l.accept().await {
                Ok(a) => a,
                Err(_) => continue,
            };
            tokio::task::spawn_local(session(c, backend));
        }
    })
}

async fn session(mut c: TcpStream, backend: SocketAddr) {
    let Ok(mut s) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = s.set_nodelay(true);
    let (mut cr, mut cw) = c.split();
    let (mut sr, mut sw) = s.split();
    // Ends at the first EOF or error of either direction; dropping both streams closes them.
    tokio::select! {
        _ = pump(&mut cr, &mut sw) => {}
        _ = pump(&mut sr, &mut cw) => {}
    }
}

async fn pump(r: &mut tokio::net::tcp::ReadHalf<'_>, w: &mut tokio::net::tcp::WriteHalf<'_>) {
    // Reads into the spare capacity: no zeroing of the buffer per connection.
    let mut buf = Vec::with_capacity(BUF);
    loop {
        match r.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if w.write_all(&buf).await.is_err() {
                    return;
                }
                buf.clear();
            }
        }
    }
}
