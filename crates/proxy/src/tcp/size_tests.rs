//! How large an established TCP session is: a guard on memory per connection. The future a
//! `mode tcp` session's task holds while it lives is the exchange's (`exchange`), the phases
//! before it boxed apart and freed (`serve`).

/// The size of the future `f` returns, without calling it.
fn returned<A, F: std::future::Future>(_: &impl FnOnce(A) -> F) -> usize {
    std::mem::size_of::<F>()
}

#[test]
fn established_tcp_session_future_is_small() {
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
            text: "defaults\n  mode tcp\nfrontend f\n  bind 127.0.0.1:1\n  default_backend b\nbackend b\n  server s 127.0.0.1:1\n",
        }])
        .config;
        let g = crate::state::build(&cfg, None).expect("build");
        let fe = g.frontends["f"].clone();
        let serve = std::mem::size_of_val(&super::serve(fe, c, (a, a), Default::default(), None));
        let setup = returned(&|c: tokio::net::TcpStream| {
            super::setup(g.frontends["f"].clone(), c, (a, a), Default::default(), None)
        });
        let exchange = returned(&|x: super::Exchange<tokio::net::TcpStream>| x.run());
        let state = std::mem::size_of::<super::Exchange<tokio::net::TcpStream>>();
        eprintln!(
            "session future {serve} bytes: boxed phases {setup}, exchange {exchange} (its state {state})"
        );
        // Measured (debug build, as tests run): 1816 (exchange 1800, its state 680, the
        // plain TCP tunnel 1112); 4888 when the session's phases were one future.
        assert!(serve <= 1900, "a TCP session's future is {serve} bytes");
    });
}
