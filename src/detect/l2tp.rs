//! L2TP control connections: L2TPv2 (RFC 2661) and L2TPv3 (RFC 3931) over UDP, and L2TPv3
//! directly over IP (protocol 115).
//!
//! Facts used:
//! - a control message header (RFC 2661 §3.1, RFC 3931 §3.2.1) has the T (control), L (length
//!   present) and S (sequence present) bits set, O and P clear, the reserved bits zero and a
//!   version of 2 or 3: its first two bytes are exactly 0xC802 or 0xC803. The length field equals
//!   the datagram length. v2 then carries Tunnel ID, Session ID, Ns, Nr; v3 a 32-bit Control
//!   Connection ID, Ns, Nr. Over IP, a control message is preceded by a zero Session ID
//!   (RFC 3931 §4.1.1.2).
//! - the body is a chain of AVPs (RFC 2661 §4.1): M and H bits, four reserved zero bits, a
//!   10-bit length of at least 6, a Vendor ID and an Attribute Type. The first AVP of every
//!   non-ZLB control message is Message Type (vendor 0, attribute 0, M set, length 8) whose value
//!   names the message (§3.2: 1 SCCRQ, 2 SCCRP, …).
//! - SCCRQ is sent with tunnel (connection) id 0 and announces the sender's id in an Assigned
//!   Tunnel ID AVP (attribute 9, v2) or Assigned Control Connection ID AVP (attribute 61, v3);
//!   SCCRP is addressed to exactly that id (RFC 2661 §5.1.1, RFC 3931 §3.3).
//!
//! Why this is reliable: two fixed header bytes, a length equal to the datagram, and an AVP chain
//! that must add up to the message with Message Type first make one message a Signature. An SCCRP
//! addressed to the id the SCCRQ assigned is a Handshake. Port 1701 is not consulted.

use super::{be16, be32, printable, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// First two header bytes of an L2TPv2 control message: T, L, S set, version 2 (RFC 2661 §3.1).
const CONTROL_V2: u16 = 0xc802;
/// First two header bytes of an L2TPv3 control message: T, L, S set, version 3 (RFC 3931
/// §3.2.1).
const CONTROL_V3: u16 = 0xc803;
/// L2TP version 2 (RFC 2661).
const VERSION_2: u8 = 2;
/// L2TP version 3 (RFC 3931).
const VERSION_3: u8 = 3;
/// Control header length (both versions: flags, length, ids, Ns, Nr).
const HEADER_LEN: usize = 12;
/// Offset of the length field.
const OFF_LENGTH: usize = 2;
/// Offset of the v2 Tunnel ID or the v3 Control Connection ID.
const OFF_TUNNEL: usize = 4;
/// Offset of Ns.
const OFF_NS: usize = 8;
/// Offset of Nr.
const OFF_NR: usize = 10;
/// L2TPv3 over IP: the 4-byte Session ID, zero for control messages (RFC 3931 §4.1.1.2).
const IP_SESSION_ID_LEN: usize = 4;
/// AVP header: flags and length, Vendor ID, Attribute Type (RFC 2661 §4.1).
const AVP_HEADER_LEN: usize = 6;
/// Offset of the Vendor ID within an AVP.
const OFF_AVP_VENDOR: usize = 2;
/// Offset of the Attribute Type within an AVP.
const OFF_AVP_ATTR: usize = 4;
/// AVP mandatory bit.
const AVP_M: u16 = 0x8000;
/// AVP hidden bit.
const AVP_H: u16 = 0x4000;
/// AVP reserved bits, which must be zero.
const AVP_RESERVED: u16 = 0x3c00;
/// AVP length mask (10 bits).
const AVP_LEN_MASK: u16 = 0x03ff;
/// Message Type attribute (RFC 2661 §4.4.1).
const ATTR_MESSAGE_TYPE: u16 = 0;
/// Message Type AVP length: header plus a 16-bit value.
const MESSAGE_TYPE_AVP_LEN: usize = 8;
/// Host Name attribute (RFC 2661 §4.4.3).
const ATTR_HOST_NAME: u16 = 7;
/// Assigned Tunnel ID attribute (RFC 2661 §4.4.3), 16-bit value.
const ATTR_ASSIGNED_TUNNEL_ID: u16 = 9;
/// Assigned Control Connection ID attribute (RFC 3931 §5.4.3), 32-bit value.
const ATTR_ASSIGNED_CONNECTION_ID: u16 = 61;
/// Start-Control-Connection-Request.
const SCCRQ: u16 = 1;
/// Start-Control-Connection-Reply.
const SCCRP: u16 = 2;
/// AVPs walked per message.
const AVPS_MAX: usize = 32;
/// Characters of a host name shown in evidence.
const HOST_SHOWN: usize = 32;

/// Recognises L2TP control messages.
pub(crate) struct L2tp;

impl Detector for L2tp {
    fn name(&self) -> &'static str {
        "l2tp"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let over_ip = match view.proto {
            ip_proto::UDP => false,
            ip_proto::L2TP => true,
            _ => return None,
        };
        let client = first_control(&view.to_server, over_ip);
        let server = first_control(&view.to_client, over_ip);
        let transport = if over_ip {
            "over IP (protocol 115)"
        } else {
            "over UDP"
        };
        let (first, who) = match (&client, &server) {
            (Some(c), Some(s)) if is_reply(c, s) || is_reply(s, c) => {
                return Some(
                    Verdict::new(Kind::VpnTunnel, "l2tp", Confidence::Handshake)
                        .with(c.describe("client", transport))
                        .with(s.describe("server", transport))
                        .with(format!(
                            "SCCRP is addressed to the tunnel id {} that the SCCRQ assigned",
                            if is_reply(c, s) {
                                c.assigned
                            } else {
                                s.assigned
                            }
                            .unwrap_or(0)
                        ))
                        .done(),
                );
            }
            (Some(m), _) => (m, "client"),
            (None, Some(m)) => (m, "server"),
            (None, None) => return None,
        };
        Some(
            Verdict::new(Kind::VpnTunnel, "l2tp", Confidence::Signature)
                .with(first.describe(who, transport)),
        )
    }
}

