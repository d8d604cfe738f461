//! Link-layer framing: from a datalink's header to etherparse's entry point.
//!
//! PPPoE session frames (RFC 2516), the framing of DSL and many fibre links, are unwrapped here:
//! etherparse 0.21 stops at their EtherType, so the PPPoE header and the PPP protocol field are
//! read by hand and the IP packet inside handed to etherparse's IP slicer, the VLAN tags outside
//! kept as the flow key's.

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
/// EtherType of the PPPoE Session stage (RFC 2516 §4).
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// PPPoE header: VER/TYPE, CODE, SESSION_ID, LENGTH (RFC 2516 §4).
const PPPOE_HEADER_LEN: usize = 6;
/// VER and TYPE, both 1 (RFC 2516 §4).
const PPPOE_VER_TYPE: u8 = 0x11;
/// CODE of session data (RFC 2516 §5: 0x00 in the Session stage).
const PPPOE_CODE_SESSION: u8 = 0x00;
/// PPP protocol numbers of IP (RFC 1332 §2, RFC 5072 §2); a compressed (one-byte) protocol
/// field carries the low byte alone (RFC 1661 §6.5).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// A sliced frame and its flow-key VLAN value (see [`vlan_id`]).
pub(super) type Sliced<'a> = (LaxSlicedPacket<'a>, u32);

/// Slices `data` by `link`. `Ok(None)` is a valid frame that is not IP.
pub(super) fn slice(link: LinkType, data: &[u8]) -> Result<Option<Sliced<'_>>, Malformed> {
    match link {
        LinkType::Ethernet => {
            let s = LaxSlicedPacket::from_ethernet(data).map_err(|_| Malformed::LinkHeader)?;
            let vlan = vlan_id(&s);
            match s.ether_payload() {
                Some(p) if s.net.is_none() && p.ether_type.0 == ETHERTYPE_PPPOE_SESSION => {
                    pppoe(p.payload, vlan)
                }
                _ => Ok(Some((s, vlan))),
            }
        }
        LinkType::RawIp => keyed(from_ip(data), 0),
        LinkType::LinuxSll => {
            let proto = be16(data, SLL_PROTOCOL_OFFSET).ok_or(Malformed::LinkHeader)?;
            let rest = data.get(SLL_HEADER_LEN..).ok_or(Malformed::LinkHeader)?;
            from_ether_type(proto, rest)
        }
        LinkType::LinuxSll2 => {
            let proto = be16(data, 0).ok_or(Malformed::LinkHeader)?;
            let rest = data.get(SLL2_HEADER_LEN..).ok_or(Malformed::LinkHeader)?;
            from_ether_type(proto, rest)
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
            keyed(from_ip(data.get(NULL_HEADER_LEN..).unwrap_or_default()), 0)
        }
    }
}

/// An IP slicing's result, keyed with `vlan`.
fn keyed(
    s: Result<Option<LaxSlicedPacket<'_>>, Malformed>,
    vlan: u32,
) -> Result<Option<Sliced<'_>>, Malformed> {
    s.map(|s| s.map(|s| (s, vlan)))
}

/// The IP packet of a PPPoE session frame's payload (`data`, after the EtherType), keyed with
/// `vlan`. Discovery-stage codes, other versions and PPP's own control protocols (LCP, IPCP,
/// …) are valid frames that are not IP.
fn pppoe(data: &[u8], vlan: u32) -> Result<Option<Sliced<'_>>, Malformed> {
    let header = data.get(..PPPOE_HEADER_LEN).ok_or(Malformed::LinkHeader)?;
    if header.first() != Some(&PPPOE_VER_TYPE) || header.get(1) != Some(&PPPOE_CODE_SESSION) {
        return Ok(None);
    }
    // LENGTH counts the PPP frame; bytes beyond it are Ethernet padding. A length past the
    // captured data (snap length) leaves what was captured, as etherparse's lax slicers do.
    let len = usize::from(be16(data, 4).ok_or(Malformed::LinkHeader)?);
    let ppp = data.get(PPPOE_HEADER_LEN..).unwrap_or_default();
    let ppp = ppp.get(..len).unwrap_or(ppp);
    let first = *ppp.first().ok_or(Malformed::LinkHeader)?;
    let (protocol, ip) = if first & 1 == 1 {
        (u16::from(first), ppp.get(1..))
    } else {
        (be16(ppp, 0).ok_or(Malformed::LinkHeader)?, ppp.get(2..))
    };
    if protocol != PPP_IPV4 && protocol != PPP_IPV6 {
        return Ok(None);
    }
    keyed(from_ip(ip.unwrap_or_default()), vlan)
}

fn from_ip(data: &[u8]) -> Result<Option<LaxSlicedPacket<'_>>, Malformed> {
    LaxSlicedPacket::from_ip(data)
        .map(Some)
        .map_err(|_| Malformed::IpHeader)
}

fn from_ether_type(proto: u16, rest: &[u8]) -> Result<Option<Sliced<'_>>, Malformed> {
    // SLL carries an EtherType for Ethernet-like devices and small ARPHRD-specific values (< 0x0600)
    // for others (e.g. 0x0004 for 802.2 LLC): those are not IP.
    if proto < 0x0600 {
        return Ok(None);
    }
    if proto == ETHERTYPE_PPPOE_SESSION {
        return pppoe(rest, 0);
    }
    let s = LaxSlicedPacket::from_ether_type(EtherType(proto), rest);
    let vlan = vlan_id(&s);
    Ok(Some((s, vlan)))
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
