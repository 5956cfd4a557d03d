//! How large an idle session is (its future and state): a guard on per-connection memory.

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
        let cfg = fulcrum_config::load_sources(&[fulcrum_config::Source {
            name: "t",
            text: "defaults\n  mode http\nfrontend f\n  bind 127.0.0.1:1\n",
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let fe = g.frontends["f"].clone();
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let mut s = super::Session {
            fe: fe.clone(),
            client: tokio::net::TcpStream::connect(a).await.expect("connect"),
            peer: a,
            local: a,
            cbuf: Default::default(),
            sbuf: Default::default(),
            req: Default::default(),
            res: Default::default(),
            out: Vec::new(),
            scratch: Vec::new(),
            attached: None,
            stop: rx.clone(),
            started: tokio::time::Instant::now(),
            served: 0,
            track: None,
        };
        eprintln!(
            "idle state: session {} bytes, run future {} bytes",
            std::mem::size_of_val(&s),
            size(&s.run())
        );
        let fut = super::serve(fe, c, a, a, rx, None);
        eprintln!("session future: {} bytes", size(&fut));
        // Debug builds lay futures out larger than release builds.
        assert!(size(&fut) < 1024, "session future is {} bytes", size(&fut));
    });
}
