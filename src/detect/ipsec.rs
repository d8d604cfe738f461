//! IPsec: IKE (v1 and v2) key exchange, ESP and AH.
//!
//! Facts used:
//! - IKE header (IKEv1: RFC 2408 §3.1; IKEv2: RFC 7296 §3.1): initiator SPI (8 bytes, never
//!   zero), responder SPI (8, zero in the first request), next payload, version (0x10 or 0x20),
//!   exchange type, flags, message id, and a length equal to the whole message. Payloads follow
//!   as a chain of generic headers (next payload, reserved/critical byte, 16-bit length) whose
//!   lengths add up to the message length (RFC 2408 §3.2, RFC 7296 §3.2).
//! - IKE runs on UDP 500, and on UDP 4500 behind a 4-byte zero non-ESP marker once NAT is
//!   detected (RFC 3948 §2.2). The same structure found on another port is accepted only when
//!   the whole payload chain is seen and closes exactly.
//! - ESP (IP protocol 50, RFC 4303 §2): a 32-bit SPI (0 is never sent, 1–255 are reserved by
//!   IANA) and a 32-bit sequence number that starts at 1 and grows by one per packet. Over UDP
//!   4500 an ESP packet starts directly with its non-zero SPI, and a lone 0xFF byte is a
//!   NAT-keepalive (RFC 3948 §2.2, §2.3).
//! - AH (IP protocol 51, RFC 4302 §2): the decoder hands over the SPI of any Authentication
//!   Header; the flow is then keyed on the protected (inner) protocol.
//!
//! Why this is reliable: an IKE message is validated field by field (version, exchange type
//! for that version, flag bits, length, the payload chain), so one side is a Signature, and a
//! request and response sharing the 64-bit initiator SPI is a Handshake. ESP has no handshake and
//! a thin header, but IP protocol 50 is ESP by definition: one direction with a valid SPI is a
//! Signature, both directions with their own SPIs and sequence runs a Handshake. ESP in UDP has
//! nothing but SPI and sequence numbers, so it needs UDP port 4500 (stated in the evidence) and
//! several consistent packets.

