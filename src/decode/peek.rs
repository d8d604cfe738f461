//! The flow a frame belongs to, read from fixed header fields alone.
//!
//! The reading thread of `pipeline::Workers` names the pipeline of every frame before any
//! pipeline sees it, and it does so for every frame of the capture on one thread. A full
//! [`decode`](super::decode) builds a [`Packet`](super::Packet) (TCP options, payload bounds, AH,
//! wire lengths) that the reader would throw away for every frame another pipeline owns; this
//! reads only the fields of the flow key, from the common frame shapes, and declines everything
//! else, which the caller then decodes in full.
//!
//! Written by hand rather than with etherparse's slicers, which validate and build per-layer
//! views the key does not need. It takes exactly the frames the per-layer way of
//! [`decode`](super::decode) turns into a packet, and nothing it would not, reading the fields
//! as etherparse 0.21 does:
//! - Ethernet II without FCS (14 bytes), then up to two 802.1Q / 802.1ad tags (4 bytes each,
//!   the 12-bit ids combined as `decode` combines them), then an IPv4 or IPv6 EtherType; or raw
//!   IP. As in `decode`, the IP version comes from the header's own version field.
//! - IPv4 (RFC 791 §3.1): version 4, IHL at least 5 and within the data, not a fragment (MF
//!   clear, offset 0), protocol TCP or UDP (an AH in between is declined). The payload ends at
//!   Total Length unless that is shorter than the header or longer than the data; then at the
//!   end of the data (etherparse's lax rule, `LaxIpv4Slice::from_slice`).
//! - IPv6 (RFC 8200 §3): version 6, 40 bytes, Next Header TCP or UDP (any extension header is
//!   declined). The payload ends at Payload Length unless that is 0 (then the rest of the data)
//!   or longer than the data.
//! - TCP (RFC 9293 §3.1): Data Offset at least 5 words and within the payload. UDP (RFC 768): 8
//!   bytes, and not on a port of a tunnel `decode` unwraps over UDP (VXLAN, Geneve, Teredo).
//!
//! The commonest frames (Ethernet II, no or one VLAN tag, IPv4 with a 20-byte header) are read
//! from fixed places first ([`plain_ipv4`]); the layer-by-layer way takes the rest.
//!
//! Tests compare it with `decode` on every frame of every capture at hand and on mutated
//! frames: where it gives a key, `decode` gives a packet with that key; and where the shortcut
//! answers, the layer-by-layer way gives the same answer.

use super::{ip_proto, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IPV6_HEADER_LEN, UDP_HEADER_LEN};
use crate::capture::LinkType;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Ethernet II header without FCS.
const ETHERNET_LEN: usize = 14;
/// One 802.1Q / 802.1ad tag: TCI and the next EtherType.
const VLAN_TAG_LEN: usize = 4;
/// Tags read; a frame with more is declined (as `decode`'s per-layer way declines it).
const VLAN_TAGS_MAX: usize = 2;
/// IEEE 802.1Q customer tag, 802.1ad provider tag, and the older double-tag type.
const VLAN_8021Q: u16 = 0x8100;
const VLAN_8021AD: u16 = 0x88a8;
const VLAN_QINQ_LEGACY: u16 = 0x9100;
const IPV4_MIN_LEN: usize = 20;
const TCP_MIN_LEN: usize = 20;

/// An address as [`peek_as`] gives it: built from the header's 4 (IPv4) or 16 (IPv6) bytes.
/// [`IpAddr`] for a key to compare; a router that only hashes the ends can take a cheaper
/// form.
pub trait PeekAddr: Copy {
    /// An IPv4 address, in network byte order.
    fn v4(b: [u8; 4]) -> Self;
    /// An IPv6 address, in network byte order.
    fn v6(b: [u8; 16]) -> Self;
}

impl PeekAddr for IpAddr {
    fn v4(b: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(b))
    }
    fn v6(b: [u8; 16]) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(b))
    }
}

