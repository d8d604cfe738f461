//! PPTP: the TCP control connection and the enhanced-GRE data channel (RFC 2637).
//!
//! Facts used:
//! - every control-connection message (RFC 2637 §1.4, §2) starts with a 16-bit length, a
//!   16-bit PPTP message type (1 = control message), the magic cookie 0x1A2B3C4D, a 16-bit
//!   control message type (1–15) and a reserved zero word; each control message type has a
//!   fixed length (§2.1–§2.16), so the length field must equal the size for its type;
//! - Start-Control-Connection-Request/Reply carry protocol version 1.0, a result code (reply)
//!   and NUL-padded 64-byte host name and vendor strings (§2.1, §2.2); Outgoing-Call-Request/
//!   Reply and Echo-Request/Reply tie a reply to its request by call id or identifier;
//! - the data channel is GRE version 1, the "enhanced GRE" of §4.1: C and R clear, K set, no
//!   strict source route or recursion, protocol type 0x880B (PPP), a key made of the payload
//!   length and the peer's call id, optional sequence and acknowledgement numbers.
//!
//! Why this is reliable: the 4-byte magic at a fixed offset, a length that must match the type's
//! fixed size and a zero reserved word validate one message; a request answered by its reply is a
//! Handshake. Enhanced GRE is a Signature on its own: version 1 with protocol 0x880B is used by
//! nothing else, and the payload length in its key must equal the bytes that follow the header.
//! The well-known port 1723 is never required.

use super::{be16, be32, printable, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// PPTP message type of control messages (RFC 2637 §1.4).
const MESSAGE_TYPE_CONTROL: u16 = 1;
/// Magic cookie (RFC 2637 §1.4).
const MAGIC_COOKIE: u32 = 0x1a2b_3c4d;
/// Control message header: length, message type, magic cookie, control type, reserved0.
const CONTROL_HEADER_LEN: usize = 12;
/// Offset of the message type.
const OFF_MESSAGE_TYPE: usize = 2;
/// Offset of the magic cookie.
const OFF_MAGIC: usize = 4;
/// The magic cookie as it appears on the wire.
const MAGIC_BYTES: [u8; 4] = MAGIC_COOKIE.to_be_bytes();
/// Offset of the control message type.
const OFF_CONTROL_TYPE: usize = 8;
/// Offset of Reserved0, which must be zero.
const OFF_RESERVED0: usize = 10;
/// Start-Control-Connection-Request (§2.1).
const SCCRQ: u16 = 1;
/// Start-Control-Connection-Reply (§2.2).
const SCCRP: u16 = 2;
/// Echo-Request (§2.5).
const ECHO_REQUEST: u16 = 5;
/// Echo-Reply (§2.6).
const ECHO_REPLY: u16 = 6;
/// Outgoing-Call-Request (§2.7).
const OCRQ: u16 = 7;
/// Outgoing-Call-Reply (§2.8).
const OCRP: u16 = 8;
/// Protocol version 1.0 in SCCRQ/SCCRP (§2.1).
const PROTOCOL_VERSION: u16 = 0x0100;
/// Offset of the protocol version in SCCRQ/SCCRP.
const OFF_VERSION: usize = 12;
/// Offset of the SCCRP result code (1 success .. 5 not authorized, §2.2).
const OFF_SCCRP_RESULT: usize = 14;
/// SCCRP result codes (§2.2).
const SCCRP_RESULTS: std::ops::RangeInclusive<u8> = 1..=5;
/// Offset of the host name in SCCRQ/SCCRP (§2.1).
const OFF_HOST_NAME: usize = 28;
/// Offset of the vendor string in SCCRQ/SCCRP.
const OFF_VENDOR: usize = 92;
/// Host name and vendor string fields are 64 bytes, NUL padded.
const NAME_FIELD_LEN: usize = 64;
/// Characters of a host or vendor name shown in evidence.
const NAME_SHOWN: usize = 32;
/// Offset of the call id (OCRQ, OCRP) or the identifier (Echo-Request, Echo-Reply).
const OFF_ID: usize = 12;
/// Offset of the peer's call id in OCRP (§2.8).
const OFF_OCRP_PEER_CALL_ID: usize = 14;
/// Messages examined per direction.
const MESSAGES_MAX: usize = 8;

/// GRE flags of PPTP data: K (key present) set; C, R, s and recursion clear (RFC 2637 §4.1).
const GRE_KEY: u8 = 0x20;
/// GRE bits that must be clear: C 0x80, R 0x40, strict source route 0x08, recursion 0x07.
const GRE_MUST_BE_CLEAR: u8 = 0xc0 | 0x08 | 0x07;
/// GRE sequence number present.
const GRE_SEQ: u8 = 0x10;
/// Second GRE byte: acknowledgement present.
const GRE_ACK: u8 = 0x80;
/// Second GRE byte: flags that must be clear.
const GRE_FLAGS_MASK: u8 = 0x78;
/// GRE version of PPTP (enhanced GRE).
const GRE_VERSION_ENHANCED: u8 = 1;
/// Low 3 bits of the second byte: the version.
const GRE_VERSION_MASK: u8 = 0x07;
/// Protocol type PPP (RFC 2637 §4.1).
const GRE_PROTO_PPP: u16 = 0x880b;
/// Offset of the GRE protocol type.
const OFF_GRE_PROTO: usize = 2;
/// Offset of the key's payload length half (§4.1).
const OFF_GRE_PAYLOAD_LEN: usize = 4;
/// Offset of the key's call id half.
const OFF_GRE_CALL_ID: usize = 6;
/// Fixed part of the enhanced GRE header: flags, version, protocol, payload length, call id.
const GRE_FIXED_LEN: usize = 8;
/// Optional sequence or acknowledgement number.
const GRE_OPTIONAL_LEN: usize = 4;

/// Recognises PPTP control connections and enhanced GRE.
pub(crate) struct Pptp;

impl Detector for Pptp {
    fn name(&self) -> &'static str {
        "pptp"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        match view.proto {
            ip_proto::TCP => control(view),
            ip_proto::GRE => gre(view),
            _ => None,
        }
    }
}

