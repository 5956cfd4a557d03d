//! The `api` section: fulcrum's LBaaS REST API (Octavia v2 compatible), served by the running
//! process. Keywords are spelled as tools outside the repo write them:
//!
//! ```text
//! api
//!     bind 127.0.0.1:9876
//!     auth noauth                      # noauth | token SECRET | keystone URL [ca-file PEM]
//!     store /var/lib/fulcrum/lbaas.db
//!     subnet ID CIDR                   # a Neutron subnet answered to lookups (any id under noauth)
//!     vip_interface eth0               # add the load balancers' VIPs to this interface
//!     certificates /etc/fulcrum/certs  # TLS container refs read as DIR/ID[.pem] (labs)
//!     barbican http://127.0.0.1:9311   # TLS container refs under this URL fetched from Barbican
//! ```
//!
//! A file with only this section (no frontend yet) is a valid config: the API adds the rest.

use super::line::Line;
use crate::diagnostics::Diagnostics;
use crate::model::{Api, ApiAuth, ApiSubnet};
use std::net::SocketAddr;

/// Opens the section; a second `api` section is an error (one API per process).
pub fn open(existing: &mut Option<Api>, line: &Line<'_>, diags: &mut Diagnostics) -> bool {
    if let Some(a) = existing {
        diags.error(
            &line.span,
            format!(
                "a second 'api' section (the first is at {}:{}); fulcrum serves one API",
                a.span.file, a.span.line
            ),
        );
        return false;
    }
    if let Some(extra) = line.arg(1) {
        diags.error(&line.span, format!("'api' takes no name, found '{extra}'"));
    }
    *existing = Some(Api {
        span: line.span.clone(),
        bind: None,
        auth: ApiAuth::NoAuth,
        store: None,
        subnets: Vec::new(),
        vip_interface: None,
        keystone_ca: None,
        certificates: None,
        barbican: None,
    });
    true
}

pub fn keyword(api: &mut Api, line: &Line<'_>, diags: &mut Diagnostics) {
    if let Err(msg) = parse(api, line) {
        diags.error(&line.span, msg);
    }
}

fn parse(api: &mut Api, line: &Line<'_>) -> Result<(), String> {
    match line.keyword() {
        "bind" => {
            let text = line.address(1, "an address such as 127.0.0.1:9876")?;
            let addr: SocketAddr = text.parse().map_err(|_| {
                format!("api 'bind {text}': expected IP:PORT such as 127.0.0.1:9876 or [::1]:9876")
            })?;
            line.no_more(2)?;
            api.bind = Some(addr);
        }
        "auth" => {
            let mode = line.need(1, "noauth, 'token SECRET' or 'keystone URL'")?;
            api.auth = match mode {
                "noauth" => {
                    line.no_more(2)?;
                    ApiAuth::NoAuth
                }
                "token" => {
                    let secret = line.need(2, "the admin token (a secret)")?;
                    line.no_more(3)?;
                    ApiAuth::Token(secret.to_string())
                }
                "keystone" => {
                    let url = line.need(2, "Keystone's URL such as http://127.0.0.1:5000")?;
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(format!(
                            "api 'auth keystone {url}': expected an http:// or https:// URL"
                        ));
                    }
                    // `ca-file PEM`: the CAs an https:// Keystone's certificate is checked
                    // against (as HAProxy's `ca-file` on a server line); without it, the
                    // system's bundle.
                    match line.arg(3) {
                        None => api.keystone_ca = None,
                        Some("ca-file") => {
                            let path = line.need(4, "a PEM file of CA certificates")?;
                            if !url.starts_with("https://") {
                                return Err(format!(
                                    "api 'auth keystone {url} ca-file': ca-file is for an https:// URL"
                                ));
                            }
                            line.no_more(5)?;
                            api.keystone_ca = Some(path.into());
                        }
                        Some(other) => {
                            return Err(format!(
                                "api 'auth keystone {url} {other}': expected 'ca-file PEM' or nothing"
                            ))
                        }
                    }
                    ApiAuth::Keystone(url.trim_end_matches('/').to_string())
                }
                other => {
                    return Err(format!(
                        "api 'auth {other}': unknown mode (expected noauth, token SECRET or keystone URL)"
                    ))
                }
            };
        }
        "store" => {
            let path = line.need(1, "a file path such as /var/lib/fulcrum/lbaas.db")?;
            line.no_more(2)?;
            api.store = Some(path.into());
        }
        "vip_interface" => {
            let name = line.need(1, "an interface name such as eth0")?;
            line.no_more(2)?;
            api.vip_interface = Some(name.to_string());
        }
        "certificates" => {
            let dir = line.need(1, "a directory of PEM files (certificate and key)")?;
            line.no_more(2)?;
            api.certificates = Some(dir.into());
        }
        "barbican" => {
            let url = line.need(1, "Barbican's URL such as http://127.0.0.1:9311")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "api 'barbican {url}': expected an http:// or https:// URL"
                ));
            }
            line.no_more(2)?;
            api.barbican = Some(url.trim_end_matches('/').to_string());
        }
        "subnet" => {
            let id = line.need(1, "a subnet id")?;
            let cidr = line.need(2, "the subnet's CIDR such as 10.0.0.0/24")?;
            let (ip, len) = cidr
                .split_once('/')
                .ok_or_else(|| format!("api 'subnet {id} {cidr}': expected ADDRESS/PREFIX"))?;
            let ip: std::net::IpAddr = ip
                .parse()
                .map_err(|_| format!("api 'subnet {id} {cidr}': '{ip}' is not an IP address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            match len.parse::<u8>() {
                Ok(n) if n <= max => {}
                _ => {
                    return Err(format!(
                        "api 'subnet {id} {cidr}': prefix must be 0..={max}"
                    ))
                }
            }
            line.no_more(3)?;
            api.subnets.push(ApiSubnet {
                id: id.to_string(),
                cidr: cidr.to_string(),
            });
        }
        other => {
            return Err(format!(
                "unknown keyword '{other}' in 'api' section (expected bind, auth, store, subnet, vip_interface, certificates or barbican)"
            ))
        }
    }
    Ok(())
}

/// Checks once the section is closed: it must say where to listen.
pub fn close(api: &Api, diags: &mut Diagnostics) {
    if api.bind.is_none() {
        diags.error(
            &api.span,
            "'api' section has no 'bind' (expected e.g. 'bind 127.0.0.1:9876')",
        );
    }
}
