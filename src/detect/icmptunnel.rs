//! ICMP tunnels: IP packets or TCP streams carried in ICMP echo requests and replies
//! (icmptunnel, hans, ptunnel).
//!
//! Facts used:
//! - RFC 792 ("Echo or Echo Reply Message") and RFC 4443 §4.2: "the data received in the echo
//!   message must be returned in the echo reply message". Ping implementations send a fixed
//!   pattern (Linux iputils: 56 bytes, a timestamp then 0x10, 0x11, …; Windows: 32 bytes
//!   `abcdefghijklmnopqrstuvwabcdefghi`) and get it back byte for byte. A tunnel's replies carry
//!   the other end's data instead;
//! - IP-over-ICMP tools (icmptunnel, hans) put a whole IP packet in the echo data: an IPv4
//!   header (RFC 791 §3.1) whose total length is exactly the echo data's length and whose header
//!   checksum verifies, or an IPv6 header (RFC 8200 §3) whose payload length plus 40 is exactly
//!   the data's length;
//! - ptunnel (TCP over ICMP) opens every echo data with a 28-byte header starting with the
//!   magic 0xD5200880, a state word flagged "from user" (bit 30) or "from proxy" (bit 31) and
//!   the length of the data that follows (ptunnel `ptunnel.h`, `ping_tunnel_pkt_t`);
//! - hans opens echo data with a 4-byte magic, `9967` from its client and `hans` from its server
//!   (hans `client.cpp`, `server.cpp`, `Worker::TunnelHeader`).
//!
//! What is not a tunnel, and is skipped: ICMP error messages, which quote the IP header of a
//! packet of the same conversation (its addresses are this flow's own, RFC 792, RFC 4443 §2.4),
//! an expired probe quoted by a router (hop limit at most 1), and IPv6 neighbour discovery
//! (RFC 4861 §4.3–4.4), whose data starts with one of the two addresses. The detector only looks
//! when the packet that triggered it is an echo request or reply.
//!
//! Confidence: a validated inner IP packet or ptunnel header from one side is a Signature, from
//! both sides a Handshake; hans magics from both sides a Handshake, from one side (twice) a
//! Signature; echo replies that return none of the requests' data, both ways, a Heuristic.

