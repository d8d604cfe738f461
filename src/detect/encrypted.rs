//! Fully encrypted proxies (Shadowsocks, VMess): TCP connections that are random-looking from
//! their very first byte in both directions.
//!
//! Facts used:
//! - Shadowsocks AEAD (shadowsocks.org "AEAD ciphers") opens each direction with a random salt
//!   of 16, 24 or 32 bytes followed by chunks `[encrypted length (2) + tag (16)][encrypted payload
//!   + tag (16)]`; VMess (v2fly "VMess protocol", AEAD header) opens with a 16-byte encrypted
//!   authentication id, an encrypted length and an encrypted request header. Neither has a single
//!   plaintext byte, so the first client payload is indistinguishable from random data.
//! - Wu et al., "How the Great Firewall of China Detects and Blocks Fully Encrypted Traffic"
//!   (USENIX Security 2023, §4, Algorithm 1) give the test a national censor uses on a TCP
//!   connection's first client payload, with five exemptions that keep ordinary protocols out:
//!   Ex1 an average of set bits per byte (popcount) outside (3.4, 4.6); Ex2 the first six bytes
//!   printable ASCII; Ex3 more than half of the bytes printable; Ex4 more than 20 consecutive
//!   printable bytes; Ex5 the first bytes of TLS or HTTP. nDPI's fully-encrypted risk
//!   (`ndpi_main.c`, `fully_enc_heuristic`) applies the same rules.
//!
//! On top of those rules, to stay silent on ordinary traffic:
//! - the server's first payload must pass the same test (the proxy answers with its own salt or
//!   encrypted response header: both directions are encrypted from byte 0);
//! - a payload that parses as a chain of big-endian length-prefixed frames filling the segment
//!   exactly is a framed protocol with a plaintext header (Spotify's access point protocol,
//!   WhatsApp's Noise frames, OpenVPN over TCP, DNS over TCP), not a fully encrypted one;
//! - TLS records of every content type (RFC 8446 §5.1: 20–23) are exempt, not only handshake and
//!   application data, so an alert or a ChangeCipherSpec opening a stream is not counted;
//! - BitTorrent Message Stream Encryption (BEP 8 "MSE", also fully random) is told apart by
//!   size: each side opens with a 96-byte Diffie-Hellman value and at most 512 bytes of padding,
//!   and the responder sends nothing more until the initiator answers, so a server's first
//!   segment longer than 608 bytes is not MSE. A proxy's first answer carries the upstream's
//!   first flight (a TLS ServerHello and certificate, an HTTP response) and is larger;
//! - only TCP: UDP formats (QUIC, DTLS, SRTP, WireGuard) have their own detectors and weak
//!   headers that this test cannot separate.
//!
//! Why only a Heuristic: without the pre-shared key nothing in the stream can be verified, and
//! Shadowsocks, VMess and other fully encrypted protocols (obfs4, Psiphon's obfuscated SSH) look
//! the same. The family is read from the client's second segment when the proxied connection is
//! TLS (see [`family`]): exactly one Shadowsocks chunk around an inner TLS client flight, or a
//! VMess padded chunk around one. Otherwise the family reported is `shadowsocks`, by far the
//! most deployed raw-TCP fully encrypted proxy, and the evidence says the family is assumed.
//! The flow is judged when the client's second segment arrives, or when inspection ends. When
//! the same encrypted payload is carried in WebSocket frames, `websocket.rs` reports `vmess`
//! (V2Ray's WebSocket transport).

