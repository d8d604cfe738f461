//! OpenVPN in TLS mode, over UDP and over TCP.
//!
//! Facts used (OpenVPN `ssl_pkt.h`, the protocol description in the OpenVPN RFC draft and the
//! MirageVPN protocol notes, Wireshark `packet-openvpn.c`):
//! - every packet opens with one byte: opcode in the high 5 bits, key id in the low 3. A session
//!   starts with P_CONTROL_HARD_RESET_CLIENT_V2 (7) or _V3 (10, tls-crypt-v2) from the client,
//!   answered by P_CONTROL_HARD_RESET_SERVER_V2 (8); both use key id 0;
//! - a control packet continues with the sender's random 8-byte session id, then, depending on
//!   the configuration: nothing (plain); an HMAC, a 4-byte replay id and a 4-byte time
//!   (`tls-auth`); or the replay id and time followed by a 32-byte tag and an encrypted remainder
//!   (`tls-crypt`, `tls-crypt-v2`);
//! - the (plain or tls-auth) remainder is an ack count, the acked sequence numbers, the peer's
//!   session id when the count is non-zero, and the packet's own sequence number, which starts at
//!   0 (or at 0x0f000000 when the client offers early negotiation); resets carry nothing else but
//!   optional TLVs;
//! - a client V3 reset ends with the wrapped client key, whose last two bytes give its length;
//! - over TCP every packet is preceded by its 2-byte big-endian length.
//!
//! Why this is reliable: the client reset has an exact length for each configuration, so the
//! HMAC size is found by the layout that makes every field land where it must (replay id 1..16,
//! a time after 2005, no acks, sequence 0). The server's reset then must acknowledge the client's
//! sequence number and name the client's 8-byte session id, which unrelated traffic does not do
//! by chance: that pair is a Handshake. With tls-crypt the acknowledgement is encrypted, so the
//! pair is tied by the layout, the replay ids and the two clocks instead.
//!
//! A capture that holds only the server's direction (asymmetric routing, a tap on one link of
//! the pair) still shows the session: the server's reset names the client's session id and
//! acknowledges its sequence number 0, and its next control packets of the same session carry
//! the TLS handshake. That shape is a Signature; without the TLS records it is not judged.
//!
//! Not recognised: static-key mode (no control channel), a capture that starts after the
//! handshake (data channel only), and "obfuscated" forks that scramble the opcode byte.

