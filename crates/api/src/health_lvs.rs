//! Operating status of UDP/SCTP listeners from the LVS data plane: the running process's
//! virtual-server states (as `fulcrum status --json` shows them) turned into the same rows
//! `show stat` gives for the proxy's listeners, so `health::refresh` maps both alike
//! (a real server UP → ONLINE, or NO_MONITOR without a health monitor; DOWN → ERROR; a
//! member the data plane does not hold → OFFLINE).

use crate::health::Row;
use crate::render_lvs::is_l4;
use crate::state::{b, i, s, State};
use crate::{Handle, ToFulcrum};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Whether any listener is served by LVS (the data plane is asked only then).
pub fn any(state: &State) -> bool {
    state.all("listener").any(|l| is_l4(s(l, "protocol")))
}

/// The LVS states, fetched at most every 200 ms (reading them runs `nft` and reads
/// conntrack); emptied after each apply.
#[derive(Default)]
pub struct LvsCache {
    inner: std::sync::Mutex<Option<(Instant, Value)>>,
}

impl LvsCache {
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.inner.lock() {
            *g = None;
        }
    }
}

/// The running process's LVS virtual servers (an empty list when it is stopping).
pub async fn fetch(shared: &Handle) -> Value {
    if let Ok(g) = shared.lvs.inner.lock() {
        if let Some((at, v)) = g.as_ref() {
            if at.elapsed() < Duration::from_millis(200) {
                return v.clone();
            }
        }
    }
    let (tx, rx) = oneshot::channel();
    if shared
        .to_fulcrum
        .send(ToFulcrum::LvsStatus(tx))
        .await
        .is_err()
    {
        return Value::Array(Vec::new());
    }
    let v = rx.await.unwrap_or(Value::Array(Vec::new()));
    if let Ok(mut g) = shared.lvs.inner.lock() {
        *g = Some((Instant::now(), v.clone()));
    }
    v
}

fn name(ip: &str, port: i64) -> Option<String> {
    let ip: IpAddr = ip.parse().ok()?;
    let port = u16::try_from(port).ok()?;
    Some(SocketAddr::new(ip, port).to_string())
}

fn row(status: &str) -> Row {
    Row {
        status: status.to_string(),
        ..Row::default()
    }
}

/// `show stat`-like rows for the UDP/SCTP listeners: (listener, FRONTEND), (pool:listener,
/// BACKEND) and (pool:listener, member id).
pub fn rows(state: &State, lvs: &Value) -> HashMap<(String, String), Row> {
    let mut out = HashMap::new();
    let Some(vss) = lvs.as_array() else {
        return out;
    };
    for lb in state.all("loadbalancer") {
        let vip = s(lb, "vip_address");
        for lid in state.children("listener", "loadbalancer_id", s(lb, "id")) {
            let Some(l) = state
                .get("listener", &lid)
                .filter(|l| is_l4(s(l, "protocol")))
            else {
                continue;
            };
            let Some(vs_name) = name(vip, i(l, "protocol_port")) else {
                continue;
            };
            let Some(vs) = vss.iter().find(|v| {
                v["virtual_server"].as_str() == Some(vs_name.as_str())
                    && v["protocol"]
                        .as_str()
                        .is_some_and(|p| p.eq_ignore_ascii_case(s(l, "protocol")))
            }) else {
                continue;
            };
            out.insert((lid.clone(), "FRONTEND".to_string()), row("OPEN"));
            let Some(pid) = l.get("default_pool_id").and_then(Value::as_str) else {
                continue;
            };
            let backend = format!("{pid}:{lid}");
            out.insert((backend.clone(), "BACKEND".to_string()), row("UP"));
            let monitored = state
                .children("healthmonitor", "pool_id", pid)
                .iter()
                .filter_map(|h| state.get("healthmonitor", h))
                .any(|h| b(h, "admin_state_up"));
            let rss = vs["real_servers"].as_array().cloned().unwrap_or_default();
            for mid in state.children("member", "pool_id", pid) {
                let Some(m) = state.get("member", &mid) else {
                    continue;
                };
                let Some(rs_name) = name(s(m, "address"), i(m, "protocol_port")) else {
                    continue;
                };
                let Some(rs) = rss
                    .iter()
                    .find(|r| r["real_server"].as_str() == Some(rs_name.as_str()))
                else {
                    continue;
                };
                let st = rs["state"].as_str().unwrap_or("");
                let status = if st.starts_with("UP") {
                    if monitored {
                        "UP"
                    } else {
                        "no check"
                    }
                } else {
                    "DOWN"
                };
                out.insert((backend.clone(), mid), row(status));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> crate::state::Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lvs_states_become_rows() {
        let mut st = State::default();
        st.insert(
            "loadbalancer",
            "lb",
            obj(json!({"id": "lb", "vip_address": "10.0.0.1"})),
        );
        st.insert(
            "listener",
            "l",
            obj(
                json!({"id": "l", "loadbalancer_id": "lb", "protocol": "UDP",
                       "protocol_port": 53, "default_pool_id": "p"}),
            ),
        );
        for (id, addr) in [("m1", "10.0.0.2"), ("m2", "10.0.0.3"), ("m3", "10.0.0.4")] {
            st.insert(
                "member",
                id,
                obj(
                    json!({"id": id, "pool_id": "p", "address": addr, "protocol_port": 53,
                           "admin_state_up": true}),
                ),
            );
        }
        let lvs = json!([{"virtual_server": "10.0.0.1:53", "protocol": "udp", "real_servers": [
            {"real_server": "10.0.0.2:53", "state": "UP"},
            {"real_server": "10.0.0.3:53", "state": "DOWN (removed)"}]}]);
        let r = rows(&st, &lvs);
        let get = |a: &str, b: &str| {
            r.get(&(a.to_string(), b.to_string()))
                .map(|r| r.status.clone())
        };
        assert_eq!(get("l", "FRONTEND").as_deref(), Some("OPEN"));
        assert_eq!(get("p:l", "m1").as_deref(), Some("no check"));
        assert_eq!(get("p:l", "m2").as_deref(), Some("DOWN"));
        assert_eq!(get("p:l", "m3"), None);
        // A TCP virtual server on the same address and port is not this listener's.
        let tcp = json!([{"virtual_server": "10.0.0.1:53", "protocol": "tcp", "real_servers": []}]);
        assert!(rows(&st, &tcp).is_empty());
    }
}