use super::tls;
use super::tlsintls::INNER_SECOND_FLIGHT;
use super::{Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// Lower bound (exclusive) of the average set bits per byte of encrypted data (Wu et al. 2023,
/// Algorithm 1, Ex1): random bytes average 4.0.
const POPCOUNT_LOW: f64 = 3.4;
/// Upper bound (exclusive) of the average set bits per byte (Ex1).
const POPCOUNT_HIGH: f64 = 4.6;
/// Leading bytes that must not all be printable (Ex2).
const PRINTABLE_PREFIX: usize = 6;
/// Longest printable run allowed (Ex4: "more than 20 contiguous bytes" exempts).
const PRINTABLE_RUN_MAX: usize = 20;
/// Smallest first payload considered: a Shadowsocks AEAD request is at least a 16-byte salt,
/// an 18-byte encrypted length and a 1-byte payload with its 16-byte tag (shadowsocks.org AEAD).
pub(super) const FIRST_PAYLOAD_MIN: usize = 16 + 18 + 1 + 16;
/// Largest first message of either side of BitTorrent MSE: a 96-byte Diffie-Hellman public value
/// and up to 512 bytes of padding (BEP 8, "PadA/PadB: random data with a random length of 0 to
/// 512 bytes each").
const MSE_FIRST_MAX: usize = 96 + 512;
/// Shadowsocks AEAD chunk overhead: encrypted 2-byte length with its 16-byte tag, and the
/// payload's 16-byte tag (shadowsocks.org "AEAD ciphers", TCP chunk layout).
const SS_CHUNK_OVERHEAD: usize = 2 + 16 + 16;
/// VMess AEAD body chunk overhead: a 2-byte (masked) length, a 16-byte tag and, with the
/// global padding option V2Ray enables for AEAD security, 0–63 bytes of padding (v2fly
/// "VMess protocol", data section).
const VMESS_CHUNK_OVERHEAD: std::ops::RangeInclusive<usize> = 18..=(18 + 63);
/// TLS record content types, ChangeCipherSpec (20) to ApplicationData (23) (RFC 8446 §5.1).
const TLS_CONTENT_TYPES: std::ops::RangeInclusive<u8> = 20..=23;
/// Highest record version minor byte the censor's TLS exemption accepts (Ex5: `\x03[\x00-\x09]`).
const TLS_MINOR_MAX: u8 = 9;
/// Offsets within the first bytes where a length prefix may start after a fixed plaintext
/// header (WhatsApp's 4-byte "WA" header, Spotify's 2-byte version).
const FRAME_HEADER_MAX: usize = 4;
/// Widths of big-endian length fields tried: 16, 24 and 32 bits.
const FRAME_WIDTHS: [usize; 3] = [2, 3, 4];
/// Frames walked at most in one segment.
const FRAMES_MAX: usize = 16;

/// Recognises TCP connections fully encrypted from the first byte in both directions.
pub(crate) struct FullyEncrypted;

impl Detector for FullyEncrypted {
    fn name(&self) -> &'static str {
        "fully-encrypted"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        // Judged once the client's second segment is there: its size may tell the family.
        if view.to_server.segments().len() < 2 {
            return None;
        }
        judge(view)
    }

    fn conclude(&self, view: &FlowView<'_>) -> Option<Verdict> {
        judge(view)
    }
}

/// The verdict on a flow's first payloads.
fn judge(view: &FlowView<'_>) -> Option<Verdict> {
    // Only a connection seen from its SYN has a known first payload: mid-stream, any
    // ciphertext (TLS application data cut between records) would look random.
    if view.proto != ip_proto::TCP || view.tcp.syn.is_none() {
        return None;
    }
    let client = view.to_server.first()?;
    let (server, server_len) = first_with_len(&view.to_client)?;
    let client_len = view.to_server.wire_len(0)?;
    if client_len < FIRST_PAYLOAD_MIN || server_len <= MSE_FIRST_MAX {
        return None;
    }
    let c = assess(client, client_len)?;
    let s = assess(server, server_len)?;
    let (family, why) = family(view.to_server.wire_len(1));
    Some(
        Verdict::new(Kind::Anonymizer, family, Confidence::Heuristic)
            .with(format!(
                "fully encrypted first payloads both ways: client {client_len} bytes (popcount {:.2}/byte, {}% printable), server {server_len} bytes (popcount {:.2}/byte)",
                c.popcount, c.printable_pct, s.popcount
            ))
            .with("no protocol header (GFW fully-encrypted test, Wu et al. 2023: no exemption applies)")
            .with(why),
    )
}