use super::{be16, be32, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;
use crate::flow::SEGMENTS_MAX;

/// IKE's UDP port (RFC 2408 §2.5.2, RFC 7296 §2).
const IKE_PORT: u16 = 500;
/// IKE and ESP-in-UDP port after NAT detection (RFC 3948 §2, RFC 7296 §2.23).
const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker: four zero bytes before an IKE message on port 4500 (RFC 3948 §2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// NAT-keepalive datagram: one byte 0xFF (RFC 3948 §2.3).
const NAT_KEEPALIVE: u8 = 0xff;

/// IKE header length (RFC 2408 §3.1, RFC 7296 §3.1).
const IKE_HEADER_LEN: usize = 28;
/// SPI (cookie) length.
const IKE_SPI_LEN: usize = 8;
/// Offset of the responder SPI.
const OFF_RSPI: usize = 8;
/// Offset of the first payload's type.
const OFF_NEXT_PAYLOAD: usize = 16;
/// Offset of the version byte (major in the high nibble, minor 0).
const OFF_VERSION: usize = 17;
/// Offset of the exchange type.
const OFF_EXCHANGE: usize = 18;
/// Offset of the flags.
const OFF_FLAGS: usize = 19;
/// Offset of the message id.
const OFF_MSG_ID: usize = 20;
/// Offset of the message length.
const OFF_LENGTH: usize = 24;
/// ISAKMP / IKEv1 version byte: major 1, minor 0 (RFC 2408 §3.1).
const VERSION_IKEV1: u8 = 0x10;
/// IKEv2 version byte: major 2, minor 0 (RFC 7296 §3.1).
const VERSION_IKEV2: u8 = 0x20;
/// IKEv1 flag bits: Encryption, Commit, Authentication only (RFC 2408 §3.1).
const IKEV1_FLAGS: u8 = 0x07;
/// IKEv1 Encryption flag: the payloads after the header are encrypted.
const IKEV1_FLAG_E: u8 = 0x01;
/// IKEv2 flag bits: Initiator 0x08, Version 0x10, Response 0x20 (RFC 7296 §3.1).
const IKEV2_FLAGS: u8 = 0x38;
/// IKEv2 Initiator flag.
const IKEV2_FLAG_I: u8 = 0x08;
/// IKEv2 Response flag.
const IKEV2_FLAG_R: u8 = 0x20;
/// Generic payload header length (RFC 2408 §3.2, RFC 7296 §3.2).
const PAYLOAD_HEADER_LEN: usize = 4;
/// Offset of the payload length within the generic header.
const OFF_PAYLOAD_LEN: usize = 2;
/// Offset of the reserved (IKEv1) or critical/reserved (IKEv2) byte.
const OFF_PAYLOAD_RESERVED: usize = 1;
/// IKEv1 generic header: the whole second byte is reserved.
const IKEV1_RESERVED_MASK: u8 = 0xff;
/// IKEv2 generic header: only the Critical bit of the second byte may be set.
const IKEV2_RESERVED_MASK: u8 = 0x7f;
/// Payloads walked per message.
const PAYLOADS_MAX: usize = 32;
/// Payload names listed in evidence.
const PAYLOADS_SHOWN: usize = 8;
/// IKEv1 Security Association payload (RFC 2408 §3.4).
const IKEV1_SA: u8 = 1;
/// IKEv2 Security Association payload (RFC 7296 §3.3).
const IKEV2_SA: u8 = 33;
/// IKEv2 Notify payload, first in an IKE_SA_INIT retried with a cookie (RFC 7296 §2.6).
const IKEV2_NOTIFY: u8 = 41;
/// IKEv2 Encrypted payload: always last, it runs to the end of the message (RFC 7296 §3.14).
const IKEV2_SK: u8 = 46;
/// IKEv2 Encrypted Fragment payload, also last (RFC 7383 §2.5).
const IKEV2_SKF: u8 = 53;
/// IKEv2 IKE_SA_INIT exchange.
const IKE_SA_INIT: u8 = 34;
/// IKEv1 Identity Protection (Main Mode) exchange.
const IKEV1_MAIN: u8 = 2;
/// IKEv1 Aggressive exchange.
const IKEV1_AGGRESSIVE: u8 = 4;

/// Offset of the ESP sequence number, after the SPI (RFC 4303 §2).
const OFF_ESP_SEQ: usize = 4;
/// ESP header: SPI and sequence number (RFC 4303 §2).
const ESP_HEADER_LEN: usize = 8;
/// Smallest ESP packet: header plus at least the 4-byte aligned pad length and next header
/// (RFC 4303 §2.4).
const ESP_MIN_LEN: usize = ESP_HEADER_LEN + 4;
/// SPIs 1–255 are reserved by IANA (RFC 4303 §2.1, RFC 4302 §2.4).
const SPI_RESERVED_MAX: u32 = 255;
/// Largest spread of sequence numbers among one direction's first packets: the preferred
/// anti-replay window (RFC 4303 §3.4.3).
const ESP_SEQ_SPREAD_MAX: u32 = 64;
/// ESP-in-UDP packets needed on one side alone before a Signature.
const ESP_UDP_ONE_SIDE_MIN: usize = 4;
/// ESP-in-UDP packets needed on each side when both are seen.
const ESP_UDP_BOTH_SIDES_MIN: usize = 2;

/// Recognises IKE, ESP, ESP-in-UDP and AH.
pub(crate) struct Ipsec;

impl Detector for Ipsec {
    fn name(&self) -> &'static str {
        "ipsec"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.to_server.ah_spi.is_some() || view.to_client.ah_spi.is_some() {
            return ah(view);
        }
        match view.proto {
            ip_proto::ESP => esp(view),
            ip_proto::UDP => ike(view).or_else(|| esp_in_udp(view)),
            _ => None,
        }
    }
}

/// Confidence of one AH SPI: 0 is never sent; 1–255 are reserved by IANA (RFC 4302 §2.4), so
/// a value there is only a guess.
fn ah_spi_confidence(spi: u32) -> Option<Confidence> {
    match spi {
        0 => None,
        1..=SPI_RESERVED_MAX => Some(Confidence::Heuristic),
        _ => Some(Confidence::Signature),
    }
}

/// A flow whose packets carried an Authentication Header. Each direction of an IPsec SA pair has
/// its own SPI (RFC 4301 §4.1), so two valid, different SPIs, one per direction, make the
/// handshake; one direction alone is a signature.
fn ah(view: &FlowView<'_>) -> Option<Verdict> {
    let inner = ip_proto::name(view.proto);
    let valid = |s: Option<u32>| s.and_then(|spi| Some((spi, ah_spi_confidence(spi)?)));
    match (valid(view.to_server.ah_spi), valid(view.to_client.ah_spi)) {
        (Some((a, Confidence::Signature)), Some((b, Confidence::Signature))) if a != b => Some(
            Verdict::new(Kind::VpnTunnel, "ipsec", Confidence::Handshake)
                .with(format!(
                    "IPsec Authentication Header (RFC 4302) both ways protecting {inner}"
                ))
                .with(format!("initiator SPI {a:#010x}, responder SPI {b:#010x}"))
                .done(),
        ),
        (Some((spi, c)), _) | (None, Some((spi, c))) => {
            Some(Verdict::new(Kind::VpnTunnel, "ipsec", c).with(format!(
                "IPsec Authentication Header (RFC 4302) SPI {spi:#010x} protecting {inner}"
            )))
        }
        (None, None) => None,
    }
}

/// One parsed IKE message.
#[derive(Clone, Copy, Debug)]
struct Ike<'a> {
    ispi: &'a [u8],
    rspi: &'a [u8],
    version: u8,
    exchange: u8,
    flags: u8,
    msg_id: u32,
    len: usize,
    /// Payload types in order (the first [`PAYLOADS_SHOWN`]).
    payloads: [u8; PAYLOADS_SHOWN],
    /// Whether the 4-byte non-ESP marker preceded the message.
    marker: bool,
}

