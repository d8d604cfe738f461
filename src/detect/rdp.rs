//! RDP: Microsoft Remote Desktop Protocol over TCP (this file) and over UDP ([`udp`]).
//!
//! Every RDP connection starts with an X.224 connection exchange carried in TPKT records
//! (MS-RDPBCGR 1.3.1.1, 2.2.1.1, 2.2.1.2):
//!
//! - TPKT header (RFC 1006 §6): version 3, a reserved zero byte, and a big-endian length that
//!   covers the whole record, header included.
//! - X.224 Connection Request TPDU (ITU-T X.224 §13.3, class 0): length indicator (LI) = bytes
//!   after the LI byte, code 0xE0, DST-REF 0, SRC-REF, class/option byte 0. RDP then appends,
//!   inside the same TPDU, an optional `Cookie: mstshash=USER\r\n` cookie or a load-balancing
//!   routing token, an optional 8-byte RDP_NEG_REQ (type 0x01, length 8, requestedProtocols) and,
//!   when the request says so, a 36-byte RDP_NEG_CORRELATION_INFO.
//! - X.224 Connection Confirm (code 0xD0) from the server, with an RDP_NEG_RSP (type 0x02,
//!   selectedProtocol) or RDP_NEG_FAILURE (type 0x03, failureCode) when the client negotiated.
//!
//! TPKT/X.224 by itself is generic OSI transport (Siemens S7 and MMS use it on port 102), so a
//! request counts as RDP only when its variable part is made entirely of RDP structures (cookie,
//! routing token, negotiation request) and nothing else; generic ISO 8073 parameters (0xC0, 0xC1,
//! 0xC2 …) never parse. A confirm is consistent when its DST-REF echoes the request's SRC-REF and
//! the selected protocol is one the client offered. After the confirm the client either starts
//! TLS (record type 0x16, ClientHello) for TLS/CredSSP/RDSTLS/RDSAAD, or sends the MCS
//! Connect-Initial (T.125 BER tag `7F 65`, MS-RDPBCGR 2.2.1.3) whose GCC user data carries the
//! RDP client H.221 key "Duca" for Standard RDP Security (old clients such as Windows XP never
//! negotiate and go straight there).
//!
//! That Connect-Initial is the one place the client describes itself in clear ([`gcc`]): its
//! core data block (TS_UD_CS_CORE, MS-RDPBCGR 2.2.1.3.2) carries the client machine name, the
//! keyboard layout (whose language and country [`klid::keyboard_country`] names), the client build
//! and the desktop size, which become one more evidence line. Under TLS, CredSSP and the other
//! enhanced security protocols the same block travels inside TLS and stays unseen.
//!
//! Captures that begin after the connection setup show only the data phase. What is still
//! reliable there is a TPKT record holding an X.224 Data TPDU (LI 2, code 0xF0, EOT) with an MCS
//! Send Data Request/Indication (T.125 §11.32/11.33, PER-encoded) whose initiator and channel ids
//! are in RDP's dynamic range (≥ 1001) and whose PER length equals the rest of the record
//! exactly; two such segments give a Signature. A TLS-protected session seen mid-stream is only
//! TLS, and fast-path PDUs (one header byte and a 1–2 byte length) are too loose to claim.

mod gcc;
mod klid;
mod udp;
mod x224;