/// Control message types 1..=15 (RFC 2637 §2.1–§2.16): name and fixed length in bytes.
const CONTROL_MESSAGES: [(&str, usize); 15] = [
    ("Start-Control-Connection-Request", 156),
    ("Start-Control-Connection-Reply", 156),
    ("Stop-Control-Connection-Request", 16),
    ("Stop-Control-Connection-Reply", 16),
    ("Echo-Request", 16),
    ("Echo-Reply", 20),
    ("Outgoing-Call-Request", 168),
    ("Outgoing-Call-Reply", 32),
    ("Incoming-Call-Request", 220),
    ("Incoming-Call-Reply", 24),
    ("Incoming-Call-Connected", 28),
    ("Call-Clear-Request", 16),
    ("Call-Disconnect-Notify", 148),
    ("WAN-Error-Notify", 40),
    ("Set-Link-Info", 24),
];

/// The table entry of control message type `t`.
fn control_entry(t: u16) -> Option<(&'static str, usize)> {
    CONTROL_MESSAGES
        .get(usize::from(t).checked_sub(1)?)
        .copied()
}

/// Fixed length of control message type `t`.
fn control_len(t: u16) -> Option<usize> {
    control_entry(t).map(|e| e.1)
}

fn control_name(t: u16) -> &'static str {
    control_entry(t).map_or("control message", |e| e.0)
}

/// One validated control message: its type and kept bytes.
fn control_message(m: &[u8]) -> Option<u16> {
    let len = usize::from(be16(m, 0)?);
    let t = be16(m, OFF_CONTROL_TYPE)?;
    let valid = be16(m, OFF_MESSAGE_TYPE)? == MESSAGE_TYPE_CONTROL
        && be32(m, OFF_MAGIC)? == MAGIC_COOKIE
        && be16(m, OFF_RESERVED0)? == 0
        && control_len(t) == Some(len);
    let versioned = !matches!(t, SCCRQ | SCCRP) || be16(m, OFF_VERSION)? == PROTOCOL_VERSION;
    let result_ok = t != SCCRP || SCCRP_RESULTS.contains(m.get(OFF_SCCRP_RESULT)?);
    (valid && versioned && result_ok).then_some(t)
}

