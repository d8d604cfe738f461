//! WireGuard, and the Tailscale disco messages that share its UDP socket.
//!
//! Facts used, from the message layouts of the WireGuard whitepaper (§5.4.2–§5.4.6):
//! - every message opens with a one-byte type (1 handshake initiation, 2 handshake response,
//!   3 cookie reply, 4 transport data) and three reserved zero bytes;
//! - handshake messages have fixed sizes: initiation 148 bytes, response 92, cookie reply 64;
//! - transport data is a 16-byte header (type, reserved, receiver index, 64-bit counter) and an
//!   AEAD ciphertext whose plaintext is padded to 16 bytes and carries a 16-byte tag, so its
//!   length is at least 32 and (length − 16) is a multiple of 16;
//! - random 32-bit indices tie the messages together: the response's and the cookie reply's
//!   receiver index is the initiation's sender index, and transport data carries the index the
//!   receiving peer chose.
//!
//! Why this is reliable: the type word alone is weak (any little-endian 1..=4), so one side's
//! message is never more than a Heuristic. A Handshake needs the other side to echo a 32-bit
//! random index, which unrelated traffic does with probability 2^-32. A capture that starts
//! after the handshake (transport data only) stays a Heuristic even with several packets both
//! ways, one receiver index per direction and distinct counters within the replay window.
//!
//! Variants seen in real traffic:
//! - some commercial clients lengthen the handshake messages (an initiation of more than 148
//!   bytes, a response of more than 92) and keep the header and the indices; they count only when
//!   the whole index chain holds (initiation → response → the initiator's transport data);
//! - Tailscale peers send "disco" messages on the WireGuard socket: the magic `TS💬`, the
//!   sender's 32-byte disco public key, a 24-byte nonce and a NaCl box of at least 18 bytes
//!   (Tailscale `disco/disco.go`). The 6-byte magic with that layout is a Signature; both peers
//!   sending them, each with one stable key, is a Handshake.
//!
//! WireGuard runs on any UDP port (51820 is only a default; 443 and 5060 are common), so the
//! port is never consulted.

