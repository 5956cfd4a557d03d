//! `fulcrum lbaas-config`: prints the haproxy.cfg (or with `--keepalived`, the keepalived
//! `virtual_server` blocks of its UDP/SCTP listeners) the LBaaS API renders for a load balancer
//! (all of them without an id), from a running fulcrum's API (`--url`) or, with fulcrum
//! stopped, straight from the store (`--store`; a running fulcrum holds the store's lock).

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(
    url: Option<&str>,
    token: Option<&str>,
    store: Option<&Path>,
    id: Option<&str>,
    keepalived: bool,
) -> ExitCode {
    let result = match (url, store) {
        (Some(u), _) => match id {
            Some(id) => fetch(u, token, id, keepalived),
            None => Err("--url needs a load balancer id".to_string()),
        },
        (None, Some(s)) => offline(s, id, keepalived),
        (None, None) => Err("give --url URL (a running fulcrum's API) or --store PATH".to_string()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fulcrum lbaas-config: {e}");
            ExitCode::from(1)
        }
    }
}

fn offline(store: &Path, id: Option<&str>, keepalived: bool) -> Result<String, String> {
    let st = fulcrum_api::store_embedded::Embedded::open(store)?.load_now()?;
    // TERMINATED_HTTPS listeners name the crt-lists the running fulcrum writes there.
    fulcrum_api::certs::set_out_dir(fulcrum_api::certs::dir_for_store(store));
    if keepalived {
        let check = fulcrum_api::udp_check_command();
        return match id {
            Some(id) if st.get("loadbalancer", id).is_none() => {
                Err(format!("no load balancer {id} in {}", store.display()))
            }
            Some(id) => Ok(fulcrum_api::render_lvs::render_lb(&st, id, &check)),
            None => Ok(fulcrum_api::render_lvs::render_all(&st, &check)),
        };
    }
    match id {
        Some(id) if st.get("loadbalancer", id).is_none() => {
            Err(format!("no load balancer {id} in {}", store.display()))
        }
        Some(id) => Ok(fulcrum_api::render::render_standalone(&st, id)),
        None => Ok(format!(
            "global\n    maxconn 50000\n\n{}",
            fulcrum_api::render::render_all(&st)
        )),
    }
}

/// A plain HTTP/1.1 GET of `/v2/lbaas/loadbalancers/ID/haproxy.cfg` (or `keepalived.conf`;
/// http:// only).
fn fetch(url: &str, token: Option<&str>, id: &str, keepalived: bool) -> Result<String, String> {
    let file = if keepalived {
        "keepalived.conf"
    } else {
        "haproxy.cfg"
    };
    let hostport = url
        .strip_prefix("http://")
        .ok_or("--url must be http://HOST:PORT")?
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| format!("{url}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("X-Auth-Token: {t}\r\n"))
        .unwrap_or_default();
    write!(s, "GET /v2/lbaas/loadbalancers/{id}/{file} HTTP/1.1\r\nHost: {hostport}\r\n{auth}Connection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("malformed answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{}: {body}", head.lines().next().unwrap_or("")));
    }
    // axum answers with Content-Length (or chunked for large bodies).
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).map_err(|_| "bad chunk")?;
            if n == 0 || after.len() < n {
                break;
            }
            out.push_str(&after[..n]);
            rest = after[n..].trim_start_matches("\r\n");
        }
        return Ok(out);
    }
    Ok(body.to_string())
}
