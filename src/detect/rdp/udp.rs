//! RDP-UDP: the UDP transport of RDP (MS-RDPEUDP), also the bootstrap of RDP-UDP2 (MS-RDPEUDP2).
//!
//! The connection starts with a SYN datagram from the client (MS-RDPEUDP 3.1.5.1.1): an
//! RDPUDP_FEC_HEADER (2.2.2.1: snSourceAck, uReceiveWindowSize, uFlags, big-endian) with
//! snSourceAck = -1 and RDPUDP_FLAG_SYN, then RDPUDP_SYNDATA_PAYLOAD (2.2.2.5:
//! snInitialSequenceNumber, uUpStreamMtu, uDownStreamMtu, both MTUs in 1132..=1232), an optional
//! RDPUDP_CORRELATION_ID_PAYLOAD (2.2.2.8, 32 bytes) and RDPUDP_SYNDATAEX_PAYLOAD (2.2.2.9:
//! uSynExFlags, uUdpVer, and a 32-byte cookie hash), the whole datagram zero-padded to the MTU.
//! The server answers SYN+ACK (3.1.5.1.3) whose snSourceAck is the client's initial sequence
//! number. The fixed -1, the flag set, the MTU range, the datagram size and hundreds of zero
//! padding bytes make one SYN a Signature; a SYN+ACK acknowledging it makes the Handshake.
//! uUdpVer 0x0101 (RDPUDP_PROTOCOL_VERSION_3) switches the connection to RDP-UDP2 afterwards.
//!
//! A capture that starts after the SYN exchange still shows RDP-UDP v1 ACK+DATA datagrams
//! (3.1.5.1.4): FEC header with ACK and DATA, RDPUDP_ACK_VECTOR_HEADER (2.2.2.7, at most 2048
//! elements, padded to 4 bytes), optional RDPUDP_ACK_OF_ACKVECTOR_HEADER, then
//! RDPUDP_SOURCE_PAYLOAD_HEADER (2.2.2.4) whose snCoded equals snSourceStart for source packets,
//! and the payload, a TLS or DTLS record (MS-RDPEMT). One such datagram is a Signature; each side
//! acknowledging the other's snCoded makes it a Handshake. RDP-UDP2 data (after version 3) swaps
//! its prefix byte into offset 7 (MS-RDPEUDP2 2.2.1.1) and has no fixed value to anchor on, so it
//! is only recognised through the SYN exchange.

use super::FAMILY;
use crate::detect::{be16, be32, Confidence, FlowView, Kind, Side, Verdict};

/// snSourceAck of a SYN datagram: -1 (MS-RDPEUDP 3.1.5.1.1).
const SN_NONE: u32 = 0xFFFF_FFFF;
/// RDPUDP_FEC_HEADER length (MS-RDPEUDP 2.2.2.1).
const FEC_HEADER_LEN: usize = 8;
/// Offset of uFlags in RDPUDP_FEC_HEADER (MS-RDPEUDP 2.2.2.1).
const FLAGS_OFFSET: usize = 6;
/// RDPUDP_SYNDATA_PAYLOAD length (MS-RDPEUDP 2.2.2.5).
const SYNDATA_LEN: usize = 8;
/// RDPUDP_CORRELATION_ID_PAYLOAD length: 16-byte id and 16 reserved bytes (MS-RDPEUDP 2.2.2.8).
const CORRELATION_LEN: usize = 32;
/// uCorrelationId length (MS-RDPEUDP 2.2.2.8).
const CORRELATION_ID_LEN: usize = 16;
/// uSynExFlags and uUdpVer of RDPUDP_SYNDATAEX_PAYLOAD (MS-RDPEUDP 2.2.2.9).
const SYNEX_LEN: usize = 4;
/// cookieHash of RDPUDP_SYNDATAEX_PAYLOAD (MS-RDPEUDP 2.2.2.9).
const COOKIE_HASH_LEN: usize = 32;
/// Smallest MTU a SYN may announce, and smallest SYN datagram (MS-RDPEUDP 3.1.5.1.1).
const MTU_MIN: usize = 1132;
/// Largest MTU, and the size SYN datagrams are padded to (MS-RDPEUDP 3.1.5.1.1).
const MTU_MAX: usize = 1232;
/// Largest uAckVectorSize (MS-RDPEUDP 2.2.2.7).
const ACK_VECTOR_MAX: usize = 2048;
/// RDPUDP_ACK_OF_ACKVECTOR_HEADER length (MS-RDPEUDP 2.2.2.6).
const ACK_OF_ACKS_LEN: usize = 4;
/// RDPUDP_SOURCE_PAYLOAD_HEADER length: snCoded, snSourceStart (MS-RDPEUDP 2.2.2.4).
const SOURCE_HEADER_LEN: usize = 8;