/// The whole control messages at the start of one direction's stream (stops at the first
/// invalid or incomplete one), as (type, bytes).
fn messages<'a>(side: &Side<'a>) -> impl Iterator<Item = (u16, &'a [u8])> + 'a {
    let data = side.data();
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let rest = data.get(off..)?;
        if rest.len() < CONTROL_HEADER_LEN {
            return None;
        }
        let t = control_message(rest)?;
        // Only whole messages count: the rest of a cut one arrives with the next segment.
        let m = rest.get(..control_len(t)?)?;
        off += m.len();
        Some((t, m))
    })
    .take(MESSAGES_MAX)
}

/// A NUL-padded name field, for evidence.
fn name_field(m: &[u8], off: usize) -> String {
    let field = m.get(off..off + NAME_FIELD_LEN).unwrap_or_default();
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    printable(field.get(..end).unwrap_or_default(), NAME_SHOWN)
}

fn describe(t: u16, m: &[u8], who: &str) -> String {
    let len = control_len(t).unwrap_or(0);
    if matches!(t, SCCRQ | SCCRP) {
        format!(
            "PPTP {} from {who} ({len} bytes, magic 0x1a2b3c4d, version 1.0, host \"{}\", vendor \"{}\")",
            control_name(t),
            name_field(m, OFF_HOST_NAME),
            name_field(m, OFF_VENDOR),
        )
    } else {
        format!(
            "PPTP {} from {who} ({len} bytes, magic 0x1a2b3c4d)",
            control_name(t)
        )
    }
}

/// Whether `resp` answers `req`: SCCRP to SCCRQ, OCRP naming the OCRQ's call id, Echo-Reply
/// carrying the Echo-Request's identifier.
fn answers(req: (u16, &[u8]), resp: (u16, &[u8])) -> bool {
    match (req.0, resp.0) {
        (SCCRQ, SCCRP) => true,
        (OCRQ, OCRP) => {
            be16(req.1, OFF_ID).is_some()
                && be16(req.1, OFF_ID) == be16(resp.1, OFF_OCRP_PEER_CALL_ID)
        }
        (ECHO_REQUEST, ECHO_REPLY) => {
            be32(req.1, OFF_ID).is_some() && be32(req.1, OFF_ID) == be32(resp.1, OFF_ID)
        }
        _ => false,
    }
}

/// The TCP control connection.
fn control(view: &FlowView<'_>) -> Option<Verdict> {
    let sides = [(&view.to_server, "client"), (&view.to_client, "server")];
    if !sides
        .iter()
        .any(|(s, _)| s.data().get(OFF_MAGIC..OFF_MAGIC + MAGIC_BYTES.len()) == Some(&MAGIC_BYTES))
    {
        return None;
    }
    for (a, b) in [(sides[0], sides[1]), (sides[1], sides[0])] {
        for req in messages(a.0) {
            if let Some(resp) = messages(b.0).find(|&resp| answers(req, resp)) {
                return Some(
                    Verdict::new(Kind::VpnTunnel, "pptp", Confidence::Handshake)
                        .with(describe(req.0, req.1, a.1))
                        .with(describe(resp.0, resp.1, b.1))
                        .done(),
                );
            }
        }
    }
    let (t, m, who) = sides
        .iter()
        .find_map(|(s, who)| messages(s).next().map(|(t, m)| (t, m, *who)))?;
    Some(Verdict::new(Kind::VpnTunnel, "pptp", Confidence::Signature).with(describe(t, m, who)))
}