impl Ike<'_> {
    fn v2(&self) -> bool {
        self.version == VERSION_IKEV2
    }

    fn rspi_zero(&self) -> bool {
        self.rspi.iter().all(|&x| x == 0)
    }

    /// The first message of a negotiation: a new initiator SPI, no responder SPI yet.
    fn initial_request(&self) -> bool {
        let first = self.payloads.first().copied().unwrap_or(0);
        self.rspi_zero()
            && self.msg_id == 0
            && if self.v2() {
                self.exchange == IKE_SA_INIT
                    && self.flags & IKEV2_FLAG_R == 0
                    && self.flags & IKEV2_FLAG_I != 0
                    && (first == IKEV2_SA || first == IKEV2_NOTIFY)
            } else {
                (self.exchange == IKEV1_MAIN || self.exchange == IKEV1_AGGRESSIVE)
                    && first == IKEV1_SA
            }
    }

    fn role(&self) -> &'static str {
        match (self.v2(), self.flags & IKEV2_FLAG_R != 0) {
            (true, true) => "response",
            (true, false) => "request",
            _ => "message",
        }
    }

    fn describe(&self, who: &str) -> String {
        let mut list = String::new();
        for &p in self.payloads.iter().take_while(|&&p| p != 0) {
            if !list.is_empty() {
                list.push(',');
            }
            list.push_str(payload_name(self.version, p));
        }
        format!(
            "IKEv{} {} {} from {who} (initiator SPI {}, responder SPI {}, message id {}, {} bytes, payloads {list})",
            if self.v2() { 2 } else { 1 },
            exchange_name(self.version, self.exchange),
            self.role(),
            hex(self.ispi),
            if self.rspi_zero() { "0".to_string() } else { hex(self.rspi) },
            self.msg_id,
            self.len,
        )
    }
}

/// Whether a datagram of `wire_len` bytes, kept as `b`, can hold an IKE message by the fixed
/// header fields alone: the version byte (0x10 or 0x20: RFC 2408 §3.1, RFC 7296 §3.1) and a
/// Length equal to the message's size, at the start or, behind the 4-byte non-ESP marker
/// (RFC 3948 §2.2), after it. Every message [`parse_ike`] accepts passes; almost any other UDP
/// payload fails on its first comparison, so a flow that is not IKE is rejected without being
/// parsed, on every packet of every UDP flow under inspection.
fn may_be_ike(b: &[u8], wire_len: usize) -> bool {
    let header = |m: &[u8], len: usize| {
        matches!(m.get(OFF_VERSION), Some(&(VERSION_IKEV1 | VERSION_IKEV2)))
            && be32(m, OFF_LENGTH).and_then(|l| usize::try_from(l).ok()) == Some(len)
    };
    match b.strip_prefix(&NON_ESP_MARKER) {
        Some(rest) => wire_len
            .checked_sub(NON_ESP_MARKER.len())
            .is_some_and(|len| header(rest, len)),
        None => header(b, wire_len),
    }
}

/// The datagrams of one side that [may be IKE](may_be_ike).
fn ike_candidates<'a>(side: &Side<'a>) -> impl Iterator<Item = (&'a [u8], usize)> + 'a {
    datagrams(side).filter(|&(b, len)| len >= IKE_HEADER_LEN && may_be_ike(b, len))
}

/// Parses an IKE message in a datagram, after a non-ESP marker or at its start. `whole_chain`
/// demands that the entire payload chain be kept and close exactly.
fn parse_ike(b: &[u8], wire_len: usize, whole_chain: bool) -> Option<Ike<'_>> {
    if let Some(rest) = b.strip_prefix(&NON_ESP_MARKER) {
        let mut m = parse_ike_at(
            rest,
            wire_len.checked_sub(NON_ESP_MARKER.len())?,
            whole_chain,
        )?;
        m.marker = true;
        return Some(m);
    }
    parse_ike_at(b, wire_len, whole_chain)
}

fn parse_ike_at(b: &[u8], wire_len: usize, whole_chain: bool) -> Option<Ike<'_>> {
    let ispi = b.get(..IKE_SPI_LEN)?;
    if ispi.iter().all(|&x| x == 0) {
        return None;
    }
    let version = *b.get(OFF_VERSION)?;
    let exchange = *b.get(OFF_EXCHANGE)?;
    let flags = *b.get(OFF_FLAGS)?;
    let valid = match version {
        VERSION_IKEV1 => ikev1_exchange(exchange) && flags & !IKEV1_FLAGS == 0,
        VERSION_IKEV2 => ikev2_exchange(exchange) && flags & !IKEV2_FLAGS == 0,
        _ => false,
    };
    let len = usize::try_from(be32(b, OFF_LENGTH)?).ok()?;
    if !valid || len != wire_len || len < IKE_HEADER_LEN {
        return None;
    }
    let mut m = Ike {
        ispi,
        rspi: b.get(OFF_RSPI..OFF_RSPI + IKE_SPI_LEN)?,
        version,
        exchange,
        flags,
        msg_id: be32(b, OFF_MSG_ID)?,
        len,
        payloads: [0; PAYLOADS_SHOWN],
        marker: false,
    };
    walk_payloads(b, &mut m, *b.get(OFF_NEXT_PAYLOAD)?, whole_chain)?;
    Some(m)
}

/// Follows the payload chain from the header; records the payload types.
fn walk_payloads(b: &[u8], m: &mut Ike<'_>, first: u8, whole_chain: bool) -> Option<()> {
    let v2 = m.v2();
    let reserved_mask = if v2 {
        IKEV2_RESERVED_MASK
    } else {
        IKEV1_RESERVED_MASK
    };
    let mut next = first;
    let mut off = IKE_HEADER_LEN;
    for i in 0..PAYLOADS_MAX {
        if next == 0 {
            return (off == m.len).then_some(());
        }
        if !payload_known(m.version, next) {
            return None;
        }
        if let Some(slot) = m.payloads.get_mut(i) {
            *slot = next;
        }
        if !v2 && m.flags & IKEV1_FLAG_E != 0 {
            // The rest is ciphertext: only the first payload type is visible.
            return (!whole_chain || off < m.len).then_some(());
        }
        let Some(plen) = be16(b, off + OFF_PAYLOAD_LEN) else {
            // Beyond the kept bytes: what was seen holds.
            return (!whole_chain).then_some(());
        };
        let reserved = *b.get(off + OFF_PAYLOAD_RESERVED)?;
        let plen = usize::from(plen);
        if plen < PAYLOAD_HEADER_LEN || reserved & reserved_mask != 0 {
            return None;
        }
        let encrypted = v2 && (next == IKEV2_SK || next == IKEV2_SKF);
        next = *b.get(off)?;
        off += plen;
        if off > m.len || (encrypted && off != m.len) {
            return None;
        }
        if encrypted {
            // The encrypted payload's "next payload" names its first inner payload.
            return Some(());
        }
    }
    None
}