use super::{be16, be32, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;
use std::net::IpAddr;

/// ICMP echo reply and echo request types (RFC 792).
const ICMP_ECHO: [u8; 2] = [0, 8];
/// ICMPv6 echo request and reply types (RFC 4443 §4.1, §4.2).
const ICMPV6_ECHO: [u8; 2] = [128, 129];
/// ICMP echo reply type (RFC 792) and ICMPv6 echo reply type (RFC 4443 §4.2).
const ECHO_REPLIES: [(u8, u8); 2] = [(ip_proto::ICMP, 0), (ip_proto::ICMPV6, 129)];
/// Smallest IPv4 header (RFC 791 §3.1: IHL 5).
const IPV4_HEADER_MIN: usize = 20;
/// IPv6 fixed header (RFC 8200 §3).
const IPV6_HEADER_LEN: usize = 40;
/// IP version numbers in the first nibble (RFC 791 §3.1, RFC 8200 §3).
const IP_VERSION_4: u8 = 4;
/// IPv6's version number.
const IP_VERSION_6: u8 = 6;
/// Mask of the IPv4 Internet Header Length nibble, counted in 32-bit words (RFC 791 §3.1).
const IHL_MASK: u8 = 0x0f;
/// Bytes per IHL unit.
const IHL_UNIT: usize = 4;
/// Offset of the IPv4 total length (RFC 791 §3.1).
const V4_TOTAL_LEN: usize = 2;
/// Offset of the IPv4 time to live.
const V4_TTL: usize = 8;
/// Offset of the IPv4 source address.
const V4_SRC: usize = 12;
/// Offset of the IPv4 destination address.
const V4_DST: usize = 16;
/// IPv4 address length.
const V4_ADDR_LEN: usize = 4;
/// Offset of the IPv6 payload length (RFC 8200 §3).
const V6_PAYLOAD_LEN: usize = 4;
/// Offset of the IPv6 hop limit.
const V6_HOP_LIMIT: usize = 7;
/// Offset of the IPv6 source address.
const V6_SRC: usize = 8;
/// Offset of the IPv6 destination address.
const V6_DST: usize = 24;
/// Length of an IPv6 address.
const V6_ADDR_LEN: usize = 16;
/// Hop limit at or below which a quoted header is an expired probe (a router's Time Exceeded,
/// RFC 792), not a tunnelled packet.
const EXPIRED_TTL_MAX: u8 = 1;

/// One's-complement sum of a header whose checksum field is correct (RFC 1071 §1).
const CHECKSUM_OK: u16 = 0xffff;

/// ptunnel magic (ptunnel `kPing_tunnel_magic`).
const PTUNNEL_MAGIC: u32 = 0xD520_0880;
/// ptunnel header: magic, destination IP, destination port, state, ack, data length (4 bytes
/// each), sequence and id numbers (2 bytes each).
const PTUNNEL_HEADER_LEN: usize = 28;
/// Offset of the state word in the ptunnel header.
const PTUNNEL_STATE: usize = 12;
/// Offset of the data length in the ptunnel header.
const PTUNNEL_DATA_LEN: usize = 20;
/// ptunnel state flag set on packets from the user (`kUser_flag`, bit 30).
const PTUNNEL_USER_FLAG: u32 = 1 << 30;
/// ptunnel state flag set on packets from the proxy (`kProxy_flag`, bit 31).
const PTUNNEL_PROXY_FLAG: u32 = 1 << 31;
/// Number of ptunnel protocol states (start, ack, data, close, authenticate).
const PTUNNEL_STATES: u32 = 5;

/// hans client magic (hans `client.cpp`).
const HANS_CLIENT_MAGIC: &[u8; 4] = b"9967";
/// hans server magic (hans `server.cpp`).
const HANS_SERVER_MAGIC: &[u8; 4] = b"hans";
/// hans header: the magic and a type byte (`Worker::TunnelHeader`).
const HANS_HEADER_LEN: usize = 5;
/// hans datagrams needed from one side alone for a Signature.
const HANS_ONE_SIDE_MIN: usize = 2;

/// Echo datagrams needed in each direction to judge that replies do not return the data.
const NO_ECHO_MIN_PER_SIDE: usize = 2;

/// Recognises tunnels carried in ICMP echo messages.
pub(crate) struct IcmpTunnel;

impl Detector for IcmpTunnel {
    fn name(&self) -> &'static str {
        "icmp-tunnel"
    }

    /// Whether replies echo the request is judged on each echo message as it passes.
    fn reads_each_packet(&self) -> bool {
        true
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let p = view.packet?;
        let (ty, _) = p.icmp?;
        let echo = match view.proto {
            ip_proto::ICMP => ICMP_ECHO.contains(&ty),
            ip_proto::ICMPV6 => ICMPV6_ECHO.contains(&ty),
            _ => false,
        };
        if !echo {
            return None;
        }
        ip_in_icmp(view)
            .or_else(|| ptunnel(view))
            .or_else(|| hans(view))
            .or_else(|| not_echoed(view, p.src, p.payload, (view.proto, ty)))
    }
}

/// The kept echo data of one side that is not an error quote or neighbour discovery.
fn datagrams<'a>(view: &FlowView<'_>, side: &Side<'a>) -> Vec<(&'a [u8], usize)> {
    let ends = (view.client.ip(), view.server.ip());
    (0..side.segments().len())
        .filter_map(|i| Some((side.segment(i)?, side.wire_len(i)?)))
        .filter(|(d, _)| !quotes_this_flow(d, ends) && !neighbour_discovery(d, ends))
        .collect()
}

/// Whether `d` starts with an IP header between this flow's two ends: an error message quoting
/// one of the conversation's packets.
fn quotes_this_flow(d: &[u8], (a, b): (IpAddr, IpAddr)) -> bool {
    match inner_addrs(d) {
        Some((s, t)) => (s == a && t == b) || (s == b && t == a),
        None => false,
    }
}