use super::{be16, printable, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;
use gcc::ClientCore;
use x224::{
    failure_name, parse_confirm, protocol_names, starts_tpkt, tpkt, x224_data, ConnRequest,
    ConnTpdu, NegResult, Token, PROTOCOL_RDP, TPKT_HEADER_LEN, TPKT_RESERVED, TPKT_VERSION,
    X224_DT,
};

/// Family name.
const FAMILY: &str = "rdp";
/// Bytes of a cookie user name shown as evidence (mstsc truncates it to 9; others send more).
const MAX_COOKIE_EVIDENCE: usize = 32;
/// Bytes of a routing token shown as evidence.
const MAX_TOKEN_EVIDENCE: usize = 48;

/// BER tag of MCS Connect-Initial, [APPLICATION 101] (T.125 §11.1; MS-RDPBCGR 2.2.1.3).
const MCS_CONNECT_INITIAL: [u8; 2] = [0x7F, 0x65];
/// H.221 key of RDP client GCC user data (MS-RDPBCGR 2.2.1.3, "Duca").
const GCC_CLIENT_KEY: &[u8] = b"Duca";
/// MCS DomainMCSPDU choice byte of Send Data Request (T.125 §11.32; PER choice 25 << 2).
const MCS_SEND_DATA_REQUEST: u8 = 0x64;
/// MCS DomainMCSPDU choice byte of Send Data Indication (T.125 §11.33; PER choice 26 << 2).
const MCS_SEND_DATA_INDICATION: u8 = 0x68;
/// Lowest MCS user/channel id RDP uses (MS-RDPBCGR 2.2.1.4.2: MCS channel ids start at 1001).
const MCS_ID_MIN: u16 = 1001;
/// Send Data header before the PER length: choice, initiator, channelId, priority/segmentation.
const MCS_SEND_DATA_FIXED: usize = 6;
/// Offset of the X.224 TPDU code in a TPKT record: after the TPKT header and the LI byte.
const X224_CODE_OFFSET: usize = TPKT_HEADER_LEN + 1;
/// Segments with a validated MCS Send Data PDU needed to claim a mid-stream flow.
const MIDSTREAM_MIN_PDUS: usize = 2;

/// Recognises RDP: the X.224 connection exchange, mid-stream MCS framing, and RDP-UDP.
pub(crate) struct Rdp;

impl Detector for Rdp {
    fn name(&self) -> &'static str {
        "rdp"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        match view.proto {
            ip_proto::TCP => inspect_tcp(view),
            ip_proto::UDP => udp::inspect(view),
            _ => None,
        }
    }
}

fn inspect_tcp(view: &FlowView<'_>) -> Option<Verdict> {
    let client = view.to_server.data();
    let server = view.to_client.data();
    if starts_tpkt(client) {
        if let Some(cr) = ConnRequest::parse(client) {
            if let Some(v) = negotiation_verdict(&cr, client, server) {
                return Some(v);
            }
        }
    }
    if starts_tpkt(server) {
        if let Some(v) = lone_confirm(server) {
            return Some(v);
        }
    }
    midstream(view)
}

/// The security layer a selected protocol implies (MS-RDPBCGR 5.4.5).
fn security_name(p: u32) -> &'static str {
    match p {
        0x01 => "TLS",
        0x02 => "CredSSP (NLA) over TLS",
        0x04 => "RDSTLS over TLS",
        0x08 => "CredSSP (NLA) over TLS with Early User Authorization",
        0x10 => "RDS AAD authentication over TLS",
        _ => "Standard RDP Security",
    }
}

/// Whether the confirm answers the request (X.224 references, negotiated protocol).
fn consistent(cr: &ConnRequest<'_>, cc: &ConnTpdu<'_>, neg: &NegResult) -> bool {
    if cc.dst_ref != cr.tpdu.src_ref {
        return false;
    }
    let requested = cr.neg.as_ref().map_or(PROTOCOL_RDP, |n| n.protocols);
    match neg {
        NegResult::Absent => true,
        // A negotiation answer needs a negotiation request (MS-RDPBCGR 3.3.5.3.2).
        NegResult::Selected { protocol, .. } => {
            cr.neg.is_some() && (*protocol == PROTOCOL_RDP || requested & protocol != 0)
        }
        NegResult::Failure(_) => cr.neg.is_some(),
    }
}

/// Evidence lines for a connection request.
fn request_evidence(cr: &ConnRequest<'_>, v: Verdict) -> Verdict {
    let mut v = v.with(format!(
        "X.224 Connection Request (TPKT v3, {} bytes)",
        cr.tpdu.record_len
    ));
    match cr.token {
        Token::Cookie(user) => {
            v = v.with(format!(
                "cookie mstshash={}",
                printable(user, MAX_COOKIE_EVIDENCE)
            ));
        }
        Token::Routing(token) => {
            v = v.with(format!(
                "routing token {}",
                printable(token, MAX_TOKEN_EVIDENCE)
            ));
        }
        Token::None => {}
    }
    if let Some(n) = &cr.neg {
        v = v.with(format!(
            "RDP_NEG_REQ requestedProtocols=0x{:08x} ({}){}",
            n.protocols,
            protocol_names(n.protocols),
            request_flags(n.flags)
        ));
    }
    v
}

/// Names the RDP_NEG_REQ flags that change how the user logs on (MS-RDPBCGR 2.2.1.1.1).
fn request_flags(flags: u8) -> &'static str {
    match flags & 0x03 {
        0x01 => ", restricted admin mode required",
        0x02 => ", Remote Credential Guard required",
        0x03 => ", restricted admin and Remote Credential Guard required",
        _ => "",
    }
}