/// IKEv1 exchange types: Base, Identity Protection, Authentication Only, Aggressive,
/// Informational (RFC 2408 §4.4–§4.8), Transaction (mode-config, draft-ietf-ipsec-isakmp-mode-
/// cfg), Quick Mode and New Group Mode (RFC 2409 §5.5, §5.6).
fn ikev1_exchange(x: u8) -> bool {
    matches!(
        x,
        IKEV1_BASE..=IKEV1_TRANSACTION | IKEV1_QUICK_MODE | IKEV1_NEW_GROUP_MODE
    )
}

/// IKEv2 exchange types: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL (RFC 7296
/// §3.1), IKE_SESSION_RESUME (RFC 5723), IKE_INTERMEDIATE (RFC 9242), IKE_FOLLOWUP_KE (RFC 9370).
fn ikev2_exchange(x: u8) -> bool {
    matches!(
        x,
        IKE_SA_INIT..=IKE_SESSION_RESUME | IKE_INTERMEDIATE | IKE_FOLLOWUP_KE
    )
}

/// Payload types: IKEv1 1–13 (RFC 2408 §3.1), NAT-D/NAT-OA 20/21 (RFC 3947) and their draft
/// numbers 130/131 plus Cisco fragmentation 132; IKEv2 33–54 (IANA IKEv2 Payload Types).
fn payload_known(version: u8, p: u8) -> bool {
    if version == VERSION_IKEV2 {
        (IKEV2_SA..=IKEV2_PAYLOAD_LAST).contains(&p)
    } else {
        matches!(p, IKEV1_SA..=IKEV1_VID | IKEV1_NAT_D | IKEV1_NAT_OA)
            || (IKEV1_NAT_D_DRAFT..=IKEV1_FRAGMENT).contains(&p)
    }
}

/// IKEv1 exchange names by type 1..=6 (RFC 2408 §4.4–§4.8; 6 is mode-config's Transaction).
const IKEV1_EXCHANGE_NAMES: [&str; 6] = [
    "Base",
    "Identity Protection (Main Mode)",
    "Authentication Only",
    "Aggressive",
    "Informational",
    "Transaction (Mode Config)",
];
/// IKEv2 exchange names by type 34..=38 (RFC 7296 §3.1, RFC 5723).
const IKEV2_EXCHANGE_NAMES: [&str; 5] = [
    "IKE_SA_INIT",
    "IKE_AUTH",
    "CREATE_CHILD_SA",
    "INFORMATIONAL",
    "IKE_SESSION_RESUME",
];
/// IKEv2 IKE_INTERMEDIATE (RFC 9242) and IKE_FOLLOWUP_KE (RFC 9370).
const IKE_INTERMEDIATE: u8 = 43;
/// See [`IKE_INTERMEDIATE`].
const IKE_FOLLOWUP_KE: u8 = 44;
/// IKEv1 payload names by type 1..=13 (RFC 2408 §3.1).
const IKEV1_PAYLOAD_NAMES: [&str; 13] = [
    "SA", "P", "T", "KE", "ID", "CERT", "CR", "HASH", "SIG", "NONCE", "N", "D", "VID",
];
/// IKEv2 payload names by type 33..=48 (RFC 7296 §3.2).
const IKEV2_PAYLOAD_NAMES: [&str; 16] = [
    "SA", "KE", "IDi", "IDr", "CERT", "CERTREQ", "AUTH", "Nonce", "N", "D", "V", "TSi", "TSr",
    "SK", "CP", "EAP",
];
/// IKEv1 Base exchange, the first type (RFC 2408 §4.4).
const IKEV1_BASE: u8 = 1;
/// IKEv1 Transaction exchange (mode-config), the last of the low range.
const IKEV1_TRANSACTION: u8 = 6;
/// IKEv1 Quick Mode (RFC 2409 §5.5).
const IKEV1_QUICK_MODE: u8 = 32;
/// IKEv1 New Group Mode (RFC 2409 §5.6).
const IKEV1_NEW_GROUP_MODE: u8 = 33;
/// IKEv2 IKE_SESSION_RESUME (RFC 5723), the last of the contiguous range.
const IKE_SESSION_RESUME: u8 = 38;
/// IKEv1 Vendor ID, the last base payload type (RFC 2408 §3.1).
const IKEV1_VID: u8 = 13;
/// IKEv1 NAT-D and NAT-OA payloads (RFC 3947 §3).
const IKEV1_NAT_D: u8 = 20;
/// See [`IKEV1_NAT_D`].
const IKEV1_NAT_OA: u8 = 21;
/// Pre-RFC NAT-T drafts numbered NAT-D 130 and NAT-OA 131; 132 is Cisco's IKE fragment.
const IKEV1_NAT_D_DRAFT: u8 = 130;
/// See [`IKEV1_NAT_D_DRAFT`].
const IKEV1_NAT_OA_DRAFT: u8 = 131;
/// See [`IKEV1_NAT_D_DRAFT`].
const IKEV1_FRAGMENT: u8 = 132;
/// Last IKEv2 payload type assigned (IANA "IKEv2 Payload Types").
const IKEV2_PAYLOAD_LAST: u8 = 54;