/// The family suggested by the client's second segment of `second` bytes, with the reason.
///
/// When the proxied connection is itself TLS (the common case: HTTPS through the proxy), the
/// client's second write is the inner client's second flight, of a size fixed by TLS
/// ([`INNER_SECOND_FLIGHT`]). Shadowsocks AEAD wraps it in one chunk with exactly
/// [`SS_CHUNK_OVERHEAD`] bytes more; VMess adds a 2-byte length, a 16-byte tag and 0–63 bytes of
/// padding ([`VMESS_CHUNK_OVERHEAD`]).
fn family(second: Option<usize>) -> (&'static str, String) {
    let over = |n: usize| {
        INNER_SECOND_FLIGHT
            .iter()
            .filter_map(move |&inner| Some((inner, n.checked_sub(inner)?)))
    };
    if let Some(n) = second {
        if let Some((inner, _)) = over(n).find(|&(_, o)| o == SS_CHUNK_OVERHEAD) {
            return ("shadowsocks", format!(
                "second client segment {n} bytes: an inner TLS client flight of {inner} bytes in one Shadowsocks AEAD chunk ({SS_CHUNK_OVERHEAD} bytes of length, tags)"
            ));
        }
        if over(n).any(|(_, o)| VMESS_CHUNK_OVERHEAD.contains(&o)) {
            return ("vmess", format!(
                "second client segment {n} bytes: no inner TLS client flight fits Shadowsocks' fixed {SS_CHUNK_OVERHEAD}-byte chunk overhead, one fits VMess's padded chunk (18–81 bytes); family assumed"
            ));
        }
    }
    (
        "shadowsocks",
        "family assumed: Shadowsocks and VMess cannot be told apart without their key".to_owned(),
    )
}

/// The first segment of a side with its length on the wire.
fn first_with_len<'a>(side: &Side<'a>) -> Option<(&'a [u8], usize)> {
    Some((side.first()?, side.wire_len(0)?))
}

/// What the test measured on a payload judged fully encrypted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Randomness {
    /// Average set bits per byte.
    pub(super) popcount: f64,
    /// Share of printable ASCII bytes, in percent.
    pub(super) printable_pct: usize,
}

/// Whether `b`, the kept prefix of a payload of `wire` bytes, looks fully encrypted: the GFW
/// test with none of its exemptions applying, and no plaintext framing. `None` when some
/// exemption applies.
pub(super) fn assess(b: &[u8], wire: usize) -> Option<Randomness> {
    if b.is_empty() || tls_like(b) || framed(b, wire) {
        return None;
    }
    let ones: u32 = b.iter().map(|x| x.count_ones()).sum();
    let popcount = f64::from(ones) / b.len() as f64;
    if popcount <= POPCOUNT_LOW || popcount >= POPCOUNT_HIGH {
        return None;
    }
    let prefix = b.get(..PRINTABLE_PREFIX.min(b.len()))?;
    if prefix.iter().all(|&x| is_print(x)) {
        return None;
    }
    let mut printable = 0usize;
    let mut run = 0usize;
    for &x in b {
        if is_print(x) {
            printable += 1;
            run += 1;
            if run > PRINTABLE_RUN_MAX {
                return None;
            }
        } else {
            run = 0;
        }
    }
    // Ex3: more than half printable exempts.
    if printable * 2 > b.len() {
        return None;
    }
    Some(Randomness {
        popcount,
        printable_pct: printable * 100 / b.len(),
    })
}

/// Printable ASCII as the censor counts it (Wu et al. 2023, §4: 0x20 to 0x7e).
const PRINTABLE: std::ops::RangeInclusive<u8> = 0x20..=0x7e;

/// Whether `x` is printable ASCII.
fn is_print(x: u8) -> bool {
    PRINTABLE.contains(&x)
}

/// Ex5, widened to every TLS content type: a record header at the start.
fn tls_like(b: &[u8]) -> bool {
    matches!(b, [t, tls::VERSION_MAJOR, minor, ..] if TLS_CONTENT_TYPES.contains(t) && *minor <= TLS_MINOR_MAX)
}

/// Whether `b` (of `wire` bytes on the wire) is, after a fixed header of at most
/// [`FRAME_HEADER_MAX`] bytes, a chain of big-endian length-prefixed frames that ends exactly
/// at the end of the payload (the length either excludes or, for a single frame, includes its
/// own field).
fn framed(b: &[u8], wire: usize) -> bool {
    (0..=FRAME_HEADER_MAX).any(|off| {
        FRAME_WIDTHS
            .iter()
            .any(|&w| whole_frame(b, off, w, wire) || chain_fills(b, off, w, wire))
    })
}