use super::{be16, be32, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// P_CONTROL_SOFT_RESET_V1 (`ssl_pkt.h`).
const P_CONTROL_SOFT_RESET_V1: u8 = 3;
/// P_CONTROL_V1: reliable control packet carrying TLS records.
const P_CONTROL_V1: u8 = 4;
/// P_ACK_V1: acknowledgement only, no sequence number of its own.
const P_ACK_V1: u8 = 5;
/// P_CONTROL_HARD_RESET_CLIENT_V2: the client's first packet.
const P_CONTROL_HARD_RESET_CLIENT_V2: u8 = 7;
/// P_CONTROL_HARD_RESET_SERVER_V2: the server's answer.
const P_CONTROL_HARD_RESET_SERVER_V2: u8 = 8;
/// P_CONTROL_HARD_RESET_CLIENT_V3: the client's first packet with tls-crypt-v2.
const P_CONTROL_HARD_RESET_CLIENT_V3: u8 = 10;
/// P_CONTROL_WKC_V1: a control packet with the wrapped client key appended.
const P_CONTROL_WKC_V1: u8 = 11;
/// Opcode is the high 5 bits of the first byte (`P_OPCODE_SHIFT`).
const OPCODE_SHIFT: u8 = 3;
/// Key id is the low 3 bits (`P_KEY_ID_MASK`); 0 is the first session's.
const KEY_ID_MASK: u8 = 0x07;

/// Session id length.
const SID_LEN: usize = 8;
/// Offset of the session id, after the opcode byte.
const OFF_SID: usize = 1;
/// A packet id: acked ids, sequence numbers and replay ids are 32-bit (`packet_id.h`).
const PACKET_ID_LEN: usize = 4;
/// Replay id plus time (the "long form" packet id of tls-auth and tls-crypt).
const REPLAY_LEN: usize = 2 * PACKET_ID_LEN;
/// Offset of the replay id in a tls-crypt packet, right after the session id.
const OFF_TLS_CRYPT_REPLAY: usize = OFF_SID + SID_LEN;
/// Ack count byte before the ack array.
const ACK_COUNT_LEN: usize = 1;
/// HMAC sizes `tls-auth` may use: MD5, SHA1, SHA224, SHA256, SHA384, SHA512 (`--auth`).
const HMAC_SIZES: [usize; 6] = [16, 20, 28, 32, 48, 64];
/// tls-crypt authentication tag (HMAC-SHA256, `tls_crypt.h` TLS_CRYPT_TAG_SIZE).
const TLS_CRYPT_TAG_LEN: usize = 32;
/// Plain bytes before the encrypted part of a tls-crypt packet.
const TLS_CRYPT_HEADER_LEN: usize = 1 + SID_LEN + REPLAY_LEN + TLS_CRYPT_TAG_LEN;
/// Encrypted body of a client reset: ack count 0 and a sequence number.
const CLIENT_RESET_BODY_LEN: usize = ACK_COUNT_LEN + PACKET_ID_LEN;
/// Encrypted body of a server reset: one ack, the peer session id, a sequence number.
const SERVER_RESET_BODY_LEN: usize = ACK_COUNT_LEN + PACKET_ID_LEN + SID_LEN + PACKET_ID_LEN;
/// Room for optional TLVs after a reset body (early negotiation uses 6 bytes).
const TLV_AREA_MAX: usize = 64;
/// TLVs accepted after a reset.
const TLV_COUNT_MAX: usize = 4;
/// TLV header: type and length, 2 bytes each.
const TLV_HEADER_LEN: usize = 4;
/// Offset of a TLV's length within its header.
const OFF_TLV_LEN: usize = 2;
/// Largest ack array (`RELIABLE_ACK_SIZE`).
const ACK_COUNT_MAX: u8 = 8;
/// Initial sequence number of a client offering early negotiation (`EARLY_NEG_START`).
const EARLY_NEG_START: u32 = 0x0f00_0000;
/// Replay ids count every control packet from 1; a (re)sent reset has a small one.
const REPLAY_ID_EARLY_MAX: u32 = 16;
/// 2005-01-01T00:00:00Z: the replay "time" is the sender's clock in Unix seconds, and OpenVPN
/// 2.0 (key method 2) dates from 2005.
const NET_TIME_FLOOR: u32 = 1_104_537_600;
/// Largest difference between the two peers' reset times for a tls-crypt pair: a day.
const CLOCK_SKEW_MAX: u32 = 86_400;
/// The client key a tls-crypt-v2 wrapped key encrypts: four 64-byte keys (`tls_crypt.h`).
const TLS_CRYPT_V2_KEY_LEN: usize = 256;
/// The wrapped key's trailing 16-bit length field.
const WKC_LEN_FIELD: usize = 2;
/// Smallest wrapped client key: tag, client key, length field.
const WKC_MIN: usize = TLS_CRYPT_TAG_LEN + TLS_CRYPT_V2_KEY_LEN + WKC_LEN_FIELD;
/// Largest wrapped client key (`TLS_CRYPT_V2_MAX_WKC_LEN`).
const WKC_MAX: usize = 1024;
/// TCP framing: a 2-byte length before every packet.
const TCP_LEN_PREFIX: usize = 2;
/// Packets examined per direction.
const PACKETS_MAX: usize = 8;

/// Recognises the OpenVPN control-channel handshake.
pub(crate) struct OpenVpn;

impl Detector for OpenVpn {
    fn name(&self) -> &'static str {
        "openvpn"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let tcp = match view.proto {
            ip_proto::TCP => true,
            ip_proto::UDP => false,
            _ => return None,
        };
        let Some(first) = Packets::new(view.to_server, tcp).next() else {
            return lone_server(view.to_client, tcp);
        };
        if !matches!(opcode_key(first.0), Some((op, 0)) if is_client_reset(op)) {
            return None;
        }
        let (reset, wrap, n) = Packets::new(view.to_server, tcp)
            .enumerate()
            .find_map(|(i, (b, len))| client_reset(b, len).map(|(c, w)| (c, w, i)))?;
        let client_fact = describe_client(&reset, wrap, tcp);
        if let Some(server) = Packets::new(view.to_client, tcp)
            .find_map(|(b, len)| server_reset(b, len, wrap, &reset))
        {
            return Some(
                Verdict::new(Kind::VpnTunnel, "openvpn", Confidence::Handshake)
                    .with(client_fact)
                    .with(server)
                    .done(),
            );
        }
        if wrap == Wrap::TlsCrypt && reset.opcode == P_CONTROL_HARD_RESET_CLIENT_V2 {
            // Only the opcode, the length and a clock are visible: too little on its own.
            return None;
        }
        let confidence = client_only_confidence(view.to_server, tcp, wrap, &reset, n);
        let v = Verdict::new(Kind::VpnTunnel, "openvpn", confidence).with(client_fact);
        Some(
            if confidence == Confidence::Signature && wrap == Wrap::Plain {
                v.with("later client control packets keep the same session id")
            } else {
                v
            },
        )
    }
}

/// TLS record content type handshake, opening the TLS bytes a P_CONTROL_V1 carries.
const TLS_HANDSHAKE_RECORD: [u8; 2] = [0x16, 0x03];