/// Entry `x - base` of `names`, or `fallback`.
fn table(names: &[&'static str], x: u8, base: u8, fallback: &'static str) -> &'static str {
    x.checked_sub(base)
        .and_then(|i| names.get(usize::from(i)))
        .copied()
        .unwrap_or(fallback)
}

fn exchange_name(version: u8, x: u8) -> &'static str {
    match (version, x) {
        (VERSION_IKEV2, IKE_INTERMEDIATE) => "IKE_INTERMEDIATE",
        (VERSION_IKEV2, IKE_FOLLOWUP_KE) => "IKE_FOLLOWUP_KE",
        (VERSION_IKEV2, _) => table(&IKEV2_EXCHANGE_NAMES, x, IKE_SA_INIT, "exchange"),
        (_, IKEV1_QUICK_MODE) => "Quick Mode",
        (_, IKEV1_NEW_GROUP_MODE) => "New Group Mode",
        _ => table(&IKEV1_EXCHANGE_NAMES, x, IKEV1_BASE, "exchange"),
    }
}

fn payload_name(version: u8, p: u8) -> &'static str {
    match (version, p) {
        (VERSION_IKEV2, IKEV2_SKF) => "SKF",
        (VERSION_IKEV2, _) => table(&IKEV2_PAYLOAD_NAMES, p, IKEV2_SA, "other"),
        (_, IKEV1_NAT_D | IKEV1_NAT_D_DRAFT) => "NAT-D",
        (_, IKEV1_NAT_OA | IKEV1_NAT_OA_DRAFT) => "NAT-OA",
        _ => table(&IKEV1_PAYLOAD_NAMES, p, IKEV1_SA, "other"),
    }
}

/// The datagrams of one side with their wire lengths.
fn datagrams<'a>(side: &Side<'a>) -> impl Iterator<Item = (&'a [u8], usize)> + 'a {
    let side = *side;
    (0..side.segments().len()).filter_map(move |i| Some((side.segment(i)?, side.wire_len(i)?)))
}

/// IKE over UDP: one side's message is a Signature, a request and its response a Handshake.
fn ike(view: &FlowView<'_>) -> Option<Verdict> {
    // Cheap gate before any parsing: a datagram with an IKE header's version and length.
    if ike_candidates(&view.to_server).next().is_none()
        && ike_candidates(&view.to_client).next().is_none()
    {
        return None;
    }
    let standard = view.either_port(IKE_PORT) || view.either_port(NAT_T_PORT);
    let client = first_ike(&view.to_server, standard);
    let server = first_ike(&view.to_client, standard);
    let (first, who) = match (&client, &server) {
        (Some(m), _) => (m, "client"),
        (None, Some(m)) => (m, "server"),
        (None, None) => return None,
    };
    let mut v = match matching_pair(view, standard) {
        Some((c, s)) => Verdict::new(Kind::VpnTunnel, "ipsec", Confidence::Handshake)
            .with(c.describe("client"))
            .with(s.describe("server"))
            .with(format!("both sides share initiator SPI {}", hex(c.ispi)))
            .done(),
        None => {
            let v = Verdict::new(Kind::VpnTunnel, "ipsec", Confidence::Signature)
                .with(first.describe(who));
            if first.initial_request() {
                v.with("first message of a negotiation (responder SPI zero, message id 0)")
            } else {
                v
            }
        }
    };
    if first.marker {
        v = v.with("UDP-encapsulated behind the non-ESP marker (RFC 3948 §2.2)");
    } else if !standard {
        v = v.with(format!(
            "on UDP port {} (not 500/4500): full payload chain verified",
            view.server.port()
        ));
    }
    Some(v)
}

/// The first IKE message on one side.
fn first_ike<'a>(side: &Side<'a>, standard: bool) -> Option<Ike<'a>> {
    ike_candidates(side).find_map(|(b, len)| parse_ike(b, len, !standard))
}

/// A client message and a server message of the same IKE SA.
fn matching_pair<'a>(view: &FlowView<'a>, standard: bool) -> Option<(Ike<'a>, Ike<'a>)> {
    ike_candidates(&view.to_server)
        .filter_map(|(b, len)| parse_ike(b, len, !standard))
        .find_map(|c| {
            ike_candidates(&view.to_client)
                .filter_map(|(b, len)| parse_ike(b, len, !standard))
                .find(|s| c.ispi == s.ispi && c.version == s.version && spis_agree(&c, s))
                .map(|s| (c, s))
        })
}

/// A request and a response of one IKE SA: the responder SPI, when both carry one, is the same.
fn spis_agree(a: &Ike<'_>, b: &Ike<'_>) -> bool {
    a.rspi_zero() || b.rspi_zero() || a.rspi == b.rspi
}

/// One direction's ESP packets: the first SPI, how many packets carry it, and their sequence
/// numbers' range, when they are consistent.
#[derive(Clone, Copy, Debug)]
struct EspRun {
    spi: u32,
    n: usize,
    lo: u32,
    hi: u32,
}

