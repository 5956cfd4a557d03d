//! A server that dies, answers 500, hangs or flaps while clients keep sending requests through
//! `fulcrum run` (issue 4 items 2 and 8). The servers are real processes (fulcrum itself with
//! `http-request return`, or a listener of the test that never answers); the clients are
//! threads sending real requests on new connections, in a loop bounded in count and time.
//!
//! What must hold, as HAProxy users expect with `retries` + `option redispatch` and checks:
//! - a killed server costs no failed request apart from those it was serving at that instant
//!   (a refused connection is retried on another server);
//! - once the check has marked a server DOWN (its log line is printed after the proxy state
//!   changed), no request that starts afterwards fails;
//! - a restarted server rejoins rotation after `rise` checks.

mod common;

use common::{app_server, free_port, get, Fulcrum, Scratch};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;

#[derive(Debug, Clone)]
struct Sample {
    start: Instant,
    /// `Ok(status, body)` or the I/O error.
    outcome: Result<(u16, String), String>,
}

impl Sample {
    fn ok(&self) -> bool {
        matches!(&self.outcome, Ok((200, _)))
    }
    fn from(&self, server: &str) -> bool {
        matches!(&self.outcome, Ok((200, b)) if b.trim() == server)
    }
}

/// Clients looping requests to `port` until stopped (at most 60 s and 50,000 requests each).
struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..CLIENTS)
            .map(|_| {
                let (stop, samples) = (stop.clone(), samples.clone());
                std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    for _ in 0..50_000 {
                        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                            break;
                        }
                        let start = Instant::now();
                        let outcome = get(port).map_err(|e| e.to_string()).map(|r| parse(&r));
                        if let Ok(mut v) = samples.lock() {
                            v.push(Sample { start, outcome });
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            threads,
        }
    }

    /// Waits (10 s at most, else fails the test) until the samples so far satisfy `enough`:
    /// the load has observably done what the next step needs, instead of a fixed sleep.
    fn until(&self, what: &str, enough: impl Fn(&[Sample]) -> bool) {
        let done = fulcrum_testlab::wait::until(Duration::from_secs(10), || {
            self.samples.lock().is_ok_and(|v| enough(&v))
        });
        assert!(done.is_some(), "the load never reached: {what}");
    }

    fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let mut v = self.samples.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort_by_key(|s| s.start);
        v
    }
}

fn parse(response: &str) -> (u16, String) {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples.iter().filter(|s| !s.ok()).collect()
}

/// The proxy in front of app-1 and app-2: HTTP checks every 100 ms, fall 2 rise 2, 3 retries
/// with redispatch, `timeout server 1s` (a hanging server costs at most that).
fn proxy(scratch: &Scratch, front: u16, app1: u16, app2: u16) -> Fulcrum {
    let cfg = scratch.write(
        "proxy.cfg",
        &format!(
            "defaults\n mode http\n retries 3\n option redispatch\n timeout connect 500ms\n timeout client 5s\n\
             timeout server 1s\n timeout check 300ms\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n balance roundrobin\n option httpchk GET /\n\
             default-server check inter 100 fall 2 rise 2\n\
             server app-1 127.0.0.1:{app1}\n server app-2 127.0.0.1:{app2}\n"
        ),
    );
    Fulcrum::start(&cfg)
}

/// How many requests make "served" in a waiting step: enough that a stray success is not it.
const SERVED: usize = 20;

fn served_by(samples: &[Sample], name: &str, after: Instant) -> usize {
    samples
        .iter()
        .filter(|s| s.start > after && s.from(name))
        .count()
}

/// Two demo servers behind the proxy, the load running and settled.
struct Rig {
    scratch: Scratch,
    /// app-1's port (it is killed and restarted there).
    p1: u16,
    app1: Fulcrum,
    _app2: Fulcrum,
    lb: Fulcrum,
    load: Load,
}

