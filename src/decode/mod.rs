//! Decode: one captured frame in, one [`Packet`] view out.
//!
//! The link layer is chosen by the capture's datalink; from there etherparse's lax slicer does the
//! work (VLAN/QinQ, IPv4 with options and AH, IPv6 with extension headers, TCP, UDP, ICMP).
//! The lax slicer is used on purpose: a frame cut by the snap length is still a valid packet whose
//! first payload bytes matter to detectors, so length fields larger than the captured data fall
//! back to what was captured instead of failing.
//!
//! Tunnels without encryption are unwrapped, as Zeek and Suricata unwrap them: IP in IP
//! (IPv4 or IPv6 inside IPv4 or IPv6, RFC 2003, RFC 4213, RFC 2473), IP in GRE version 0
//! (RFC 2784, with RFC 2890's key and sequence number), and on their IANA UDP ports VXLAN
//! (RFC 7348, 4789) and Geneve (RFC 8926, 6081), which carry Ethernet frames (what AWS VPC
//! Traffic Mirroring and Gateway Load Balancer hand a sensor in the cloud), and Teredo (RFC 4380,
//! 3544, IPv6 over UDP). The packet is the innermost one, so an RDP session or an OpenVPN
//! handshake carried through a tunnel broker, a GRE link or a cloud mirror is a flow like any
//! other; GRE version 1 (PPTP's PPP data, RFC 2637) is left as it is, for the PPTP detector.
//!
//! Failure policy: nothing here panics or allocates. A frame that cannot be decoded is a
//! [`Malformed`] reason (a small closed set, so it can be a metric label); non-IP frames and
//! non-first IP fragments are reported as such and skipped by the flow table.

mod link;
mod malformed;
mod peek;

pub use malformed::Malformed;
pub use peek::{peek, peek_as, Peek, PeekAddr};

use crate::capture::{Frame, LinkType};
use crate::ts::Ts;
use etherparse::{
    err::packet::SliceError, IpNumber, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket,
    TcpOptionElement, TcpSlice, TransportSlice, UdpSlice,
};
use std::net::IpAddr;

/// IP protocol numbers this sensor names (IANA "Assigned Internet Protocol Numbers").
pub mod ip_proto {
    /// ICMP (RFC 792).
    pub const ICMP: u8 = 1;
    /// IPv4 encapsulated in IP (RFC 2003).
    pub const IPV4_IN_IP: u8 = 4;
    /// TCP (RFC 9293).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP (RFC 4213 in IPv4, RFC 2473 in IPv6).
    pub const IPV6_IN_IP: u8 = 41;
    /// GRE (RFC 2784; PPTP uses the enhanced version 1 of RFC 2637).
    pub const GRE: u8 = 47;
    /// IPsec Encapsulating Security Payload (RFC 4303).
    pub const ESP: u8 = 50;
    /// IPsec Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// ICMPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// L2TPv3 directly over IP (RFC 3931).
    pub const L2TP: u8 = 115;

    /// Short lower-case name for logs and alert flow records.
    pub fn name(p: u8) -> &'static str {
        match p {
            ICMP => "icmp",
            TCP => "tcp",
            UDP => "udp",
            GRE => "gre",
            ESP => "esp",
            AH => "ah",
            ICMPV6 => "icmpv6",
            L2TP => "l2tp",
            _ => "ip",
        }
    }
}

/// TCP header fields the flow table and detectors use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits of byte 13 (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    /// Receive window (unscaled).
    pub window: u16,
    /// MSS option, parsed on SYN segments only (RFC 9293 §3.7.1).
    pub mss: Option<u16>,
    /// Window-scale shift, parsed on SYN segments only (RFC 7323 §2).
    pub wscale: Option<u8>,
}

impl TcpInfo {
    /// FIN flag.
    pub const FIN: u8 = 0x01;
    /// SYN flag.
    pub const SYN: u8 = 0x02;
    /// RST flag.
    pub const RST: u8 = 0x04;
    /// ACK flag.
    pub const ACK: u8 = 0x10;

    /// Whether all bits of `f` are set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f == f
    }
}