/// One validated control message.
#[derive(Clone, Debug)]
struct Control<'a> {
    version: u8,
    message_type: u16,
    tunnel: u32,
    ns: u16,
    nr: u16,
    assigned: Option<u32>,
    host: Option<&'a [u8]>,
    len: usize,
}

impl Control<'_> {
    fn describe(&self, who: &str, transport: &str) -> String {
        let mut s = format!(
            "L2TPv{} {} from {who} {transport} (tunnel id {}, Ns {}, Nr {}, {} bytes",
            self.version,
            message_name(self.message_type),
            self.tunnel,
            self.ns,
            self.nr,
            self.len
        );
        if let Some(a) = self.assigned {
            s.push_str(&format!(", assigned tunnel id {a}"));
        }
        if let Some(h) = self.host {
            s.push_str(&format!(", host \"{}\"", printable(h, HOST_SHOWN)));
        }
        s.push(')');
        s
    }
}

/// Whether `resp` is the SCCRP answering the SCCRQ `req`.
fn is_reply(req: &Control<'_>, resp: &Control<'_>) -> bool {
    req.message_type == SCCRQ
        && resp.message_type == SCCRP
        && req.version == resp.version
        && req.tunnel == 0
        && req.assigned.is_some_and(|a| a == resp.tunnel)
}

/// Control message names by type 1..=16 (RFC 2661 §3.2); 5 and 13 are reserved.
const MESSAGE_NAMES: [&str; 16] = [
    "SCCRQ", "SCCRP", "SCCCN", "StopCCN", "", "HELLO", "OCRQ", "OCRP", "OCCN", "ICRQ", "ICRP",
    "ICCN", "", "CDN", "WEN", "SLI",
];
/// L2TPv3 explicit acknowledgement (RFC 3931 §3.1, message type 20).
const ACK_V3: u16 = 20;

fn message_name(t: u16) -> &'static str {
    match t {
        ACK_V3 => "ACK",
        _ => usize::from(t)
            .checked_sub(1)
            .and_then(|i| MESSAGE_NAMES.get(i))
            .copied()
            .unwrap_or("control message"),
    }
}

/// Control message types (RFC 2661 §3.2; RFC 3931 §3.1 adds the explicit ACK).
fn known_message(version: u8, t: u16) -> bool {
    if t == ACK_V3 {
        return version == VERSION_3;
    }
    usize::from(t)
        .checked_sub(1)
        .and_then(|i| MESSAGE_NAMES.get(i))
        .is_some_and(|n| !n.is_empty())
}

/// The first control message with a Message Type AVP on one side.
fn first_control<'a>(side: &Side<'a>, over_ip: bool) -> Option<Control<'a>> {
    (0..side.segments().len()).find_map(|i| {
        let b = side.segment(i)?;
        let len = side.wire_len(i)?;
        if over_ip {
            let rest = b.strip_prefix(&[0u8; IP_SESSION_ID_LEN])?;
            parse(rest, len.checked_sub(IP_SESSION_ID_LEN)?)
        } else {
            parse(b, len)
        }
    })
}