/// What the client sent after its connection request.
enum FollowUp {
    Nothing,
    TlsClientHello,
    /// `core`: the client core data, when the GCC user data carries it in clear.
    McsConnectInitial {
        rdp_gcc: bool,
        core: Option<ClientCore>,
    },
    Other,
}

fn follow_up(after: &[u8]) -> FollowUp {
    if after.is_empty() {
        return FollowUp::Nothing;
    }
    if super::tls::starts_client_hello(after) {
        return FollowUp::TlsClientHello;
    }
    if let Some(mcs) = x224_data(after) {
        if mcs.starts_with(&MCS_CONNECT_INITIAL) {
            let rdp_gcc = mcs
                .windows(GCC_CLIENT_KEY.len())
                .any(|w| w == GCC_CLIENT_KEY);
            let core = if rdp_gcc { gcc::client_core(mcs) } else { None };
            return FollowUp::McsConnectInitial { rdp_gcc, core };
        }
    }
    // The Connect-Initial may not be complete yet: a TPKT header announcing a Data TPDU, or
    // the first bytes of one (TCP may cut the stream anywhere, even inside the headers).
    let tpkt_start =
        after.first() == Some(&TPKT_VERSION) && after.get(1).is_none_or(|&b| b == TPKT_RESERVED);
    let data_tpdu = after
        .get(X224_CODE_OFFSET)
        .is_none_or(|&code| code == X224_DT);
    if tpkt_start && data_tpdu && tpkt(after).is_none() {
        return FollowUp::Nothing;
    }
    FollowUp::Other
}

/// Verdict for a flow whose client sent an X.224 connection request. A bare request (no cookie,
/// token or negotiation) counts only once the MCS Connect-Initial shows RDP client data.
fn negotiation_verdict(cr: &ConnRequest<'_>, client: &[u8], server: &[u8]) -> Option<Verdict> {
    let after = client.get(cr.tpdu.record_len..).unwrap_or_default();
    let follow = follow_up(after);
    if cr.is_bare() && !matches!(follow, FollowUp::McsConnectInitial { rdp_gcc: true, .. }) {
        return None;
    }
    let confirm = parse_confirm(server).filter(|(cc, neg)| consistent(cr, cc, neg));
    let Some((_, neg)) = confirm else {
        let v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature);
        let v = request_evidence(cr, v);
        return Some(match follow {
            FollowUp::McsConnectInitial {
                rdp_gcc: true,
                core,
            } => with_core(v.with(MCS_RDP_FACT), core.as_ref()),
            _ => v,
        });
    };
    let v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake);
    let v = request_evidence(cr, v);
    let (v, selected) = match neg {
        NegResult::Absent => (
            v.with("X.224 Connection Confirm without negotiation (Standard RDP Security)"),
            PROTOCOL_RDP,
        ),
        NegResult::Selected { flags, protocol } => (
            v.with(format!(
                "X.224 Connection Confirm RDP_NEG_RSP selectedProtocol=0x{protocol:08x} ({}), flags=0x{flags:02x}",
                protocol_names(protocol)
            )),
            protocol,
        ),
        NegResult::Failure(code) => {
            let name = failure_name(code).unwrap_or("unknown");
            // Nothing follows a refused negotiation: the server closes the connection.
            return Some(
                v.with(format!(
                    "X.224 Connection Confirm RDP_NEG_FAILURE failureCode={code} ({name})"
                ))
                .done(),
            );
        }
    };
    Some(match follow {
        // The client has not spoken again yet: the next packet may add the security layer.
        FollowUp::Nothing => v,
        FollowUp::TlsClientHello if selected != PROTOCOL_RDP => v
            .with(format!(
                "client starts TLS after negotiation: {}",
                security_name(selected)
            ))
            .done(),
        FollowUp::McsConnectInitial { rdp_gcc, core } if selected == PROTOCOL_RDP => {
            let fact = if rdp_gcc {
                MCS_RDP_FACT
            } else {
                "MCS Connect-Initial follows: Standard RDP Security"
            };
            with_core(v.with(fact), core.as_ref()).done()
        }
        _ => v
            .with("client data after the confirm does not match the selected protocol")
            .done(),
    })
}

