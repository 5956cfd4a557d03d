use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[test]
fn modes_as_haproxy_ors_them() {
    let (n, d) = (None, DEFAULT);
    // Nothing written: the default given.
    assert_eq!(mode([n, n], [n, n], d), DEFAULT);
    assert_eq!(mode([n, n], [n, n], TUNNEL_DEFAULT), Mode::Off);
    // `option splice-request|response` in either proxy: always.
    assert_eq!(mode([Some(true), n], [n, n], d), Mode::Always);
    assert_eq!(mode([n, Some(true)], [Some(false), n], d), Mode::Always);
    assert_eq!(mode([n, n], [n, Some(true)], TUNNEL_DEFAULT), Mode::Auto);
    // `no option splice-auto`: off (unless the direction's own option is on).
    assert_eq!(mode([n, n], [Some(false), n], d), Mode::Off);
    assert_eq!(mode([Some(false), n], [n, n], d), Mode::Off);
}

/// A connected pair of loopback TCP sockets (client end, accepted end).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (b, _) = l.accept().await.unwrap();
    (a, b)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn moves_exactly_up_to_the_limit_and_leaves_the_rest() {
    rt().block_on(async {
        let (mut writer, src) = pair().await;
        let (dst, mut reader) = pair().await;
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&body).await.unwrap();
        writer.write_all(b"NEXT").await.unwrap();
        let want = body.len() as u64;
        let mut moved = 0u64;
        let read = tokio::spawn(async move {
            let mut got = vec![0u8; 300_000];
            reader.read_exact(&mut got).await.unwrap();
            got
        });
        while moved < want {
            let left = (want - moved) as usize;
            let t = (Some(Duration::from_secs(5)), Some(Duration::from_secs(5)));
            match move_some(&src, &dst, left, false, t, &mut moved).await {
                Ok(Got::Moved(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(moved, want);
        assert_eq!(read.await.unwrap(), body);
        // What follows the limit is still in the source socket.
        let mut next = [0u8; 4];
        let mut src = src;
        src.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"NEXT");
    });
}

#[test]
fn end_of_stream_drained_and_pipes_go_back() {
    rt().block_on(async {
        let (mut writer, src) = pair().await;
        let (dst, _reader) = pair().await;
        let mut moved = 0;
        // Nothing to read and told to stop so: drained, no pipe kept busy.
        let r = move_some(&src, &dst, 1 << 20, true, (None, None), &mut moved).await;
        assert!(matches!(r, Ok(Got::Drained)), "{r:?}");
        writer.write_all(b"abc").await.unwrap();
        writer.shutdown().await.unwrap();
        let r = move_some(&src, &dst, 1 << 20, false, (None, None), &mut moved).await;
        assert!(matches!(r, Ok(Got::Moved(3))), "{r:?}");
        let r = move_some(&src, &dst, 1 << 20, false, (None, None), &mut moved).await;
        assert!(matches!(r, Ok(Got::Eof)), "{r:?}");
        assert_eq!(moved, 3);
        // Every pipe this thread used is back in its pool.
        let pooled = POOL.with(|p| p.borrow().len());
        assert!(pooled >= 1);
        assert!(open_pipes() >= pooled);
    });
}

#[test]
fn a_destination_that_went_away_fails_on_the_destination_side() {
    rt().block_on(async {
        let (mut writer, src) = pair().await;
        let (dst, reader) = pair().await;
        drop(reader);
        writer.write_all(&vec![7u8; 200_000]).await.unwrap();
        let mut moved = 0;
        let t = (Some(Duration::from_secs(5)), Some(Duration::from_secs(5)));
        let mut failed = None;
        for _ in 0..100 {
            match move_some(&src, &dst, 1 << 20, false, t, &mut moved).await {
                Ok(Got::Moved(_)) => continue,
                other => {
                    failed = Some(other);
                    break;
                }
            }
        }
        assert!(matches!(failed, Some(Err(Fail::Dst(_)))), "{failed:?}");
    });
}

#[test]
fn a_silent_source_times_out() {
    rt().block_on(async {
        let (_writer, src) = pair().await;
        let (dst, _reader) = pair().await;
        let mut moved = 0;
        let t = (Some(Duration::from_millis(50)), None);
        let r = move_some(&src, &dst, 100, false, t, &mut moved).await;
        match r {
            Err(Fail::Src(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("unexpected {other:?}"),
        }
    });
}
