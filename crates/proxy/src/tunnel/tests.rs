use super::*;
use crate::http::bufs;
use tokio::net::TcpListener;

/// A connected pair of loopback TCP sockets (connecting end, accepted end).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = TcpStream::connect(l.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (b, _) = l.accept().await.expect("accept");
    (a, b)
}

/// Reads exactly `n` bytes.
async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    s.read_exact(&mut got).await.expect("read");
    got
}

#[test]
fn an_idle_tcp_tunnel_holds_no_buffer_its_reads_come_from_the_threads_pool() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut client, mut proxy_c) = pair().await;
        let (mut proxy_s, mut server) = pair().await;
        // The server's first bytes, read by the opening into a pooled buffer.
        let mut first = bufs::Lent::default();
        first.fill_from_pool();
        first.extend_from_slice(b"hi");
        let pooled = bufs::pooled_bytes();
        // The tunnel runs on this thread (a current-thread runtime): its pool is this one.
        let t = Tunnel {
            idle: None,
            client_fin: None,
            server_fin: None,
            splice: [Mode::Off, Mode::Off],
        };
        let relay = tokio::spawn(async move {
            tunnel(&mut proxy_c, bufs::Lent::default(), &mut proxy_s, first, &t).await
        });
        assert_eq!(read_n(&mut client, 2).await, b"hi");
        for _ in 0..3 {
            client.write_all(b"ping").await.expect("send");
            assert_eq!(read_n(&mut server, 4).await, b"ping");
            server.write_all(b"pong!").await.expect("send");
            assert_eq!(read_n(&mut client, 5).await, b"pong!");
            // Idle now: every buffer the tunnel used is back in the pool (one, lent in turn
            // to the first bytes and to each read). Bounded wait for the relay's turn.
            let mut back = false;
            for _ in 0..1000 {
                if bufs::pooled_bytes() == pooled + 1 {
                    back = true;
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert!(back, "pool holds {}", bufs::pooled_bytes());
        }
        // A burst fills reads whole: forwarded all the same, the buffer back afterwards.
        let burst = vec![7u8; 3 * bufs::TUNNEL_BUF + 5];
        client.write_all(&burst).await.expect("send");
        assert_eq!(read_n(&mut server, burst.len()).await, burst);
        client.shutdown().await.expect("half-close");
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.expect("end");
        assert!(rest.is_empty());
        drop(server);
        client.read_to_end(&mut rest).await.expect("end");
        let (up, down, end) = relay.await.expect("relay");
        assert_eq!(
            (up, down, end),
            (12 + burst.len() as u64, 2 + 15, TunnelEnd::Done)
        );
        assert_eq!(bufs::pooled_bytes(), pooled + 1);
    });
}
