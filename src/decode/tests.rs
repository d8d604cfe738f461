use super::*;
use etherparse::{IpNumber, PacketBuilder, TcpOptionElement};
use proptest::prelude::*;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn frame(data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Ts::from_secs(100),
        data,
        wire_len: data.len() as u32,
    }
}

fn eth_tcp_syn() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([192, 0, 2, 1], [198, 51, 100, 2], 61)
        .tcp(50000, 3389, 7, 64240)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(1380),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(8),
        ])
        .unwrap();
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn packet(link: LinkType, data: &[u8]) -> Packet<'_> {
    match decode(link, &frame(data)) {
        Decoded::Packet(p) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_tcp_syn_with_options() {
    let data = eth_tcp_syn();
    let p = packet(LinkType::Ethernet, &data);
    assert_eq!(p.src.to_string(), "192.0.2.1");
    assert_eq!(p.dst.to_string(), "198.51.100.2");
    assert_eq!(
        (p.src_port, p.dst_port, p.proto, p.ttl),
        (50000, 3389, ip_proto::TCP, 61)
    );
    let t = p.tcp.unwrap();
    assert!(t.has(TcpInfo::SYN) && !t.has(TcpInfo::ACK));
    assert_eq!((t.seq, t.mss, t.wscale), (7, Some(1380), Some(8)));
    assert!(p.payload.is_empty());
    assert_eq!(p.vlan, 0);
}

#[test]
fn vlan_and_qinq_ids_are_part_of_the_packet() {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(etherparse::VlanId::try_new(100).unwrap())
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(1, 2)
        .write(&mut out, b"x")
        .unwrap();
    assert_eq!(packet(LinkType::Ethernet, &out).vlan, 100);

    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .double_vlan(
            etherparse::VlanId::try_new(2).unwrap(),
            etherparse::VlanId::try_new(3).unwrap(),
        )
        .ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(1000, 2000)
        .write(&mut out, b"hello")
        .unwrap();
    let p = packet(LinkType::Ethernet, &out);
    assert_eq!(p.vlan, (2 << 12) | 3);
    assert_eq!(p.payload, b"hello");
    assert_eq!(p.src.to_string(), "2001:db8::1");
}

#[test]
fn esp_and_gre_payloads_are_the_ip_payload() {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(
            &mut out,
            etherparse::IpNumber(ip_proto::ESP),
            &[0, 0, 1, 0, 0, 0, 0, 1, 9, 9],
        )
        .unwrap();
    let p = packet(LinkType::Ethernet, &out);
    assert_eq!(p.proto, ip_proto::ESP);
    assert_eq!(p.payload, &[0, 0, 1, 0, 0, 0, 0, 1, 9, 9]);
    assert_eq!((p.src_port, p.dst_port), (0, 0));
}

/// IPv4 header (20 bytes, protocol AH) + AH (RFC 4302 §2: next header ICMP, payload length 4
/// → 24 bytes, SPI 0x1234) + an ICMP echo request.
fn ipv4_ah_icmp() -> Vec<u8> {
    let ah: [u8; 24] = [
        1, 4, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xaa, 0xbb, 0xcc, 0xdd,
        0xaa, 0xbb, 0xcc, 0xdd,
    ];
    let icmp: [u8; 8] = [8, 0, 0xf7, 0xff, 0, 0, 0, 0];
    let total = 20 + ah.len() + icmp.len();
    let mut ip = vec![
        0x45,
        0,
        0,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        ip_proto::AH,
        0,
        0,
        192,
        0,
        2,
        1,
        192,
        0,
        2,
        2,
    ];
    let h = etherparse::Ipv4HeaderSlice::from_slice(&ip)
        .unwrap()
        .to_header();
    let sum = h.calc_header_checksum();
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&ah);
    ip.extend_from_slice(&icmp);
    ip
}

#[test]
fn authentication_header_spi_is_reported() {
    let ip = ipv4_ah_icmp();
    let p = packet(LinkType::RawIp, &ip);
    assert_eq!(p.ah_spi, Some(0x1234));
    assert_eq!(p.proto, ip_proto::ICMP);
    assert_eq!(p.icmp, Some((8, 0)));
}

#[test]
fn cooked_and_loopback_framings() {
    let eth = eth_tcp_syn();
    let ip = &eth[14..];
    // SLL v1: packet type, ARPHRD_ETHER, address length, 8-byte address, protocol 0x0800.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(ip);
    assert_eq!(packet(LinkType::LinuxSll, &sll).dst_port, 3389);
    // SLL v2: protocol first, reserved, interface index, ARPHRD, packet type, address length, address.
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(ip);
    assert_eq!(packet(LinkType::LinuxSll2, &sll2).dst_port, 3389);
    // BSD null, little-endian AF_INET; OpenBSD loop, big-endian AF_INET6 (24) with an IPv4 body
    // still decodes by the IP version nibble.
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(ip);
    assert_eq!(packet(LinkType::Null, &null).src_port, 50000);
    let mut lo = vec![0, 0, 0, 24];
    lo.extend_from_slice(ip);
    assert_eq!(packet(LinkType::Loop, &lo).src_port, 50000);
    // An address family that is not IP.
    let mut other = vec![7, 0, 0, 0];
    other.extend_from_slice(ip);
    assert!(matches!(
        decode(LinkType::Null, &frame(&other)),
        Decoded::NotIp
    ));
    // Raw IP.
    assert_eq!(packet(LinkType::RawIp, ip).dst_port, 3389);
}