/// The server half of a session whose client half was not captured: a server reset (plain or
/// tls-auth) acknowledging sequence number 0 of another, non-zero session id, and a later
/// P_CONTROL_V1 of the same session carrying a TLS handshake record.
fn lone_server(side: Side<'_>, tcp: bool) -> Option<Verdict> {
    let (b, len) = Packets::new(side, tcp).next()?;
    if opcode_key(b)? != (P_CONTROL_HARD_RESET_SERVER_V2, 0) {
        return None;
    }
    let (reset, wrap) = plain_wraps().find_map(|wrap| {
        let c = plain_server_reset(b, len, wrap)?;
        let ok = c.acks == 1
            && matches!(c.first_ack, Some(0 | EARLY_NEG_START))
            && c.peer_sid.is_some_and(|p| p.iter().any(|&x| x != 0));
        ok.then_some((c, wrap))
    })?;
    let tls_seq = Packets::new(side, tcp).skip(1).find_map(|(b, len)| {
        let c = parse(b, len, wrap)?;
        let carries_tls =
            b.get(c.end..c.end + TLS_HANDSHAKE_RECORD.len()) == Some(&TLS_HANDSHAKE_RECORD[..]);
        (c.opcode == P_CONTROL_V1 && c.sid == reset.sid && carries_tls).then_some(c.seq)
    })?;
    Some(
        Verdict::new(Kind::VpnTunnel, "openvpn", Confidence::Signature)
            .with(format!(
                "{} from server acknowledges client session {} (server session {}, {}, {len} bytes)",
                opcode_name(P_CONTROL_HARD_RESET_SERVER_V2),
                sid_hex(reset.peer_sid.unwrap_or_default()),
                sid_hex(reset.sid),
                wrap.describe(),
            ))
            .with(format!(
                "P_CONTROL_V1 of the same session (sequence {}) carries a TLS handshake record",
                tls_seq.unwrap_or(0)
            ))
            .with("server's direction only: the client's packets were not captured"),
    )
}

/// The evidence line for the client's reset.
fn describe_client(reset: &Control<'_>, wrap: Wrap, tcp: bool) -> String {
    format!(
        "{} from client (key_id 0, session {}, {}, {} bytes) {}",
        opcode_name(reset.opcode),
        sid_hex(reset.sid),
        wrap.describe(),
        reset.len,
        if tcp {
            "over TCP (2-byte length framing)"
        } else {
            "over UDP"
        },
    )
}

/// How the control channel is wrapped, as found from the client's reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrap {
    /// No tls-auth or tls-crypt.
    Plain,
    /// tls-auth with an HMAC of this many bytes.
    TlsAuth(usize),
    /// tls-crypt or tls-crypt-v2.
    TlsCrypt,
}

impl Wrap {
    fn describe(self) -> String {
        match self {
            Wrap::Plain => "no tls-auth".into(),
            Wrap::TlsAuth(h) => format!("tls-auth HMAC {h} bytes"),
            Wrap::TlsCrypt => "tls-crypt".into(),
        }
    }
}

/// The fields of a control packet that the checks use.
#[derive(Clone, Copy, Debug)]
struct Control<'a> {
    opcode: u8,
    sid: &'a [u8],
    replay: Option<(u32, u32)>,
    acks: u8,
    first_ack: Option<u32>,
    peer_sid: Option<&'a [u8]>,
    seq: Option<u32>,
    /// Bytes after the parsed fields (TLVs, TLS records), by wire length.
    rest: usize,
    /// Offset of the first byte after the parsed fields.
    end: usize,
    len: usize,
}

/// The packets of one side: datagrams for UDP, length-framed records for TCP.
struct Packets<'a> {
    side: Side<'a>,
    tcp: bool,
    i: usize,
    off: usize,
}

impl<'a> Packets<'a> {
    fn new(side: Side<'a>, tcp: bool) -> Packets<'a> {
        Packets {
            side,
            tcp,
            i: 0,
            off: 0,
        }
    }
}

impl<'a> Iterator for Packets<'a> {
    /// Kept bytes of the packet and its length on the wire.
    type Item = (&'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.i >= PACKETS_MAX {
            return None;
        }
        self.i += 1;
        if !self.tcp {
            let i = self.i - 1;
            return Some((self.side.segment(i)?, self.side.wire_len(i)?));
        }
        let data = self.side.data();
        let len = usize::from(be16(data, self.off)?);
        let start = self.off + TCP_LEN_PREFIX;
        let end = start + len;
        let kept = data.get(start..end.min(data.len()))?;
        self.off = end;
        Some((kept, len))
    }
}

/// Opcode and key id of a packet.
fn opcode_key(b: &[u8]) -> Option<(u8, u8)> {
    let &h = b.first()?;
    Some((h >> OPCODE_SHIFT, h & KEY_ID_MASK))
}