/// IPv6 neighbour solicitations and advertisements carry the target address first (RFC 4861
/// §4.3, §4.4): one of the two ends.
fn neighbour_discovery(d: &[u8], (a, b): (IpAddr, IpAddr)) -> bool {
    let Some(first) = d.get(..V6_ADDR_LEN) else {
        return false;
    };
    [a, b].iter().any(|ip| match ip {
        IpAddr::V6(v6) => v6.octets() == first,
        IpAddr::V4(_) => false,
    })
}

/// Source and destination of an IP header at the start of `d` (no validation).
fn inner_addrs(d: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match d.first()? >> 4 {
        IP_VERSION_4 => {
            let s: [u8; 4] = d.get(V4_SRC..V4_SRC + V4_ADDR_LEN)?.try_into().ok()?;
            let t: [u8; 4] = d.get(V4_DST..V4_DST + V4_ADDR_LEN)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(t)))
        }
        IP_VERSION_6 => {
            let s: [u8; 16] = d.get(V6_SRC..V6_SRC + V6_ADDR_LEN)?.try_into().ok()?;
            let t: [u8; 16] = d.get(V6_DST..V6_DST + V6_ADDR_LEN)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(t)))
        }
        _ => None,
    }
}

/// A whole, valid IP packet filling echo data of `wire` bytes: its description.
fn inner_packet(d: &[u8], wire: usize) -> Option<String> {
    let (total, ttl) = match d.first()? >> 4 {
        IP_VERSION_4 => {
            let ihl = usize::from(d.first()? & IHL_MASK) * IHL_UNIT;
            let header = d.get(..ihl).filter(|_| ihl >= IPV4_HEADER_MIN)?;
            if checksum(header) != CHECKSUM_OK {
                return None;
            }
            (usize::from(be16(d, V4_TOTAL_LEN)?), *d.get(V4_TTL)?)
        }
        IP_VERSION_6 => (
            usize::from(be16(d, V6_PAYLOAD_LEN)?) + IPV6_HEADER_LEN,
            *d.get(V6_HOP_LIMIT)?,
        ),
        _ => return None,
    };
    if total != wire || ttl <= EXPIRED_TTL_MAX {
        return None;
    }
    let (s, t) = inner_addrs(d)?;
    Some(format!("{s} → {t}, {total} bytes"))
}

/// The Internet checksum's one's-complement sum over `b` (RFC 1071); [`CHECKSUM_OK`] over a
/// header that includes a correct checksum.
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| match c {
            [hi, lo] => u32::from(u16::from_be_bytes([*hi, *lo])),
            [hi] => u32::from(*hi) << 8,
            _ => 0,
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    u16::try_from(sum).unwrap_or(u16::MAX)
}

/// IP packets inside the echo data.
fn ip_in_icmp(view: &FlowView<'_>) -> Option<Verdict> {
    let first = |side: &Side<'_>| {
        datagrams(view, side)
            .into_iter()
            .find_map(|(d, w)| inner_packet(d, w))
    };
    let c = first(&view.to_server);
    let s = first(&view.to_client);
    both_or_one(c, s, "IP packet in echo data", |who, what| {
        format!("{who} echo data is a whole IP packet ({what}, header valid)")
    })
}

/// A verdict from facts found on the client side `c` and the server side `s`: a Handshake when
/// both, a Signature when one.
fn both_or_one(
    c: Option<String>,
    s: Option<String>,
    what: &str,
    fact: impl Fn(&str, &str) -> String,
) -> Option<Verdict> {
    let conf = if c.is_some() && s.is_some() {
        Confidence::Handshake
    } else {
        Confidence::Signature
    };
    let mut v = Verdict::new(Kind::VpnTunnel, "icmp_tunnel", conf);
    for (who, f) in [("client", &c), ("server", &s)] {
        if let Some(f) = f {
            v = v.with(fact(who, f));
        }
    }
    if v.evidence.is_empty() {
        return None;
    }
    v = v.with(format!("{what}: not ping data"));
    Some(if conf == Confidence::Handshake {
        v.done()
    } else {
        v
    })
}

