//! keepalived's mail alerts through the lettre SMTP client, against a local SMTP sink on
//! 127.0.0.1 that the test runs (testlab's SmtpSink): envelope, headers and body as keepalived
//! sends them; an SMTP server that never answers is given up after smtp_connect_timeout.
#![allow(clippy::unwrap_used)]

use fulcrum_config::model::GlobalDefs;
use fulcrum_testlab::smtp::SmtpSink;
use fulcrum_vrrp::machine::State;
use fulcrum_vrrp::mail::{compose, send, Alerts};
use std::time::{Duration, Instant};

fn defs(server: String) -> GlobalDefs {
    GlobalDefs {
        router_id: Some("lb1".into()),
        notification_email: vec!["ops@example.com".into(), "oncall@example.com".into()],
        notification_email_from: Some("keepalived@lb1.example.com".into()),
        smtp_server: Some(server),
        smtp_connect_timeout: Some(Duration::from_secs(5)),
        smtp_helo_name: Some("lb1.example.com".into()),
        ..GlobalDefs::default()
    }
}

#[tokio::test]
async fn an_alert_reaches_the_smtp_server_as_keepalived_writes_it() {
    let sink = SmtpSink::start("127.0.0.1:0").unwrap();
    let a = Alerts::from_global_defs(&defs(sink.addr.to_string())).unwrap();
    let (subject, body) = compose(&a.router_id, "Instance", "VI_1", State::Master).unwrap();
    send(&a, &subject, &body).await.unwrap();
    let mails = tokio::task::spawn_blocking(move || {
        sink.wait_for(Duration::from_secs(5), |m| !m.is_empty())
    })
    .await
    .unwrap()
    .expect("a mail within 5 s");
    let m = &mails[0];
    assert_eq!(m.helo, "lb1.example.com");
    assert_eq!(m.from, "keepalived@lb1.example.com");
    assert_eq!(m.to, vec!["ops@example.com", "oncall@example.com"]);
    assert!(
        m.data
            .contains("Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data.contains("From: keepalived@lb1.example.com\r\n"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("=> VRRP Instance is now owning VRRP VIPs <="),
        "{}",
        m.data
    );
}

#[tokio::test]
async fn a_silent_server_is_given_up_after_the_connect_timeout() {
    // Accepts, never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut g = defs(silent.local_addr().unwrap().to_string());
    g.smtp_connect_timeout = Some(Duration::from_millis(500));
    let a = Alerts::from_global_defs(&g).unwrap();
    let started = Instant::now();
    let r = send(&a, "s", "b").await;
    assert!(r.is_err(), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
    // Nothing listening: an error, not a panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let a = Alerts::from_global_defs(&defs(format!("127.0.0.1:{port}"))).unwrap();
    assert!(send(&a, "s", "b").await.is_err());
}