fn esp_run(side: &Side<'_>, udp: bool) -> Option<EspRun> {
    let mut seqs = [0u32; SEGMENTS_MAX];
    let mut n = 0usize;
    let mut spi = None;
    for (b, len) in datagrams(side) {
        if udp && (b == [NAT_KEEPALIVE] || b.starts_with(&NON_ESP_MARKER)) {
            continue;
        }
        let (s, q) = (be32(b, 0)?, be32(b, OFF_ESP_SEQ)?);
        if s == 0 || q == 0 || len < ESP_MIN_LEN {
            return None;
        }
        if *spi.get_or_insert(s) != s {
            // A second SA (rekey): the first one's run is what is judged.
            continue;
        }
        if seqs.get(..n)?.contains(&q) {
            return None;
        }
        *seqs.get_mut(n)? = q;
        n += 1;
    }
    let seen = seqs.get(..n)?;
    let (lo, hi) = (*seen.iter().min()?, *seen.iter().max()?);
    (hi - lo <= ESP_SEQ_SPREAD_MAX).then_some(EspRun {
        spi: spi?,
        n,
        lo,
        hi,
    })
}

fn describe_run(r: &EspRun, dir: &str) -> String {
    format!(
        "{dir} SPI {:#010x}{}, sequence numbers {}..={} in {} packet{}",
        r.spi,
        if r.spi <= SPI_RESERVED_MAX {
            " (IANA-reserved range 1-255: manually keyed SA)"
        } else {
            ""
        },
        r.lo,
        r.hi,
        r.n,
        if r.n == 1 { "" } else { "s" },
    )
}

/// ESP (IP protocol 50).
fn esp(view: &FlowView<'_>) -> Option<Verdict> {
    let c = esp_run(&view.to_server, false);
    let s = esp_run(&view.to_client, false);
    let valid = |r: &Option<EspRun>| r.is_some_and(|r| r.spi > SPI_RESERVED_MAX);
    let both = matches!((c, s), (Some(a), Some(b)) if a.spi != b.spi) && valid(&c) && valid(&s);
    let confidence = match (c, s) {
        _ if both => Confidence::Handshake,
        _ if valid(&c) || valid(&s) => Confidence::Signature,
        (None, None) => return None,
        _ => Confidence::Heuristic,
    };
    let v = with_runs(
        Verdict::new(Kind::VpnTunnel, "ipsec", confidence)
            .with("IP protocol 50: IPsec ESP (RFC 4303)"),
        c,
        s,
    );
    Some(if both { v.done() } else { v })
}

/// ESP in UDP on port 4500 (RFC 3948), without the IKE exchange in the same flow.
fn esp_in_udp(view: &FlowView<'_>) -> Option<Verdict> {
    if !view.either_port(NAT_T_PORT) {
        return None;
    }
    let c = esp_run(&view.to_server, true).filter(|r| r.spi > SPI_RESERVED_MAX);
    let s = esp_run(&view.to_client, true).filter(|r| r.spi > SPI_RESERVED_MAX);
    let (cn, sn) = (c.map_or(0, |r| r.n), s.map_or(0, |r| r.n));
    if cn + sn == 0 {
        return None;
    }
    let both = cn >= ESP_UDP_BOTH_SIDES_MIN && sn >= ESP_UDP_BOTH_SIDES_MIN;
    let confidence = if both || cn.max(sn) >= ESP_UDP_ONE_SIDE_MIN {
        Confidence::Signature
    } else {
        Confidence::Heuristic
    };
    Some(with_runs(
        Verdict::new(Kind::VpnTunnel, "ipsec", confidence)
            .with("ESP in UDP on port 4500 (RFC 3948): SPI and sequence numbers consistent"),
        c,
        s,
    ))
}

/// Adds each direction's ESP run to the evidence.
fn with_runs(mut v: Verdict, c: Option<EspRun>, s: Option<EspRun>) -> Verdict {
    for (r, dir) in [(c, "client→server"), (s, "server→client")] {
        if let Some(r) = r {
            v = v.with(describe_run(&r, dir));
        }
    }
    v
}