/// A valid ptunnel header: which end sent it.
fn ptunnel_header(d: &[u8], wire: usize) -> Option<&'static str> {
    if be32(d, 0)? != PTUNNEL_MAGIC {
        return None;
    }
    let state = be32(d, PTUNNEL_STATE)?;
    let data_len = usize::try_from(be32(d, PTUNNEL_DATA_LEN)?).ok()?;
    let from = match state & (PTUNNEL_USER_FLAG | PTUNNEL_PROXY_FLAG) {
        PTUNNEL_USER_FLAG => "user",
        PTUNNEL_PROXY_FLAG => "proxy",
        _ => return None,
    };
    let kind = state & !(PTUNNEL_USER_FLAG | PTUNNEL_PROXY_FLAG);
    let fits = PTUNNEL_HEADER_LEN.checked_add(data_len) == Some(wire);
    (kind < PTUNNEL_STATES && fits).then_some(from)
}

/// ptunnel headers in the echo data.
fn ptunnel(view: &FlowView<'_>) -> Option<Verdict> {
    let first = |side: &Side<'_>| {
        datagrams(view, side)
            .into_iter()
            .find_map(|(d, w)| ptunnel_header(d, w))
            .map(str::to_owned)
    };
    let v = both_or_one(
        first(&view.to_server),
        first(&view.to_client),
        "ptunnel header",
        |who, from| {
            format!("{who} echo data opens with ptunnel magic 0xd5200880, flagged from {from}, data length consistent")
        },
    )?;
    Some(v)
}

/// hans magics in the echo data.
fn hans(view: &FlowView<'_>) -> Option<Verdict> {
    let count = |side: &Side<'_>, magic: &[u8; 4]| {
        datagrams(view, side)
            .iter()
            .filter(|(d, w)| d.starts_with(magic) && *w >= HANS_HEADER_LEN)
            .count()
    };
    let fact = |who: &str, m: &[u8; 4], n: usize| {
        format!(
            "{who} echo data opens with hans {} magic \"{}\" ({n} packets)",
            if m == HANS_CLIENT_MAGIC {
                "client"
            } else {
                "server"
            },
            String::from_utf8_lossy(m)
        )
    };
    let (cc, ss) = (
        count(&view.to_server, HANS_CLIENT_MAGIC),
        count(&view.to_client, HANS_SERVER_MAGIC),
    );
    if cc > 0 && ss > 0 {
        return Some(
            Verdict::new(Kind::VpnTunnel, "icmp_tunnel", Confidence::Handshake)
                .with(fact("client", HANS_CLIENT_MAGIC, cc))
                .with(fact("server", HANS_SERVER_MAGIC, ss))
                .done(),
        );
    }
    for (who, side) in [("client", &view.to_server), ("server", &view.to_client)] {
        for m in [HANS_CLIENT_MAGIC, HANS_SERVER_MAGIC] {
            let n = count(side, m);
            if n >= HANS_ONE_SIDE_MIN {
                return Some(
                    Verdict::new(Kind::VpnTunnel, "icmp_tunnel", Confidence::Signature)
                        .with(fact(who, m, n)),
                );
            }
        }
    }
    None
}