use super::{le32, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;
use crate::flow::SEGMENTS_MAX;

/// Handshake initiation message type (whitepaper §5.4.2).
const TYPE_INITIATION: u8 = 1;
/// Handshake response message type (§5.4.3).
const TYPE_RESPONSE: u8 = 2;
/// Cookie reply message type (§5.4.7).
const TYPE_COOKIE_REPLY: u8 = 3;
/// Transport data message type (§5.4.6).
const TYPE_TRANSPORT: u8 = 4;
/// The three reserved bytes after the type, always zero (§5.4.2–§5.4.7).
const RESERVED_ZERO: [u8; 3] = [0; 3];

/// Size of a handshake initiation (§5.4.2: 4 + 4 + 32 + 48 + 28 + 16 + 16).
const INITIATION_LEN: usize = 148;
/// Size of a handshake response (§5.4.3: 4 + 4 + 4 + 32 + 16 + 16 + 16).
const RESPONSE_LEN: usize = 92;
/// Size of a cookie reply (§5.4.7: 4 + 4 + 24 + 32).
const COOKIE_REPLY_LEN: usize = 64;
/// Transport data header: type, reserved, receiver index, counter (§5.4.6).
const TRANSPORT_HEADER_LEN: usize = 16;
/// Poly1305 tag length, also the block the plaintext is padded to (§5.4.6).
const AEAD_BLOCK: usize = 16;
/// Smallest transport message: header plus the tag of an empty (keepalive) packet (§6.5).
const TRANSPORT_MIN_LEN: usize = TRANSPORT_HEADER_LEN + AEAD_BLOCK;
/// Most bytes an extended handshake message may add to the standard size: the longest variant
/// seen adds 56 bytes to the initiation; anything much longer is not this protocol.
const EXTENSION_MAX: usize = 256;

/// Offset of the sender index in an initiation or a response (§5.4.2, §5.4.3).
const OFF_SENDER: usize = 4;
/// Offset of the receiver index in a response (§5.4.3).
const OFF_RESPONSE_RECEIVER: usize = 8;
/// Offset of the receiver index in a cookie reply and in transport data (§5.4.6, §5.4.7).
const OFF_RECEIVER: usize = 4;
/// Offset of the little-endian 64-bit counter in transport data (§5.4.6): low half.
const OFF_COUNTER: usize = 8;
/// Offset of the counter's high 32 bits.
const OFF_COUNTER_HIGH: usize = 12;
/// Offset of the initiator's unencrypted ephemeral public key in an initiation (§5.4.2).
const OFF_INIT_EPHEMERAL: usize = 8;
/// Curve25519 public key length.
const KEY_LEN: usize = 32;
/// Offset of `mac1` in an initiation, which is never zero (§5.4.4).
const OFF_INIT_MAC1: usize = 116;
/// Length of `mac1`.
const MAC_LEN: usize = 16;

/// Largest spread of counters accepted among one direction's first datagrams. The Linux
/// implementation's anti-replay window is 8192 − 64 messages (the whitepaper §5.4.6 leaves the
/// size to implementations); a flow's first few packets are far closer together than that.
const COUNTER_SPREAD_MAX: u64 = 8192;
/// Transport messages needed in each direction to call a mid-session capture WireGuard.
const MIDSTREAM_MIN_PER_SIDE: usize = 2;

/// Tailscale disco magic: "TS" and U+1F4AC in UTF-8 (Tailscale `disco/disco.go`).
const DISCO_MAGIC: &[u8] = b"TS\xf0\x9f\x92\xac";
/// Offset of the sender's disco public key, right after the magic.
const OFF_DISCO_KEY: usize = DISCO_MAGIC.len();
/// NaCl box nonce length (XSalsa20).
const DISCO_NONCE_LEN: usize = 24;
/// Disco header: magic, 32-byte key, nonce.
const DISCO_HEADER_LEN: usize = DISCO_MAGIC.len() + KEY_LEN + DISCO_NONCE_LEN;
/// NaCl box tag (Poly1305).
const DISCO_TAG_LEN: usize = 16;
/// The boxed message's type and version bytes.
const DISCO_TYPE_VERSION_LEN: usize = 2;
/// Smallest box: tag plus type and version.
const DISCO_BOX_MIN: usize = DISCO_TAG_LEN + DISCO_TYPE_VERSION_LEN;
/// Smallest disco datagram.
const DISCO_MIN_LEN: usize = DISCO_HEADER_LEN + DISCO_BOX_MIN;
/// Key bytes shown in evidence.
const KEY_SHOWN: usize = 4;

/// Recognises WireGuard handshakes and transport data, and Tailscale disco.
pub(crate) struct WireGuard;

impl Detector for WireGuard {
    fn name(&self) -> &'static str {
        "wireguard"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::UDP
            || !(has_candidate(&view.to_server) || has_candidate(&view.to_client))
        {
            return None;
        }
        handshake(&view.to_server, &view.to_client, "client")
            .or_else(|| handshake(&view.to_client, &view.to_server, "server"))
            .or_else(|| disco(view))
            .or_else(|| extended_pending(view))
            .or_else(|| midstream(view))
            .or_else(|| lone_initiation(view))
    }
}

/// One parsed WireGuard message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Msg {
    Initiation {
        sender: u32,
        len: usize,
    },
    Response {
        sender: u32,
        receiver: u32,
        len: usize,
    },
    CookieReply {
        receiver: u32,
    },
    Transport {
        receiver: u32,
        counter: u64,
    },
}

/// Parses one datagram of `wire_len` bytes whose kept prefix is `b`.
fn parse(b: &[u8], wire_len: usize) -> Option<Msg> {
    let (&ty, rest) = b.split_first()?;
    if rest.get(..RESERVED_ZERO.len())? != RESERVED_ZERO {
        return None;
    }
    match ty {
        TYPE_INITIATION if handshake_len(wire_len, INITIATION_LEN) => Some(Msg::Initiation {
            sender: le32(b, OFF_SENDER)?,
            len: wire_len,
        }),
        TYPE_RESPONSE if handshake_len(wire_len, RESPONSE_LEN) => Some(Msg::Response {
            sender: le32(b, OFF_SENDER)?,
            receiver: le32(b, OFF_RESPONSE_RECEIVER)?,
            len: wire_len,
        }),
        TYPE_COOKIE_REPLY if wire_len == COOKIE_REPLY_LEN => Some(Msg::CookieReply {
            receiver: le32(b, OFF_RECEIVER)?,
        }),
        TYPE_TRANSPORT
            if wire_len >= TRANSPORT_MIN_LEN
                && (wire_len - TRANSPORT_HEADER_LEN).is_multiple_of(AEAD_BLOCK) =>
        {
            let lo = u64::from(le32(b, OFF_COUNTER)?);
            let hi = u64::from(le32(b, OFF_COUNTER_HIGH)?);
            Some(Msg::Transport {
                receiver: le32(b, OFF_RECEIVER)?,
                counter: hi << 32 | lo,
            })
        }
        _ => None,
    }
}

