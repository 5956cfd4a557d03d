//! Adds and removes the virtual addresses over rtnetlink (RTM_NEWADDR / RTM_DELADDR).
//!
//! Synchronous request/acknowledge on a NETLINK_ROUTE socket: the kernel answers at once, so
//! the instance task calls these directly. Adding an address that is already there and removing
//! one that is not are not errors (a killed predecessor may have left them behind).

use fulcrum_config::model::VirtualIp;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::net::IpAddr;

const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENODEV: i32 = 19;

/// Adds `vip` to the interface with index `ifindex` (keepalived's `dev`, `label`, `brd`,
/// `scope`; IPv6 without duplicate address detection, as keepalived does).
pub fn add_address(ifindex: u32, vip: &VirtualIp) -> io::Result<()> {
    let msg = address_message(ifindex, vip);
    match request(
        RouteNetlinkMessage::NewAddress(msg),
        NLM_F_CREATE | NLM_F_REPLACE,
    ) {
        Err(e) if e.raw_os_error() == Some(EEXIST) => Ok(()),
        other => other,
    }
}

/// Removes `vip` from the interface with index `ifindex`.
pub fn del_address(ifindex: u32, vip: &VirtualIp) -> io::Result<()> {
    let msg = address_message(ifindex, vip);
    match request(RouteNetlinkMessage::DelAddress(msg), 0) {
        Err(e) if matches!(e.raw_os_error(), Some(EADDRNOTAVAIL) | Some(ENODEV)) => Ok(()),
        other => other,
    }
}

fn address_message(ifindex: u32, vip: &VirtualIp) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = if vip.address.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.header.prefix_len = vip.prefix;
    msg.header.index = ifindex;
    msg.header.scope = match vip.scope.as_deref() {
        Some("host") => AddressScope::Host,
        Some("link") => AddressScope::Link,
        Some("site") => AddressScope::Site,
        Some("nowhere") => AddressScope::Nowhere,
        _ => AddressScope::Universe,
    };
    msg.attributes.push(AddressAttribute::Local(vip.address));
    msg.attributes.push(AddressAttribute::Address(vip.address));
    if let Some(label) = &vip.label {
        if vip.address.is_ipv4() {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
    }
    if let Some(IpAddr::V4(brd)) = vip.brd {
        msg.attributes.push(AddressAttribute::Broadcast(brd));
    }
    if vip.address.is_ipv6() {
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    msg
}

fn request(payload: RouteNetlinkMessage, extra_flags: u16) -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | extra_flags;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    socket.send(&buf, 0)?;
    // The acknowledgement is one small message; bound the reads anyway.
    for _ in 0..8 {
        let (data, _) = socket.recv_from_full()?;
        let mut offset = 0;
        while offset < data.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = reply.header.length as usize;
            if let NetlinkPayload::Error(err) = reply.payload {
                return match err.code {
                    None => Ok(()),
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                };
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no netlink acknowledgement",
    ))
}