/// An unencrypted tunnel a packet was unwrapped from (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    /// IP in IP: IPv4 or IPv6 inside IPv4 or IPv6 (RFC 2003, RFC 4213, RFC 2473).
    IpInIp,
    /// IP in GRE version 0 (RFC 2784, RFC 2890).
    Gre,
    /// Ethernet in VXLAN over UDP (RFC 7348).
    Vxlan,
    /// Ethernet or IP in Geneve over UDP (RFC 8926).
    Geneve,
    /// IPv6 in Teredo over UDP (RFC 4380).
    Teredo,
}

impl Tunnel {
    /// The tunnel as an alert's evidence names it.
    pub fn describe(self) -> &'static str {
        match self {
            Tunnel::IpInIp => "an IP-in-IP tunnel (RFC 2003/4213)",
            Tunnel::Gre => "a GRE tunnel (RFC 2784)",
            Tunnel::Vxlan => "a VXLAN tunnel (RFC 7348)",
            Tunnel::Geneve => "a Geneve tunnel (RFC 8926)",
            Tunnel::Teredo => "a Teredo tunnel (RFC 4380)",
        }
    }

    /// Every tunnel, in [`Tunnel::index`] order.
    pub const ALL: [Tunnel; 5] = [
        Tunnel::IpInIp,
        Tunnel::Gre,
        Tunnel::Vxlan,
        Tunnel::Geneve,
        Tunnel::Teredo,
    ];

    /// Position in [`Tunnel::ALL`] (for per-tunnel counters).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Short lower-case name for alert flow records and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::IpInIp => "ipip",
            Tunnel::Gre => "gre",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
            Tunnel::Teredo => "teredo",
        }
    }
}

/// The tunnel a packet was unwrapped from, and that tunnel's own addresses (the outer packet's
/// source and destination).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnelled {
    /// Which tunnel.
    pub kind: Tunnel,
    /// The outer packet's source.
    pub src: IpAddr,
    /// The outer packet's destination.
    pub dst: IpAddr,
}

/// A decoded IP packet: addresses, transport ports and the payload detectors look at.
#[derive(Clone, Debug)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Ts,
    /// VLAN id(s): the single id, or `outer << 12 | inner` for QinQ; 0 when untagged.
    pub vlan: u32,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The protocol after IP extension headers (TCP, UDP, ESP, GRE, …).
    pub proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Source port (0 for protocols without ports).
    pub src_port: u16,
    /// Destination port (0 for protocols without ports).
    pub dst_port: u16,
    /// TCP header fields when `proto` is TCP.
    pub tcp: Option<TcpInfo>,
    /// ICMP type and code when `proto` is ICMP or ICMPv6.
    pub icmp: Option<(u8, u8)>,
    /// SPI of an IPsec Authentication Header carried by this packet (RFC 4302 §2.4).
    pub ah_spi: Option<u32>,
    /// Transport payload (TCP/UDP/ICMP), or the IP payload for other protocols (ESP, GRE, …).
    pub payload: &'a [u8],
    /// Frame length on the wire, for byte accounting.
    pub wire_len: u32,
    /// Length of `payload` on the wire: larger than `payload.len()` when the snap length cut the
    /// frame (the cut bytes are the end of the payload), so size-exact formats still see the size
    /// their sender wrote.
    pub payload_wire_len: u32,
    /// The tunnel this packet was unwrapped from (the innermost, when nested); its addresses
    /// are [`tunnel_of`] the frame, read only when a flow needs them (one byte here keeps every
    /// packet as small as before tunnels had addresses).
    pub tunnel: Option<Tunnel>,
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// An IP packet the flow table can use.
    Packet(Packet<'a>),
    /// A valid frame that does not carry IP (ARP, LLDP, STP, …).
    NotIp,
    /// A non-first IP fragment: no transport header to key a flow on.
    Fragment,
    /// A frame that could not be decoded, and why.
    Malformed(Malformed),
}

/// Decodes one frame captured with framing `link`.
pub fn decode<'a>(link: LinkType, frame: &Frame<'a>) -> Decoded<'a> {
    match fast(link, frame) {
        Some(p) => Decoded::Packet(p),
        None => whole(link, frame),
    }
}