/// uFlags bits (MS-RDPEUDP 2.2.2.1).
const FLAG_SYN: u16 = 0x0001;
const FLAG_FIN: u16 = 0x0002;
const FLAG_ACK: u16 = 0x0004;
const FLAG_DATA: u16 = 0x0008;
const FLAG_FEC: u16 = 0x0010;
const FLAG_ACK_OF_ACKS: u16 = 0x0100;
const FLAG_SYNLOSSY: u16 = 0x0200;
const FLAG_CORRELATION_ID: u16 = 0x0800;
const FLAG_SYNEX: u16 = 0x1000;
/// Every defined uFlags bit (MS-RDPEUDP 2.2.2.1).
const FLAGS_KNOWN: u16 = 0x1FFF;
/// Flags a SYN or SYN+ACK never carries: FIN, DATA, FEC, CN, CWR, SACK_OPTION, ACK_OF_ACKS,
/// ACKDELAYED (MS-RDPEUDP 3.1.5.1.1).
const FLAGS_NOT_IN_SYN: u16 = 0x05FA;
/// Flags a data datagram never carries: SYN, FIN, FEC (repair packets have no source header),
/// SYNLOSSY, CORRELATION_ID, SYNEX (MS-RDPEUDP 3.1.5.1.4).
const FLAGS_NOT_IN_DATA: u16 =
    FLAG_SYN | FLAG_FIN | FLAG_FEC | FLAG_SYNLOSSY | FLAG_CORRELATION_ID | FLAG_SYNEX;
/// uSynExFlags: RDPUDP_VERSION_INFO_VALID (MS-RDPEUDP 2.2.2.9).
const VERSION_INFO_VALID: u16 = 0x0001;
/// uUdpVer values and names (MS-RDPEUDP 2.2.2.9).
const VERSIONS: [(u16, &str); 3] = [
    (0x0001, "RDPUDP_PROTOCOL_VERSION_1"),
    (0x0002, "RDPUDP_PROTOCOL_VERSION_2"),
    (0x0101, "RDPUDP_PROTOCOL_VERSION_3 (RDP-UDP2, MS-RDPEUDP2)"),
];

/// TLS record content types change_cipher_spec..application_data (RFC 8446 §5.1).
const TLS_TYPES: std::ops::RangeInclusive<u8> = 0x14..=0x17;
/// TLS record header length (RFC 8446 §5.1).
const TLS_HEADER_LEN: usize = 5;
/// DTLS record header length (RFC 6347 §4.1).
const DTLS_HEADER_LEN: usize = 13;
/// DTLS 1.0 and 1.2 record versions (RFC 6347 §4.1).
const DTLS_VERSIONS: [u16; 2] = [0xFEFF, 0xFEFD];

/// RDP-UDP recognition for a UDP flow.
pub(super) fn inspect(view: &FlowView<'_>) -> Option<Verdict> {
    // RDP Shortpath runs ICE/STUN checks on the same 5-tuple before the SYN, so the SYN need not
    // be the first datagram.
    let up = view.to_server;
    match (0..up.segments().len()).find_map(|i| Syn::parse(&up, i, false)) {
        Some(syn) => Some(syn_exchange(view, &syn)),
        None => midstream(view),
    }
}

