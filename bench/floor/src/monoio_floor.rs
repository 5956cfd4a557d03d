//! (b'') The floor of monoio, the thread-per-core io_uring runtime a port of fulcrum would
//! most likely sit on: its io_uring driver, one task per client connection that connects,
//! sets TCP_NODELAY and forwards both directions in one future (owned 16 KB buffers, the
//! "rent" API: a read or write takes the buffer and gives it back), as tokio_floor.rs does.

use crate::net::BUF;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt, Splitable};
use monoio::net::TcpStream;
use std::net::SocketAddr;

pub fn run(l: std::net::TcpListener, backend: SocketAddr) -> std::io::Result<()> {
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .with_entries(4096)
        .build()?;
    rt.block_on(async move {
        let l = monoio::net::TcpListener::from_std(l)?;
        loop {
            let Ok((c, _)) = l.accept().await else {
                continue;
            };
            monoio::spawn(session(c, backend));
        }
    })
}

async fn session(c: TcpStream, backend: SocketAddr) {
    let Ok(s) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = s.set_nodelay(true);
    let (cr, cw) = c.into_split();
    let (sr, sw) = s.into_split();
    // Ends at the first EOF or error of either direction (the other's read is cancelled).
    monoio::select! {
        _ = pump(cr, sw) => {}
        _ = pump(sr, cw) => {}
    }
}

async fn pump(mut r: impl AsyncReadRent, mut w: impl AsyncWriteRentExt) {
    let mut buf = Vec::with_capacity(BUF);
    loop {
        let (res, b) = r.read(buf).await;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, mut b) = w.write_all(b).await;
        if res.is_err() {
            return;
        }
        b.clear();
        buf = b;
    }
}
