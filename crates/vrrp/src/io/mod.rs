//! The adapters between the sans-IO core and the kernel: raw VRRP sockets, netlink address
//! changes, gratuitous ARP / unsolicited neighbour advertisements, interface queries.

pub mod announce;
pub mod iface;
pub mod netlink;
pub mod socket;
