//! How a node reaches the cluster's etcd: the client (endpoints, TLS, user, timeouts and
//! HTTP/2 keep-alive from the `cluster` section) and the key prefix of the cluster.

use crate::keys;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use fulcrum_config::model::Cluster;
use std::time::Duration;
use tokio::time::timeout;

pub(crate) async fn connect(cfg: &Cluster) -> Result<Client, String> {
    // Pings every `etcd-keepalive` (default 1 s) while a request or stream is open, never on
    // an idle connection: a dead etcd member's connection is dropped within ~2 s instead of
    // taking requests that time out (5 s pings made failover 2.4 s slower in the lab). etcd
    // strikes pings faster than its `--grpc-keepalive-min-time` (5 s) only on a connection it
    // sends nothing on: the lease stream gets an answer every TTL/8 and requests get theirs,
    // so the node keeps no silent stream (no watch: it reads the prefix each round).
    let keep_alive = (cfg.etcd_keepalive, Duration::from_secs(1));
    connect_with(cfg, cfg.lease_ttl, keep_alive).await
}

/// A client for the cluster's etcd (endpoints, TLS, user from the `cluster` section), with this
/// request timeout and HTTP/2 keep-alive (interval, timeout); the LBaaS API's etcd store uses
/// it too. etcd ends connections that ping more often than every 5 s while a long watch is open
/// (`--grpc-keepalive-min-time`), so a client that watches pings less often. Idle connections
/// (no request, no stream) are not pinged: etcd counts any ping there as abuse.
pub async fn connect_with(
    cfg: &Cluster,
    request_timeout: Duration,
    keep_alive: (Duration, Duration),
) -> Result<Client, String> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_timeout(request_timeout)
        .with_keep_alive(keep_alive.0, keep_alive.1)
        .with_keep_alive_while_idle(false);
    let a = &cfg.etcd_auth;
    if let (Some(u), Some(p)) = (&a.user, &a.password) {
        opts = opts.with_user(u.clone(), p.clone());
    }
    if a.ca_file.is_some() || a.cert_file.is_some() {
        // tonic builds its rustls config from the process's default provider, which rustls
        // cannot choose by itself when two are compiled in (tonic's ring, fulcrum's aws-lc):
        // set it once (a second call finds it set and changes nothing).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut tls = TlsOptions::new();
        if let Some(ca) = &a.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("etcd-ca-file {ca}: {e}"))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        if let (Some(cert), Some(key)) = (&a.cert_file, &a.key_file) {
            let c = std::fs::read(cert).map_err(|e| format!("etcd-cert {cert}: {e}"))?;
            let k = std::fs::read(key).map_err(|e| format!("etcd-key {key}: {e}"))?;
            tls = tls.identity(Identity::from_pem(c, k));
        }
        opts = opts.with_tls(tls);
    }
    timeout(
        Duration::from_secs(3),
        Client::connect(&cfg.etcd, Some(opts)),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())
}

/// The etcd key prefix of this cluster.
pub fn prefix_of(cfg: &Cluster) -> String {
    keys::prefix(&cfg.name)
}