/// `ip` in a PPPoE session frame (RFC 2516 §4) of session 0x2175 behind `tags` 802.1Q tags,
/// with PPP protocol field `ppp` (two bytes, or one when compressed), padded to Ethernet's
/// minimum with bytes after the PPPoE length.
fn pppoe_frame(tags: &[u16], ppp: &[u8], ip: &[u8]) -> Vec<u8> {
    let mut f = [MAC_B, MAC_A].concat();
    for t in tags {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&t.to_be_bytes());
    }
    f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x21, 0x75]);
    f.extend_from_slice(&((ppp.len() + ip.len()) as u16).to_be_bytes());
    f.extend_from_slice(ppp);
    f.extend_from_slice(ip);
    f.resize(f.len().max(64), 0xee);
    f
}

#[test]
fn pppoe_session_frames_carry_ip() {
    let eth = eth_tcp_syn();
    let ip4 = &eth[14..];
    let f = pppoe_frame(&[], &[0x00, 0x21], ip4);
    let p = packet(LinkType::Ethernet, &f);
    assert_eq!(
        (p.src.to_string(), p.dst_port, p.vlan),
        ("192.0.2.1".into(), 3389, 0)
    );
    assert_eq!(p.tcp.unwrap().mss, Some(1380));
    // Behind two tags, as on a provider's access network; a compressed protocol field (RFC
    // 1661 §6.5).
    let f = pppoe_frame(&[285, 121], &[0x21], ip4);
    let p = packet(LinkType::Ethernet, &f);
    assert_eq!((p.dst_port, p.vlan), (3389, 285 << 12 | 121));
    // IPv6 carrying ESP; the padding after the PPPoE length is not payload.
    let esp = [0x2c, 0x58, 0x2f, 0xba, 0, 0, 0, 1, 0xab, 0xcd];
    let ip6 = ipv6(ip_proto::ESP, &esp);
    let f = pppoe_frame(&[], &[0x00, 0x57], &ip6);
    let p = packet(LinkType::Ethernet, &f);
    assert_eq!((p.proto, p.payload), (ip_proto::ESP, &esp[..]));
    // Through Linux cooked capture, EtherType 0x8864 in the protocol field.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    sll.extend_from_slice(&pppoe_frame(&[], &[0x00, 0x21], ip4)[12..]);
    assert_eq!(packet(LinkType::LinuxSll, &sll).dst_port, 3389);
}

#[test]
fn pppoe_control_and_discovery_are_not_ip_and_a_cut_header_is_malformed() {
    let eth = eth_tcp_syn();
    let ip4 = &eth[14..];
    // LCP (0xc021) and IPCP (0x8021) run inside the session; not IP.
    for ppp in [[0xc0, 0x21], [0x80, 0x21]] {
        let f = pppoe_frame(&[], &ppp, &[1, 1, 0, 4]);
        assert!(matches!(
            decode(LinkType::Ethernet, &frame(&f)),
            Decoded::NotIp
        ));
    }
    // A discovery packet (PADI, code 0x09) with the session EtherType, and another version.
    for (at, v) in [(15, 0x09), (14, 0x21)] {
        let mut f = pppoe_frame(&[], &[0x00, 0x21], ip4);
        f[at] = v;
        assert!(matches!(
            decode(LinkType::Ethernet, &frame(&f)),
            Decoded::NotIp
        ));
    }
    // Cut inside the PPPoE header or before the protocol field.
    let f = pppoe_frame(&[], &[0x00, 0x21], ip4);
    for n in [16, 19, 20] {
        assert!(matches!(
            decode(LinkType::Ethernet, &frame(&f[..n])),
            Decoded::Malformed(Malformed::LinkHeader)
        ));
    }
    // A length past the captured bytes (snap length) leaves what was captured.
    let mut f = pppoe_frame(&[], &[0x00, 0x21], ip4);
    f[18..20].copy_from_slice(&0xffffu16.to_be_bytes());
    assert_eq!(packet(LinkType::Ethernet, &f).dst_port, 3389);
}

#[test]
fn arp_is_not_ip() {
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[192, 0, 2, 1]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[192, 0, 2, 2]);
    assert!(matches!(
        decode(LinkType::Ethernet, &frame(&arp)),
        Decoded::NotIp
    ));
}

