//! How a server's HTTP/2 connections are reused and kept, as its line says.

/// `max-reuse`, `pool-purge-delay` and `pool-max-conn` as a server's HTTP/2 connections
/// apply them (HAProxy: "at least HTTP/2 connections to servers will respect it").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Pool {
    /// Streams one connection carries in all (`max-reuse` + 1); None: no limit.
    pub max_streams: Option<u64>,
    /// How long a connection without streams stays open (zero: as long as the server
    /// keeps it).
    pub purge: std::time::Duration,
    /// Connections without streams kept for the server; None: no limit.
    pub max_idle: Option<u32>,
}

impl Default for H2Pool {
    fn default() -> H2Pool {
        H2Pool {
            max_streams: None,
            purge: std::time::Duration::from_secs(5),
            max_idle: None,
        }
    }
}

impl H2Pool {
    /// As the server line says.
    pub fn of(s: &fulcrum_config::model::Server) -> H2Pool {
        H2Pool {
            max_streams: s.max_reuse.map(|n| u64::from(n) + 1),
            purge: s.pool_purge_delay,
            max_idle: s.pool_max_conn,
        }
    }
}