/// Decodes a frame with etherparse's whole-packet slicer: every framing and case.
pub(crate) fn whole<'a>(link: LinkType, frame: &Frame<'a>) -> Decoded<'a> {
    let (sliced, vlan) = match link::slice(link, frame.data) {
        Ok(Some(s)) => s,
        Ok(None) => return Decoded::NotIp,
        Err(m) => return Decoded::Malformed(m),
    };
    packet_at(&sliced, vlan, frame, 0, &mut None)
}

/// The tunnel a frame's packet was unwrapped from, with the tunnel's own addresses: the
/// innermost tunnel, as [`Packet::tunnel`] names it; `None` for a packet that was in none.
/// Decodes the frame the whole way again: for the first packet of a tunnelled flow only.
pub fn tunnel_of(link: LinkType, frame: &Frame<'_>) -> Option<Tunnelled> {
    let (sliced, vlan) = link::slice(link, frame.data).ok()??;
    let mut tunnel = None;
    match packet_at(&sliced, vlan, frame, 0, &mut tunnel) {
        Decoded::Packet(_) => tunnel,
        _ => None,
    }
}

/// VLAN tags the per-layer way walks; more go the whole way.
const VLAN_TAGS_FAST: usize = 2;

/// The common frame, Ethernet II (up to two VLAN tags) or raw IP carrying an unfragmented TCP segment or UDP
/// datagram whose every layer etherparse accepts without complaint, decoded with etherparse's
/// per-layer slicers. The whole-packet slicer used otherwise moves its result, several hundred
/// bytes, through each layer it descends; most frames need none of that. Anything else (tags,
/// ARP, fragments, ICMP, a layer cut short or malformed) is `None` and goes the whole way, so
/// both ways give the same packet (the tests compare them on every fixture frame and on random
/// and mutated ones). The packet is built once, in place, from each layer's fields.
pub(crate) fn fast<'a>(link: LinkType, frame: &Frame<'a>) -> Option<Packet<'a>> {
    let (ip_bytes, vlan) = fast_link(link, frame.data)?;
    let ip = match ip_bytes.first()? >> 4 {
        4 => fast_ipv4(ip_bytes)?,
        6 => fast_ipv6(ip_bytes)?,
        _ => return None,
    };
    let (src_port, dst_port, tcp, payload) = match ip.proto {
        ip_proto::TCP => {
            let t = TcpSlice::from_slice(ip.payload).ok()?;
            let info = tcp_info(&t);
            (
                t.source_port(),
                t.destination_port(),
                Some(info),
                t.payload(),
            )
        }
        ip_proto::UDP => {
            let u = UdpSlice::from_slice_lax(ip.payload).ok()?;
            let (src, dst) = (u.source_port(), u.destination_port());
            if udp_tunnel_port(src, dst) {
                return None;
            }
            (src, dst, None, u.payload())
        }
        _ => return None,
    };
    Some(Packet {
        ts: frame.ts,
        vlan,
        src: ip.src,
        dst: ip.dst,
        proto: ip.proto,
        ttl: ip.ttl,
        src_port,
        dst_port,
        tcp,
        icmp: None,
        ah_spi: ip.ah_spi,
        payload,
        wire_len: frame.wire_len,
        payload_wire_len: payload_wire_len(payload, frame),
        tunnel: None,
    })
}

/// The IP bytes of a common frame and its VLAN id(s): Ethernet II with up to two 802.1Q /
/// 802.1ad tags (kept as `link::vlan_id` keeps them), or raw IP.
fn fast_link(link: LinkType, data: &[u8]) -> Option<(&[u8], u32)> {
    use etherparse::EtherType;
    match link {
        LinkType::Ethernet => {
            let eth = etherparse::Ethernet2Slice::from_slice_without_fcs(data).ok()?;
            let (mut et, mut rest) = (eth.ether_type(), eth.payload_slice());
            let mut vlan = 0u32;
            for _ in 0..VLAN_TAGS_FAST {
                if !matches!(
                    et,
                    EtherType::VLAN_TAGGED_FRAME
                        | EtherType::PROVIDER_BRIDGING
                        | EtherType::VLAN_DOUBLE_TAGGED_FRAME
                ) {
                    break;
                }
                let tag = etherparse::SingleVlanSlice::from_slice(rest).ok()?;
                vlan = (vlan << 12) | u32::from(tag.vlan_identifier().value());
                et = tag.ether_type();
                rest = tag.payload_slice();
            }
            matches!(et, EtherType::IPV4 | EtherType::IPV6).then_some((rest, vlan))
        }
        LinkType::RawIp => Some((data, 0)),
        _ => None,
    }
}

