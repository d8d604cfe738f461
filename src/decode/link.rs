//! Link-layer framing: from a datalink's header to etherparse's entry point.

use super::Malformed;
use crate::capture::LinkType;
use etherparse::{EtherType, LaxLinkExtSlice, LaxSlicedPacket};

/// Linux cooked capture v1 header length (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>).
const SLL_HEADER_LEN: usize = 16;
/// Offset of the protocol (EtherType) field in an SLL v1 header.
const SLL_PROTOCOL_OFFSET: usize = 14;
/// Linux cooked capture v2 header length (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>).
const SLL2_HEADER_LEN: usize = 20;
/// BSD null/loop header: a 4-byte address family.
const NULL_HEADER_LEN: usize = 4;
/// AF_INET on every BSD and Linux.
const AF_INET: u32 = 2;
/// AF_INET6 differs per system: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// Slices `data` by `link`. `Ok(None)` is a valid frame that is not IP.
pub(super) fn slice(link: LinkType, data: &[u8]) -> Result<Option<LaxSlicedPacket<'_>>, Malformed> {
    match link {
        LinkType::Ethernet => LaxSlicedPacket::from_ethernet(data)
            .map(Some)
            .map_err(|_| Malformed::LinkHeader),
        LinkType::RawIp => from_ip(data),
        LinkType::LinuxSll => {
            let proto = be16(data, SLL_PROTOCOL_OFFSET).ok_or(Malformed::LinkHeader)?;
            let rest = data.get(SLL_HEADER_LEN..).ok_or(Malformed::LinkHeader)?;
            Ok(from_ether_type(proto, rest))
        }
        LinkType::LinuxSll2 => {
            let proto = be16(data, 0).ok_or(Malformed::LinkHeader)?;
            let rest = data.get(SLL2_HEADER_LEN..).ok_or(Malformed::LinkHeader)?;
            Ok(from_ether_type(proto, rest))
        }
        LinkType::Null | LinkType::Loop => {
            let af = data.get(..NULL_HEADER_LEN).ok_or(Malformed::LinkHeader)?;
            let af = [af.first(), af.get(1), af.get(2), af.get(3)].map(|b| b.copied().unwrap_or(0));
            // NULL is in the capturing host's byte order, LOOP in network order; a family number
            // is small, so whichever reading is small is the right one.
            let le = u32::from_le_bytes(af);
            let family = if le > 0xFFFF {
                u32::from_be_bytes(af)
            } else {
                le
            };
            if family != AF_INET && !AF_INET6.contains(&family) {
                return Ok(None);
            }
            from_ip(data.get(NULL_HEADER_LEN..).unwrap_or_default())
        }
    }
}

fn from_ip(data: &[u8]) -> Result<Option<LaxSlicedPacket<'_>>, Malformed> {
    LaxSlicedPacket::from_ip(data)
        .map(Some)
        .map_err(|_| Malformed::IpHeader)
}

fn from_ether_type(proto: u16, rest: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    // SLL carries an EtherType for Ethernet-like devices and small ARPHRD-specific values (< 0x0600)
    // for others (e.g. 0x0004 for 802.2 LLC): those are not IP.
    if proto < 0x0600 {
        return None;
    }
    Some(LaxSlicedPacket::from_ether_type(EtherType(proto), rest))
}

pub(super) fn be16(data: &[u8], off: usize) -> Option<u16> {
    let b = data.get(off..off + 2)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// The flow-key VLAN value: the single id, or `outer << 12 | inner` for QinQ (a third tag is
/// rare enough that two levels are kept).
pub(super) fn vlan_id(s: &LaxSlicedPacket<'_>) -> u32 {
    let mut v = 0u32;
    let mut n = 0;
    for ext in &s.link_exts {
        if let LaxLinkExtSlice::Vlan(tag) = ext {
            if n < 2 {
                v = (v << 12) | u32::from(tag.vlan_identifier().value());
                n += 1;
            }
        }
    }
    v
}