/// An SPI in hex.
fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * IKE_SPI_LEN);
    s.push_str("0x");
    crate::hex::push(&mut s, b.get(..IKE_SPI_LEN).unwrap_or(b));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;
    use crate::flow::Dir;

    const ISPI: [u8; 8] = [0x61, 0xd3, 0x69, 0x3c, 0xe1, 0x2a, 0xf5, 0x28];
    const RSPI: [u8; 8] = [0x57, 0x2a, 0x8a, 0xe7, 0x55, 0x7a, 0xd9, 0xec];

    /// An IKE message: the 28-byte header (SPIs 0..16, next payload 16, version 17, exchange
    /// 18, flags 19, message id 20..24, length 24..28) and payloads of the given types and body
    /// sizes chained by their generic headers.
    fn ike_msg(
        rspi: [u8; 8],
        version: u8,
        exchange: u8,
        flags: u8,
        msg_id: u32,
        payloads: &[(u8, usize)],
    ) -> Vec<u8> {
        let mut m = ISPI.to_vec();
        m.extend_from_slice(&rspi);
        m.push(payloads.first().map_or(0, |p| p.0));
        m.extend_from_slice(&[version, exchange, flags]);
        m.extend_from_slice(&msg_id.to_be_bytes());
        m.extend_from_slice(&[0; 4]);
        for (i, &(_, body)) in payloads.iter().enumerate() {
            let next = payloads.get(i + 1).map_or(0, |p| p.0);
            m.push(next);
            m.push(0);
            m.extend_from_slice(&((body + 4) as u16).to_be_bytes());
            m.extend(std::iter::repeat_n(0xab, body));
        }
        let len = m.len() as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    fn sa_init_request() -> Vec<u8> {
        ike_msg(
            [0; 8],
            VERSION_IKEV2,
            IKE_SA_INIT,
            IKEV2_FLAG_I,
            0,
            &[(33, 44), (34, 260), (40, 32)],
        )
    }

    fn sa_init_response() -> Vec<u8> {
        ike_msg(
            RSPI,
            VERSION_IKEV2,
            IKE_SA_INIT,
            IKEV2_FLAG_R,
            0,
            &[(33, 44), (34, 260), (40, 32)],
        )
    }

    #[test]
    fn single_ikev2_request_is_a_signature() {
        let b = ViewBuilder::udp(500, 500).to_server(&sa_init_request());
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("IKEv2 IKE_SA_INIT request"));
        assert!(v.evidence[0].contains("payloads SA,KE,Nonce"));
        assert!(v.evidence[1].contains("first message"));
    }

    #[test]
    fn request_and_response_are_a_handshake() {
        let b = ViewBuilder::udp(500, 500)
            .to_server(&sa_init_request())
            .to_client(&sa_init_response());
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[1].contains("responder SPI 0x572a8ae7557ad9ec"));
    }

    #[test]
    fn ikev1_main_mode_pair_is_a_handshake() {
        let req = ike_msg(
            [0; 8],
            VERSION_IKEV1,
            IKEV1_MAIN,
            0,
            0,
            &[(1, 48), (13, 16)],
        );
        let resp = ike_msg(RSPI, VERSION_IKEV1, IKEV1_MAIN, 0, 0, &[(1, 48), (13, 16)]);
        let b = ViewBuilder::udp(500, 500).to_server(&req).to_client(&resp);
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[0].contains("Identity Protection (Main Mode)"));
    }

    #[test]
    fn ike_behind_the_non_esp_marker_on_4500() {
        let mut req = NON_ESP_MARKER.to_vec();
        req.extend(ike_msg(
            RSPI,
            VERSION_IKEV2,
            35,
            IKEV2_FLAG_I,
            1,
            &[(46, 300)],
        ));
        let mut resp = NON_ESP_MARKER.to_vec();
        resp.extend(ike_msg(
            RSPI,
            VERSION_IKEV2,
            35,
            IKEV2_FLAG_R,
            1,
            &[(46, 180)],
        ));
        let b = ViewBuilder::udp(14500, 4500)
            .to_server(&req)
            .to_client(&resp);
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence.iter().any(|e| e.contains("non-ESP marker")));
    }

    #[test]
    fn ike_on_another_port_needs_the_whole_chain() {
        let b = ViewBuilder::udp(40000, 4501).to_server(&sa_init_request());
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence.iter().any(|e| e.contains("not 500/4500")));
        // A chain whose payload lengths overrun the message.
        let mut bad = sa_init_request();
        bad[28 + 2..28 + 4].copy_from_slice(&400u16.to_be_bytes());
        let b = ViewBuilder::udp(40000, 4501).to_server(&bad);
        assert!(Ipsec.inspect(&b.view()).is_none());
    }

    #[test]
    fn header_fields_are_validated() {
        let good = sa_init_request();
        let mut cases = Vec::new();
        let mut m = good.clone();
        m[17] = 0x21; // minor version 1
        cases.push(m);
        let mut m = good.clone();
        m[18] = 39; // unassigned exchange type
        cases.push(m);
        let mut m = good.clone();
        m[19] |= 0x01; // reserved flag bit
        cases.push(m);
        let mut m = good.clone();
        m[..8].fill(0); // no initiator SPI
        cases.push(m);
        let mut m = good.clone();
        m[27] ^= 1; // length disagrees with the datagram
        cases.push(m);
        let mut m = good.clone();
        m[28 + 1] = 0x01; // reserved bits of a generic payload header
        cases.push(m);
        let mut m = good;
        m[16] = 99; // unknown first payload
        cases.push(m);
        for m in cases {
            let b = ViewBuilder::udp(500, 500).to_server(&m);
            assert!(Ipsec.inspect(&b.view()).is_none(), "{m:02x?}");
        }
    }

    #[test]
    fn esp_both_directions_is_a_handshake() {
        let esp = |spi: u32, seq: u32| {
            let mut p = spi.to_be_bytes().to_vec();
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0x5c; 88]);
            p
        };
        let b = ViewBuilder::ip(ip_proto::ESP)
            .to_server(&esp(0x0488_8fe4, 1))
            .to_server(&esp(0x0488_8fe4, 2));
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        let b = b.to_client(&esp(0xcbb7_a0c6, 1));
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[1].contains("0x04888fe4"));
        // Reserved SPI: only a heuristic.
        let b = ViewBuilder::ip(ip_proto::ESP).to_server(&esp(10, 1));
        assert_eq!(
            Ipsec.inspect(&b.view()).unwrap().confidence,
            Confidence::Heuristic
        );
        // SPI 0 and sequence 0 are never sent; a repeated sequence number is a replay.
        for bad in [esp(0, 1), esp(300, 0)] {
            let b = ViewBuilder::ip(ip_proto::ESP).to_server(&bad);
            assert!(Ipsec.inspect(&b.view()).is_none());
        }
        let b = ViewBuilder::ip(ip_proto::ESP)
            .to_server(&esp(300, 5))
            .to_server(&esp(300, 5));
        assert!(Ipsec.inspect(&b.view()).is_none());
    }

    #[test]
    fn esp_in_udp_needs_port_4500_and_several_packets() {
        let esp = |spi: u32, seq: u32| {
            let mut p = spi.to_be_bytes().to_vec();
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0x5c; 120]);
            p
        };
        let b = ViewBuilder::udp(14500, 4500).to_server(&esp(0x0488_8fe4, 1));
        assert_eq!(
            Ipsec.inspect(&b.view()).unwrap().confidence,
            Confidence::Heuristic
        );
        let b = b
            .to_server(&[NAT_KEEPALIVE])
            .to_server(&esp(0x0488_8fe4, 2))
            .to_client(&esp(0xcbb7_a0c6, 1))
            .to_client(&esp(0xcbb7_a0c6, 2));
        let v = Ipsec.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("port 4500"));
        let b = ViewBuilder::udp(14500, 4501)
            .to_server(&esp(0x0488_8fe4, 1))
            .to_client(&esp(0xcbb7_a0c6, 1));
        assert!(Ipsec.inspect(&b.view()).is_none());
    }

    #[test]
    fn ah_packets_are_recognised_on_any_inner_protocol() {
        let one = ViewBuilder::ip(ip_proto::ICMP).ah(Dir::ToServer, 0x6048_16f6);
        let v = Ipsec.inspect(&one.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("0x604816f6"));
        assert!(v.evidence[0].contains("icmp"));
        assert!(!v.complete);

        let both = one.ah(Dir::ToClient, 0xaf86_83ef);
        let v = Ipsec.inspect(&both.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[1].contains("0x604816f6") && v.evidence[1].contains("0xaf8683ef"));

        let reserved = ViewBuilder::ip(ip_proto::TCP).ah(Dir::ToServer, 7);
        assert_eq!(
            Ipsec.inspect(&reserved.view()).unwrap().confidence,
            Confidence::Heuristic
        );
        let zero = ViewBuilder::ip(ip_proto::ICMP).ah(Dir::ToServer, 0);
        assert!(Ipsec.inspect(&zero.view()).is_none());
    }

    #[test]
    fn other_protocols_do_not_match() {
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.extend_from_slice(&[0x55; 1194]);
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let ntp = [0x23u8; 48];
        let tls = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03client-random-and-more-bytes";
        for p in [&dns[..], &quic, stun, &ntp, tls] {
            let b = ViewBuilder::udp(500, 500).to_server(p).to_client(p);
            assert!(Ipsec.inspect(&b.view()).is_none());
        }
        let b = ViewBuilder::tcp(50000, 500).to_server(&sa_init_request());
        assert!(Ipsec.inspect(&b.view()).is_none());
    }

    #[test]
    fn every_prefix_is_weaker_or_none() {
        let req = sa_init_request();
        let resp = sa_init_response();
        for cut in 0..req.len() {
            let b = ViewBuilder::udp(500, 500).to_server(&req[..cut]);
            assert!(Ipsec.inspect(&b.view()).is_none());
            let b = ViewBuilder::udp(500, 500)
                .to_server(&req[..cut])
                .to_client(&resp);
            assert!(Ipsec
                .inspect(&b.view())
                .is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }

    /// The gate never turns away a message the parser takes: arbitrary bytes, with the header's
    /// version and length set or not, at the start or behind the non-ESP marker.
    fn gate_holds(mut b: Vec<u8>, version: Option<u8>, marker: bool, extra: usize) {
        let off = if marker { 4 } else { 0 };
        if marker {
            b.splice(0..0, NON_ESP_MARKER);
        }
        let wire = b.len() + extra;
        if let Some(v) = version {
            if b.len() >= off + IKE_HEADER_LEN {
                b[off + OFF_VERSION] = v;
                let len = u32::try_from(wire - off).unwrap();
                b[off + OFF_LENGTH..off + OFF_LENGTH + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
        for whole in [false, true] {
            if parse_ike(&b, wire, whole).is_some() {
                assert!(may_be_ike(&b, wire), "{b:02x?} {wire}");
            }
        }
    }

    #[test]
    fn the_gate_passes_every_message_the_tests_parse() {
        for m in [sa_init_request(), sa_init_response()] {
            assert!(parse_ike(&m, m.len(), true).is_some());
            assert!(may_be_ike(&m, m.len()));
            let mut behind = NON_ESP_MARKER.to_vec();
            behind.extend_from_slice(&m);
            assert!(may_be_ike(&behind, behind.len()));
            assert!(!may_be_ike(&m, m.len() + 1));
            gate_holds(m.clone(), None, false, 0);
            gate_holds(m, None, true, 0);
        }
    }

    proptest::proptest! {
        #[test]
        fn the_gate_never_rejects_what_the_parser_takes(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            version in proptest::prop_oneof![
                proptest::strategy::Just(None),
                proptest::strategy::Just(Some(VERSION_IKEV1)),
                proptest::strategy::Just(Some(VERSION_IKEV2)),
            ],
            marker in proptest::prelude::any::<bool>(),
            extra in 0usize..3,
        ) {
            gate_holds(b, version, marker, extra);
        }

        /// Arbitrary datagrams both ways never panic and never make a handshake.
        #[test]
        fn arbitrary_bytes_are_never_a_handshake(
            c in crate::detect::testing::datagrams(),
            s in crate::detect::testing::datagrams(),
        ) {
            let b = crate::detect::testing::udp_exchange(500, 500, &c, &s);
            let v = Ipsec.inspect(&b.view());
            proptest::prop_assert!(v.is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }
}