/// Whether `len` is the standard handshake size `std` or an extension of it within bounds.
fn handshake_len(len: usize, std: usize) -> bool {
    len >= std && len - std <= EXTENSION_MAX
}

/// The datagrams of one side, with their wire lengths.
fn datagrams<'a>(side: &Side<'a>) -> impl Iterator<Item = (&'a [u8], usize)> + 'a {
    let side = *side;
    (0..side.segments().len()).filter_map(move |i| Some((side.segment(i)?, side.wire_len(i)?)))
}

/// The WireGuard messages of one side.
fn messages<'a>(side: &Side<'a>) -> impl Iterator<Item = Msg> + 'a {
    datagrams(side).filter_map(|(b, len)| parse(b, len))
}

/// Cheap gate: some datagram starts like a WireGuard message or a disco message.
fn has_candidate(side: &Side<'_>) -> bool {
    datagrams(side).any(|(b, _)| {
        b.starts_with(DISCO_MAGIC)
            || matches!(b.split_first(), Some((t, r))
                if (TYPE_INITIATION..=TYPE_TRANSPORT).contains(t)
                    && r.starts_with(&RESERVED_ZERO))
    })
}

/// An initiation from `init` answered on `resp` (response or cookie reply echoing its sender
/// index). `who` names the initiating side for the evidence.
fn handshake(init: &Side<'_>, resp: &Side<'_>, who: &str) -> Option<Verdict> {
    messages(init).find_map(|m| match m {
        Msg::Initiation { sender, len } => {
            messages(resp).find_map(|r| answer(init, (sender, len), r, who))
        }
        _ => None,
    })
}

/// The verdict when `r` answers the initiation `(sender, len)` sent on side `init`.
fn answer(init: &Side<'_>, (sender, len): (u32, usize), r: Msg, who: &str) -> Option<Verdict> {
    let opening = || {
        Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Handshake).with(format!(
            "handshake initiation from {who} ({len} bytes, sender index {sender:#010x})"
        ))
    };
    match r {
        Msg::Response {
            sender: rs,
            receiver,
            len: rlen,
        } if receiver == sender => {
            let standard = len == INITIATION_LEN && rlen == RESPONSE_LEN;
            let confirmed = messages(init)
                .any(|d| matches!(d, Msg::Transport { receiver, .. } if receiver == rs));
            if !standard && !confirmed {
                return None;
            }
            let mut v = opening().with(format!(
                "handshake response ({rlen} bytes) echoes receiver index {sender:#010x}, responder index {rs:#010x}"
            ));
            if confirmed {
                v = v.with(format!("transport data from {who} to responder index {rs:#010x}"));
            }
            if !standard {
                v = v.with(format!(
                    "extended handshake sizes {len}/{rlen} (standard {INITIATION_LEN}/{RESPONSE_LEN})"
                ));
            }
            Some(v.done())
        }
        Msg::CookieReply { receiver } if receiver == sender && len == INITIATION_LEN => Some(
            opening()
                .with(format!(
                    "cookie reply ({COOKIE_REPLY_LEN} bytes) echoes receiver index {sender:#010x} (responder under load)"
                ))
                .done(),
        ),
        _ => None,
    }
}

/// An extended initiation answered by an extended response whose index chain is not yet
/// confirmed by transport data: a Heuristic until the next packets.
fn extended_pending(view: &FlowView<'_>) -> Option<Verdict> {
    for (init, resp) in [
        (&view.to_server, &view.to_client),
        (&view.to_client, &view.to_server),
    ] {
        for m in messages(init) {
            let Msg::Initiation { sender, len } = m else {
                continue;
            };
            let answered = messages(resp).find_map(|r| match r {
                Msg::Response { receiver, len, .. } if receiver == sender => Some(len),
                _ => None,
            });
            if let Some(rlen) = answered {
                return Some(
                    Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Heuristic).with(format!(
                        "handshake-shaped exchange {len}/{rlen} bytes echoing index {sender:#010x}, awaiting transport data"
                    )),
                );
            }
        }
    }
    None
}