fn is_client_reset(op: u8) -> bool {
    op == P_CONTROL_HARD_RESET_CLIENT_V2 || op == P_CONTROL_HARD_RESET_CLIENT_V3
}

/// Parses a plain or tls-auth control packet (not tls-crypt: its body is encrypted).
fn parse(b: &[u8], len: usize, wrap: Wrap) -> Option<Control<'_>> {
    let (opcode, _) = opcode_key(b)?;
    if !matches!(
        opcode,
        P_CONTROL_SOFT_RESET_V1
            | P_CONTROL_V1
            | P_ACK_V1
            | P_CONTROL_HARD_RESET_CLIENT_V2
            | P_CONTROL_HARD_RESET_SERVER_V2
            | P_CONTROL_HARD_RESET_CLIENT_V3
            | P_CONTROL_WKC_V1
    ) {
        return None;
    }
    let sid = session_id(b)?;
    let mut off = OFF_SID + SID_LEN;
    let replay = match wrap {
        Wrap::Plain => None,
        Wrap::TlsAuth(h) => {
            off += h;
            let r = (be32(b, off)?, be32(b, off + PACKET_ID_LEN)?);
            off += REPLAY_LEN;
            Some(r)
        }
        Wrap::TlsCrypt => return None,
    };
    let acks = *b.get(off)?;
    if acks > ACK_COUNT_MAX {
        return None;
    }
    off += ACK_COUNT_LEN;
    let first_ack = if acks > 0 { Some(be32(b, off)?) } else { None };
    off += PACKET_ID_LEN * usize::from(acks);
    let peer_sid = if acks > 0 {
        let p = b.get(off..off + SID_LEN)?;
        off += SID_LEN;
        Some(p)
    } else {
        None
    };
    let seq = if opcode == P_ACK_V1 {
        None
    } else {
        let s = be32(b, off)?;
        off += PACKET_ID_LEN;
        Some(s)
    };
    let rest = len.checked_sub(off)?;
    Some(Control {
        opcode,
        sid,
        replay,
        acks,
        first_ack,
        peer_sid,
        seq,
        rest,
        end: off,
        len,
    })
}

/// The 8-byte session id, which a random generator never makes all zero.
fn session_id(b: &[u8]) -> Option<&[u8]> {
    b.get(OFF_SID..OFF_SID + SID_LEN)
        .filter(|s| s.iter().any(|&x| x != 0))
}

/// Whether `rest` bytes from `off` are nothing or a short run of well-formed TLVs.
fn tlvs_ok(b: &[u8], off: usize, rest: usize) -> bool {
    if rest == 0 {
        return true;
    }
    if rest > TLV_AREA_MAX {
        return false;
    }
    let end = off + rest;
    let mut at = off;
    for _ in 0..TLV_COUNT_MAX {
        let Some(vlen) = be16(b, at + OFF_TLV_LEN) else {
            return false;
        };
        at += TLV_HEADER_LEN + usize::from(vlen);
        if at == end {
            return true;
        }
        if at > end {
            return false;
        }
    }
    false
}

/// A replay id and time as a sender's first control packets carry them.
fn early_replay(r: Option<(u32, u32)>) -> bool {
    matches!(r, Some((id, t)) if (1..=REPLAY_ID_EARLY_MAX).contains(&id) && t >= NET_TIME_FLOOR)
}

/// The client's hard reset and the control-channel wrapping its layout reveals.
fn client_reset(b: &[u8], len: usize) -> Option<(Control<'_>, Wrap)> {
    let (op, key) = opcode_key(b)?;
    if key != 0 || !is_client_reset(op) {
        return None;
    }
    if op == P_CONTROL_HARD_RESET_CLIENT_V3 {
        return tls_crypt_reset(b, len, true).map(|c| (c, Wrap::TlsCrypt));
    }
    for wrap in plain_wraps() {
        let Some(c) = parse(b, len, wrap) else {
            continue;
        };
        let seq_ok = matches!(c.seq, Some(0 | EARLY_NEG_START));
        let replay_ok = wrap == Wrap::Plain || early_replay(c.replay);
        if c.acks == 0 && seq_ok && replay_ok && tlvs_ok(b, c.end, c.rest) {
            return Some((c, wrap));
        }
    }
    tls_crypt_reset(b, len, false).map(|c| (c, Wrap::TlsCrypt))
}