/// Adds the client core data line (client name, keyboard layout, build, desktop size), which
/// only a Connect-Initial sent in clear reveals.
fn with_core(v: Verdict, core: Option<&ClientCore>) -> Verdict {
    let mut v = match core.and_then(ClientCore::evidence) {
        Some(line) => v.with(line),
        None => v,
    };
    v.client_country = core
        .and_then(|c| c.keyboard_layout)
        .and_then(klid::keyboard_country)
        .map(|(_, country)| country);
    v
}

/// Evidence line for an MCS Connect-Initial carrying RDP client GCC data.
const MCS_RDP_FACT: &str =
    "MCS Connect-Initial with RDP client data (GCC key Duca) follows: Standard RDP Security";

/// A server Connection Confirm carrying an RDP negotiation answer, with no request seen.
fn lone_confirm(server: &[u8]) -> Option<Verdict> {
    let (cc, neg) = parse_confirm(server)?;
    let fact = match neg {
        NegResult::Absent => return None,
        NegResult::Selected { protocol, .. } => format!(
            "X.224 Connection Confirm RDP_NEG_RSP selectedProtocol=0x{protocol:08x} ({})",
            protocol_names(protocol)
        ),
        NegResult::Failure(code) => format!(
            "X.224 Connection Confirm RDP_NEG_FAILURE failureCode={code} ({})",
            failure_name(code).unwrap_or("unknown")
        ),
    };
    Some(
        Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature)
            .with(fact)
            .with(format!(
                "server side only (TPKT v3, {} bytes)",
                cc.record_len
            )),
    )
}

/// An MCS Send Data PDU in one segment: (choice byte, initiator, channel id).
fn mcs_send_data(seg: &[u8]) -> Option<(u8, u16, u16)> {
    let mcs = x224_data(seg)?;
    let choice = *mcs.first()?;
    if choice != MCS_SEND_DATA_REQUEST && choice != MCS_SEND_DATA_INDICATION {
        return None;
    }
    let initiator = be16(mcs, 1)?;
    let channel = be16(mcs, 3)?;
    if initiator < MCS_ID_MIN || channel < MCS_ID_MIN {
        return None;
    }
    // X.691 §11.9.3.6/.7: one length byte below 128, or two bytes with the top bits 10.
    let first = *mcs.get(MCS_SEND_DATA_FIXED)?;
    let (len, header) = if first & 0x80 == 0 {
        (usize::from(first), MCS_SEND_DATA_FIXED + 1)
    } else if first & 0xC0 == 0x80 {
        let second = *mcs.get(MCS_SEND_DATA_FIXED + 1)?;
        (
            usize::from(first & 0x3F) << 8 | usize::from(second),
            MCS_SEND_DATA_FIXED + 2,
        )
    } else {
        return None;
    };
    (header + len == mcs.len()).then_some((choice, initiator, channel))
}

/// Counts segments of `side` that start with a validated MCS Send Data PDU; keeps the first.
fn count_send_data(side: &Side<'_>) -> (usize, Option<(u8, u16, u16)>) {
    let mut n = 0;
    let mut first = None;
    for i in 0..side.segments().len() {
        if let Some(pdu) = side.segment(i).and_then(mcs_send_data) {
            n += 1;
            first = first.or(Some(pdu));
        }
    }
    (n, first)
}

/// A flow seen after its connection setup, recognised by its MCS data framing.
fn midstream(view: &FlowView<'_>) -> Option<Verdict> {
    let any_tpkt =
        |s: &Side<'_>| (0..s.segments().len()).any(|i| s.segment(i).is_some_and(starts_tpkt));
    if !any_tpkt(&view.to_server) && !any_tpkt(&view.to_client) {
        return None;
    }
    let (up, up_pdu) = count_send_data(&view.to_server);
    let (down, down_pdu) = count_send_data(&view.to_client);
    if up + down < MIDSTREAM_MIN_PDUS {
        return None;
    }
    let (choice, initiator, channel) = up_pdu.or(down_pdu)?;
    let name = if choice == MCS_SEND_DATA_REQUEST {
        "Send Data Request"
    } else {
        "Send Data Indication"
    };
    Some(
        Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature)
            .with(format!(
                "{} segments of TPKT/X.224 Data carrying MCS Send Data with exact PER lengths ({up} from initiator, {down} from responder)",
                up + down
            ))
            .with(format!(
                "MCS {name} initiator={initiator} channel={channel}"
            ))
            .with("mid-stream: connection setup not seen"),
    )
}