/// What the common frame's IP layer says.
struct FastIp<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    proto: u8,
    ah_spi: Option<u32>,
    payload: &'a [u8],
}

/// An unfragmented IPv4 packet without an Authentication Header, read from its header alone.
/// The payload ends where etherparse's lax IPv4 slicer (`LaxIpv4Slice::from_slice`) ends it: at
/// the total length (RFC 791 §3.1), or at the captured bytes when the total length is shorter
/// than the header or longer than what was captured (a frame cut by the snap length).
fn fast_ipv4(bytes: &[u8]) -> Option<FastIp<'_>> {
    let h = etherparse::Ipv4HeaderSlice::from_slice(bytes).ok()?;
    // An AH goes the whole way (the lax slicer reads it, and may stop inside it).
    if h.is_fragmenting_payload() || h.protocol() == IpNumber::AUTHENTICATION_HEADER {
        return None;
    }
    let (header_len, total) = (h.slice().len(), usize::from(h.total_len()));
    let end = if total < header_len || total > bytes.len() {
        bytes.len()
    } else {
        total
    };
    Some(FastIp {
        src: IpAddr::V4(h.source_addr()),
        dst: IpAddr::V4(h.destination_addr()),
        ttl: h.ttl(),
        proto: h.protocol().0,
        ah_spi: None,
        payload: bytes.get(header_len..end)?,
    })
}

/// An unfragmented IPv6 packet whose extension headers etherparse's lax slicer reads whole.
fn fast_ipv6(bytes: &[u8]) -> Option<FastIp<'_>> {
    let (etherparse::LaxIpSlice::Ipv6(v6), None) =
        etherparse::LaxIpSlice::from_slice(bytes).ok()?
    else {
        return None;
    };
    let (src, dst, ttl, payload, ah_spi, _) = ipv6_facts(&v6);
    if payload.fragmented {
        return None;
    }
    Some(FastIp {
        src,
        dst,
        ttl,
        proto: payload.ip_number.0,
        ah_spi,
        payload: payload.payload,
    })
}

/// Addresses, TTL, payload, AH SPI and whether this is the first (or only) fragment.
type IpFacts<'a> = (IpAddr, IpAddr, u8, LaxIpPayloadSlice<'a>, Option<u32>, bool);

fn ipv4_facts<'a>(v4: &etherparse::LaxIpv4Slice<'a>) -> IpFacts<'a> {
    let h = v4.header();
    (
        IpAddr::V4(h.source_addr()),
        IpAddr::V4(h.destination_addr()),
        h.ttl(),
        v4.payload().clone(),
        v4.extensions().auth.map(|a| a.spi()),
        h.fragments_offset().value() == 0,
    )
}

fn ipv6_facts<'a>(v6: &etherparse::LaxIpv6Slice<'a>) -> IpFacts<'a> {
    let h = v6.header();
    let (ah, first) = ipv6_extension_facts(h.next_header().0, v6.extensions().slice());
    (
        IpAddr::V6(h.source_addr()),
        IpAddr::V6(h.destination_addr()),
        h.hop_limit(),
        v6.payload().clone(),
        ah,
        first,
    )
}

/// The packet an IP layer describes, before its transport header is read.
fn ip_packet<'a>(frame: &Frame<'a>, vlan: u32, facts: IpFacts<'a>) -> Packet<'a> {
    let (src, dst, ttl, ip_payload, ah_spi, _) = facts;
    Packet {
        ts: frame.ts,
        vlan,
        src,
        dst,
        proto: ip_payload.ip_number.0,
        ttl,
        src_port: 0,
        dst_port: 0,
        tcp: None,
        icmp: None,
        ah_spi,
        payload: ip_payload.payload,
        wire_len: frame.wire_len,
        payload_wire_len: 0,
        tunnel: None,
    }
}

