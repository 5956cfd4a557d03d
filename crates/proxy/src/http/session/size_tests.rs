//! How large an idle connection is: a guard on per-connection memory. A connection quiet for
//! `park::PARK_AFTER` holds only its parked state (`idle::IdleConn`, in a slot of the thread's
//! lot): no task, no session, no buffers, and no runtime registration (the lot watches the
//! socket on its own epoll set).

#[test]
fn idle_session_future_is_small() {
    fn size<F: std::future::Future>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let a = l.local_addr().expect("addr");
        let c = tokio::net::TcpStream::connect(a).await.expect("connect");
        let fe =
            super::park_tests::frontend("defaults\n  mode http\nfrontend f\n  bind 127.0.0.1:1\n");
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut s = super::Session {
            fe: fe.clone(),
            client: tokio::net::TcpStream::connect(a).await.expect("connect"),
            peer: a,
            local: a,
            bufs: Default::default(),
            attached: None,
            stop: rx.clone(),
            started: tokio::time::Instant::now(),
            handshake: Default::default(),
            wait_from: None,
            served: 0,
            track: None,
            clock: None,
            alarm: Default::default(),
            switched: None,
        };
        eprintln!(
            "idle state: session {} bytes, run future {} bytes",
            std::mem::size_of_val(&s),
            size(&s.run())
        );
        let fut = super::serve(fe, c, (a, a), Default::default(), rx, None, ());
        eprintln!("session future (while active): {} bytes", size(&fut));
        // The listener keeps its connection count and two `maxconn` permits (48 bytes). The
        // socket is parked off the runtime (a descriptor, not a registered stream).
        let parked =
            std::mem::size_of::<super::idle::IdleConn<tokio::net::TcpStream, [usize; 6]>>();
        eprintln!("parked state: {parked} bytes");
        // A parked TLS connection's state rides beside its socket (`Cold::With`: a descriptor
        // and a thin box of a `dyn Any`, so the enum stays as small as before TLS parked).
        assert!(
            parked <= 200,
            "a parked connection's state is {parked} bytes"
        );
    });
}