/// A tls-crypt client reset: replay id, time, tag, and an encrypted body of the reset's size
/// (for V3, followed by the wrapped client key whose last two bytes give its length).
fn tls_crypt_reset(b: &[u8], len: usize, v3: bool) -> Option<Control<'_>> {
    let sid = session_id(b)?;
    let replay = (
        be32(b, OFF_TLS_CRYPT_REPLAY)?,
        be32(b, OFF_TLS_CRYPT_REPLAY + PACKET_ID_LEN)?,
    );
    if replay.0 == 0 || replay.1 < NET_TIME_FLOOR {
        return None;
    }
    let body_end = if v3 {
        let wkc = usize::from(be16(b, len.checked_sub(WKC_LEN_FIELD)?)?);
        if !(WKC_MIN..=WKC_MAX).contains(&wkc) {
            return None;
        }
        len.checked_sub(wkc)?
    } else {
        len
    };
    let body = body_end.checked_sub(TLS_CRYPT_HEADER_LEN)?;
    if !(CLIENT_RESET_BODY_LEN..=CLIENT_RESET_BODY_LEN + TLV_AREA_MAX).contains(&body) {
        return None;
    }
    Some(Control {
        opcode: if v3 {
            P_CONTROL_HARD_RESET_CLIENT_V3
        } else {
            P_CONTROL_HARD_RESET_CLIENT_V2
        },
        sid,
        replay: Some(replay),
        acks: 0,
        first_ack: None,
        peer_sid: None,
        seq: None,
        rest: 0,
        end: TLS_CRYPT_HEADER_LEN,
        len,
    })
}

/// The server's hard reset answering `client`, as one evidence line.
fn server_reset(b: &[u8], len: usize, wrap: Wrap, client: &Control<'_>) -> Option<String> {
    let (op, key) = opcode_key(b)?;
    if op != P_CONTROL_HARD_RESET_SERVER_V2 || key != 0 {
        return None;
    }
    if wrap == Wrap::TlsCrypt {
        return tls_crypt_server_reset(b, len, client);
    }
    let s = plain_server_reset(b, len, wrap)?;
    if s.first_ack != client.seq || s.peer_sid != Some(client.sid) {
        return None;
    }
    Some(format!(
        "{} from server acknowledges client session {} (server session {}, {len} bytes)",
        opcode_name(s.opcode),
        sid_hex(client.sid),
        sid_hex(s.sid),
    ))
}

/// The wrappings whose control packets `parse` reads, tls-auth HMAC sizes first.
fn plain_wraps() -> impl Iterator<Item = Wrap> {
    HMAC_SIZES
        .iter()
        .map(|&h| Wrap::TlsAuth(h))
        .chain([Wrap::Plain])
}

/// A plain or tls-auth server hard reset's layout under `wrap`: sequence number 0, at least one
/// acknowledgement naming a peer session other than its own, an early replay id under tls-auth,
/// and nothing after it but TLVs. Which client it answers is for the caller to check.
fn plain_server_reset(b: &[u8], len: usize, wrap: Wrap) -> Option<Control<'_>> {
    let s = parse(b, len, wrap)?;
    let acked = s.acks >= 1 && s.peer_sid.is_some_and(|p| p != s.sid);
    let replay_ok = wrap == Wrap::Plain || early_replay(s.replay);
    (s.opcode == P_CONTROL_HARD_RESET_SERVER_V2
        && acked
        && s.seq == Some(0)
        && replay_ok
        && tlvs_ok(b, s.end, s.rest))
    .then_some(s)
}

/// A tls-crypt server reset: its acknowledgement is encrypted, so it is tied to the client's by
/// size, a fresh replay id and a clock close to the client's.
fn tls_crypt_server_reset(b: &[u8], len: usize, client: &Control<'_>) -> Option<String> {
    let sid = session_id(b)?;
    let (id, time) = (
        be32(b, OFF_TLS_CRYPT_REPLAY)?,
        be32(b, OFF_TLS_CRYPT_REPLAY + PACKET_ID_LEN)?,
    );
    let (_, ctime) = client.replay?;
    let body = len.checked_sub(TLS_CRYPT_HEADER_LEN)?;
    let sized = (SERVER_RESET_BODY_LEN..=SERVER_RESET_BODY_LEN + TLV_AREA_MAX).contains(&body);
    if !sized
        || sid == client.sid
        || !(1..=REPLAY_ID_EARLY_MAX).contains(&id)
        || time.abs_diff(ctime) > CLOCK_SKEW_MAX
    {
        return None;
    }
    Some(format!(
        "{} from server (tls-crypt, session {}, replay id {id}, clock {}s from the client's, {len} bytes)",
        opcode_name(P_CONTROL_HARD_RESET_SERVER_V2),
        sid_hex(sid),
        time.abs_diff(ctime),
    ))
}