/// Sets the payload's length on the wire (see [`payload_wire_len`]).
fn set_payload_wire_len(p: &mut Packet<'_>, frame: &Frame<'_>) {
    p.payload_wire_len = payload_wire_len(p.payload, frame);
}

/// The length on the wire of `payload`, carried by `frame`: what the snap length cut is the end
/// of the payload.
fn payload_wire_len(payload: &[u8], frame: &Frame<'_>) -> u32 {
    let cut = frame
        .wire_len
        .saturating_sub(u32::try_from(frame.data.len()).unwrap_or(u32::MAX));
    u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .saturating_add(cut)
}

/// Tunnel layers unwrapped in one frame: a tunnel inside a tunnel (PPTP's GRE inside 4in6,
/// say) is still read through; the packet of a deeper one is the last tunnel layer reached.
const TUNNEL_DEPTH_MAX: usize = 2;
/// EtherTypes of IPv4 and IPv6: after Ethernet and VLAN tags (`peek`), and as GRE (RFC 2784
/// §2.4) and Geneve (RFC 8926 §3.4) name an IP payload.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// GRE flag bits of the first byte: checksum present, routing present (RFC 1701, deprecated),
/// key present, sequence number present (RFC 2784 §2.1, RFC 2890 §2).
const GRE_CHECKSUM: u8 = 0x80;
const GRE_ROUTING: u8 = 0x40;
const GRE_KEY: u8 = 0x20;
const GRE_SEQUENCE: u8 = 0x10;
/// GRE version bits of the second byte: 0 for RFC 2784, 1 for PPTP.
const GRE_VERSION_MASK: u8 = 0x07;
/// GRE base header, and each optional field (checksum with reserved, key, sequence number).
const GRE_BASE_LEN: usize = 4;
const GRE_FIELD_LEN: usize = 4;

/// UDP ports of the tunnels unwrapped over UDP (IANA "Service Name and Transport Protocol Port
/// Number Registry"): VXLAN and Geneve on the destination port, where their encapsulating end
/// sends (RFC 7348 §5, RFC 8926 §3.3: the source port is a hash of the inner flow), Teredo on
/// either (RFC 4380 §5.2.1: client to server and relay to client alike).
const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
const UDP_TEREDO: u16 = 3544;
/// UDP header (RFC 768).
const UDP_HEADER_LEN: usize = 8;
/// VXLAN header; its flags byte has the I bit (a valid VNI) set (RFC 7348 §5).
const VXLAN_HEADER_LEN: usize = 8;
const VXLAN_FLAG_I: u8 = 0x08;
/// Geneve base header, version 0, options in 4-byte units after it (RFC 8926 §3.4).
const GENEVE_HEADER_LEN: usize = 8;
const GENEVE_VERSION: u8 = 0;
/// Protocol Type naming an Ethernet frame ("Transparent Ethernet Bridging", RFC 8926 §3.4).
const ETHERTYPE_TEB: u16 = 0x6558;
/// Teredo's optional headers before the IPv6 packet (RFC 4380 §5.1.1): the origin indication
/// (type 0x0000, port and address: 8 bytes) and the authentication indicator (type 0x0001,
/// lengths, client id, authentication value, 8-byte nonce, confirmation byte).
const TEREDO_ORIGIN_LEN: usize = 8;
const TEREDO_AUTH_FIXED_LEN: usize = 13;
/// IPv6 fixed header (RFC 8200 §3).
const IPV6_HEADER_LEN: usize = 40;

/// Whether a UDP datagram between these ports may be a tunnel that [`tunnelled`] unwraps: the
/// per-layer way leaves such datagrams to the whole way, which tries.
fn udp_tunnel_port(src: u16, dst: u16) -> bool {
    matches!(dst, UDP_VXLAN | UDP_GENEVE | UDP_TEREDO) || src == UDP_TEREDO
}