#[cfg(test)]
mod tests {
    use super::x224::*;
    use super::*;
    use crate::detect::testing::ViewBuilder;

    /// TPKT header (RFC 1006 §6) around `x224`.
    fn tpkt_record(x224: &[u8]) -> Vec<u8> {
        let len = (x224.len() + TPKT_HEADER_LEN) as u16;
        let mut r = vec![TPKT_VERSION, TPKT_RESERVED];
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(x224);
        r
    }

    /// X.224 CR/CC: LI, code, DST-REF, SRC-REF, class 0, then `var` (MS-RDPBCGR 2.2.1.1).
    fn conn_tpdu(code: u8, dst: u16, src: u16, var: &[u8]) -> Vec<u8> {
        let mut x = vec![(X224_CONN_FIXED_LEN - 1 + var.len()) as u8, code];
        x.extend_from_slice(&dst.to_be_bytes());
        x.extend_from_slice(&src.to_be_bytes());
        x.push(X224_CLASS_0);
        x.extend_from_slice(var);
        tpkt_record(&x)
    }

    /// An 8-byte negotiation structure: type, flags, length 8 (LE), value (LE).
    fn neg(kind: u8, flags: u8, value: u32) -> Vec<u8> {
        let mut n = vec![kind, flags];
        n.extend_from_slice(&(NEG_LEN as u16).to_le_bytes());
        n.extend_from_slice(&value.to_le_bytes());
        n
    }

    fn request(cookie: Option<&str>, protocols: Option<u32>) -> Vec<u8> {
        let mut var = Vec::new();
        if let Some(user) = cookie {
            var.extend_from_slice(format!("Cookie: mstshash={user}\r\n").as_bytes());
        }
        if let Some(p) = protocols {
            var.extend_from_slice(&neg(TYPE_RDP_NEG_REQ, 0, p));
        }
        conn_tpdu(X224_CR, 0, 0, &var)
    }

    fn confirm(var: &[u8]) -> Vec<u8> {
        conn_tpdu(X224_CC, 0, 0x1234, var)
    }

    fn client_hello() -> Vec<u8> {
        let mut h = vec![
            0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, 0x03, 0x03,
        ];
        h.resize(0x35, 0x11);
        h
    }