impl Rig {
    fn start(tag: &str) -> Rig {
        let scratch = Scratch::new(tag);
        let (front, p1, p2) = (free_port(), free_port(), free_port());
        let app1 = app_server(&scratch, "app-1", p1, 200);
        let _app2 = app_server(&scratch, "app-2", p2, 200);
        let lb = proxy(&scratch, front, p1, p2);
        let t0 = Instant::now();
        let load = Load::start(front);
        load.until("both servers serving", |s| {
            served_by(s, "app-1", t0) >= SERVED && served_by(s, "app-2", t0) >= SERVED
        });
        Rig {
            scratch,
            p1,
            app1,
            _app2,
            lb,
            load,
        }
    }
}

#[test]
fn a_killed_server_costs_only_its_in_flight_requests_and_rejoins_after_restart() {
    let Rig {
        scratch,
        p1,
        app1,
        _app2,
        lb,
        load,
    } = Rig::start("kill-under-load");
    let killed_at = Instant::now();
    drop(app1); // SIGKILL
    let (down_at, line) = lb
        .wait_line("Server app_pool/app-1 is DOWN", Duration::from_secs(5))
        .expect("app-1 marked DOWN");
    assert!(
        line.contains("1 active and 0 backup servers left"),
        "{line}"
    );
    load.until("app-2 serving alone after the DOWN", |s| {
        served_by(s, "app-2", down_at) >= SERVED
    });
    let _app1 = app_server(&scratch, "app-1", p1, 200);
    let (up_at, _) = lb
        .wait_line("Server app_pool/app-1 is UP", Duration::from_secs(5))
        .expect("app-1 back UP");
    load.until("app-1 serving again after the UP", |s| {
        served_by(s, "app-1", up_at) >= SERVED
    });
    let samples = load.finish();

    let failed = failures(&samples);
    eprintln!(
        "kill: {} requests, {} failed, DOWN {} ms after the kill",
        samples.len(),
        failed.len(),
        down_at.duration_since(killed_at).as_millis()
    );
    eprintln!("kill failures: {failed:?} (kill at {killed_at:?})");
    // Only requests in flight on app-1 at the kill may fail: at most one per client.
    assert!(
        failed.len() <= CLIENTS,
        "more failures than requests in flight at the kill: {failed:?}"
    );
    assert!(
        failed
            .iter()
            .all(|s| s.start <= killed_at + Duration::from_millis(50))
            || failed.is_empty(),
        "failures after the kill instant: {failed:?}"
    );
    let before = samples.iter().filter(|s| s.start < killed_at).count();
    assert!(
        before > 20
            && samples
                .iter()
                .filter(|s| s.start < killed_at)
                .any(|s| s.from("app-1")),
        "load reached app-1 before the kill"
    );
    assert!(
        samples.iter().any(|s| s.start > down_at && s.from("app-2")),
        "app-2 served while app-1 was down"
    );
    assert!(
        samples.iter().any(|s| s.start > up_at && s.from("app-1")),
        "app-1 served again once UP"
    );
}

/// app-1 serves, then is broken by `breaks` (given the running app-1 and its port; what it
/// returns is kept alive until the end) while the load runs; the check must take it out with
/// `reason` in HAProxy's log line, and no request starting after that may fail.
fn removed_and_nothing_fails_after_detection(
    tag: &str,
    reason: &str,
    breaks: impl FnOnce(&Scratch, Fulcrum, u16) -> Box<dyn std::any::Any>,
) {
    let Rig {
        scratch,
        p1,
        app1,
        _app2,
        lb,
        load,
    } = Rig::start(tag);
    let broken_at = Instant::now();
    let _broken = breaks(&scratch, app1, p1);
    let (down_at, line) = lb
        .wait_line("Server app_pool/app-1 is DOWN", Duration::from_secs(5))
        .expect("app-1 marked DOWN");
    assert!(line.contains(reason), "{line}");
    load.until("requests after the detection", |s| {
        s.iter().filter(|x| x.start > down_at).count() > 2 * SERVED
    });
    let samples = load.finish();

    let late: Vec<_> = samples
        .iter()
        .filter(|s| s.start > down_at && !s.ok())
        .collect();
    eprintln!(
        "{tag}: {} requests, {} failed in all (before detection), DOWN {} ms after the failure began",
        samples.len(),
        failures(&samples).len(),
        down_at.duration_since(broken_at).as_millis()
    );
    assert!(
        late.is_empty(),
        "requests failed after app-1 was DOWN: {late:?}"
    );
    assert!(
        samples.iter().filter(|s| s.start > down_at).count() > 20,
        "load continued after detection"
    );
}