/// What a tunnel carries: an IP packet, or an Ethernet frame.
enum Inner<'a> {
    Ip(&'a [u8]),
    Ethernet(&'a [u8]),
}

/// The packet an IP payload of protocol `proto` carries when it is an unencrypted tunnel, and
/// which tunnel.
fn tunnelled(proto: u8, payload: &[u8]) -> Option<(Tunnel, Inner<'_>)> {
    match proto {
        ip_proto::IPV4_IN_IP | ip_proto::IPV6_IN_IP => Some((Tunnel::IpInIp, Inner::Ip(payload))),
        ip_proto::UDP => udp_tunnelled(payload),
        ip_proto::GRE => {
            let (&flags, &version) = (payload.first()?, payload.get(1)?);
            if version & GRE_VERSION_MASK != 0 || flags & GRE_ROUTING != 0 {
                return None;
            }
            if !matches!(link::be16(payload, 2)?, ETHERTYPE_IPV4 | ETHERTYPE_IPV6) {
                return None;
            }
            let fields = [GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE]
                .iter()
                .filter(|&&f| flags & f != 0)
                .count();
            Some((
                Tunnel::Gre,
                Inner::Ip(payload.get(GRE_BASE_LEN + fields * GRE_FIELD_LEN..)?),
            ))
        }
        _ => None,
    }
}

/// The packet a UDP datagram (`datagram`, from its header on) carries when it is VXLAN, Geneve
/// or Teredo. The port names the candidate and its header must hold; whether what follows
/// decodes is the caller's test, so a datagram that only uses the port stays a datagram.
fn udp_tunnelled(datagram: &[u8]) -> Option<(Tunnel, Inner<'_>)> {
    let (src, dst) = (link::be16(datagram, 0)?, link::be16(datagram, 2)?);
    if !udp_tunnel_port(src, dst) {
        return None;
    }
    // Length covers header and data; one past the captured bytes (snap length) or shorter
    // than the header leaves what was captured, as etherparse's lax slicer does.
    let body = datagram.get(UDP_HEADER_LEN..)?;
    let len = usize::from(link::be16(datagram, 4)?);
    let body = len
        .checked_sub(UDP_HEADER_LEN)
        .and_then(|n| body.get(..n))
        .unwrap_or(body);
    match dst {
        UDP_VXLAN => {
            if body.first()? & VXLAN_FLAG_I == 0 {
                return None;
            }
            Some((
                Tunnel::Vxlan,
                Inner::Ethernet(body.get(VXLAN_HEADER_LEN..)?),
            ))
        }
        UDP_GENEVE => {
            let first = *body.first()?;
            if first >> 6 != GENEVE_VERSION {
                return None;
            }
            let options = usize::from(first & 0x3f) * 4;
            let inner = body.get(GENEVE_HEADER_LEN + options..)?;
            match link::be16(body, 2)? {
                ETHERTYPE_TEB => Some((Tunnel::Geneve, Inner::Ethernet(inner))),
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some((Tunnel::Geneve, Inner::Ip(inner))),
                _ => None,
            }
        }
        _ => teredo(body).map(|ip| (Tunnel::Teredo, Inner::Ip(ip))),
    }
}

/// The IPv6 packet of a Teredo datagram's data, past its optional authentication and origin
/// headers (RFC 4380 §5.1.1, in that order). As Zeek does, the packet must be exactly the rest
/// of the datagram (IPv6 version, Payload Length plus the fixed header): other traffic on port
/// 3544 stays UDP.
fn teredo(mut data: &[u8]) -> Option<&[u8]> {
    if link::be16(data, 0)? == 0x0001 {
        let (id_len, auth_len) = (usize::from(*data.get(2)?), usize::from(*data.get(3)?));
        data = data.get(TEREDO_AUTH_FIXED_LEN + id_len + auth_len..)?;
    }
    if link::be16(data, 0)? == 0x0000 {
        data = data.get(TEREDO_ORIGIN_LEN..)?;
    }
    let payload_len = usize::from(link::be16(data, 4)?);
    (data.first()? >> 4 == 6 && IPV6_HEADER_LEN + payload_len == data.len()).then_some(data)
}

/// The packet of `s`, `depth` tunnel layers down the frame; `tunnel` is given the innermost
/// tunnel unwrapped, with its addresses.
fn packet_at<'a>(
    s: &LaxSlicedPacket<'a>,
    vlan: u32,
    frame: &Frame<'a>,
    depth: usize,
    tunnel: &mut Option<Tunnelled>,
) -> Decoded<'a> {
    let facts = match &s.net {
        Some(LaxNetSlice::Ipv4(v4)) => ipv4_facts(v4),
        Some(LaxNetSlice::Ipv6(v6)) => ipv6_facts(v6),
        Some(LaxNetSlice::Arp(_)) => return Decoded::NotIp,
        None => {
            return match &s.stop_err {
                Some((e, layer)) => Decoded::Malformed(Malformed::from_slice_error(e, *layer)),
                None => Decoded::NotIp,
            }
        }
    };
    let (ip_payload, first_fragment) = (facts.3.clone(), facts.5);
    if ip_payload.fragmented && !first_fragment {
        return Decoded::Fragment;
    }
    if !ip_payload.fragmented && depth < TUNNEL_DEPTH_MAX {
        // An IP packet inside keeps the outer VLAN; an Ethernet frame has its own tags.
        let inner = tunnelled(ip_payload.ip_number.0, ip_payload.payload).and_then(|(t, b)| {
            let inner = match b {
                Inner::Ip(b) => (LaxSlicedPacket::from_ip(b).ok()?, vlan),
                Inner::Ethernet(b) => link::slice(LinkType::Ethernet, b).ok()??,
            };
            Some((t, inner))
        });
        if let Some((kind, (inner, vlan))) = inner {
            match packet_at(&inner, vlan, frame, depth + 1, tunnel) {
                Decoded::Packet(mut p) => {
                    if p.tunnel.is_none() {
                        p.tunnel = Some(kind);
                        let (src, dst) = (facts.0, facts.1);
                        *tunnel = Some(Tunnelled { kind, src, dst });
                    }
                    return Decoded::Packet(p);
                }
                Decoded::Fragment => return Decoded::Fragment,
                // A tunnel whose content does not decode is kept as the tunnel's packet.
                Decoded::NotIp | Decoded::Malformed(_) => {}
            }
        }
    }
    let mut p = ip_packet(frame, vlan, facts);
    match &s.transport {
        Some(t) => fill_transport(&mut p, t),
        None if ip_payload.fragmented => {
            // etherparse does not slice the transport of a fragmented datagram; the first
            // fragment still carries the transport header, which is enough to key the flow.
            if let Err(m) = fill_first_fragment(&mut p, &ip_payload) {
                return Decoded::Malformed(m);
            }
        }
        None => {
            if let Some((e, layer)) = &s.stop_err {
                if is_transport(ip_payload.ip_number) {
                    return Decoded::Malformed(Malformed::from_slice_error(e, *layer));
                }
            } else if is_transport(ip_payload.ip_number) {
                return Decoded::Malformed(Malformed::Truncated);
            }
        }
    }
    set_payload_wire_len(&mut p, frame);
    Decoded::Packet(p)
}