#[test]
fn malformed_frames_are_classified() {
    let eth = eth_tcp_syn();
    let m = |link, d: &[u8]| match decode(link, &frame(d)) {
        Decoded::Malformed(m) => m,
        other => panic!("expected malformed, got {other:?}"),
    };
    assert_eq!(m(LinkType::Ethernet, &eth[..10]), Malformed::LinkHeader);
    assert_eq!(m(LinkType::LinuxSll, &[0u8; 8]), Malformed::LinkHeader);
    assert_eq!(m(LinkType::Null, &[2, 0]), Malformed::LinkHeader);
    let mut bad_version = eth.clone();
    bad_version[14] = 0x75;
    assert_eq!(m(LinkType::Ethernet, &bad_version), Malformed::IpHeader);
    let mut bad_offset = eth.clone();
    bad_offset[14 + 20 + 12] = 0x20; // data offset 2 words < 5
    assert_eq!(m(LinkType::Ethernet, &bad_offset), Malformed::TcpHeader);
    // TCP header cut by the snap length (IP says more follows).
    assert_eq!(
        m(LinkType::Ethernet, &eth[..14 + 20 + 10]),
        Malformed::Truncated
    );
    assert_eq!(m(LinkType::RawIp, &[0x45]), Malformed::IpHeader);
}