/// The flow-key fields of one frame, in its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek<A = IpAddr> {
    /// VLAN id(s) as `decode` combines them (0 when untagged).
    pub vlan: u32,
    /// IP protocol: TCP or UDP.
    pub proto: u8,
    /// Source address and port.
    pub src: (A, u16),
    /// Destination address and port.
    pub dst: (A, u16),
}

/// The flow-key fields of a frame of framing `link`, or `None` for any frame outside the
/// common shapes (see the module documentation).
pub fn peek(link: LinkType, data: &[u8]) -> Option<Peek> {
    peek_as(link, data)
}

/// [`peek`] with the addresses in the form `A`.
#[inline]
pub fn peek_as<A: PeekAddr>(link: LinkType, data: &[u8]) -> Option<Peek<A>> {
    if link == LinkType::Ethernet {
        if let Some(answer) = plain_ipv4(data) {
            return answer;
        }
    }
    general(link, data)
}

/// [`peek_as`] without the shortcut of [`plain_ipv4`]: every shape, layer by layer.
pub(super) fn general<A: PeekAddr>(link: LinkType, data: &[u8]) -> Option<Peek<A>> {
    let (ip, vlan) = match link {
        LinkType::Ethernet => ethernet(data)?,
        LinkType::RawIp => (data, 0),
        _ => return None,
    };
    let version = ip.first()? >> 4;
    let (src, dst, proto, payload) = match version {
        4 => ipv4(ip)?,
        6 => ipv6(ip)?,
        _ => return None,
    };
    let need = match proto {
        ip_proto::TCP => usize::from(payload.get(TCP_DATA_OFFSET_AT)? >> 4) * 4,
        ip_proto::UDP => UDP_HEADER_LEN,
        _ => return None,
    };
    if (proto == ip_proto::TCP && need < TCP_MIN_LEN) || payload.len() < need {
        return None;
    }
    let (src_port, dst_port) = (be16(payload, 0)?, be16(payload, 2)?);
    if proto == ip_proto::UDP && super::udp_tunnel_port(src_port, dst_port) {
        return None;
    }
    Some(Peek {
        vlan,
        proto,
        src: (src, src_port),
        dst: (dst, dst_port),
    })
}

/// Where TCP's Data Offset is, in bytes from the start of the TCP header (RFC 9293 §3.1).
const TCP_DATA_OFFSET_AT: usize = 12;
/// Bytes [`plain_ipv4`] reads at fixed places from the IP header on: a 20-byte IPv4 header and
/// the transport header up to TCP's Data Offset.
const IPV4_WINDOW: usize = IPV4_MIN_LEN + TCP_DATA_OFFSET_AT + 1;

/// The answer of [`peek_as`] for the commonest frames, Ethernet II with no or one VLAN tag
/// carrying IPv4 with a 20-byte header, read from fixed places; `None` (not the answer: the
/// general way decides) for any other frame. The same checks as the general way, in the same
/// order, without its per-field bounds checks and layer slices: the router runs this on every
/// frame, and the general way took about two and a half times its instructions (callgrind, on
/// the frames of the benchmark capture, 83 % of them tagged).
#[inline]
pub(super) fn plain_ipv4<A: PeekAddr>(data: &[u8]) -> Option<Option<Peek<A>>> {
    let b16 = |hi: u8, lo: u8| u16::from_be_bytes([hi, lo]);
    let eth = data.first_chunk::<ETHERNET_LEN>()?;
    let (ip, vlan) = match b16(eth[12], eth[13]) {
        ETHERTYPE_IPV4 => (data.get(ETHERNET_LEN..)?, 0),
        VLAN_8021Q | VLAN_8021AD | VLAN_QINQ_LEGACY => {
            let rest = data.get(ETHERNET_LEN..)?;
            let tag = rest.first_chunk::<VLAN_TAG_LEN>()?;
            if b16(tag[2], tag[3]) != ETHERTYPE_IPV4 {
                return None;
            }
            (
                rest.get(VLAN_TAG_LEN..)?,
                u32::from(b16(tag[0], tag[1]) & 0x0fff),
            )
        }
        _ => return None,
    };
    // The IPv4 header (RFC 791 §3.1): version 4 and IHL 5 in its first byte.
    let w = ip.first_chunk::<IPV4_WINDOW>()?;
    if w[0] != 0x45 {
        return None;
    }
    if b16(w[6], w[7]) & 0x3fff != 0 {
        return Some(None);
    }
    let total = usize::from(b16(w[2], w[3]));
    let end = if total < IPV4_MIN_LEN || total > ip.len() {
        ip.len()
    } else {
        total
    };
    let payload_len = end - IPV4_MIN_LEN;
    let proto = w[9];
    let need = match proto {
        ip_proto::TCP => usize::from(w[IPV4_MIN_LEN + TCP_DATA_OFFSET_AT] >> 4) * 4,
        ip_proto::UDP => UDP_HEADER_LEN,
        _ => return Some(None),
    };
    // The general way reads TCP's Data Offset only if the payload holds it.
    let short_tcp = payload_len <= TCP_DATA_OFFSET_AT || need < TCP_MIN_LEN;
    if (proto == ip_proto::TCP && short_tcp) || payload_len < need {
        return Some(None);
    }
    let (src_port, dst_port) = (b16(w[20], w[21]), b16(w[22], w[23]));
    if proto == ip_proto::UDP && super::udp_tunnel_port(src_port, dst_port) {
        return Some(None);
    }
    Some(Some(Peek {
        vlan,
        proto,
        src: (A::v4([w[12], w[13], w[14], w[15]]), src_port),
        dst: (A::v4([w[16], w[17], w[18], w[19]]), dst_port),
    }))
}