    /// TPKT + X.224 Data + MCS Send Data Request with a one-byte PER length (T.125 §11.32).
    fn send_data(choice: u8, payload_len: usize) -> Vec<u8> {
        let mut x = vec![X224_DT_LI, X224_DT, X224_DT_EOT, choice];
        x.extend_from_slice(&1007u16.to_be_bytes()); // initiator
        x.extend_from_slice(&1003u16.to_be_bytes()); // channelId (I/O channel)
        x.push(0x70); // dataPriority high, segmentation begin|end
        x.push(payload_len as u8);
        x.extend(std::iter::repeat_n(0x5a, payload_len));
        tpkt_record(&x)
    }

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Rdp.inspect(&b.view())
    }

    #[test]
    fn request_alone_is_a_signature_with_cookie_and_protocols() {
        let b = ViewBuilder::tcp(50000, 3389).to_server(&request(Some("alice"), Some(0x0b)));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(!v.complete);
        assert_eq!(
            v.evidence[0],
            "X.224 Connection Request (TPKT v3, 43 bytes)"
        );
        assert_eq!(v.evidence[1], "cookie mstshash=alice");
        assert_eq!(
            v.evidence[2],
            "RDP_NEG_REQ requestedProtocols=0x0000000b (SSL|HYBRID|HYBRID_EX)"
        );
    }

    #[test]
    fn negotiation_and_tls_make_a_complete_handshake() {
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&request(Some("alice"), Some(0x0b)))
            .to_client(&confirm(&neg(TYPE_RDP_NEG_RSP, 0x1f, 0x02)));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(!v.complete, "waits for the client's next bytes");
        let b = b.to_server(&client_hello());
        let v = run(&b).unwrap();
        assert!(v.complete);
        assert!(v.evidence[3].contains("selectedProtocol=0x00000002 (HYBRID)"));
        assert_eq!(
            v.evidence[4],
            "client starts TLS after negotiation: CredSSP (NLA) over TLS"
        );
    }

    #[test]
    fn windows_xp_style_request_and_mcs() {
        let mut ci = vec![
            X224_DT_LI,
            X224_DT,
            X224_DT_EOT,
            0x7f,
            0x65,
            0x82,
            0x00,
            0x10,
        ];
        ci.extend_from_slice(b"\x00\x05\x00\x14\x7c\x00\x01Duca");
        let b = ViewBuilder::tcp(13178, 3389)
            .to_server(&request(Some("A70067"), None))
            .to_client(&confirm(&[]))
            .to_server(&tpkt_record(&ci));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[2].contains("without negotiation"));
        assert!(v.evidence[3].contains("Duca"));
    }

    /// TPKT + X.224 Data around a full Connect-Initial with a Korean client's core data.
    fn korean_connect_initial() -> Vec<u8> {
        let block = super::gcc::tests::core_block("WS-1234", 0x0000_0412, 2600);
        let mut x = vec![X224_DT_LI, X224_DT, X224_DT_EOT];
        x.extend(super::gcc::tests::connect_initial(&block));
        tpkt_record(&x)
    }

    #[test]
    fn client_core_data_becomes_evidence() {
        let line = "client name \"WS-1234\", keyboard layout 0x00000412 (Korean, KR), \
                    build 2600, 1024x768";
        // With the server's bare confirm: a complete Handshake.
        let b = ViewBuilder::tcp(49200, 3389)
            .to_server(&request(Some("kim"), None))
            .to_client(&confirm(&[]))
            .to_server(&korean_connect_initial());
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[3].contains("Duca"));
        assert!(v.evidence[4].starts_with(line), "{:?}", v.evidence);
        // Confirm not seen: still a Signature, with the same line.
        let b = ViewBuilder::tcp(49200, 3389)
            .to_server(&request(Some("kim"), None))
            .to_server(&korean_connect_initial());
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence.iter().any(|e| e.starts_with(line)));
    }

    #[test]
    fn connect_initial_arriving_in_pieces() {
        // Until the TPKT record is whole the verdict waits; it never guesses client data.
        let ci = korean_connect_initial();
        for n in 1..ci.len() {
            let b = ViewBuilder::tcp(49200, 3389)
                .to_server(&request(Some("kim"), None))
                .to_client(&confirm(&[]))
                .to_server(&ci[..n]);
            let v = run(&b).unwrap();
            assert!(!v.complete, "prefix {n}");
            assert!(
                !v.evidence.iter().any(|e| e.contains("client name")),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn bare_request_needs_rdp_gcc_data() {
        let bare = request(None, None);
        assert!(run(&ViewBuilder::tcp(1, 3389).to_server(&bare)).is_none());
        let mut ci = vec![X224_DT_LI, X224_DT, X224_DT_EOT, 0x7f, 0x65, 0x10];
        ci.extend_from_slice(b"..Duca..");
        let mut stream = bare.clone();
        stream.extend_from_slice(&tpkt_record(&ci));
        let v = run(&ViewBuilder::tcp(1, 3389).to_server(&stream)).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn negotiation_failure_completes() {
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&request(Some("bob"), Some(0x01)))
            .to_client(&confirm(&neg(TYPE_RDP_NEG_FAILURE, 0, 5)));
        let v = run(&b).unwrap();
        assert!(v.complete);
        assert!(v.evidence[3].contains("HYBRID_REQUIRED_BY_SERVER"));
    }

    #[test]
    fn inconsistent_confirm_stays_a_signature() {
        // Server selects HYBRID although the client only offered SSL.
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&request(Some("bob"), Some(0x01)))
            .to_client(&confirm(&neg(TYPE_RDP_NEG_RSP, 0, 0x02)));
        assert_eq!(run(&b).unwrap().confidence, Confidence::Signature);
        // DST-REF does not echo SRC-REF.
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&request(Some("bob"), None))
            .to_client(&conn_tpdu(X224_CC, 7, 0x1234, &[]));
        assert_eq!(run(&b).unwrap().confidence, Confidence::Signature);
    }

    #[test]
    fn routing_token_and_correlation_info() {
        let mut var = b"Cookie: msts=3640205228.15629.0000\r\n".to_vec();
        var.extend_from_slice(&neg(TYPE_RDP_NEG_REQ, CORRELATION_INFO_PRESENT, 0x03));
        let mut info = vec![TYPE_RDP_CORRELATION_INFO, 0];
        info.extend_from_slice(&(CORRELATION_INFO_LEN as u16).to_le_bytes());
        info.resize(CORRELATION_INFO_LEN, 0x42);
        var.extend_from_slice(&info);
        let b = ViewBuilder::tcp(50000, 3390).to_server(&conn_tpdu(X224_CR, 0, 0, &var));
        let v = run(&b).unwrap();
        assert!(v.evidence[1].starts_with("routing token Cookie: msts=3640205228"));
    }

    #[test]
    fn lone_confirm_with_negotiation() {
        let b = ViewBuilder::tcp(50000, 3389).to_client(&confirm(&neg(TYPE_RDP_NEG_RSP, 0, 8)));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("HYBRID_EX"));
        assert!(run(&ViewBuilder::tcp(50000, 3389).to_client(&confirm(&[]))).is_none());
    }

    #[test]
    fn midstream_mcs_framing() {
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&send_data(MCS_SEND_DATA_REQUEST, 20))
            .to_client(&send_data(MCS_SEND_DATA_INDICATION, 100));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[1].contains("initiator=1007 channel=1003"));
        // One PDU is not enough; a wrong PER length never counts.
        let one = ViewBuilder::tcp(50000, 3389).to_server(&send_data(MCS_SEND_DATA_REQUEST, 20));
        assert!(run(&one).is_none());
        let mut bad = send_data(MCS_SEND_DATA_REQUEST, 20);
        bad[11] = 21;
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(&bad)
            .to_server(&bad);
        assert!(run(&b).is_none());
    }

    #[test]
    fn s7comm_cotp_is_not_rdp() {
        // ISO 8073 CR with TSAP and TPDU-size parameters (Siemens S7 on port 102).
        let cr = b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a";
        let cc = b"\x03\x00\x00\x16\x11\xd0\x00\x01\x00\x05\x00\xc0\x01\x0a\xc1\x02\x01\x00\xc2\x02\x01\x02";
        let s7 = b"\x03\x00\x00\x19\x02\xf0\x80\x32\x01\x00\x00\x00\x00\x00\x08\x00\x00\xf0\x00\x00\x01\x00\x01\x01\xe0";
        let b = ViewBuilder::tcp(50000, 102)
            .to_server(cr)
            .to_client(cc)
            .to_server(s7)
            .to_client(s7);
        assert!(run(&b).is_none());
    }

    #[test]
    fn other_protocols_do_not_match() {
        let tls = client_hello();
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let ssh = b"SSH-2.0-OpenSSH_9.6\r\n";
        for p in [&tls[..], &http[..], &ssh[..], &[0x03, 0x00, 0x00, 0x00][..]] {
            let b = ViewBuilder::tcp(50000, 3389).to_server(p).to_client(p);
            assert!(run(&b).is_none());
        }
        let noise: Vec<u8> = (0..600u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(run(&ViewBuilder::tcp(1, 3389)
            .to_server(&noise)
            .to_client(&noise))
        .is_none());
    }

    #[test]
    fn prefixes_of_a_request_never_panic_or_match() {
        let full = request(Some("alice"), Some(0x0b));
        for n in 0..full.len() {
            let b = ViewBuilder::tcp(50000, 3389).to_server(&full[..n]);
            assert!(run(&b).is_none(), "prefix {n}");
        }
        let cc = confirm(&neg(TYPE_RDP_NEG_RSP, 0, 2));
        for n in 0..cc.len() {
            let b = ViewBuilder::tcp(50000, 3389)
                .to_server(&full)
                .to_client(&cc[..n]);
            assert_eq!(
                run(&b).unwrap().confidence,
                Confidence::Signature,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn evidence_is_bounded() {
        let long = "x".repeat(200);
        let b = ViewBuilder::tcp(50000, 3389).to_server(&request(Some(&long), None));
        let v = run(&b).unwrap();
        assert!(v.evidence[1].len() < 64);
        assert!(v.evidence[1].ends_with('…'));
    }

    proptest::proptest! {
        /// Arbitrary bytes, raw or behind this protocol's own leading bytes, never panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            a in crate::detect::testing::bytes(600),
            down in crate::detect::testing::bytes(600),
            tail in crate::detect::testing::bytes(64),
            lead in proptest::bool::ANY,
        ) {
            let lead: &[u8] = if lead { b"\x03\x00" } else { b"" };
            let b = ViewBuilder::tcp(1023, 3389).noise(lead, &a, &down, &tail);
            let _ = Rdp.inspect(&b.view());
            let b = ViewBuilder::udp(1023, 3389).noise(lead, &a, &down, &tail);
            let _ = Rdp.inspect(&b.view());
        }
    }
}