#[test]
fn fragments_first_keyed_later_skipped() {
    // A UDP datagram split in two: first fragment carries the UDP header.
    let mut out = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(500, 500)
        .write(&mut out, &[0u8; 64])
        .unwrap();
    let mut first = out.clone();
    first[6] = 0x20; // MF set, offset 0
    let h = etherparse::Ipv4HeaderSlice::from_slice(&first)
        .unwrap()
        .to_header();
    first[10..12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    let p = packet(LinkType::RawIp, &first);
    assert_eq!((p.src_port, p.dst_port), (500, 500));

    let mut later = out.clone();
    later[6] = 0x00;
    later[7] = 0x03; // offset 24 bytes, last fragment
    let h = etherparse::Ipv4HeaderSlice::from_slice(&later)
        .unwrap()
        .to_header();
    later[10..12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    assert!(matches!(
        decode(LinkType::RawIp, &frame(&later)),
        Decoded::Fragment
    ));
}

/// `inner` as the payload of an IPv4 packet of protocol `proto` between the tunnel's ends
/// 203.0.113.1 and 203.0.113.2.
fn ipv4_around(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([203, 0, 113, 1], [203, 0, 113, 2], 60)
        .write(&mut out, IpNumber(proto), inner)
        .unwrap();
    out
}

/// A GRE version 0 header (RFC 2784, RFC 2890) with the given optional fields, naming
/// `ether_type` as its payload, then `inner`.
fn gre0(checksum: bool, key: bool, seq: bool, ether_type: u16, inner: &[u8]) -> Vec<u8> {
    let flags = u8::from(checksum) << 7 | u8::from(key) << 5 | u8::from(seq) << 4;
    let mut g = vec![flags, 0];
    g.extend_from_slice(&ether_type.to_be_bytes());
    for on in [checksum, key, seq] {
        if on {
            g.extend_from_slice(&[0xa5; 4]);
        }
    }
    g.extend_from_slice(inner);
    g
}

#[test]
fn ip_in_ip_and_gre_version_0_give_the_inner_packet() {
    let eth = eth_tcp_syn();
    let tcp4 = &eth[14..];
    let udp6 = sample(true, true);
    let udp6 = &udp6[14..];
    // IPv4 in IPv4 (RFC 2003), IPv6 in IPv4 (RFC 4213), IPv4 in IPv6 and IPv6 in IPv6 (RFC 2473).
    let f = ipv4_around(4, tcp4);
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(
        (p.src.to_string(), p.dst_port, p.ttl),
        ("192.0.2.1".into(), 3389, 61)
    );
    assert_eq!(p.tcp.unwrap().mss, Some(1380));
    assert_eq!(p.tunnel, Some(Tunnel::IpInIp));
    let f = ipv4_around(41, udp6);
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(
        (p.dst.to_string(), p.proto, p.dst_port),
        ("2001:db8::2".into(), ip_proto::UDP, 40000)
    );
    assert_eq!(p.payload, &[7u8; 40][..]);
    let f = ipv6(4, tcp4);
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(p.dst_port, 3389);
    let f = ipv6(41, udp6);
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(p.src_port, 53);
    // GRE version 0 with each combination of optional fields, IPv4 and IPv6 inside.
    for bits in 0..8 {
        let (c, k, s) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
        let f = ipv4_around(47, &gre0(c, k, s, 0x0800, tcp4));
        let p = packet(LinkType::RawIp, &f);
        assert_eq!((p.proto, p.dst_port), (ip_proto::TCP, 3389), "{bits}");
        assert_eq!(p.tunnel, Some(Tunnel::Gre));
        let f = ipv4_around(47, &gre0(c, k, s, 0x86dd, udp6));
        let p = packet(LinkType::RawIp, &f);
        assert_eq!((p.proto, p.src_port), (ip_proto::UDP, 53), "{bits}");
    }
    // Through Ethernet and a VLAN tag: the tag stays the flow's.
    let mut f = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(etherparse::VlanId::try_new(42).unwrap())
        .ipv4([203, 0, 113, 1], [203, 0, 113, 2], 60)
        .write(&mut f, IpNumber(4), tcp4)
        .unwrap();
    let p = packet(LinkType::Ethernet, &f);
    assert_eq!((p.dst_port, p.vlan), (3389, 42));
}

#[test]
fn tunnels_that_are_not_unwrapped_stay_the_tunnels_packet() {
    let eth = eth_tcp_syn();
    let tcp4 = &eth[14..];
    // PPTP's enhanced GRE (version 1, PPP inside): the PPTP detector reads it as GRE.
    let mut pptp = vec![0x30, 0x81, 0x88, 0x0b, 0, 4, 0x12, 0x34, 0, 0, 0, 1];
    pptp.extend_from_slice(&[0xff, 0x03, 0x00, 0x21]);
    let f = ipv4_around(47, &pptp);
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(
        (p.proto, p.payload, p.tunnel),
        (ip_proto::GRE, &pptp[..], None)
    );
    // GRE with routing (RFC 1701), or carrying another EtherType (Ethernet bridging, 0x6558).
    let mut routed = gre0(false, false, false, 0x0800, tcp4);
    routed[0] |= 0x40;
    for g in [routed, gre0(false, true, false, 0x6558, tcp4)] {
        assert_eq!(
            packet(LinkType::RawIp, &ipv4_around(47, &g)).proto,
            ip_proto::GRE
        );
    }
    // A tunnel whose content is not an IP packet.
    let junk = ipv4_around(4, b"not an IP packet");
    let p = packet(LinkType::RawIp, &junk);
    assert_eq!((p.proto, p.payload), (4, &b"not an IP packet"[..]));
    // Two tunnel layers are unwrapped (PPTP inside IPv4-in-IPv6 is a GRE packet); a third is
    // the packet of the second.
    let pptp_in_4in6 = ipv6(4, &ipv4_around(47, &pptp));
    assert_eq!(packet(LinkType::RawIp, &pptp_in_4in6).proto, ip_proto::GRE);
    let two = ipv4_around(
        47,
        &gre0(false, false, false, 0x0800, &ipv4_around(4, tcp4)),
    );
    let p = packet(LinkType::RawIp, &two);
    // The innermost tunnel is named.
    assert_eq!((p.dst_port, p.tunnel), (3389, Some(Tunnel::IpInIp)));
    let three = ipv6(4, &two);
    let p = packet(LinkType::RawIp, &three);
    assert_eq!((p.proto, p.src.to_string()), (4, "203.0.113.1".into()));
    // A later fragment of the inner packet is a fragment.
    let mut later = tcp4.to_vec();
    later[7] = 0x03;
    let h = etherparse::Ipv4HeaderSlice::from_slice(&later)
        .unwrap()
        .to_header();
    later[10..12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    assert!(matches!(
        decode(LinkType::RawIp, &frame(&ipv4_around(4, &later))),
        Decoded::Fragment
    ));
}

/// A UDP datagram `src` → `dst` carrying `payload`, in IPv4 between two documentation
/// addresses (raw IP framing).
fn udp_around(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([203, 0, 113, 1], [203, 0, 113, 2], 60)
        .udp(src, dst)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A VXLAN header (RFC 7348 §5) with flags `flags` and VNI 0x2a61, then the frame `inner`.
fn vxlan(flags: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, 0, 0, 0, 0x00, 0x2a, 0x61, 0];
    v.extend_from_slice(inner);
    v
}

/// A Geneve header (RFC 8926 §3.4), version `version`, with `words` 4-byte words of options,
/// protocol type `proto`, then `inner`.
fn geneve(version: u8, words: u8, proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut g = vec![version << 6 | words, 0];
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(&[0x00, 0x2a, 0x61, 0]);
    for w in 0..words {
        // Option class, type, length (1 word of data after the 4-byte option header).
        let opt: [u8; 4] = if w % 2 == 0 {
            [0x01, 0x02, 0x80, 0x01]
        } else {
            [w; 4]
        };
        g.extend_from_slice(&opt);
    }
    g.extend_from_slice(inner);
    g
}

#[test]
fn vxlan_geneve_and_teredo_give_the_inner_packet() {
    let eth = eth_tcp_syn();
    let udp6 = sample(true, true);
    let ipv6_packet = &udp6[14..];
    // VXLAN carries a whole Ethernet frame; the packet is the inner one.
    let f = udp_around(51234, 4789, &vxlan(0x08, &eth));
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(
        (p.src.to_string(), p.dst_port, p.tunnel, p.vlan),
        ("192.0.2.1".into(), 3389, Some(Tunnel::Vxlan), 0)
    );
    assert_eq!(p.tcp.unwrap().mss, Some(1380));
    // The inner frame's VLAN tag is the flow's.
    let mut tagged = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(etherparse::VlanId::try_new(301).unwrap())
        .ipv4([192, 0, 2, 1], [198, 51, 100, 2], 61)
        .udp(5000, 443)
        .write(&mut tagged, b"inner")
        .unwrap();
    let f = udp_around(51234, 4789, &vxlan(0x08, &tagged));
    let p = packet(LinkType::RawIp, &f);
    assert_eq!((p.vlan, p.dst_port, p.payload), (301, 443, &b"inner"[..]));
    // Geneve with options, carrying Ethernet, or IPv6 directly.
    for words in [0, 2, 5] {
        let f = udp_around(40000, 6081, &geneve(0, words, 0x6558, &eth));
        let p = packet(LinkType::RawIp, &f);
        assert_eq!(
            (p.dst_port, p.tunnel),
            (3389, Some(Tunnel::Geneve)),
            "{words}"
        );
    }
    let f = udp_around(40000, 6081, &geneve(0, 1, 0x86dd, ipv6_packet));
    let p = packet(LinkType::RawIp, &f);
    assert_eq!(
        (p.src.to_string(), p.src_port, p.tunnel),
        ("2001:db8::1".into(), 53, Some(Tunnel::Geneve))
    );
    // Teredo: the IPv6 packet alone, behind an origin indication, behind an authentication
    // indicator (client id of 2 bytes, authentication value of 3), and from the relay's side.
    let mut origin = vec![0, 0, 0x9c, 0x40, 0x3f, 0xff, 0x8c, 0xfe];
    origin.extend_from_slice(ipv6_packet);
    let mut auth = vec![0, 1, 2, 3, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
    auth.extend_from_slice(&[0x5a; 8]);
    auth.push(0);
    auth.extend_from_slice(&origin);
    for (src, dst, data) in [
        (40123, 3544, ipv6_packet),
        (40123, 3544, &origin[..]),
        (3544, 40123, &auth[..]),
    ] {
        let f = udp_around(src, dst, data);
        let p = packet(LinkType::RawIp, &f);
        assert_eq!(
            (p.dst.to_string(), p.dst_port, p.payload, p.tunnel),
            (
                "2001:db8::2".into(),
                40000,
                &[7u8; 40][..],
                Some(Tunnel::Teredo)
            )
        );
    }
    // Through Ethernet, and checked by the per-layer way and the routing peek, which leave
    // these datagrams to the whole way.
    let mut outer = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 20, 0, 15], [10, 20, 0, 99], 255)
        .udp(51234, 4789)
        .write(&mut outer, &vxlan(0x08, &eth))
        .unwrap();
    assert_eq!(packet(LinkType::Ethernet, &outer).dst_port, 3389);
    assert!(fast(LinkType::Ethernet, &frame(&outer)).is_none());
    assert!(peek(LinkType::Ethernet, &outer).is_none());
    assert!(!agree(LinkType::Ethernet, &frame(&outer)));
}

/// The tunnel's own addresses, read again for a flow's first packet: the innermost tunnel's,
/// none for a packet in no tunnel.
#[test]
fn tunnel_of_gives_the_innermost_tunnels_addresses() {
    let eth = eth_tcp_syn();
    let tcp4 = &eth[14..];
    let ends = |data: &[u8]| {
        tunnel_of(LinkType::RawIp, &frame(data))
            .map(|t| (t.kind, t.src.to_string(), t.dst.to_string()))
    };
    let gre = ipv4_around(47, &gre0(false, true, false, 0x0800, tcp4));
    assert_eq!(
        ends(&gre),
        Some((Tunnel::Gre, "203.0.113.1".into(), "203.0.113.2".into()))
    );
    let vx = udp_around(51234, 4789, &vxlan(0x08, &eth));
    assert_eq!(
        ends(&vx),
        Some((Tunnel::Vxlan, "203.0.113.1".into(), "203.0.113.2".into()))
    );
    // GRE inside IPv4-in-IPv6: the GRE packet's addresses, not the IPv6 ones.
    let nested = ipv6(4, &gre);
    assert_eq!(ends(&nested).map(|e| e.0), Some(Tunnel::Gre));
    assert_eq!(ends(&nested).map(|e| e.1), Some("203.0.113.1".into()));
    assert_eq!(packet(LinkType::RawIp, &nested).tunnel, Some(Tunnel::Gre));
    // No tunnel, or a tunnel port that is not one.
    assert_eq!(ends(tcp4), None);
    assert_eq!(ends(&udp_around(40000, 4789, &vxlan(0x00, &eth))), None);
}

#[test]
fn udp_on_a_tunnel_port_that_is_not_the_tunnel_stays_udp() {
    let eth = eth_tcp_syn();
    let udp6 = sample(true, true);
    let ipv6_packet = &udp6[14..];
    let mut longer = ipv6_packet.to_vec();
    longer.push(0);
    let mut arp = eth.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    for (why, dst, data) in [
        ("VXLAN without the I flag", 4789, vxlan(0x00, &eth)),
        ("VXLAN carrying no IP", 4789, vxlan(0x08, &arp)),
        ("VXLAN header alone", 4789, vxlan(0x08, &[])),
        ("Geneve version 1", 6081, geneve(1, 0, 0x6558, &eth)),
        (
            "Geneve of another protocol",
            6081,
            geneve(0, 0, 0x88cc, &eth),
        ),
        (
            "Geneve options past the data",
            6081,
            geneve(0, 63, 0x6558, &[]),
        ),
        ("Teredo of the wrong length", 3544, longer),
        ("Teredo carrying IPv4", 3544, eth[14..].to_vec()),
        ("a short datagram", 3544, vec![0, 1]),
    ] {
        let f = udp_around(40000, dst, &data);
        let p = packet(LinkType::RawIp, &f);
        assert_eq!(
            (p.proto, p.dst_port, p.payload, p.tunnel),
            (ip_proto::UDP, dst, &data[..], None),
            "{why}"
        );
    }
    // The same datagrams on other ports are ordinary UDP to every way of decoding.
    let f = udp_around(40000, 4790, &vxlan(0x08, &eth));
    assert_eq!(packet(LinkType::RawIp, &f).tunnel, None);
    assert!(fast(LinkType::RawIp, &frame(&f)).is_some());
    assert!(peek(LinkType::RawIp, &f).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any bytes under any framing: a decision, never a panic.
    #[test]
    fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), link in 0usize..6) {
        let links = [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null, LinkType::Loop];
        let _ = decode(links[link], &frame(&data));
    }

    /// The per-layer way and the whole-packet way agree on any frame the first one takes:
    /// valid TCP and UDP frames, with bytes flipped anywhere in their headers and cut short
    /// anywhere.
    #[test]
    fn the_fast_way_decodes_as_the_whole_way(
        udp in any::<bool>(),
        v6 in any::<bool>(),
        flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..6),
        cut in 0usize..120,
        raw in any::<bool>(),
        tags in 0usize..4,
    ) {
        let mut data = sample(udp, v6);
        // 802.1Q, 802.1ad and the old double-tag type, with a priority bit set and an id.
        let tag_types: [[u8; 2]; 3] = [[0x81, 0], [0x88, 0xa8], [0x91, 0]];
        for t in 0..tags {
            let ether_type = [data[12], data[13]];
            let tag = [0x20 | t as u8, 0x64 + t as u8, ether_type[0], ether_type[1]];
            data.splice(12..14, tag_types[t % 3].iter().copied().chain(tag));
        }
        for (i, v) in flips {
            if let Some(b) = data.get_mut(i) { *b = v; }
        }
        data.truncate(data.len().saturating_sub(cut));
        let (link, bytes) = if raw && tags == 0 {
            (LinkType::RawIp, data.get(14..).unwrap_or_default())
        } else {
            (LinkType::Ethernet, &data[..])
        };
        agree(link, &frame(bytes));
    }

    /// A PPPoE session frame with bytes flipped anywhere and cut anywhere: a decision, never
    /// a panic.
    #[test]
    fn mutated_pppoe_frames_never_panic(
        flips in proptest::collection::vec((0usize..70, any::<u8>()), 0..8),
        cut in 0usize..80,
    ) {
        let eth = eth_tcp_syn();
        let mut data = pppoe_frame(&[7], &[0x00, 0x21], &eth[14..]);
        for (i, v) in flips {
            if let Some(b) = data.get_mut(i) { *b = v; }
        }
        data.truncate(data.len().saturating_sub(cut));
        let _ = decode(LinkType::Ethernet, &frame(&data));
    }

    /// A tunnelled packet (IP in IP, IP in GRE, VXLAN, Geneve, Teredo) with bytes flipped
    /// anywhere and cut anywhere: a decision, never a panic.
    #[test]
    fn mutated_tunnels_never_panic(
        kind in 0usize..5,
        flips in proptest::collection::vec((0usize..110, any::<u8>()), 0..8),
        cut in 0usize..110,
    ) {
        let eth = eth_tcp_syn();
        let inner = &eth[14..];
        let udp6 = sample(true, true);
        let mut data = match kind {
            0 => ipv4_around(47, &gre0(true, true, true, 0x0800, inner)),
            1 => ipv4_around(4, inner),
            2 => udp_around(51234, 4789, &vxlan(0x08, &eth)),
            3 => udp_around(51234, 6081, &geneve(0, 2, 0x6558, &eth)),
            _ => udp_around(3544, 40123, &udp6[14..]),
        };
        for (i, v) in flips {
            if let Some(b) = data.get_mut(i) { *b = v; }
        }
        data.truncate(data.len().saturating_sub(cut));
        let _ = decode(LinkType::RawIp, &frame(&data));
    }

    /// A valid packet with bytes flipped after the link header still decodes to something.
    #[test]
    fn mutated_packets_never_panic(flips in proptest::collection::vec((0usize..54, any::<u8>()), 1..8)) {
        let mut data = eth_tcp_syn();
        for (i, v) in flips {
            if let Some(b) = data.get_mut(i) { *b = v; }
        }
        let _ = decode(LinkType::Ethernet, &frame(&data));
    }
}

