//! systemd's readiness protocol: `READY=1`, `RELOADING=1`, `STOPPING=1` to `$NOTIFY_SOCKET`.
//!
//! For `Type=notify` (and `notify-reload`) units. Without `NOTIFY_SOCKET` every call is a no-op.
//! A failure to notify is logged, never fatal: the service itself keeps running.

use std::os::unix::net::UnixDatagram;

pub struct Notifier {
    target: Option<String>,
}

impl Notifier {
    pub fn from_env() -> Self {
        Notifier {
            target: std::env::var("NOTIFY_SOCKET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    pub fn ready(&self) {
        self.send(&format!(
            "READY=1\nMAINPID={}\nSTATUS=serving",
            std::process::id()
        ));
    }

    pub fn reloading(&self) {
        let usec = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
            .unwrap_or(0);
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading"
        ));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    fn send(&self, msg: &str) {
        let Some(target) = &self.target else { return };
        let result = UnixDatagram::unbound().and_then(|sock| {
            if let Some(name) = target.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                sock.send_to_addr(msg.as_bytes(), &addr)
            } else {
                sock.send_to(msg.as_bytes(), target)
            }
        });
        if let Err(e) = result {
            tracing::warn!("cannot notify systemd at {target}: {e}");
        }
    }
}