/// One side's disco messages: the sender key, if every disco message of the side carries the
/// same one, and how many there were.
fn disco_side<'a>(side: &Side<'a>) -> Option<(&'a [u8], usize, usize)> {
    let mut key: Option<&[u8]> = None;
    let mut n = 0;
    let mut first_len = 0;
    for (b, len) in datagrams(side) {
        if !b.starts_with(DISCO_MAGIC) || len < DISCO_MIN_LEN {
            continue;
        }
        let k = b.get(OFF_DISCO_KEY..OFF_DISCO_KEY + KEY_LEN)?;
        match key {
            None => {
                key = Some(k);
                first_len = len;
            }
            Some(prev) if prev != k => return None,
            Some(_) => {}
        }
        n += 1;
    }
    Some((key?, n, first_len))
}

/// Tailscale disco: one side is a Signature, both sides with distinct stable keys a Handshake.
fn disco(view: &FlowView<'_>) -> Option<Verdict> {
    let c = disco_side(&view.to_server);
    let s = disco_side(&view.to_client);
    let mut v = match (c, s) {
        (Some((ck, cn, _)), Some((sk, sn, _))) if ck != sk => {
            Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Handshake)
                .with("Tailscale disco messages (magic \"TS💬\") from both peers")
                .with(format!(
                    "client disco key {}…, server disco key {}… ({cn}+{sn} messages)",
                    hex(ck),
                    hex(sk)
                ))
                .done()
        }
        (Some((k, _, len)), _) | (None, Some((k, _, len))) => {
            let who = if c.is_some() { "client" } else { "server" };
            Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Signature).with(format!(
                "Tailscale disco message from {who} (magic \"TS💬\", {len} bytes, disco key {}…)",
                hex(k)
            ))
        }
        _ => return None,
    };
    if messages(&view.to_server)
        .chain(messages(&view.to_client))
        .any(|m| matches!(m, Msg::Transport { .. }))
    {
        v = v.with("WireGuard transport data on the same flow");
    }
    v.provider = Some("tailscale".into());
    Some(v)
}

/// One direction's transport run: a single receiver index, how many messages, and the
/// counter range, when every WireGuard-looking datagram of the side is consistent.
fn transport_run(side: &Side<'_>) -> Option<(u32, usize, u64, u64)> {
    let mut counters = [0u64; SEGMENTS_MAX];
    let mut n = 0usize;
    let mut receiver = None;
    for m in messages(side) {
        let Msg::Transport {
            receiver: r,
            counter,
        } = m
        else {
            continue;
        };
        if *receiver.get_or_insert(r) != r || counters.get(..n)?.contains(&counter) {
            return None;
        }
        *counters.get_mut(n)? = counter;
        n += 1;
    }
    let seen = counters.get(..n)?;
    let (lo, hi) = (seen.iter().min()?, seen.iter().max()?);
    (hi - lo <= COUNTER_SPREAD_MAX).then_some((receiver?, n, *lo, *hi))
}

/// Transport data only (a capture that began after the handshake).
fn midstream(view: &FlowView<'_>) -> Option<Verdict> {
    let (cr, cn, clo, chi) = transport_run(&view.to_server)?;
    let (sr, sn, slo, shi) = transport_run(&view.to_client)?;
    if cn < MIDSTREAM_MIN_PER_SIDE || sn < MIDSTREAM_MIN_PER_SIDE || cr == sr {
        return None;
    }
    Some(
        Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Heuristic)
            .with("WireGuard transport data both ways without a handshake (capture began mid-session)")
            .with(format!(
                "client→server receiver index {cr:#010x} in {cn} packets, counters {clo}..={chi}"
            ))
            .with(format!(
                "server→client receiver index {sr:#010x} in {sn} packets, counters {slo}..={shi}"
            )),
    )
}

/// A standard initiation nobody answered (yet): shape only.
fn lone_initiation(view: &FlowView<'_>) -> Option<Verdict> {
    for (side, who) in [(&view.to_server, "client"), (&view.to_client, "server")] {
        for (b, len) in datagrams(side) {
            let Some(Msg::Initiation { sender, .. }) = parse(b, len) else {
                continue;
            };
            let nonzero = |off: usize, n: usize| {
                b.get(off..off + n)
                    .is_some_and(|s| s.iter().any(|&x| x != 0))
            };
            if len == INITIATION_LEN
                && nonzero(OFF_INIT_EPHEMERAL, KEY_LEN)
                && nonzero(OFF_INIT_MAC1, MAC_LEN)
            {
                return Some(
                    Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Heuristic).with(
                        format!(
                            "WireGuard-shaped handshake initiation from {who} ({len} bytes, sender index {sender:#010x}), no response"
                        ),
                    ),
                );
            }
        }
    }
    None
}