#[test]
fn a_snaplen_cut_payload_keeps_its_wire_length() {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(40000, 51820)
        .write(&mut out, &[1u8; 148])
        .unwrap();
    let full = out.len() as u32;
    let cut = &out[..14 + 20 + 8 + 60];
    let f = Frame {
        ts: Ts::from_secs(1),
        data: cut,
        wire_len: full,
    };
    let Decoded::Packet(p) = decode(LinkType::Ethernet, &f) else {
        panic!("not a packet")
    };
    assert_eq!(p.payload.len(), 60);
    assert_eq!(p.payload_wire_len, 148);
    let whole = packet(LinkType::Ethernet, &out);
    assert_eq!(whole.payload_wire_len, 148);
}

/// An IPv6 packet (raw IP framing): the fixed header with first next-header `next`, then `rest`.
fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v.extend_from_slice(rest);
    v
}

/// UDP header 40000 → 500, length 8, no payload.
const UDP_EMPTY: [u8; 8] = [0x9c, 0x40, 0x01, 0xf4, 0, 8, 0, 0];

#[test]
fn ipv6_authentication_header_and_fragment_are_read() {
    // AH (RFC 4302 §2.2): next UDP, length 4 (24 bytes), SPI 0x01020304, sequence, 12-byte ICV.
    let mut ah = vec![17, 4, 0, 0, 1, 2, 3, 4, 0, 0, 0, 1];
    ah.extend_from_slice(&[0; 12]);
    ah.extend_from_slice(&UDP_EMPTY);
    let with_ah = ipv6(51, &ah);
    let p = packet(LinkType::RawIp, &with_ah);
    assert_eq!(p.ah_spi, Some(0x0102_0304));
    assert_eq!((p.proto, p.dst_port), (ip_proto::UDP, 500));

    // Fragment header (RFC 8200 §4.5): offset 0 with more-fragments set is the first fragment.
    let mut first = vec![17, 0, 0x00, 0x01, 0, 0, 0, 9];
    first.extend_from_slice(&UDP_EMPTY);
    let first = ipv6(44, &first);
    assert_eq!(packet(LinkType::RawIp, &first).dst_port, 500);
    // Offset 3 (24 bytes): a later fragment.
    let later = [17, 0, 0x00, 0x18, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8];
    assert!(matches!(
        decode(LinkType::RawIp, &frame(&ipv6(44, &later))),
        Decoded::Fragment
    ));
}