/// The IP layer of an Ethernet II frame and its VLAN ids.
fn ethernet(data: &[u8]) -> Option<(&[u8], u32)> {
    let mut ether_type = be16(data, 12)?;
    let mut rest = data.get(ETHERNET_LEN..)?;
    let mut vlan = 0u32;
    for _ in 0..VLAN_TAGS_MAX {
        // A `match` rather than `[..].contains`, which is not inlined here and costs a call on
        // every frame.
        if !matches!(ether_type, VLAN_8021Q | VLAN_8021AD | VLAN_QINQ_LEGACY) {
            break;
        }
        let tci = be16(rest, 0)?;
        ether_type = be16(rest, 2)?;
        rest = rest.get(VLAN_TAG_LEN..)?;
        vlan = (vlan << 12) | u32::from(tci & 0x0fff);
    }
    (ether_type == ETHERTYPE_IPV4 || ether_type == ETHERTYPE_IPV6).then_some((rest, vlan))
}

type IpLayer<'a, A> = (A, A, u8, &'a [u8]);

fn ipv4<A: PeekAddr>(ip: &[u8]) -> Option<IpLayer<'_, A>> {
    let header_len = usize::from(ip.first()? & 0x0f) * 4;
    if header_len < IPV4_MIN_LEN || ip.len() < header_len {
        return None;
    }
    // Flags and Fragment Offset: a fragment (MF set or an offset) is declined.
    if be16(ip, 6)? & 0x3fff != 0 {
        return None;
    }
    let total = usize::from(be16(ip, 2)?);
    let end = if total < header_len || total > ip.len() {
        ip.len()
    } else {
        total
    };
    let addr = |at: usize| -> Option<A> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(A::v4(b))
    };
    Some((addr(12)?, addr(16)?, *ip.get(9)?, ip.get(header_len..end)?))
}

fn ipv6<A: PeekAddr>(ip: &[u8]) -> Option<IpLayer<'_, A>> {
    if ip.len() < IPV6_HEADER_LEN {
        return None;
    }
    let payload_len = usize::from(be16(ip, 4)?);
    let end = if payload_len == 0 || IPV6_HEADER_LEN + payload_len > ip.len() {
        ip.len()
    } else {
        IPV6_HEADER_LEN + payload_len
    };
    let addr = |at: usize| -> Option<A> {
        let b: [u8; 16] = ip.get(at..at + 16)?.try_into().ok()?;
        Some(A::v6(b))
    };
    Some((
        addr(8)?,
        addr(24)?,
        *ip.get(6)?,
        ip.get(IPV6_HEADER_LEN..end)?,
    ))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}