/// A parsed SYN or SYN+ACK.
struct Syn {
    flags: u16,
    isn: u32,
    ack: u32,
    up_mtu: u16,
    down_mtu: u16,
    version: Option<u16>,
    wire_len: usize,
}

impl Syn {
    /// Parses datagram `i` of `side` as a SYN (`server` false) or SYN+ACK (`server` true).
    fn parse(side: &Side<'_>, i: usize, server: bool) -> Option<Syn> {
        // Cheapest checks first: the padded size, then the fixed snSourceAck of a SYN.
        let wire_len = side.wire_len(i)?;
        if !(MTU_MIN..=MTU_MAX).contains(&wire_len) {
            return None;
        }
        let d = side.segment(i)?;
        let ack = be32(d, 0)?;
        let flags = be16(d, FLAGS_OFFSET)?;
        let want = if server {
            FLAG_SYN | FLAG_ACK
        } else {
            FLAG_SYN
        };
        let role_ok = if server {
            ack != SN_NONE
        } else {
            ack == SN_NONE
        };
        if flags & (FLAG_SYN | FLAG_ACK) != want
            || flags & FLAGS_NOT_IN_SYN != 0
            || flags & !FLAGS_KNOWN != 0
            || !role_ok
        {
            return None;
        }
        let up_mtu = be16(d, FEC_HEADER_LEN + 4)?;
        let down_mtu = be16(d, FEC_HEADER_LEN + 6)?;
        let mtu_ok = |m: u16| (MTU_MIN..=MTU_MAX).contains(&usize::from(m));
        if !mtu_ok(up_mtu) || !mtu_ok(down_mtu) {
            return None;
        }
        let mut off = FEC_HEADER_LEN + SYNDATA_LEN;
        if flags & FLAG_CORRELATION_ID != 0 {
            // 3.1.5.1.1: the 16 bytes after the correlation id are reserved, all zero.
            let reserved = d.get(off + CORRELATION_ID_LEN..off + CORRELATION_LEN)?;
            if reserved.iter().any(|&b| b != 0) {
                return None;
            }
            off += CORRELATION_LEN;
        }
        let mut version = None;
        if flags & FLAG_SYNEX != 0 {
            let ex_flags = be16(d, off)?;
            if ex_flags & VERSION_INFO_VALID != 0 {
                version = Some(be16(d, off + 2)?);
            }
            off += SYNEX_LEN;
            if !server {
                // 2.2.2.9 puts a SHA-256 cookie hash here for version 3; clients offering version 2
                // have been seen sending one too, so the slot is skipped rather than checked.
                off += COOKIE_HASH_LEN;
            }
        }
        // 3.1.5.1.1: the rest of the datagram is zero padding up to the MTU.
        let padding = d.get(off..)?;
        if padding.is_empty() || padding.iter().any(|&b| b != 0) {
            return None;
        }
        Some(Syn {
            flags,
            isn: be32(d, FEC_HEADER_LEN)?,
            ack,
            up_mtu,
            down_mtu,
            version,
            wire_len,
        })
    }
}

fn version_name(v: u16) -> String {
    VERSIONS.iter().find(|&&(n, _)| n == v).map_or_else(
        || format!("uUdpVer 0x{v:04x}"),
        |&(_, name)| name.to_string(),
    )
}

fn syn_exchange(view: &FlowView<'_>, syn: &Syn) -> Verdict {
    let transport = if syn.flags & FLAG_SYNLOSSY != 0 {
        "lossy (RDP-UDP-L)"
    } else {
        "reliable (RDP-UDP-R)"
    };
    let syn_fact = format!(
        "RDP-UDP SYN (MS-RDPEUDP): snSourceAck=-1, MTU {}/{}, {}-byte zero-padded datagram, {transport}",
        syn.up_mtu, syn.down_mtu, syn.wire_len
    );
    let down = view.to_client;
    let reply = (0..down.segments().len())
        .filter_map(|i| Syn::parse(&down, i, true))
        .find(|r| r.ack == syn.isn);
    let Some(reply) = reply else {
        let v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature).with(syn_fact);
        return match syn.version {
            Some(ver) => v.with(format!("client offers {}", version_name(ver))),
            None => v,
        };
    };
    let v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake)
        .with(syn_fact)
        .with(format!(
            "SYN+ACK acknowledges initial sequence number 0x{:08x}",
            syn.isn
        ));
    let v = match (reply.version, syn.version) {
        (Some(ver), _) => v.with(format!("server selects {}", version_name(ver))),
        (None, Some(ver)) => v.with(format!("client offers {}", version_name(ver))),
        (None, None) => v,
    };
    v.done()
}