#[test]
fn an_ipv6_extension_chain_cut_short_is_read_within_its_bounds() {
    // A hop-by-hop header naming a second hop-by-hop header (only allowed first, RFC 8200
    // §4.1), then AH naming one more: the lax slicer keeps part of the chain whose last kept
    // header names an extension that is not there. Found by the `decode` fuzz target.
    let chain = [
        0u8, 0, 1, 4, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 51, 0, 0, 0,
    ];
    for next in [0u8, 43, 44, 51, 60] {
        let _ = decode(LinkType::RawIp, &frame(&ipv6(next, &chain)));
    }
    // The fuzzer's input: Ethernet, IPv6 with AH whose chain runs into the next header.
    let crash: [u8; 116] = [
        0x02, 0x00, 0x00, 0x00, 0x04, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x64, 0x33, 0x40, 0x20, 0x02, 0x10, 0x00, 0x00, 0xc0, 0x02, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x32, 0x40, 0x20, 0x02, 0x10,
        0x00, 0x00, 0xc0, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x4e,
        0x7e, 0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x33, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x28,
        0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x4e, 0x7e, 0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x33, 0x64,
        0x14, 0xc3, 0xb4, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let _ = decode(LinkType::Ethernet, &frame(&crash));
}

/// A TCP segment or UDP datagram with a payload, over IPv4 or IPv6 and Ethernet.
fn sample(udp: bool, v6: bool) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
    let ip = if v6 {
        eth.ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
    } else {
        eth.ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
    };
    let mut out = Vec::new();
    if udp {
        ip.udp(53, 40000).write(&mut out, &[7u8; 40]).unwrap();
    } else {
        ip.tcp(50000, 443, 9, 1000)
            .ack(5)
            .psh()
            .write(&mut out, &[0x16, 3, 1, 0, 30])
            .unwrap();
    }
    out
}