/// One enhanced-GRE header: (call id, payload length, sequence present).
fn gre_header(b: &[u8], wire_len: usize) -> Option<(u16, usize, bool)> {
    let (&f0, &f1) = (b.first()?, b.get(1)?);
    if f0 & GRE_MUST_BE_CLEAR != 0
        || f0 & GRE_KEY == 0
        || f1 & GRE_FLAGS_MASK != 0
        || f1 & GRE_VERSION_MASK != GRE_VERSION_ENHANCED
        || be16(b, OFF_GRE_PROTO)? != GRE_PROTO_PPP
    {
        return None;
    }
    let seq = f0 & GRE_SEQ != 0;
    let header = GRE_FIXED_LEN
        + if seq { GRE_OPTIONAL_LEN } else { 0 }
        + if f1 & GRE_ACK != 0 {
            GRE_OPTIONAL_LEN
        } else {
            0
        };
    let payload = usize::from(be16(b, OFF_GRE_PAYLOAD_LEN)?);
    (wire_len.checked_sub(header)? == payload).then_some((be16(b, OFF_GRE_CALL_ID)?, payload, seq))
}

/// The data channel: enhanced GRE, a Signature on its own.
fn gre(view: &FlowView<'_>) -> Option<Verdict> {
    let mut v: Option<Verdict> = None;
    for (side, dir) in [
        (&view.to_server, "client→server"),
        (&view.to_client, "server→client"),
    ] {
        let Some((call, payload, seq)) = (0..side.segments().len())
            .find_map(|i| gre_header(side.segment(i)?, side.wire_len(i)?))
        else {
            continue;
        };
        let fact = format!(
            "{dir} enhanced GRE v1 (RFC 2637 §4.1) protocol 0x880b, call id {call}, payload length {payload}{}",
            if seq { "" } else { " (acknowledgement only)" }
        );
        v = Some(match v {
            Some(v) => v.with(fact),
            None => Verdict::new(Kind::VpnTunnel, "pptp", Confidence::Signature).with(fact),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    /// A control message of type `t` laid out as in RFC 2637 §2: length 0..2, message type
    /// 2..4, magic 4..8, control type 8..10, reserved 10..12, then the type's fields.
    fn msg(t: u16) -> Vec<u8> {
        let len = control_len(t).unwrap();
        let mut m = vec![0u8; len];
        m[0..2].copy_from_slice(&(len as u16).to_be_bytes());
        m[2..4].copy_from_slice(&MESSAGE_TYPE_CONTROL.to_be_bytes());
        m[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m[8..10].copy_from_slice(&t.to_be_bytes());
        if matches!(t, SCCRQ | SCCRP) {
            m[12..14].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
            m[28..33].copy_from_slice(b"local");
            m[92..100].copy_from_slice(b"cananian");
        }
        if t == SCCRP {
            m[14] = 1;
        }
        m
    }

    #[test]
    fn sccrq_and_sccrp_are_a_handshake() {
        let b = ViewBuilder::tcp(41366, 1723)
            .to_server(&msg(SCCRQ))
            .to_client(&msg(SCCRP));
        let v = Pptp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[0].contains("Start-Control-Connection-Request"));
        assert!(v.evidence[0].contains("host \"local\", vendor \"cananian\""));
    }

    #[test]
    fn request_alone_is_a_signature_on_any_port() {
        let b = ViewBuilder::tcp(41366, 443).to_server(&msg(SCCRQ));
        let v = Pptp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn outgoing_call_reply_must_name_the_call() {
        let mut ocrq = msg(OCRQ);
        ocrq[12..14].copy_from_slice(&0x2debu16.to_be_bytes());
        let mut ocrp = msg(OCRP);
        ocrp[14..16].copy_from_slice(&0x2debu16.to_be_bytes());
        let b = ViewBuilder::tcp(41366, 1723)
            .to_server(&ocrq)
            .to_client(&ocrp);
        assert_eq!(
            Pptp.inspect(&b.view()).unwrap().confidence,
            Confidence::Handshake
        );
        ocrp[15] ^= 1;
        let b = ViewBuilder::tcp(41366, 1723)
            .to_server(&ocrq)
            .to_client(&ocrp);
        assert_eq!(
            Pptp.inspect(&b.view()).unwrap().confidence,
            Confidence::Signature
        );
    }

    #[test]
    fn fields_are_validated() {
        let mut bad_len = msg(SCCRQ);
        bad_len[1] = 100;
        let mut bad_magic = msg(SCCRQ);
        bad_magic[7] ^= 1;
        let mut bad_reserved = msg(SCCRQ);
        bad_reserved[11] = 1;
        let mut bad_version = msg(SCCRQ);
        bad_version[13] = 1;
        let mut bad_result = msg(SCCRP);
        bad_result[14] = 9;
        for m in [bad_len, bad_magic, bad_reserved, bad_version, bad_result] {
            let b = ViewBuilder::tcp(41366, 1723).to_server(&m);
            assert!(Pptp.inspect(&b.view()).is_none());
        }
    }

    /// Enhanced GRE: flags 0x30 (K, S) or 0x20, version byte 0x01 or 0x81 (A), protocol
    /// 0x880b, payload length, call id, [sequence], [ack], payload.
    fn gre(seq: bool, ack: bool, payload: &[u8]) -> Vec<u8> {
        let mut g = vec![GRE_KEY | if seq { GRE_SEQ } else { 0 }];
        g.push(GRE_VERSION_ENHANCED | if ack { GRE_ACK } else { 0 });
        g.extend_from_slice(&GRE_PROTO_PPP.to_be_bytes());
        g.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        g.extend_from_slice(&0xa196u16.to_be_bytes());
        if seq {
            g.extend_from_slice(&1u32.to_be_bytes());
        }
        if ack {
            g.extend_from_slice(&0u32.to_be_bytes());
        }
        g.extend_from_slice(payload);
        g
    }

    #[test]
    fn enhanced_gre_is_a_signature() {
        let b = ViewBuilder::ip(ip_proto::GRE)
            .to_server(&gre(true, false, b"\xff\x03\xc0\x21\x01\x01\x00\x04"))
            .to_client(&gre(false, true, b""));
        let v = Pptp.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("call id 41366"));
        assert!(v.evidence[1].contains("acknowledgement only"));
        // Payload length disagreeing with the packet.
        let mut bad = gre(true, false, b"\xff\x03\xc0\x21");
        bad[5] += 1;
        // Plain GRE (version 0, IPv4 payload).
        let plain = b"\x00\x00\x08\x00\x45\x00\x00\x14";
        for p in [&bad[..], plain] {
            let b = ViewBuilder::ip(ip_proto::GRE).to_server(p);
            assert!(Pptp.inspect(&b.view()).is_none());
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        let tls = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03client-random-and-more-bytes";
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let smtp = b"220 mail.example.com ESMTP ready\r\n";
        for p in [&tls[..], http, smtp] {
            let b = ViewBuilder::tcp(50000, 1723).to_server(p).to_client(p);
            assert!(Pptp.inspect(&b.view()).is_none());
        }
        let b = ViewBuilder::udp(50000, 1723).to_server(&msg(SCCRQ));
        assert!(Pptp.inspect(&b.view()).is_none());
    }

    #[test]
    fn every_prefix_is_weaker_or_none() {
        let q = msg(SCCRQ);
        let r = msg(SCCRP);
        for cut in 0..q.len() {
            let b = ViewBuilder::tcp(1, 2).to_server(&q[..cut]).to_client(&r);
            assert!(Pptp
                .inspect(&b.view())
                .is_none_or(|v| v.confidence < Confidence::Handshake));
        }
        let g = gre(true, true, &[0x11; 40]);
        for cut in 0..g.len() {
            let b = ViewBuilder::ip(ip_proto::GRE).to_server(&g[..cut]);
            assert!(Pptp.inspect(&b.view()).is_none());
        }
    }

    proptest::proptest! {
        /// Arbitrary datagrams both ways never panic and never make a handshake.
        #[test]
        fn arbitrary_bytes_are_never_a_handshake(
            c in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), 0..6),
            s in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), 0..6),
        ) {
            let mut b = ViewBuilder::tcp(40000, 1723);
            for p in &c {
                b = b.to_server(p);
            }
            for p in &s {
                b = b.to_client(p);
            }
            let v = Pptp.inspect(&b.view());
            proptest::prop_assert!(v.is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }
}
