//! Flow keys and directions.

use crate::decode::Packet;
use std::net::{IpAddr, SocketAddr};

/// A bidirectional flow key: both ends ordered so that A→B and B→A give the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// VLAN id(s) as decoded (0 when untagged): the same 5-tuple on two VLANs is two flows.
    pub vlan: u32,
    /// IP protocol number.
    pub proto: u8,
    /// The lower (address, port) end.
    pub lo: (IpAddr, u16),
    /// The higher (address, port) end.
    pub hi: (IpAddr, u16),
}

impl FlowKey {
    /// The key of `p`, and whether `p` travels from the `lo` end to the `hi` end.
    pub fn of(p: &Packet<'_>) -> (FlowKey, bool) {
        let a = (p.src, p.src_port);
        let b = (p.dst, p.dst_port);
        let src_is_lo = a <= b;
        let (lo, hi) = if src_is_lo { (a, b) } else { (b, a) };
        (
            FlowKey {
                vlan: p.vlan,
                proto: p.proto,
                lo,
                hi,
            },
            src_is_lo,
        )
    }

    /// The `lo` end as a socket address.
    pub fn lo_addr(&self) -> SocketAddr {
        SocketAddr::new(self.lo.0, self.lo.1)
    }

    /// The `hi` end as a socket address.
    pub fn hi_addr(&self) -> SocketAddr {
        SocketAddr::new(self.hi.0, self.hi.1)
    }
}

/// Direction of a packet relative to the flow's initiator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the initiator (client) to the responder (server).
    ToServer = 0,
    /// From the responder back to the initiator.
    ToClient = 1,
}

impl Dir {
    /// Index for per-direction arrays.
    pub const fn idx(self) -> usize {
        self as usize
    }

    /// The other direction.
    pub const fn flip(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}
