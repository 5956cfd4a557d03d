//! This node's etcd lease: granted, kept alive on a task of its own, and the time of the last
//! acknowledged keepalive published on CLOCK_BOOTTIME.
//!
//! A partitioned node sees keepalives fail, never an error it must act on: the runner compares
//! `deadline()` with the clock every round and drops every VIP first. The lease cannot expire
//! at etcd before the send time of the last acknowledged keepalive plus the TTL (etcd renews
//! it when it receives the request, later than we sent it), so the deadline, taken a margin
//! before that, always comes first.

use crate::clock::boottime;
use etcd_client::Client;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::timeout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Send time (boot clock) of the last keepalive etcd acknowledged with a TTL left.
    Alive(Duration),
    /// etcd says the lease is gone.
    Lost,
}

pub struct Session {
    pub lease: i64,
    ttl: Duration,
    ack: watch::Receiver<Ack>,
    task: tokio::task::JoinHandle<()>,
}

/// How long before the earliest possible expiry every address is gone.
/// Covers the scheduling delay of the deadline timer and the address removal on a busy host.
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 8).max(Duration::from_millis(300))
}

impl Session {
    pub async fn open(client: &Client, ttl: Duration) -> Result<Session, String> {
        let mut c = client.clone();
        let sent = boottime();
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let resp = timeout(ttl / 2, c.lease_grant(secs, None))
            .await
            .map_err(|_| "lease grant timed out".to_string())?
            .map_err(|e| format!("lease grant: {e}"))?;
        let lease = resp.id();
        let (tx, rx) = watch::channel(Ack::Alive(sent));
        let task = tokio::spawn(keepalive(c, lease, ttl, tx));
        Ok(Session {
            lease,
            ttl,
            ack: rx,
            task,
        })
    }

    /// When every address must be gone, or `None` when the lease is known lost.
    pub fn deadline(&self) -> Option<Duration> {
        match *self.ack.borrow() {
            Ack::Alive(sent) => Some(sent + self.ttl - margin(self.ttl)),
            Ack::Lost => None,
        }
    }

    /// Revokes the lease at once (a graceful stop: others need not wait for it to expire).
    pub async fn revoke(self, client: &Client) {
        self.task.abort();
        let mut c = client.clone();
        let _ = timeout(Duration::from_secs(1), c.lease_revoke(self.lease)).await;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keepalive(mut client: Client, lease: i64, ttl: Duration, tx: watch::Sender<Ack>) {
    // Frequent: the deadline counts from the last acknowledged send, so a short etcd hiccup
    // (a leader election) costs no VIP when the acknowledgements resume before it.
    let every = (ttl / 8).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = None;
    loop {
        tick.tick().await;
        if stream.is_none() {
            match timeout(every, client.lease_keep_alive(lease)).await {
                Ok(Ok(s)) => stream = Some(s),
                _ => continue,
            }
        }
        let Some((keeper, replies)) = stream.as_mut() else {
            continue;
        };
        let sent = boottime();
        if !matches!(timeout(every, keeper.keep_alive()).await, Ok(Ok(()))) {
            stream = None;
            continue;
        }
        match timeout(every, replies.message()).await {
            Ok(Ok(Some(r))) if r.ttl() > 0 => {
                let _ = tx.send(Ack::Alive(sent));
            }
            Ok(Ok(Some(_))) => {
                let _ = tx.send(Ack::Lost);
                return;
            }
            _ => stream = None,
        }
    }
}