/// IPv6 extension headers walked at most. RFC 8200 §4.1 has each type appear once (destination
/// options twice); a longer chain is malformed or an evasion attempt, and what the sensor needs
/// from it (AH, fragment) comes early.
const IPV6_EXTENSIONS_MAX: usize = 8;

/// The AH SPI (RFC 4302 §2.4) and whether this is the first fragment (RFC 8200 §4.5), read from
/// the IPv6 extension headers the lax slicer kept (`exts`, starting with header type `first`).
///
/// Walked here with bounds checks instead of with etherparse's extension iterator: when the
/// lax slicer stops inside a chain (a second hop-by-hop header, say), the kept slice ends while
/// the last kept header still names a next extension, and that iterator then reads it past the
/// end of the slice without a check (etherparse 0.21 `Ipv6ExtensionSliceIter::next`; found by
/// the `decode` fuzz target).
fn ipv6_extension_facts(first: u8, exts: &[u8]) -> (Option<u32>, bool) {
    // IANA protocol numbers of the IPv6 extension headers etherparse slices.
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const DEST_OPTIONS: u8 = 60;
    let (mut ah, mut first_fragment) = (None, true);
    let (mut next, mut rest) = (first, exts);
    for _ in 0..IPV6_EXTENSIONS_MAX {
        let (Some(&following), Some(&len_field)) = (rest.first(), rest.get(1)) else {
            break;
        };
        let len = match next {
            // Length in 8-octet units, not counting the first 8 (RFC 8200 §4.3-4.6).
            HOP_BY_HOP | ROUTING | DEST_OPTIONS => (usize::from(len_field) + 1) * 8,
            FRAGMENT => {
                // Fragment offset: the upper 13 bits of bytes 2-3 (RFC 8200 §4.5).
                if let Some(off) = link::be16(rest, 2) {
                    first_fragment = off >> 3 == 0;
                }
                8
            }
            ip_proto::AH => {
                // Length in 4-octet units minus 2 (RFC 4302 §2.2); the SPI follows 4 bytes in.
                if let Some(spi) = rest.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                    ah = Some(u32::from_be_bytes(spi));
                }
                (usize::from(len_field) + 2) * 4
            }
            _ => break,
        };
        next = following;
        match rest.get(len..) {
            Some(r) => rest = r,
            None => break,
        }
    }
    (ah, first_fragment)
}

