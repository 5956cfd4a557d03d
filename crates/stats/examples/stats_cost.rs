//! What the stats counters cost the data plane per HTTP request, measured in-process: the
//! exact counting calls one proxied request makes (frontend session and request, backend and
//! server sessions, status, bytes and times) in a tight loop, on 1 thread and on 2 threads
//! sharing the same frontend, backend and server (the contended case).
//!
//!   cargo run --release -p fulcrum-stats --example stats_cost
//!
//! Compare the result with the proxy's CPU time per request (bench/proxy: ~20 us for a small
//! keep-alive request on one core) to get the share counting takes.

use fulcrum_proxy::counters::SessionGuard;
use fulcrum_proxy::record::{self, HttpDone};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let text = "defaults\n mode http\n timeout client 5s\n timeout server 5s\n timeout connect 5s\n\
                frontend web\n bind 127.0.0.1:1\n default_backend app\n backend app\n server n1 127.0.0.1:2\n";
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "bench.cfg",
        text,
    }]);
    let gen = match fulcrum_proxy::state::build(&loaded.config, None) {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("cannot build the bench config: {e}");
            return;
        }
    };
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    // BASE=1: only what existed before the stats counters (the server's served/total/changed
    // bookkeeping in take/release), to tell the counters' own share.
    let base = std::env::var("BASE").is_ok();
    for threads in [1usize, 2] {
        let start = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let gen = gen.clone();
                std::thread::spawn(move || {
                    if base {
                        let srv = gen.backends["app"].servers[0].clone();
                        for _ in 0..n {
                            srv.take();
                            srv.release();
                        }
                        return;
                    }
                    let fe = gen.frontends["web"].clone();
                    let be = gen.backends["app"].clone();
                    let srv = be.servers[0].clone();
                    // One keep-alive connection serving n requests, as the bench's clients do.
                    let _conn = SessionGuard::start(&fe.counters);
                    for _ in 0..n {
                        record::request_received(&fe.counters);
                        be.counters.start();
                        srv.take();
                        record::status(
                            &fe.counters,
                            Some(&be.counters),
                            Some(&srv.counters),
                            200,
                            fulcrum_proxy::termination::Termination::NORMAL,
                            record::Answerer::Server,
                        );
                        let d = HttpDone {
                            status: 200,
                            term: fulcrum_proxy::termination::Termination::NORMAL,
                            bytes_in: 80,
                            bytes_out: 180,
                            answered_by: record::Answerer::Server,
                            counted: record::StatusCount::Counted,
                            tw: Some(Duration::ZERO),
                            tc: Some(Duration::ZERO),
                            tr: Some(Duration::from_micros(300)),
                            tt: Duration::from_micros(400),
                        };
                        record::http(
                            &fe.counters,
                            Some(&be.counters),
                            Some(&srv.counters),
                            std::hint::black_box(&d),
                        );
                        srv.release();
                        be.counters.end();
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        let per = start.elapsed().as_nanos() as f64 / n as f64;
        println!("{threads} thread(s): {per:.1} ns of wall time per request per thread (includes the server's pre-existing served/total/leastconn counters)");
    }
    let rows = fulcrum_stats::snapshot::snapshot(&gen);
    println!(
        "check: frontend req_tot {} (expected {})",
        rows[0].req_tot,
        3 * n
    );
}