/// Parses a control message of `wire_len` bytes whose kept prefix is `b`.
fn parse(b: &[u8], wire_len: usize) -> Option<Control<'_>> {
    let version = match be16(b, 0)? {
        CONTROL_V2 => VERSION_2,
        CONTROL_V3 => VERSION_3,
        _ => return None,
    };
    let len = usize::from(be16(b, OFF_LENGTH)?);
    if len != wire_len || len < HEADER_LEN + MESSAGE_TYPE_AVP_LEN {
        return None;
    }
    let tunnel = if version == VERSION_2 {
        u32::from(be16(b, OFF_TUNNEL)?)
    } else {
        be32(b, OFF_TUNNEL)?
    };
    // Message Type comes first: M set, not hidden, vendor 0, attribute 0, length 8.
    let first = be16(b, HEADER_LEN)?;
    if first & (AVP_H | AVP_RESERVED) != 0
        || first & AVP_M == 0
        || usize::from(first & AVP_LEN_MASK) != MESSAGE_TYPE_AVP_LEN
        || be16(b, HEADER_LEN + OFF_AVP_VENDOR)? != 0
        || be16(b, HEADER_LEN + OFF_AVP_ATTR)? != ATTR_MESSAGE_TYPE
    {
        return None;
    }
    let message_type = be16(b, HEADER_LEN + AVP_HEADER_LEN)?;
    if !known_message(version, message_type) {
        return None;
    }
    let mut c = Control {
        version,
        message_type,
        tunnel,
        ns: be16(b, OFF_NS)?,
        nr: be16(b, OFF_NR)?,
        assigned: None,
        host: None,
        len,
    };
    walk_avps(b, &mut c)?;
    Some(c)
}