/// Echo replies returning none of the data sent the other way (RFC 792 requires it back),
/// judged when the current packet (`payload` from `src`, of `(proto, type)`) is a reply.
fn not_echoed(view: &FlowView<'_>, src: IpAddr, payload: &[u8], kind: (u8, u8)) -> Option<Verdict> {
    if !ECHO_REPLIES.contains(&kind) || payload.is_empty() {
        return None;
    }
    let c = datagrams(view, &view.to_server);
    let s = datagrams(view, &view.to_client);
    if c.len() < NO_ECHO_MIN_PER_SIDE || s.len() < NO_ECHO_MIN_PER_SIDE {
        return None;
    }
    let other = if src == view.client.ip() { &s } else { &c };
    let returned = |d: &[u8]| other.iter().any(|(o, _)| *o == d);
    if returned(payload) || c.iter().any(|(d, _)| s.iter().any(|(e, _)| e == d)) {
        return None;
    }
    let mut sizes: Vec<usize> = c.iter().chain(s.iter()).map(|(_, w)| *w).collect();
    sizes.sort_unstable();
    sizes.dedup();
    Some(
        Verdict::new(Kind::VpnTunnel, "icmp_tunnel", Confidence::Heuristic)
            .with(format!(
                "echo replies return none of the data sent ({} and {} echo messages; RFC 792 requires the data back)",
                c.len(),
                s.len()
            ))
            .with(format!("{} distinct echo data sizes", sizes.len())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Packet;
    use crate::detect::anon_testdata::random;
    use crate::detect::testing::ViewBuilder;
    use crate::ts::Ts;
    use std::net::Ipv4Addr;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 20);

    /// The packet that triggers the detector: an ICMP message of `ty` from `src`.
    fn packet(src: Ipv4Addr, ty: u8, payload: &[u8]) -> Packet<'_> {
        let dst = if src == CLIENT { SERVER } else { CLIENT };
        Packet {
            ts: Ts::from_secs(1),
            vlan: 0,
            src: src.into(),
            dst: dst.into(),
            proto: ip_proto::ICMP,
            ttl: 64,
            src_port: 0,
            dst_port: 0,
            tcp: None,
            icmp: Some((ty, 0)),
            ah_spi: None,
            payload,
            wire_len: payload.len() as u32 + 42,
            payload_wire_len: payload.len() as u32,
            tunnel: None,
        }
    }

    fn inspect(b: &ViewBuilder, p: &Packet<'_>) -> Option<Verdict> {
        let mut v = b.view();
        v.packet = Some(p);
        IcmpTunnel.inspect(&v)
    }

    /// An IPv4 header per RFC 791 §3.1 (IHL 5, TTL 64, protocol ICMP, checksum filled in) for
    /// `src` → `dst`, followed by `body`.
    fn ipv4(src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
        let total = (20 + body.len()) as u16;
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        let sum = !checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    /// Linux iputils ping data: 16-byte timestamp, then 0x10, 0x11, … (56 bytes).
    fn linux_ping(i: u8) -> Vec<u8> {
        let mut d = vec![
            i, 0x6e, 0x13, 0x51, 0, 0, 0, 0, 0x2d, 0x49, 6, 0, 0, 0, 0, 0,
        ];
        d.extend(0x10u8..0x38);
        d
    }

    #[test]
    fn ip_packets_both_ways_are_a_handshake() {
        let req = ipv4([10, 95, 1, 1], [10, 95, 1, 2], &random(1, 64));
        let rep = ipv4([10, 95, 1, 2], [10, 95, 1, 1], &random(2, 64));
        let b = ViewBuilder::ip(ip_proto::ICMP)
            .to_server(&req)
            .to_client(&rep);
        let v = inspect(&b, &packet(SERVER, 0, &rep)).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (Kind::VpnTunnel, "icmp_tunnel", Confidence::Handshake, true)
        );
        assert!(
            v.evidence[0].contains("10.95.1.1 → 10.95.1.2, 84 bytes"),
            "{:?}",
            v.evidence
        );
        let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&req);
        let v = inspect(&b, &packet(CLIENT, 8, &req)).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn a_bad_checksum_or_length_is_not_an_ip_packet() {
        let mut req = ipv4([10, 95, 1, 1], [10, 95, 1, 2], &random(1, 64));
        req[11] ^= 1;
        let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&req);
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &req)), None);
        let mut long = ipv4([10, 95, 1, 1], [10, 95, 1, 2], &random(1, 64));
        long.push(0);
        let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&long);
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &long)), None);
    }

    #[test]
    fn error_quotes_and_expired_probes_are_skipped() {
        // Port unreachable from the server quoting the client's whole UDP datagram.
        let quote = ipv4(CLIENT.octets(), SERVER.octets(), &random(3, 16));
        let ping = linux_ping(1);
        let b = ViewBuilder::ip(ip_proto::ICMP)
            .to_server(&ping)
            .to_client(&quote)
            .to_client(&ping);
        assert_eq!(inspect(&b, &packet(SERVER, 0, &ping)), None);
        // A quoted probe whose TTL expired.
        let mut probe = ipv4([192, 0, 2, 10], [203, 0, 113, 5], &random(4, 32));
        probe[8] = 1;
        probe[10] = 0;
        probe[11] = 0;
        let sum = !checksum(&probe[..20]);
        probe[10..12].copy_from_slice(&sum.to_be_bytes());
        let b = ViewBuilder::ip(ip_proto::ICMP)
            .to_server(&ping)
            .to_client(&probe);
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &ping)), None);
    }

    #[test]
    fn ordinary_pings_never_match() {
        let windows = b"abcdefghijklmnopqrstuvwabcdefghi".to_vec();
        for data in [linux_ping(1), windows, vec![0u8; 64], random(5, 100)] {
            let mut b = ViewBuilder::ip(ip_proto::ICMP);
            for _ in 0..4 {
                b = b.to_server(&data).to_client(&data);
            }
            assert_eq!(inspect(&b, &packet(SERVER, 0, &data)), None);
            assert_eq!(inspect(&b, &packet(CLIENT, 8, &data)), None);
        }
        // Linux pings with changing timestamps, replies echoing each.
        let mut b = ViewBuilder::ip(ip_proto::ICMP);
        for i in 0..8 {
            b = b.to_server(&linux_ping(i)).to_client(&linux_ping(i));
        }
        assert_eq!(inspect(&b, &packet(SERVER, 0, &linux_ping(7))), None);
    }

    #[test]
    fn replies_not_returning_the_data_are_a_heuristic() {
        let mut b = ViewBuilder::ip(ip_proto::ICMP);
        for i in 0..3 {
            b = b
                .to_server(&random(10 + i, 60 + i as usize * 30))
                .to_client(&random(20 + i, 120));
        }
        let cur = random(22, 120);
        let v = inspect(&b, &packet(SERVER, 0, &cur)).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        // Only judged on a reply.
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &random(12, 120))), None);
    }

    #[test]
    fn ptunnel_and_hans_headers() {
        let pt = |flag: u32, data: usize| {
            let mut h = PTUNNEL_MAGIC.to_be_bytes().to_vec();
            h.extend_from_slice(&[203, 0, 113, 7, 0, 0, 0, 22]);
            h.extend_from_slice(&(flag | 2).to_be_bytes());
            h.extend_from_slice(&0u32.to_be_bytes());
            h.extend_from_slice(&(data as u32).to_be_bytes());
            h.extend_from_slice(&[0, 1, 0x12, 0x34]);
            h.extend(random(data as u64, data));
            h
        };
        let b = ViewBuilder::ip(ip_proto::ICMP)
            .to_server(&pt(PTUNNEL_USER_FLAG, 40))
            .to_client(&pt(PTUNNEL_PROXY_FLAG, 90));
        let v = inspect(&b, &packet(SERVER, 0, &pt(PTUNNEL_PROXY_FLAG, 90))).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[0].contains("ptunnel"));
        let mut bad = pt(PTUNNEL_USER_FLAG, 40);
        bad.push(0);
        let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&bad);
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &bad)), None);

        let mut hc = b"9967\x02".to_vec();
        hc.extend(random(1, 10));
        let mut hs = b"hans\x03".to_vec();
        hs.extend(random(2, 10));
        let b = ViewBuilder::ip(ip_proto::ICMP)
            .to_server(&hc)
            .to_client(&hs);
        let v = inspect(&b, &packet(SERVER, 0, &hs)).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
    }

    #[test]
    fn non_echo_triggers_and_other_protocols_are_ignored() {
        let req = ipv4([10, 95, 1, 1], [10, 95, 1, 2], &random(1, 64));
        let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&req);
        assert_eq!(inspect(&b, &packet(CLIENT, 3, &req)), None);
        assert_eq!(IcmpTunnel.inspect(&b.view()), None);
        let b = ViewBuilder::udp(1, 2).to_server(&req);
        assert_eq!(inspect(&b, &packet(CLIENT, 8, &req)), None);
        for cut in 0..req.len() {
            let b = ViewBuilder::ip(ip_proto::ICMP).to_server(&req[..cut]);
            let _ = inspect(&b, &packet(CLIENT, 8, &req[..cut]));
        }
    }
}