fn is_transport(n: IpNumber) -> bool {
    matches!(
        n.0,
        ip_proto::TCP | ip_proto::UDP | ip_proto::ICMP | ip_proto::ICMPV6
    )
}

fn fill_transport<'a>(p: &mut Packet<'a>, t: &TransportSlice<'a>) {
    match t {
        TransportSlice::Tcp(tcp) => fill_tcp(p, tcp),
        TransportSlice::Udp(udp) => fill_udp(p, udp),
        TransportSlice::Icmpv4(icmp) => {
            p.icmp = Some((icmp.type_u8(), icmp.code_u8()));
            p.payload = icmp.payload();
        }
        TransportSlice::Icmpv6(icmp) => {
            p.icmp = Some((icmp.type_u8(), icmp.code_u8()));
            p.payload = icmp.payload();
        }
        TransportSlice::Igmp(_) => {}
    }
}

fn fill_udp<'a>(p: &mut Packet<'a>, udp: &UdpSlice<'a>) {
    p.src_port = udp.source_port();
    p.dst_port = udp.destination_port();
    p.payload = udp.payload();
}

fn fill_tcp<'a>(p: &mut Packet<'a>, tcp: &TcpSlice<'a>) {
    p.src_port = tcp.source_port();
    p.dst_port = tcp.destination_port();
    p.tcp = Some(tcp_info(tcp));
    p.payload = tcp.payload();
}

/// The header fields of a TCP segment the flow table and detectors use.
fn tcp_info(tcp: &TcpSlice<'_>) -> TcpInfo {
    let flags = tcp.slice().get(13).copied().unwrap_or(0);
    let mut info = TcpInfo {
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        mss: None,
        wscale: None,
    };
    if tcp.syn() {
        // Options are only parsed where they mean something (SYN, SYN/ACK); a malformed option
        // list ends the walk without failing the packet.
        for opt in tcp.options_iterator() {
            match opt {
                Ok(TcpOptionElement::MaximumSegmentSize(m)) => info.mss = Some(m),
                Ok(TcpOptionElement::WindowScale(w)) => info.wscale = Some(w),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    info
}

fn fill_first_fragment<'a>(
    p: &mut Packet<'a>,
    ip: &LaxIpPayloadSlice<'a>,
) -> Result<(), Malformed> {
    match ip.ip_number.0 {
        ip_proto::TCP => {
            // The payload of a first fragment is partial; ports and flags are what matter here.
            let tcp = TcpSlice::from_slice(ip.payload).map_err(|_| Malformed::Truncated)?;
            fill_tcp(p, &tcp);
        }
        ip_proto::UDP => {
            let udp = UdpSlice::from_slice_lax(ip.payload).map_err(|_| Malformed::Truncated)?;
            fill_udp(p, &udp);
        }
        _ => {}
    }
    Ok(())
}

impl Malformed {
    fn from_slice_error(e: &SliceError, layer: etherparse::err::Layer) -> Malformed {
        malformed::classify(e, layer)
    }
}

#[cfg(test)]
mod tests;