/// A single length field at `off` of `w` bytes counting the whole payload.
fn whole_frame(b: &[u8], off: usize, w: usize, wire: usize) -> bool {
    read_be(b, off, w).is_some_and(|n| n == wire)
}

/// Frames `len(w) + body` from `off` that end exactly at the end of the payload.
fn chain_fills(b: &[u8], off: usize, w: usize, wire: usize) -> bool {
    let mut pos = off;
    for _ in 0..FRAMES_MAX {
        let Some(n) = read_be(b, pos, w) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        pos = match pos.checked_add(w).and_then(|p| p.checked_add(n)) {
            Some(p) => p,
            None => return false,
        };
        if pos == wire {
            return true;
        }
        if pos > wire {
            return false;
        }
    }
    false
}

/// A big-endian unsigned integer of `w` (≤ 4) bytes at `off`.
fn read_be(b: &[u8], off: usize, w: usize) -> Option<usize> {
    let s = b.get(off..off.checked_add(w)?)?;
    Some(s.iter().fold(0usize, |acc, &x| acc << 8 | usize::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::anon_testdata::random;
    use crate::detect::testing::ViewBuilder;

    /// A Shadowsocks AEAD request as the spec lays it out: 32-byte salt (0..32), encrypted
    /// length + tag (32..50), encrypted address + tag, encrypted length + tag, encrypted data +
    /// tag — all ciphertext, so random bytes of the right total length.
    fn ss_request() -> Vec<u8> {
        random(7, 32 + 18 + (19 + 16) + 18 + (517 + 16))
    }

    /// The server's answer: its own salt and one chunk carrying 1208 upstream bytes.
    fn ss_response() -> Vec<u8> {
        random(11, 32 + 18 + 1208 + 16)
    }

    #[test]
    fn random_both_ways_is_a_heuristic_judged_at_the_second_segment_or_the_end() {
        let b = ViewBuilder::tcp(40164, 8388)
            .to_server(&ss_request())
            .to_client(&ss_response());
        assert_eq!(FullyEncrypted.inspect(&b.view()), None);
        let v = FullyEncrypted.conclude(&b.view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (
                Kind::Anonymizer,
                "shadowsocks",
                Confidence::Heuristic,
                false
            )
        );
        assert!(
            v.evidence[0].contains("client 636 bytes"),
            "{:?}",
            v.evidence
        );
        assert!(v.evidence[2].contains("family assumed"));
    }

    #[test]
    fn the_second_segment_tells_shadowsocks_from_vmess() {
        // An inner TLS 1.3 CCS + SHA-384 Finished flight (80 bytes) in one Shadowsocks chunk.
        let b = ViewBuilder::tcp(40164, 8388)
            .to_server(&ss_request())
            .to_client(&ss_response())
            .to_server(&random(13, 80 + SS_CHUNK_OVERHEAD));
        let v = FullyEncrypted.inspect(&b.view()).unwrap();
        assert_eq!(v.family.as_ref(), "shadowsocks");
        assert!(v.evidence[2].contains("80 bytes in one Shadowsocks AEAD chunk"));
        // The same flight with VMess's length, tag and 56 bytes of padding.
        let b = ViewBuilder::tcp(40818, 10086)
            .to_server(&random(14, 681))
            .to_client(&random(15, 2048))
            .to_server(&random(16, 80 + 18 + 56));
        let v = FullyEncrypted.inspect(&b.view()).unwrap();
        assert_eq!(v.family.as_ref(), "vmess");
        // A second segment no TLS flight explains: the assumed family.
        let b = ViewBuilder::tcp(40818, 10086)
            .to_server(&random(14, 681))
            .to_client(&random(15, 2048))
            .to_server(&random(16, 900));
        let v = FullyEncrypted.inspect(&b.view()).unwrap();
        assert_eq!(v.family.as_ref(), "shadowsocks");
        assert!(v.evidence[2].contains("family assumed"));
    }

    #[test]
    fn one_side_is_not_enough() {
        let b = ViewBuilder::tcp(40164, 8388)
            .to_server(&ss_request())
            .to_server(&random(13, 114));
        assert_eq!(FullyEncrypted.inspect(&b.view()), None);
        assert_eq!(FullyEncrypted.conclude(&b.view()), None);
    }

    #[test]
    fn bittorrent_mse_sized_answer_is_not_counted() {
        // BEP 8: Yb (96 bytes) and PadB (0..512): 96 + 300 random bytes.
        let b = ViewBuilder::tcp(51413, 6881)
            .to_server(&random(3, 96 + 200))
            .to_client(&random(4, 96 + 300));
        assert_eq!(FullyEncrypted.conclude(&b.view()), None);
        let b = ViewBuilder::tcp(51413, 6881)
            .to_server(&random(3, 96 + 200))
            .to_client(&random(4, MSE_FIRST_MAX));
        assert_eq!(FullyEncrypted.conclude(&b.view()), None);
    }

    #[test]
    fn other_protocols_first_bytes_are_exempt() {
        let mut tls = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
        tls.extend(random(1, 600));
        let mut alert = vec![0x15, 0x03, 0x01, 0x00, 0x12];
        alert.extend(random(2, 18));
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec();
        let ssh = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
        let dns = b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01".to_vec();
        // QUIC long header and STUN are UDP; a TCP flow carrying them is still exempt by shape
        // or printable share.
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl".to_vec();
        for p in [tls, alert, http, ssh, dns, stun] {
            assert_eq!(assess(&p, p.len()), None, "{p:02x?}");
        }
    }

    #[test]
    fn length_prefixed_frames_are_exempt() {
        // Spotify-style: 2-byte version, 4-byte length of the whole message, then ciphertext.
        let mut m = vec![0x00, 0x04, 0x00, 0x00, 0x01, 0x49];
        m.extend(random(5, 0x149 - 6));
        assert_eq!(assess(&m, m.len()), None);
        // WhatsApp-style: 4-byte header "WA" 1 5, then frames with 3-byte lengths.
        let mut w = b"WA\x01\x05".to_vec();
        for n in [23usize, 140] {
            w.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
            w.extend(random(n as u64, n));
        }
        assert_eq!(assess(&w, w.len()), None);
        // OpenVPN over TCP: 2-byte length of the rest.
        let mut o = vec![0x00, 0x36];
        o.extend(random(6, 0x36));
        assert_eq!(assess(&o, o.len()), None);
    }

    #[test]
    fn popcount_outside_the_band_is_exempt() {
        assert_eq!(assess(&[0x00; 100], 100), None);
        assert_eq!(assess(&[0xff; 100], 100), None);
        // Low-entropy binary: mostly zero bytes with a few set bits.
        let sparse: Vec<u8> = (0..200u32)
            .map(|i| if i % 7 == 0 { 0x81 } else { 0x01 })
            .collect();
        assert_eq!(assess(&sparse, sparse.len()), None);
    }

    #[test]
    fn printable_rules_exempt() {
        // Ex2: six printable bytes first.
        let mut p = b"abcdef".to_vec();
        p.extend(random(8, 200));
        assert_eq!(assess(&p, p.len()), None);
        // Ex4: a run of 21 printable bytes inside.
        let mut r = random(9, 100);
        r.extend_from_slice(b"ABCDEFGHIJKLMNOPQRSTU");
        r.extend(random(10, 100));
        assert_eq!(assess(&r, r.len()), None);
        // Random bytes pass.
        assert!(assess(&random(12, 300), 300).is_some());
    }

    #[test]
    fn prefixes_never_panic_and_udp_is_ignored() {
        let req = ss_request();
        let resp = ss_response();
        for cut in 0..req.len() {
            let b = ViewBuilder::tcp(1, 2)
                .to_server(&req[..cut])
                .to_client(&resp);
            let v = FullyEncrypted.conclude(&b.view());
            assert!(v.is_none() || cut >= FIRST_PAYLOAD_MIN);
        }
        let b = ViewBuilder::udp(1, 2).to_server(&req).to_client(&resp);
        assert_eq!(FullyEncrypted.conclude(&b.view()), None);
    }
}