/// Confidence from the client side alone: tls-auth and tls-crypt-v2 resets validate enough
/// fields for a Signature; a plain reset needs a later client control packet with the same
/// session id.
fn client_only_confidence(
    side: Side<'_>,
    tcp: bool,
    wrap: Wrap,
    reset: &Control<'_>,
    idx: usize,
) -> Confidence {
    let strong = matches!(wrap, Wrap::TlsAuth(_)) || reset.opcode == P_CONTROL_HARD_RESET_CLIENT_V3;
    let followed = wrap != Wrap::TlsCrypt
        && Packets::new(side, tcp).skip(idx + 1).any(|(b, len)| {
            parse(b, len, wrap)
                .is_some_and(|c| c.sid == reset.sid && matches!(c.opcode, P_CONTROL_V1 | P_ACK_V1))
        });
    if strong || followed {
        Confidence::Signature
    } else {
        Confidence::Heuristic
    }
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        P_CONTROL_HARD_RESET_CLIENT_V2 => "P_CONTROL_HARD_RESET_CLIENT_V2",
        P_CONTROL_HARD_RESET_CLIENT_V3 => "P_CONTROL_HARD_RESET_CLIENT_V3",
        P_CONTROL_HARD_RESET_SERVER_V2 => "P_CONTROL_HARD_RESET_SERVER_V2",
        _ => "control packet",
    }
}

