//! `http-check send-state`: the `X-Haproxy-Server-State` header HAProxy 2.6 adds to every
//! check request (check.c, httpchk_build_status_header), built from the server's check state
//! and weights at the moment the check starts. Pure formatting.
//!
//! `UP 1/2; address=127.0.0.1; port=8080; name=app/s1; node=lb1; weight=3/4; scur=0/0; qcur=0`

/// What does not change between checks: where the server is and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateHeader {
    /// The server's address (`addr_to_str`), empty for a unix socket.
    pub address: String,
    /// The server's port, empty for a unix socket.
    pub port: String,
    /// `backend/server`.
    pub name: String,
    /// The global `node` (default: the host name).
    pub node: String,
}

/// The server and its backend at the moment the check starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerView {
    /// The check runs (`disable health` stops it: "no check").
    pub checking: bool,
    pub up: bool,
    /// NOLB (`disable-on-404` saw a 404).
    pub stopping: bool,
    /// HAProxy's `check->health` and the server's rise and fall.
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    /// The server's effective weight, and the sum of the backend's usable servers'.
    pub weight: u32,
    pub total_weight: u32,
    /// Sessions on the server, on the backend (minus its queue), queued on the server.
    pub scur: u32,
    pub backend_cur: u32,
    pub qcur: u32,
}

/// The data plane's live counts the header shows (`scur=S/B; qcur=Q`): the health engine does
/// not see sessions, so whoever runs the proxy hands it one of these (the binary reads the
/// generation being served). Called when a `send-state` check starts, never on a hot path.
pub trait ServerLoad: Send + Sync {
    /// Sessions on the server, sessions on its backend minus the backend's queue, and
    /// requests queued on the server; None for a server the data plane does not know.
    fn load(&self, backend: &str, server: &str) -> Option<(u32, u32, u32)>;
}

/// The header's value.
pub fn value(h: &StateHeader, v: &ServerView) -> String {
    let full = v.rise + v.fall - 1;
    let state = if !v.checking {
        "no check".to_string()
    } else if v.up {
        let word = if v.stopping { "NOLB" } else { "UP" };
        if v.health >= full {
            word.to_string()
        } else {
            format!(
                "{word} {}/{}",
                (v.health + 1).saturating_sub(v.rise),
                v.fall
            )
        }
    } else if v.health > 0 {
        format!("DOWN {}/{}", v.health, v.rise)
    } else {
        "DOWN".to_string()
    };
    format!(
        "{state}; address={}; port={}; name={}; node={}; weight={}/{}; scur={}/{}; qcur={}",
        h.address, h.port, h.name, h.node, v.weight, v.total_weight, v.scur, v.backend_cur, v.qcur
    )
}

/// The host name, HAProxy's default `node`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> StateHeader {
        StateHeader {
            address: "127.0.0.1".into(),
            port: "19402".into(),
            name: "state/a".into(),
            node: "lb1".into(),
        }
    }

    /// Values captured from haproxy 2.6.12 (rise 2, fall 2; weights 3 and 1).
    #[test]
    fn as_haproxy_writes_it() {
        let mut v = ServerView {
            checking: true,
            up: true,
            health: 2,
            rise: 2,
            fall: 2,
            weight: 3,
            total_weight: 4,
            ..Default::default()
        };
        assert_eq!(
            value(&h(), &v),
            "UP 1/2; address=127.0.0.1; port=19402; name=state/a; node=lb1; weight=3/4; scur=0/0; qcur=0"
        );
        v.health = 3;
        v.total_weight = 3;
        assert!(value(&h(), &v).starts_with("UP; address="));
        v.stopping = true;
        assert!(value(&h(), &v).starts_with("NOLB; "));
        v.up = false;
        v.health = 0;
        assert!(value(&h(), &v).starts_with("DOWN; "));
        v.health = 1;
        assert!(value(&h(), &v).starts_with("DOWN 1/2; "));
    }
}
