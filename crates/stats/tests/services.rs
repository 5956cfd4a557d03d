//! The applets resolve when a configuration is compiled: `use-service` names the stats crate
//! has become applets, an unknown one fails the build with its FILE:LINE, and a config with
//! stats pages or services cannot be built without the stats crate's services.

use fulcrum_proxy::state::{self, Serving};
use std::sync::Arc;
use tokio::sync::watch;

fn load(text: &str) -> fulcrum_config::Config {
    let loaded = fulcrum_config::load_sources(&[fulcrum_config::Source {
        name: "svc.cfg",
        text,
    }]);
    assert!(loaded.is_ok(), "{text}");
    loaded.config
}

const HEAD: &str = "defaults\n mode http\n timeout client 5s\n timeout server 5s\n timeout connect 5s\nfrontend web\n bind 127.0.0.1:1\n";

fn build(text: &str, with_stats: bool) -> Result<state::Generation, String> {
    let (_tx, rx) = watch::channel(Serving::default());
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    let services: &dyn state::Services = if with_stats {
        &stats
    } else {
        &state::NoServices
    };
    state::build_with(&load(text), None, Arc::default(), services, &rx).map_err(|e| e.to_string())
}

#[test]
fn use_service_resolves_when_rules_compile() {
    let known = format!("{HEAD} http-request use-service prometheus-exporter\n");
    assert!(build(&known, true).is_ok());
    let err = build(&known, false).err().expect("no services: an error");
    assert!(
        err.contains("svc.cfg:8: use-service 'prometheus-exporter'"),
        "{err}"
    );
    let unknown = format!("{HEAD} http-request use-service nope\n");
    let err = build(&unknown, true).err().expect("unknown: an error");
    assert!(
        err.contains("svc.cfg:8: use-service 'nope': no such service"),
        "{err}"
    );
    let cfg = load(&unknown);
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    let found = state::unknown_services(&cfg, &stats);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "svc.cfg:8");
}

#[test]
fn stats_pages_need_the_stats_services() {
    let cfg = format!("{HEAD} stats enable\n stats uri /s\n");
    assert!(build(&cfg, true).is_ok());
    let err = build(&cfg, false)
        .err()
        .expect("no stats services: an error");
    assert!(err.contains("stats pages are not available"), "{err}");
}

#[test]
fn the_exporter_follows_the_served_generation() {
    use fulcrum_proxy::state::Services as _;
    let cfg = load(&format!(
        "{HEAD} default_backend app\nbackend app\n server a 127.0.0.1:2\n"
    ));
    let (tx, rx) = watch::channel(Serving::default());
    let stats = fulcrum_stats::Stats::new(std::time::Instant::now());
    let proxies = Arc::new(std::sync::OnceLock::new());
    let env = state::ServiceEnv {
        proxies: &proxies,
        serving: &rx,
    };
    let exporter = stats
        .service("prometheus-exporter", &env)
        .expect("exporter");
    assert_eq!(exporter.name(), "prometheus-exporter");
    let (fe_line, be_line) = (
        "haproxy_frontend_current_sessions{proxy=\"web\"}",
        "haproxy_server_current_sessions{proxy=\"app\",server=\"a\"}",
    );
    let scrape = |e: &Arc<dyn fulcrum_proxy::applet::Applet>| {
        let head = fulcrum_proxy::http::message::Message::default();
        let seen = fulcrum_proxy::http::sample_env::Situation::new(
            "127.0.0.1:1".parse().expect("addr"),
            "127.0.0.1:1".parse().expect("addr"),
        );
        let ctx = seen.view(None, None);
        let a = e.answer(&fulcrum_proxy::applet::AppletRequest {
            method: b"GET",
            uri: b"/metrics",
            head: &head,
            body: b"",
            ctx: &ctx,
        });
        assert_eq!(a.status(), 200);
        String::from_utf8_lossy(&a.body).into_owned()
    };
    // Nothing published yet: no proxy families.
    assert!(!scrape(&exporter).contains(fe_line));
    let gen = Arc::new(state::build(&cfg, None).expect("build"));
    tx.send_modify(|s| s.generation = Arc::downgrade(&gen));
    let text = scrape(&exporter);
    assert!(text.contains(fe_line), "{text}");
    assert!(text.contains(be_line), "{text}");
    // A retired generation is not kept alive by the exporter.
    drop(gen);
    assert!(!scrape(&exporter).contains(fe_line));
}

#[test]
fn the_page_uptime_counts_from_the_process_start() {
    use fulcrum_proxy::state::Services as _;
    // A process that started 100 s ago shows 1m40s at its first page view (it showed 0s when
    // the uptime counted from the first view).
    let started = std::time::Instant::now()
        .checked_sub(std::time::Duration::from_secs(100))
        .expect("the clock goes back 100 s");
    let stats = fulcrum_stats::Stats::new(started);
    let cfg = load(&format!("{HEAD} stats enable\n stats uri /s\n"));
    let (_tx, rx) = watch::channel(Serving::default());
    let proxies = Arc::new(std::sync::OnceLock::new());
    let env = state::ServiceEnv {
        proxies: &proxies,
        serving: &rx,
    };
    let page = stats
        .stats(&cfg.proxies[0], &env)
        .expect("compiles")
        .expect("stats enabled");
    let head = fulcrum_proxy::http::message::Message::default();
    let seen = fulcrum_proxy::http::sample_env::Situation::new(
        "127.0.0.1:1".parse().expect("addr"),
        "127.0.0.1:1".parse().expect("addr"),
    );
    let ctx = seen.view(None, None);
    let a = page.answer(&fulcrum_proxy::applet::AppletRequest {
        method: b"GET",
        uri: b"/s",
        head: &head,
        body: b"",
        ctx: &ctx,
    });
    assert_eq!(a.status(), 200);
    let body = String::from_utf8_lossy(&a.body);
    assert!(
        body.contains("data-col=\"uptime\">1m40s") || body.contains("data-col=\"uptime\">1m41s"),
        "{body}"
    );
}