/// The first bytes of a key in hex, for evidence.
fn hex(b: &[u8]) -> String {
    crate::hex::of(b.get(..KEY_SHOWN).unwrap_or(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    /// An initiation laid out as in §5.4.2: type 1 at 0, reserved 1..4, sender index 4..8 (LE),
    /// ephemeral 8..40, encrypted static 40..88, encrypted timestamp 88..116, mac1 116..132,
    /// mac2 132..148.
    fn initiation(sender: u32) -> Vec<u8> {
        let mut m = vec![0u8; INITIATION_LEN];
        m[0] = TYPE_INITIATION;
        m[4..8].copy_from_slice(&sender.to_le_bytes());
        for (i, x) in m[8..132].iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        m
    }

    /// A response (§5.4.3): type 2, reserved, sender 4..8, receiver 8..12, ephemeral 12..44,
    /// empty AEAD 44..60, mac1 60..76, mac2 76..92.
    fn response(sender: u32, receiver: u32) -> Vec<u8> {
        let mut m = vec![0x5au8; RESPONSE_LEN];
        m[0] = TYPE_RESPONSE;
        m[1..4].fill(0);
        m[4..8].copy_from_slice(&sender.to_le_bytes());
        m[8..12].copy_from_slice(&receiver.to_le_bytes());
        m
    }

    /// Transport data (§5.4.6): type 4, reserved, receiver 4..8, counter 8..16, ciphertext.
    fn data(receiver: u32, counter: u64, plain_blocks: usize) -> Vec<u8> {
        let mut m = vec![0xa7u8; TRANSPORT_HEADER_LEN + AEAD_BLOCK * (plain_blocks + 1)];
        m[0] = TYPE_TRANSPORT;
        m[1..4].fill(0);
        m[4..8].copy_from_slice(&receiver.to_le_bytes());
        m[8..16].copy_from_slice(&counter.to_le_bytes());
        m
    }

    fn disco(key_byte: u8, len: usize) -> Vec<u8> {
        let mut m = vec![0x33u8; len];
        m[..6].copy_from_slice(DISCO_MAGIC);
        m[6..38].fill(key_byte);
        m
    }

    #[test]
    fn initiation_and_response_is_a_complete_handshake() {
        let b = ViewBuilder::udp(40000, 51820)
            .to_server(&initiation(0x1122_3344))
            .to_client(&response(0x5566_7788, 0x1122_3344));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert_eq!(v.family, "wireguard");
        assert!(v.evidence[0].contains("148 bytes"));
        assert!(v.evidence[1].contains("0x11223344"));
    }

    #[test]
    fn response_with_another_index_is_not_a_handshake() {
        let b = ViewBuilder::udp(40000, 443)
            .to_server(&initiation(0x1122_3344))
            .to_client(&response(0x5566_7788, 0x1122_3345));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        assert!(!v.complete);
    }

    #[test]
    fn cookie_reply_completes_the_handshake() {
        let mut cookie = vec![0x11u8; COOKIE_REPLY_LEN];
        cookie[..4].copy_from_slice(&[TYPE_COOKIE_REPLY, 0, 0, 0]);
        cookie[4..8].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        let b = ViewBuilder::udp(40000, 5060)
            .to_server(&initiation(0xdead_beef))
            .to_client(&cookie);
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[1].contains("cookie reply"));
    }

    #[test]
    fn extended_handshake_needs_the_index_chain() {
        let mut init = initiation(0xac18_6631);
        init.extend_from_slice(&[0x42; 56]);
        let mut resp = response(0x001a_ca02, 0xac18_6631);
        resp.extend_from_slice(&[0x24; 8]);
        let b = ViewBuilder::udp(57636, 51820)
            .to_server(&init)
            .to_client(&resp);
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        let b = b.to_server(&data(0x001a_ca02, 0, 0));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v
            .evidence
            .iter()
            .any(|e| e.contains("extended handshake sizes 204/100")));
    }

    #[test]
    fn midstream_transport_needs_both_directions() {
        let b = ViewBuilder::udp(22595, 5060)
            .to_server(&data(0x7949_7615, 0x13, 4))
            .to_server(&data(0x7949_7615, 0x14, 3));
        assert!(WireGuard.inspect(&b.view()).is_none());
        let b = b
            .to_client(&data(0x1c10_48b0, 0x0f, 4))
            .to_client(&data(0x1c10_48b0, 0x10, 3));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        assert!(v.evidence[1].contains("0x79497615"));
    }

    #[test]
    fn midstream_rejects_inconsistent_indices_and_counters() {
        // Same receiver index both ways: not two WireGuard peers.
        let b = ViewBuilder::udp(1000, 2000)
            .to_server(&data(7, 1, 1))
            .to_server(&data(7, 2, 1))
            .to_client(&data(7, 1, 1))
            .to_client(&data(7, 2, 1));
        assert!(WireGuard.inspect(&b.view()).is_none());
        // Repeated counter in one direction.
        let b = ViewBuilder::udp(1000, 2000)
            .to_server(&data(7, 1, 1))
            .to_server(&data(7, 1, 1))
            .to_client(&data(8, 1, 1))
            .to_client(&data(8, 2, 1));
        assert!(WireGuard.inspect(&b.view()).is_none());
        // Counters far apart.
        let b = ViewBuilder::udp(1000, 2000)
            .to_server(&data(7, 1, 1))
            .to_server(&data(7, 1 << 40, 1))
            .to_client(&data(8, 1, 1))
            .to_client(&data(8, 2, 1));
        assert!(WireGuard.inspect(&b.view()).is_none());
    }

    #[test]
    fn transport_length_must_be_block_aligned() {
        let mut odd = data(7, 1, 1);
        odd.push(0);
        assert_eq!(parse(&odd, odd.len()), None);
        let short = data(7, 1, 0);
        assert!(parse(&short, short.len()).is_some());
        assert_eq!(parse(&short[..31], 31), None);
    }

    #[test]
    fn lone_initiation_is_only_heuristic() {
        let b = ViewBuilder::udp(40000, 51820).to_server(&initiation(9));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        // An all-zero body after the header is not an initiation.
        let mut zero = vec![0u8; INITIATION_LEN];
        zero[0] = 1;
        let b = ViewBuilder::udp(40000, 51820).to_server(&zero);
        assert!(WireGuard.inspect(&b.view()).is_none());
    }

    #[test]
    fn tailscale_disco_both_ways_is_a_handshake() {
        let b = ViewBuilder::udp(41641, 41641).to_server(&disco(0xb6, 92));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert_eq!(v.provider.as_deref(), Some("tailscale"));
        let b = b.to_client(&disco(0x6f, 110)).to_client(&data(5, 0, 6));
        let v = WireGuard.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert!(v.evidence.iter().any(|e| e.contains("transport data")));
        // The same key on both sides is a reflection, not two peers.
        let b = ViewBuilder::udp(41641, 41641)
            .to_server(&disco(0xb6, 92))
            .to_client(&disco(0xb6, 92));
        assert_eq!(
            WireGuard.inspect(&b.view()).unwrap().confidence,
            Confidence::Signature
        );
        // Too short for a disco header and box.
        let b = ViewBuilder::udp(41641, 41641).to_server(&disco(0xb6, DISCO_MIN_LEN - 1));
        assert!(WireGuard.inspect(&b.view()).is_none());
    }

    #[test]
    fn other_protocols_do_not_match() {
        let tls = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03rest-of-client-hello";
        let dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.extend_from_slice(&[0x55; 1194]);
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        for p in [&tls[..], dns, &quic, stun, http] {
            let b = ViewBuilder::udp(50000, 443).to_server(p).to_client(p);
            assert!(WireGuard.inspect(&b.view()).is_none());
        }
        let b = ViewBuilder::tcp(50000, 51820)
            .to_server(&initiation(1))
            .to_client(&response(2, 1));
        assert!(WireGuard.inspect(&b.view()).is_none());
    }

    #[test]
    fn every_prefix_is_weaker_or_none() {
        let init = initiation(0x0102_0304);
        let resp = response(0x0a0b_0c0d, 0x0102_0304);
        for cut in 0..init.len() {
            let b = ViewBuilder::udp(1, 2)
                .to_server(&init[..cut])
                .to_client(&resp);
            assert!(WireGuard
                .inspect(&b.view())
                .is_none_or(|v| v.confidence < Confidence::Handshake));
        }
        for cut in 0..resp.len() {
            let b = ViewBuilder::udp(1, 2)
                .to_server(&init)
                .to_client(&resp[..cut]);
            assert!(WireGuard
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
            let b = crate::detect::testing::udp_exchange(40000, 51820, &c, &s);
            let v = WireGuard.inspect(&b.view());
            proptest::prop_assert!(v.is_none_or(|v| v.confidence < Confidence::Handshake));
        }
    }
}