/// Checks the AVP chain adds up to the message and picks the assigned id and host name.
fn walk_avps<'a>(b: &'a [u8], c: &mut Control<'a>) -> Option<()> {
    let mut off = HEADER_LEN;
    for _ in 0..AVPS_MAX {
        if off == c.len {
            return Some(());
        }
        let Some(word) = be16(b, off) else {
            // Beyond the kept bytes: what was seen holds.
            return Some(());
        };
        let alen = usize::from(word & AVP_LEN_MASK);
        if word & AVP_RESERVED != 0 || alen < AVP_HEADER_LEN || off + alen > c.len {
            return None;
        }
        let vendor = be16(b, off + OFF_AVP_VENDOR)?;
        let attr = be16(b, off + OFF_AVP_ATTR)?;
        let value = b.get(off + AVP_HEADER_LEN..off + alen);
        if vendor == 0 && word & AVP_H == 0 {
            match (attr, value) {
                (ATTR_ASSIGNED_TUNNEL_ID, Some(v)) if c.version == VERSION_2 => {
                    c.assigned = be16(v, 0).map(u32::from);
                }
                (ATTR_ASSIGNED_CONNECTION_ID, Some(v)) if c.version == VERSION_3 => {
                    c.assigned = be32(v, 0);
                }
                (ATTR_HOST_NAME, Some(v)) => c.host = Some(v),
                _ => {}
            }
        }
        off += alen;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    /// One AVP: flags|length (M set), vendor 0, attribute, value.
    fn avp(attr: u16, value: &[u8]) -> Vec<u8> {
        let len = (AVP_HEADER_LEN + value.len()) as u16;
        let mut a = (AVP_M | len).to_be_bytes().to_vec();
        a.extend_from_slice(&0u16.to_be_bytes());
        a.extend_from_slice(&attr.to_be_bytes());
        a.extend_from_slice(value);
        a
    }

    /// An L2TPv2 control message: 0xC802, length, tunnel id, session id 0, Ns, Nr, then
    /// Message Type, Protocol Version 1.0, Host Name, Framing Capabilities and Assigned Tunnel
    /// ID AVPs (RFC 2661 §6.1).
    fn v2(msg_type: u16, tunnel: u16, assigned: u16, ns: u16, nr: u16, host: &[u8]) -> Vec<u8> {
        let mut body = avp(ATTR_MESSAGE_TYPE, &msg_type.to_be_bytes());
        body.extend(avp(2, &[1, 0]));
        body.extend(avp(ATTR_HOST_NAME, host));
        body.extend(avp(3, &3u32.to_be_bytes()));
        body.extend(avp(ATTR_ASSIGNED_TUNNEL_ID, &assigned.to_be_bytes()));
        let mut m = CONTROL_V2.to_be_bytes().to_vec();
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&tunnel.to_be_bytes());
        m.extend_from_slice(&0u16.to_be_bytes());
        m.extend_from_slice(&ns.to_be_bytes());
        m.extend_from_slice(&nr.to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn sccrq_and_sccrp_with_matching_tunnel_ids_are_a_handshake() {
        let b = ViewBuilder::udp(1701, 1701)
            .to_server(&v2(SCCRQ, 0, 0x1234, 0, 0, b"lac-1"))
            .to_client(&v2(SCCRP, 0x1234, 0x0077, 0, 1, b"lns"));
        let v = L2tp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[0].contains("L2TPv2 SCCRQ"));
        assert!(v.evidence[0].contains("host \"lac-1\""));
        assert!(v.evidence[2].contains("4660"));
    }

    #[test]
    fn sccrp_to_another_tunnel_is_only_a_signature() {
        let b = ViewBuilder::udp(1701, 1701)
            .to_server(&v2(SCCRQ, 0, 0x1234, 0, 0, b"lac-1"))
            .to_client(&v2(SCCRP, 0x1235, 0x0077, 0, 1, b"lns"));
        let v = L2tp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn l2tpv3_over_ip_is_recognised() {
        let mut body = avp(ATTR_MESSAGE_TYPE, &SCCRQ.to_be_bytes());
        body.extend(avp(
            ATTR_ASSIGNED_CONNECTION_ID,
            &0xdead_beefu32.to_be_bytes(),
        ));
        let mut m = vec![0u8; IP_SESSION_ID_LEN];
        m.extend_from_slice(&CONTROL_V3.to_be_bytes());
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend(body);
        let b = ViewBuilder::ip(ip_proto::L2TP).to_server(&m);
        let v = L2tp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("L2TPv3 SCCRQ"));
        assert!(v.evidence[0].contains("3735928559"));
        // A data message (non-zero session id) is not parsed.
        m[3] = 1;
        let b = ViewBuilder::ip(ip_proto::L2TP).to_server(&m);
        assert!(L2tp.inspect(&b.view()).is_none());
    }

    #[test]
    fn header_and_avps_are_validated() {
        let good = v2(SCCRQ, 0, 1, 0, 0, b"h");
        let mut cases = Vec::new();
        let mut m = good.clone();
        m[1] = 0x02 | 0x10; // reserved bit
        cases.push(m);
        let mut m = good.clone();
        m[3] += 1; // length disagrees with the datagram
        cases.push(m);
        let mut m = good.clone();
        m[12] |= 0x40; // hidden Message Type
        cases.push(m);
        let mut m = good.clone();
        m[19] = 5; // unassigned message type
        cases.push(m);
        let mut m = good.clone();
        m[20] |= 0x04; // reserved AVP bits in the second AVP
        cases.push(m);
        let mut m = good;
        m[21] = 0x40; // second AVP overruns the message
        cases.push(m);
        for m in cases {
            let b = ViewBuilder::udp(1701, 1701).to_server(&m);
            assert!(L2tp.inspect(&b.view()).is_none(), "{m:02x?}");
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.extend_from_slice(&[0x55; 1194]);
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let data = b"\x40\x02\x00\x10\x12\x34\x00\x01\xff\x03\xc0\x21\x01\x01\x00\x04";
        for p in [&dns[..], &quic, stun, data] {
            let b = ViewBuilder::udp(1701, 1701).to_server(p).to_client(p);
            assert!(L2tp.inspect(&b.view()).is_none());
        }
        let b = ViewBuilder::tcp(50000, 1701).to_server(&v2(SCCRQ, 0, 1, 0, 0, b"h"));
        assert!(L2tp.inspect(&b.view()).is_none());
    }

    #[test]
    fn every_prefix_is_weaker_or_none() {
        let q = v2(SCCRQ, 0, 0x1234, 0, 0, b"lac-1");
        let r = v2(SCCRP, 0x1234, 0x0077, 0, 1, b"lns");
        for cut in 0..q.len() {
            let b = ViewBuilder::udp(1701, 1701)
                .to_server(&q[..cut])
                .to_client(&r);
            assert!(L2tp
                .inspect(&b.view())
                .is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }

    proptest::proptest! {
        /// Arbitrary datagrams both ways never panic and never make a handshake.
        #[test]
        fn arbitrary_bytes_are_never_a_handshake(
            c in crate::detect::testing::datagrams(),
            s in crate::detect::testing::datagrams(),
        ) {
            let b = crate::detect::testing::udp_exchange(1701, 1701, &c, &s);
            let v = L2tp.inspect(&b.view());
            proptest::prop_assert!(v.is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }
}