/// Where the per-layer way decodes `f`, the whole-packet way decodes it the same; and where the
/// routing peek reads a flow key, the per-layer way decodes a packet with those fields.
fn agree(link: LinkType, f: &Frame<'_>) -> bool {
    let peeked = super::peek(link, f.data);
    // The peek's shortcut for plain IPv4 answers as its layer-by-layer way would.
    if link == LinkType::Ethernet {
        if let Some(answer) = super::peek::plain_ipv4::<IpAddr>(f.data) {
            assert_eq!(
                answer,
                super::peek::general(link, f.data),
                "frame {:02x?}",
                f.data
            );
        }
    }
    let Some(fast) = super::fast(link, f) else {
        assert_eq!(
            peeked, None,
            "peek takes a frame decode does not: {:02x?}",
            f.data
        );
        return false;
    };
    if let Some(k) = peeked {
        let from_packet = Peek {
            vlan: fast.vlan,
            proto: fast.proto,
            src: (fast.src, fast.src_port),
            dst: (fast.dst, fast.dst_port),
        };
        assert_eq!(k, from_packet, "frame {:02x?}", f.data);
    }
    let whole = super::whole(link, f);
    assert_eq!(
        format!("{:?}", Decoded::Packet(fast)),
        format!("{whole:?}"),
        "frame {:02x?}",
        f.data
    );
    true
}

