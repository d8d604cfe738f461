//! Flow keys and directions.

use crate::decode::Packet;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// A bidirectional flow key: both ends ordered so that A→B and B→A give the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        FlowKey::from_ends(p.vlan, p.proto, (p.src, p.src_port), (p.dst, p.dst_port))
    }

    /// The key of a packet from `src` to `dst`, and whether `src` is the `lo` end.
    #[inline]
    pub fn from_ends(
        vlan: u32,
        proto: u8,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
    ) -> (FlowKey, bool) {
        let src_is_lo = order(src) <= order(dst);
        // Ends chosen by reference: each is copied once, into the key.
        let (lo, hi) = if src_is_lo {
            (&src, &dst)
        } else {
            (&dst, &src)
        };
        (
            FlowKey {
                vlan,
                proto,
                lo: *lo,
                hi: *hi,
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

/// Hashed as three fixed-width words (each address as 128 bits, then VLAN, protocol and both
/// ports), which costs a fraction of the derived field-by-field walk over two address enums and
/// is computed once or twice per packet (shard choice, table lookup). Equal keys give equal
/// words, as `Hash` requires. Marked inline: a few instructions, run on every packet's table
/// lookup, that the compiler otherwise inlines or not depending on how the crate is split into
/// codegen units.
impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u128(addr_bits(self.lo.0));
        h.write_u128(addr_bits(self.hi.0));
        h.write_u64(
            u64::from(self.vlan) << 40
                | u64::from(self.proto) << 32
                | u64::from(self.lo.1) << 16
                | u64::from(self.hi.1),
        );
    }
}

/// An end's place in the order of `(IpAddr, u16)` (IPv4 before IPv6, then the address as a
/// number, then the port), as plain integers: the derived order walks two enums, per packet.
fn order((ip, port): (IpAddr, u16)) -> (bool, u128, u16) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), port),
        IpAddr::V6(v6) => (true, u128::from(v6), port),
    }
}

/// An address as 128 bits: IPv6 as is, IPv4 above a marker no IPv6 address of the same low
/// bits has (only hash quality depends on this; equality is the key's own).
#[inline]
fn addr_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) | 1 << 96,
        IpAddr::V6(v6) => u128::from(v6),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn end(v6: bool, bits: u128, port: u16) -> (IpAddr, u16) {
        let ip = if v6 {
            IpAddr::V6(bits.into())
        } else {
            IpAddr::V4((bits as u32).into())
        };
        (ip, port)
    }

    proptest! {
        /// The integer order is the standard library's order of the ends.
        #[test]
        fn ends_are_ordered_as_the_standard_library_orders_them(
            a in (any::<bool>(), any::<u128>(), any::<u16>()),
            b in (any::<bool>(), any::<u128>(), any::<u16>()),
            same_addr in any::<bool>(),
        ) {
            let x = end(a.0, a.1, a.2);
            let y = if same_addr { (x.0, b.2) } else { end(b.0, b.1, b.2) };
            prop_assert_eq!(order(x).cmp(&order(y)), x.cmp(&y));
        }
    }
}