/// A parsed ACK+DATA datagram: its acknowledgement and its own sequence number.
#[derive(Clone, Copy)]
struct Data {
    ack: u32,
    coded: u32,
    dtls: bool,
}

impl Data {
    fn parse(side: &Side<'_>, i: usize) -> Option<Data> {
        let d = side.segment(i)?;
        let wire_len = side.wire_len(i)?;
        let flags = be16(d, FLAGS_OFFSET)?;
        if flags & (FLAG_ACK | FLAG_DATA) != FLAG_ACK | FLAG_DATA
            || flags & FLAGS_NOT_IN_DATA != 0
            || flags & !FLAGS_KNOWN != 0
        {
            return None;
        }
        let vector = usize::from(be16(d, FEC_HEADER_LEN)?);
        if vector > ACK_VECTOR_MAX {
            return None;
        }
        // 2.2.2.7: the ACK vector header ends on a 4-byte boundary.
        let mut off = FEC_HEADER_LEN + (2 + vector).next_multiple_of(4);
        if flags & FLAG_ACK_OF_ACKS != 0 {
            off += ACK_OF_ACKS_LEN;
        }
        let coded = be32(d, off)?;
        // Sequence numbers start from a random value; zero-filled headers are not RDP-UDP.
        if coded == 0 || be32(d, off + 4)? != coded {
            return None;
        }
        off += SOURCE_HEADER_LEN;
        let dtls = tls_record(d.get(off..)?, wire_len.checked_sub(off)?)?;
        Some(Data {
            ack: be32(d, 0)?,
            coded,
            dtls,
        })
    }
}

/// Whether `b` starts with a TLS (`Some(false)`) or DTLS (`Some(true)`) record that fits in
/// the `room` bytes left on the wire.
fn tls_record(b: &[u8], room: usize) -> Option<bool> {
    if !TLS_TYPES.contains(b.first()?) {
        return None;
    }
    let version = be16(b, 1)?;
    let (dtls, header, len) = if DTLS_VERSIONS.contains(&version) {
        (true, DTLS_HEADER_LEN, be16(b, 11)?)
    } else if version >> 8 == 3 && (1..=4).contains(&(version & 0xFF)) {
        (false, TLS_HEADER_LEN, be16(b, 3)?)
    } else {
        return None;
    };
    (usize::from(len) > 0 && header + usize::from(len) <= room).then_some(dtls)
}