/// Every frame of every capture at hand (the fixtures, and the shared corpus when present):
/// the two ways agree wherever the per-layer way takes a frame, and it takes most of them.
#[test]
fn the_fast_way_agrees_on_every_capture_frame() {
    use crate::capture::{FileCapture, Step};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("fixtures/pcap"), root.join("../shared/corpus")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            eprintln!("skipping {}: not present", dir.display());
            continue;
        };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                files.push(p.join("capture.pcap"));
            } else {
                files.push(p);
            }
        }
    }
    let (mut frames, mut fast, mut peeked, mut plain) = (0u64, 0u64, 0u64, 0u64);
    for path in files.iter().filter(|p| p.is_file()) {
        let Ok(mut cap) = FileCapture::open(path) else {
            continue;
        };
        let link = cap.linktype();
        while let Ok(Step::Frames(_)) = cap.pump(|f| {
            frames += 1;
            fast += u64::from(agree(link, f));
            peeked += u64::from(super::peek(link, f.data).is_some());
            plain += u64::from(matches!(
                link,
                LinkType::Ethernet
                    if matches!(super::peek::plain_ipv4::<IpAddr>(f.data), Some(Some(_)))
            ));
        }) {}
    }
    // The peek's shortcut answered for a good part of them (and `agree` checked each answer).
    assert!(
        plain * 4 > peeked,
        "the shortcut took {plain} of the {peeked} frames peeked"
    );
    assert!(frames > 1000, "only {frames} frames found");
    assert!(
        fast * 2 > frames,
        "the per-layer way took {fast} of {frames} frames"
    );
    // The peek declines only shapes the per-layer way rarely sees (options past the fixed
    // fields are read by neither, so it takes nearly all of them).
    assert!(
        peeked * 100 >= fast * 99,
        "the peek took {peeked} of the {fast} frames the per-layer way took"
    );
}

/// The per-layer way ends an IPv4 payload where the lax slicer does: at the total length when
/// Ethernet padding follows it, at the captured bytes when the total length claims more (a
/// snap-length cut) or less than the header itself.
#[test]
fn ipv4_total_length_is_read_as_the_lax_slicer_reads_it() {
    let base = sample(true, false);
    let set_total = |d: &mut Vec<u8>, total: u16| d[16..18].copy_from_slice(&total.to_be_bytes());
    let mut padded = base.clone();
    padded.extend([0u8; 12]);
    let mut longer = base.clone();
    set_total(&mut longer, 1400);
    let mut shorter = base.clone();
    set_total(&mut shorter, 12);
    for (name, d) in [("padded", padded), ("longer", longer), ("shorter", shorter)] {
        assert!(agree(LinkType::Ethernet, &frame(&d)), "{name}: not taken");
    }
    let p = packet(LinkType::Ethernet, &base);
    let mut padded = base.clone();
    padded.extend([0u8; 12]);
    assert_eq!(packet(LinkType::Ethernet, &padded).payload, p.payload);
}

/// The first fragment of a segment (More Fragments set, offset 0) carries the TCP header, yet
/// the peek declines it as it declines every fragment, tagged or not: the router decodes it in
/// full, as it decodes the later fragments.
#[test]
fn the_peek_declines_a_first_fragment() {
    for tagged in [false, true] {
        let mut data = sample(false, false);
        if tagged {
            data.splice(12..14, [0x81, 0, 0x00, 0x64, 0x08, 0x00]);
        }
        let ip = if tagged { 18 } else { 14 };
        assert!(
            super::peek(LinkType::Ethernet, &data).is_some(),
            "tagged {tagged}"
        );
        // Flags and Fragment Offset (RFC 791 §3.1): More Fragments is 0x2000.
        data[ip + 6] |= 0x20;
        assert_eq!(
            super::peek(LinkType::Ethernet, &data),
            None,
            "tagged {tagged}"
        );
        assert_eq!(
            super::peek::general::<IpAddr>(LinkType::Ethernet, &data),
            None
        );
    }
}