/// A session id in hex (8 bytes: bounded).
fn sid_hex(sid: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * SID_LEN);
    s.push_str("0x");
    crate::hex::push(&mut s, sid.get(..SID_LEN).unwrap_or(sid));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    const CSID: [u8; 8] = [0xd6, 0x7b, 0xe4, 0x5b, 0xe5, 0xc2, 0x01, 0xeb];
    const SSID: [u8; 8] = [0x19, 0x08, 0x2e, 0x80, 0xf9, 0xca, 0x52, 0x80];
    /// 2020-02-08, as a replay "time".
    const TIME: u32 = 0x5e3e_7b98;

    /// Opcode byte, key id 0.
    fn head(op: u8) -> u8 {
        op << OPCODE_SHIFT
    }

    /// Client hard reset: opcode 0, session id 1..9, [HMAC, replay id, time], ack count, seq.
    fn client_reset_pkt(hmac: Option<usize>) -> Vec<u8> {
        let mut p = vec![head(P_CONTROL_HARD_RESET_CLIENT_V2)];
        p.extend_from_slice(&CSID);
        if let Some(h) = hmac {
            p.extend(std::iter::repeat_n(0x9e, h));
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&TIME.to_be_bytes());
        }
        p.push(0); // no acks
        p.extend_from_slice(&0u32.to_be_bytes()); // message sequence number
        p
    }

    /// Server hard reset: own session id, [HMAC, replay], one ack (seq 0), client session, seq 0.
    fn server_reset_pkt(hmac: Option<usize>, peer: [u8; 8]) -> Vec<u8> {
        let mut p = vec![head(P_CONTROL_HARD_RESET_SERVER_V2)];
        p.extend_from_slice(&SSID);
        if let Some(h) = hmac {
            p.extend(std::iter::repeat_n(0x21, h));
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&TIME.to_be_bytes());
        }
        p.push(1);
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&peer);
        p.extend_from_slice(&0u32.to_be_bytes());
        p
    }

    fn framed(p: &[u8]) -> Vec<u8> {
        let mut f = (p.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(p);
        f
    }

    #[test]
    fn plain_reset_pair_over_udp_is_a_handshake() {
        let b = ViewBuilder::udp(51146, 1194)
            .to_server(&client_reset_pkt(None))
            .to_client(&server_reset_pkt(None, CSID));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence[0].contains("P_CONTROL_HARD_RESET_CLIENT_V2"));
        assert!(v.evidence[0].contains("no tls-auth"));
        assert!(v.evidence[1].contains("0xd67be45be5c201eb"));
    }

    /// The server's P_CONTROL_V1 with sequence 1: acknowledges the client's packet 1 and
    /// carries the start of a TLS ServerHello record.
    fn server_tls_pkt(hmac: Option<usize>) -> Vec<u8> {
        let mut p = vec![head(P_CONTROL_V1)];
        p.extend_from_slice(&SSID);
        if let Some(h) = hmac {
            p.extend(std::iter::repeat_n(0x22, h));
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend_from_slice(&TIME.to_be_bytes());
        }
        p.push(1);
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&CSID);
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&[
            0x16, 0x03, 0x03, 0x00, 0x5d, 0x02, 0x00, 0x00, 0x59, 0x03, 0x03,
        ]);
        p
    }

    /// Only the server's direction captured (the flow table took the server's port as the
    /// responder's): its reset naming the client's session and a TLS-carrying control packet
    /// are a signature, over UDP plain and tls-auth, and over TCP.
    #[test]
    fn the_server_half_alone_is_a_signature() {
        for hmac in [None, Some(20), Some(64)] {
            let b = ViewBuilder::udp(60201, 1194)
                .to_client(&server_reset_pkt(hmac, CSID))
                .to_client(&server_tls_pkt(hmac));
            let v = OpenVpn.inspect(&b.view()).unwrap();
            assert_eq!(v.confidence, Confidence::Signature, "{hmac:?}");
            assert!(!v.complete);
            assert!(v.evidence[0].contains("client session 0xd67be45be5c201eb"));
            assert!(v.evidence[1].contains("sequence 1"));
            assert!(v.evidence[2].contains("server's direction only"));
        }
        let b = ViewBuilder::tcp(60201, 443)
            .to_client(&framed(&server_reset_pkt(None, CSID)))
            .to_client(&framed(&server_tls_pkt(None)));
        assert!(OpenVpn.inspect(&b.view()).is_some());
    }

    #[test]
    fn the_server_half_alone_needs_its_tls_and_a_reset_of_session_zero() {
        // The reset alone.
        let b = ViewBuilder::udp(60201, 1194).to_client(&server_reset_pkt(None, CSID));
        assert!(OpenVpn.inspect(&b.view()).is_none());
        // A control packet without TLS bytes.
        let mut no_tls = server_tls_pkt(None);
        no_tls.truncate(no_tls.len() - 11);
        no_tls.extend_from_slice(b"GET / HTTP/1.1");
        let b = ViewBuilder::udp(60201, 1194)
            .to_client(&server_reset_pkt(None, CSID))
            .to_client(&no_tls);
        assert!(OpenVpn.inspect(&b.view()).is_none());
        // A reset acknowledging sequence 5, naming a zero session, or naming its own.
        let mut late = server_reset_pkt(None, CSID);
        late[13] = 5;
        for reset in [
            late,
            server_reset_pkt(None, [0; 8]),
            server_reset_pkt(None, SSID),
        ] {
            let b = ViewBuilder::udp(60201, 1194)
                .to_client(&reset)
                .to_client(&server_tls_pkt(None));
            assert!(OpenVpn.inspect(&b.view()).is_none());
        }
    }

    #[test]
    fn server_reset_must_name_the_client_session() {
        let mut other = CSID;
        other[7] ^= 1;
        let b = ViewBuilder::udp(51146, 1194)
            .to_server(&client_reset_pkt(None))
            .to_client(&server_reset_pkt(None, other));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        assert!(!v.complete);
    }

    #[test]
    fn plain_client_reset_followed_by_control_is_a_signature() {
        let mut ack = vec![head(P_ACK_V1)];
        ack.extend_from_slice(&CSID);
        ack.push(1);
        ack.extend_from_slice(&0u32.to_be_bytes());
        ack.extend_from_slice(&SSID);
        let b = ViewBuilder::udp(51146, 1194)
            .to_server(&client_reset_pkt(None))
            .to_server(&ack);
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn tls_auth_over_tcp_finds_the_hmac_size() {
        for h in HMAC_SIZES {
            let b = ViewBuilder::tcp(52973, 443)
                .to_server(&framed(&client_reset_pkt(Some(h))))
                .to_client(&framed(&server_reset_pkt(Some(h), CSID)));
            let v = OpenVpn.inspect(&b.view()).unwrap();
            assert_eq!(v.confidence, Confidence::Handshake, "hmac {h}");
            assert!(v.evidence[0].contains(&format!("tls-auth HMAC {h} bytes")));
            assert!(v.evidence[0].contains("over TCP"));
        }
        // A client reset alone with tls-auth is a signature.
        let b = ViewBuilder::tcp(52973, 443).to_server(&framed(&client_reset_pkt(Some(20))));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
    }

    #[test]
    fn tcp_reset_split_into_small_segments_is_reassembled() {
        let f = framed(&client_reset_pkt(Some(64)));
        let mut b = ViewBuilder::tcp(48072, 443);
        for chunk in f.chunks(9) {
            b = b.to_server(chunk);
        }
        let b = b.to_client(&framed(&server_reset_pkt(Some(64), CSID)));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
    }

    #[test]
    fn tcp_length_must_frame_the_packet() {
        let mut f = framed(&client_reset_pkt(Some(20)));
        f[1] += 1;
        let b = ViewBuilder::tcp(52973, 1194).to_server(&f);
        assert!(OpenVpn.inspect(&b.view()).is_none());
    }

    /// tls-crypt-v2 client reset: header, replay id/time, 32-byte tag, 5 encrypted bytes, then
    /// the wrapped client key whose last two bytes are its length.
    fn v3_reset(wkc: usize) -> Vec<u8> {
        let mut p = vec![head(P_CONTROL_HARD_RESET_CLIENT_V3)];
        p.extend_from_slice(&CSID);
        p.extend_from_slice(&0x0a01_0001u32.to_be_bytes());
        p.extend_from_slice(&TIME.to_be_bytes());
        p.extend_from_slice(&[0x62; TLS_CRYPT_TAG_LEN + CLIENT_RESET_BODY_LEN]);
        p.extend(std::iter::repeat_n(0x77, wkc - 2));
        p.extend_from_slice(&(wkc as u16).to_be_bytes());
        p
    }

    fn tls_crypt_server(time: u32, tlv: bool) -> Vec<u8> {
        let mut p = vec![head(P_CONTROL_HARD_RESET_SERVER_V2)];
        p.extend_from_slice(&SSID);
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&time.to_be_bytes());
        let body = SERVER_RESET_BODY_LEN + if tlv { 6 } else { 0 };
        p.extend(std::iter::repeat_n(0x3c, TLS_CRYPT_TAG_LEN + body));
        p
    }

    #[test]
    fn tls_crypt_v2_pair_is_a_handshake() {
        let b = ViewBuilder::udp(56256, 1194).to_server(&v3_reset(299));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[0].contains("P_CONTROL_HARD_RESET_CLIENT_V3"));
        let b = b.to_client(&tls_crypt_server(TIME + 1, true));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        // A server clock two days away does not pair.
        let b = ViewBuilder::udp(56256, 1194)
            .to_server(&v3_reset(299))
            .to_client(&tls_crypt_server(TIME + 2 * CLOCK_SKEW_MAX, false));
        assert_eq!(
            OpenVpn.inspect(&b.view()).unwrap().confidence,
            Confidence::Signature
        );
        // A wrapped key length that does not fit the datagram.
        let mut bad = v3_reset(299);
        let n = bad.len();
        bad[n - 2..].copy_from_slice(&100u16.to_be_bytes());
        let b = ViewBuilder::udp(56256, 1194).to_server(&bad);
        assert!(OpenVpn.inspect(&b.view()).is_none());
    }

    #[test]
    fn tls_crypt_v1_reset_needs_the_server() {
        let mut p = vec![head(P_CONTROL_HARD_RESET_CLIENT_V2)];
        p.extend_from_slice(&CSID);
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&TIME.to_be_bytes());
        p.extend_from_slice(&[0xe1; TLS_CRYPT_TAG_LEN + CLIENT_RESET_BODY_LEN]);
        let b = ViewBuilder::udp(40000, 1194).to_server(&p);
        assert!(OpenVpn.inspect(&b.view()).is_none());
        let b = b.to_client(&tls_crypt_server(TIME, false));
        let v = OpenVpn.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[0].contains("tls-crypt"));
    }

    #[test]
    fn other_protocols_do_not_match() {
        let tls = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03client-random-and-more-bytes";
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let dns_tcp = b"\x00\x1d\x38\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        for p in [&tls[..], http, dns_tcp] {
            let b = ViewBuilder::tcp(50000, 443).to_server(p).to_client(p);
            assert!(OpenVpn.inspect(&b.view()).is_none());
        }
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.extend_from_slice(&[0x55; 1194]);
        let dns = b"\x38\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        for p in [&stun[..], &quic, dns] {
            let b = ViewBuilder::udp(50000, 1194).to_server(p).to_client(p);
            assert!(OpenVpn.inspect(&b.view()).is_none());
        }
        // Right first byte, random rest.
        let mut rnd = vec![0x38];
        rnd.extend((0..60u8).map(|i| i.wrapping_mul(97).wrapping_add(13)));
        let b = ViewBuilder::udp(50000, 1194).to_server(&rnd);
        assert!(OpenVpn.inspect(&b.view()).is_none());
        // A reset with key id 1 is not a session start.
        let mut k1 = client_reset_pkt(Some(20));
        k1[0] |= 1;
        let b = ViewBuilder::udp(50000, 1194).to_server(&k1);
        assert!(OpenVpn.inspect(&b.view()).is_none());
    }

    #[test]
    fn every_prefix_is_weaker_or_none() {
        let c = client_reset_pkt(Some(20));
        let s = server_reset_pkt(Some(20), CSID);
        for cut in 0..c.len() {
            let b = ViewBuilder::udp(1, 2).to_server(&c[..cut]).to_client(&s);
            assert!(OpenVpn.inspect(&b.view()).is_none());
        }
        for cut in 0..s.len() {
            let b = ViewBuilder::udp(1, 2).to_server(&c).to_client(&s[..cut]);
            let v = OpenVpn.inspect(&b.view()).unwrap();
            assert_eq!(v.confidence, Confidence::Signature);
        }
        let f = framed(&c);
        for cut in 0..f.len() {
            let b = ViewBuilder::tcp(1, 2).to_server(&f[..cut]);
            assert!(OpenVpn.inspect(&b.view()).is_none());
        }
    }

    proptest::proptest! {
        /// Arbitrary datagrams both ways never panic and never make a handshake.
        #[test]
        fn arbitrary_bytes_are_never_a_handshake(
            c in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), 0..6),
            s in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), 0..6),
        ) {
            let mut b = ViewBuilder::udp(40000, 1194);
            for p in &c {
                b = b.to_server(p);
            }
            for p in &s {
                b = b.to_client(p);
            }
            let v = OpenVpn.inspect(&b.view());
            proptest::prop_assert!(v.is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }
}