/// The recorded datagrams of `side` that parse as ACK+DATA.
fn data_datagrams(side: Side<'_>) -> impl Iterator<Item = Data> + '_ {
    (0..side.segments().len()).filter_map(move |i| Data::parse(&side, i))
}

fn midstream(view: &FlowView<'_>) -> Option<Verdict> {
    let first = data_datagrams(view.to_server)
        .next()
        .or_else(|| data_datagrams(view.to_client).next())?;
    let up = data_datagrams(view.to_server).count();
    let down = data_datagrams(view.to_client).count();
    let inner = if first.dtls { "DTLS" } else { "TLS" };
    let fact = format!(
        "RDP-UDP ACK+DATA datagrams (MS-RDPEUDP source payload header) carrying {inner} records: {up} from initiator, {down} from responder"
    );
    // Each side acknowledges a sequence number the other side sent.
    let acked = |from: Side<'_>, to: Side<'_>| {
        data_datagrams(from)
            .find(|a| data_datagrams(to).any(|b| b.ack == a.coded))
            .map(|a| a.coded)
    };
    let cross = acked(view.to_server, view.to_client).zip(acked(view.to_client, view.to_server));
    let Some((up_sn, down_sn)) = cross else {
        return Some(
            Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature)
                .with(fact)
                .with("mid-stream: SYN exchange not seen"),
        );
    };
    Some(
        Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake)
            .with(fact)
            .with(format!(
                "each side acknowledges the other's sequence numbers (0x{up_sn:08x}, 0x{down_sn:08x})"
            ))
            .with("mid-stream: SYN exchange not seen")
            .done(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    /// A SYN laid out as MS-RDPEUDP 2.2.2.1/2.2.2.5/2.2.2.8/2.2.2.9, padded to 1232 bytes.
    fn syn(isn: u32, version: u16) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&SN_NONE.to_be_bytes()); // 0: snSourceAck = -1
        d.extend_from_slice(&64u16.to_be_bytes()); // 4: uReceiveWindowSize
        d.extend_from_slice(&(FLAG_SYN | FLAG_CORRELATION_ID | FLAG_SYNEX).to_be_bytes()); // 6
        d.extend_from_slice(&isn.to_be_bytes()); // 8: snInitialSequenceNumber
        d.extend_from_slice(&1232u16.to_be_bytes()); // 12: uUpStreamMtu
        d.extend_from_slice(&1232u16.to_be_bytes()); // 14: uDownStreamMtu
        d.extend_from_slice(&[0x5a; 16]); // 16: uCorrelationId
        d.extend_from_slice(&[0; 16]); // 32: uReserved
        d.extend_from_slice(&VERSION_INFO_VALID.to_be_bytes()); // 48: uSynExFlags
        d.extend_from_slice(&version.to_be_bytes()); // 50: uUdpVer
        d.resize(MTU_MAX, 0);
        d
    }

    /// The server's SYN+ACK acknowledging `isn`.
    fn syn_ack(isn: u32, own: u32, version: u16) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&isn.to_be_bytes()); // 0: snSourceAck = client ISN
        d.extend_from_slice(&64u16.to_be_bytes());
        d.extend_from_slice(&(FLAG_SYN | FLAG_ACK | FLAG_SYNEX).to_be_bytes());
        d.extend_from_slice(&own.to_be_bytes());
        d.extend_from_slice(&1232u16.to_be_bytes());
        d.extend_from_slice(&1232u16.to_be_bytes());
        d.extend_from_slice(&VERSION_INFO_VALID.to_be_bytes()); // 16: uSynExFlags
        d.extend_from_slice(&version.to_be_bytes()); // 18: uUdpVer
        d.resize(MTU_MAX, 0);
        d
    }

    /// An ACK+DATA datagram (3.1.5.1.4) carrying a TLS application-data record.
    fn data(ack: u32, coded: u32) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&ack.to_be_bytes()); // 0: snSourceAck
        d.extend_from_slice(&0x0400u16.to_be_bytes()); // 4: uReceiveWindowSize
        d.extend_from_slice(&(FLAG_ACK | FLAG_DATA).to_be_bytes()); // 6: uFlags
        d.extend_from_slice(&[0, 1, 0, 0]); // 8: uAckVectorSize 1, one element, padding
        d.extend_from_slice(&coded.to_be_bytes()); // 12: snCoded
        d.extend_from_slice(&coded.to_be_bytes()); // 16: snSourceStart
        d.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]); // 20: TLS record header
        d.extend_from_slice(&[0xab; 0x20]);
        d
    }

    #[test]
    fn syn_alone_is_a_signature() {
        let b = ViewBuilder::udp(50000, 3389).to_server(&syn(0x0b12_7f15, 0x0101));
        let v = inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(!v.complete);
        assert!(v.evidence[0].contains("RDP-UDP SYN"));
        assert!(v.evidence[1].contains("RDP-UDP2"));
    }

    #[test]
    fn syn_and_syn_ack_make_a_handshake() {
        let b = ViewBuilder::udp(50000, 40000)
            .to_server(&syn(0x0b12_7f15, 0x0101))
            .to_client(&syn_ack(0x0b12_7f15, 0x0f94_ea0b, 0x0101));
        let v = inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[1].contains("0x0b127f15"));
    }

    #[test]
    fn syn_after_stun_checks_is_found() {
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let b = ViewBuilder::udp(50000, 3478)
            .to_server(stun)
            .to_client(b"\x01\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl")
            .to_server(&syn(0x0b12_7f15, 2))
            .to_client(&syn_ack(0x0b12_7f15, 0x0f94_ea0b, 2));
        let v = inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert_eq!(v.evidence[2], "server selects RDPUDP_PROTOCOL_VERSION_2");
    }

    #[test]
    fn syn_ack_for_another_isn_is_not_a_handshake() {
        let b = ViewBuilder::udp(50000, 3389)
            .to_server(&syn(0x0b12_7f15, 2))
            .to_client(&syn_ack(0x1111_1111, 0x0f94_ea0b, 2));
        assert_eq!(
            inspect(&b.view()).unwrap().confidence,
            Confidence::Signature
        );
    }

    #[test]
    fn syn_needs_padding_size_and_mtu() {
        let mut short = syn(1, 2);
        short.truncate(MTU_MIN - 1);
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&short).view()).is_none());
        let mut dirty = syn(1, 2);
        dirty[400] = 1;
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&dirty).view()).is_none());
        let mut mtu = syn(1, 2);
        mtu[12..14].copy_from_slice(&1500u16.to_be_bytes());
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&mtu).view()).is_none());
        let mut flags = syn(1, 2);
        flags[7] |= FLAG_DATA as u8;
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&flags).view()).is_none());
    }

    #[test]
    fn midstream_data_both_ways_is_a_handshake() {
        let b = ViewBuilder::udp(51652, 3389)
            .to_server(&data(0x1097_6033, 0xe65f_846d))
            .to_client(&data(0xe65f_846d, 0x1097_6034))
            .to_server(&data(0x1097_6034, 0xe65f_846e));
        let v = inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[0].contains("TLS records: 2 from initiator, 1 from responder"));
    }

    #[test]
    fn midstream_one_side_is_a_signature() {
        let b = ViewBuilder::udp(51652, 3389).to_server(&data(7, 0xe65f_846d));
        let v = inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[1].contains("mid-stream"));
    }

    #[test]
    fn midstream_needs_matching_source_header_and_tls() {
        let mut bad = data(7, 9);
        bad[19] ^= 1; // snSourceStart != snCoded
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&bad).view()).is_none());
        let mut bad = data(7, 9);
        bad[20] = 0x42; // not a TLS content type
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&bad).view()).is_none());
        let mut bad = data(7, 9);
        bad[24] = 0x40; // TLS length beyond the datagram
        assert!(inspect(&ViewBuilder::udp(1, 3389).to_server(&bad).view()).is_none());
    }

    #[test]
    fn prefixes_never_panic_or_strengthen() {
        // A SYN cut anywhere below the smallest MTU is not a SYN any more.
        let full = syn(5, 1);
        for n in 0..MTU_MIN {
            let b = ViewBuilder::udp(1, 3389).to_server(&full[..n]);
            assert!(inspect(&b.view()).is_none(), "prefix {n}");
        }
        let full = data(7, 9);
        for n in 0..full.len() {
            let b = ViewBuilder::udp(1, 3389).to_server(&full[..n]);
            assert!(inspect(&b.view()).is_none(), "prefix {n}");
        }
    }

    #[test]
    fn other_udp_protocols_do_not_match() {
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.resize(1200, 0);
        let ntp = [0x23u8; 48];
        for p in [&dns[..], &stun[..], &quic[..], &ntp[..], &[0xff; 1232][..]] {
            let b = ViewBuilder::udp(50000, 3389).to_server(p).to_client(p);
            assert!(inspect(&b.view()).is_none());
        }
    }
}