#[test]
fn a_server_answering_500_is_removed_and_nothing_fails_after_detection() {
    removed_and_nothing_fails_after_detection(
        "500-under-load",
        "Layer7 wrong status, code: 500",
        |scratch, app1, p1| {
            drop(app1);
            Box::new(app_server(scratch, "app-1", p1, 500))
        },
    );
}

#[test]
fn a_hanging_server_is_removed_and_nothing_fails_after_detection() {
    // app-1 is replaced by a listener that accepts and never answers.
    removed_and_nothing_fails_after_detection(
        "hang-under-load",
        "Layer7 timeout",
        |_, app1, p1| {
            drop(app1);
            let hang = TcpListener::bind(("127.0.0.1", p1)).expect("rebind app-1's port");
            let held = Arc::new(Mutex::new(Vec::new()));
            let keep = held.clone();
            std::thread::spawn(move || {
                for c in hang.incoming().flatten().take(5_000) {
                    if let Ok(mut v) = keep.lock() {
                        v.push(c);
                    }
                }
            });
            Box::new(held)
        },
    );
}

#[test]
fn a_flapping_server_costs_at_most_its_in_flight_requests() {
    let Rig {
        scratch,
        p1,
        app1,
        _app2,
        lb,
        load,
    } = Rig::start("flap-under-load");
    let mut app1 = Some(app1);

    // Killed and restarted three times, 400 ms apart: refused connections are redispatched.
    let kills = 3;
    let mut kill_times = Vec::new();
    for _ in 0..kills {
        kill_times.push(Instant::now());
        drop(app1.take());
        std::thread::sleep(Duration::from_millis(400));
        app1 = Some(app_server(&scratch, "app-1", p1, 200));
        std::thread::sleep(Duration::from_millis(400));
    }
    let last_restart = Instant::now();
    load.until("app-1 serving after its last restart", |s| {
        served_by(s, "app-1", last_restart) >= SERVED
    });
    let samples = load.finish();
    let failed = failures(&samples);
    eprintln!(
        "flap: {} requests, {} failed over {kills} kills",
        samples.len(),
        failed.len()
    );
    assert!(
        failed.len() <= CLIENTS * kills,
        "more failures than requests in flight at the kills: {failed:?}"
    );
    for f in &failed {
        assert!(
            kill_times
                .iter()
                .any(|k| f.start <= *k + Duration::from_millis(50)
                    && f.start + Duration::from_secs(2) >= *k),
            "a failure not explained by a kill: {f:?}"
        );
    }
    drop(lb);
}

#[test]
fn no_usable_server_is_a_503_at_once_not_after_a_timeout() {
    let scratch = Scratch::new("no-server-503");
    let (front, p1) = (free_port(), free_port());
    let app1 = app_server(&scratch, "app-1", p1, 200);
    // Long connect and queue timeouts: a 503 arriving well before them was not waited for.
    let cfg = scratch.write(
        "proxy.cfg",
        &format!(
            "defaults\n mode http\n timeout connect 5s\n timeout queue 5s\n timeout client 5s\n timeout server 5s\n\
             frontend www\n bind 127.0.0.1:{front}\n default_backend app_pool\n\
             backend app_pool\n option httpchk GET /\n server app-1 127.0.0.1:{p1} check inter 100 fall 2 rise 2\n"
        ),
    );
    let lb = Fulcrum::start(&cfg);
    assert!(get(front).expect("request").starts_with("HTTP/1.1 200"));
    drop(app1);
    let (_, line) = lb
        .wait_line("Server app_pool/app-1 is DOWN", Duration::from_secs(5))
        .expect("DOWN");
    assert!(
        line.contains("0 active and 0 backup servers left"),
        "{line}"
    );
    let t = Instant::now();
    let r = get(front).expect("request");
    let took = t.elapsed();
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(
        r.contains("No server is available to handle this request."),
        "{r}"
    );
    assert!(
        took < Duration::from_secs(2),
        "503 after {took:?}: it waited for a timeout\n{}",
        lb.log_text()
    );
}
