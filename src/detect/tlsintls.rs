//! TLS inside TLS (Trojan and other TLS-wrapped proxies): a TLS session whose first application
//! records are sized like a second TLS handshake.
//!
//! Facts used:
//! - a proxy that wraps its client's connection in TLS (Trojan: `hex(SHA224(password))`, CRLF,
//!   a SOCKS5-style request, CRLF, then the payload — trojan-gfw "The Trojan Protocol"; VLESS and
//!   VMess over TLS alike) relays the inner client's first flight — a TLS ClientHello, because
//!   the inner connection is itself HTTPS — as its first application data;
//! - the inner client then waits for the inner server's flight and answers with its second
//!   flight, whose size is fixed by the protocol: in TLS 1.3 an optional ChangeCipherSpec record
//!   (6 bytes, RFC 8446 Appendix D.4) and the Finished record (5-byte header, 4-byte handshake
//!   header, a 32- or 48-byte verify_data, the content type byte and a 16-byte tag: 58 or 74
//!   bytes, RFC 8446 §4.4.4, §5.2); in TLS 1.2 the ClientKeyExchange (42 bytes for X25519, 75
//!   for P-256, RFC 8422 §5.7), ChangeCipherSpec and an AES-GCM Finished (45 bytes);
//! - the outer record adds a fixed overhead per record: 17 bytes in TLS 1.3 (content type and
//!   tag, RFC 8446 §5.2, no padding assumed), 24 with TLS 1.2 AES-GCM (explicit nonce and tag,
//!   RFC 5288 §3), 16 with ChaCha20-Poly1305 (RFC 7905 §2). CBC suites pad and are not judged.
//!
//! The detector therefore looks, at the moment the client's second application record after the
//! outer handshake arrives (the packet that completes it is the one being inspected, so the
//! order of the two directions is known), for: a first record carrying a ClientHello-sized
//! plaintext, a second record carrying exactly an inner client Finished flight, and a server
//! that has answered with at least an inner ServerHello flight in between. This is the shape the
//! "TLS-in-TLS" literature fingerprints (Xue et al., USENIX Security 2024; nDPI's obfuscated-TLS
//! heuristic in `tls.c`). Ordinary HTTPS clients send HTTP requests and HTTP/2 frames, whose
//! second record is almost never one of those exact sizes.
//!
//! Only a Heuristic: sizes, not content. The family reported is `trojan`, the best known
//! TLS-wrapped proxy; the evidence says the family is assumed.

use super::tls::{self, Parse};
use super::{be16, printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;
use crate::flow::STREAM_PREFIX_MAX;

/// TLS record content type change_cipher_spec (RFC 8446 §5.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
/// TLS record content type application_data.
const APPLICATION_DATA: u8 = 23;
/// TLS 1.3 (RFC 8446 §4.2.1).
const TLS13: u16 = 0x0304;
/// Outer per-record overhead in TLS 1.3: content type byte and 16-byte AEAD tag (§5.2).
const OVERHEAD_TLS13: usize = 17;
/// TLS 1.2 AES-GCM: 8-byte explicit nonce and 16-byte tag (RFC 5288 §3).
const OVERHEAD_GCM: usize = 24;
/// TLS 1.2 ChaCha20-Poly1305: 16-byte tag, implicit nonce (RFC 7905 §2).
const OVERHEAD_CHACHA: usize = 16;
/// TLS 1.2 AES-GCM cipher suites: RFC 5288 (0x009c–0x00a7) and RFC 5289 (0xc02b–0xc032).
const GCM_SUITES: [std::ops::RangeInclusive<u16>; 2] = [0x009c..=0x00a7, 0xc02b..=0xc032];
/// ChaCha20-Poly1305 suites (RFC 7905 §2: 0xcca8–0xccae).
const CHACHA_SUITES: std::ops::RangeInclusive<u16> = 0xcca8..=0xccae;
/// TLS 1.3 client Finished record lengths in the outer session: 4 + 32 (or 48) + 1 + 16.
const TLS13_FINISHED_RECORDS: [usize; 2] = [53, 69];
/// Plaintext sizes of an inner client's second flight: TLS 1.3 Finished record without and with
/// a ChangeCipherSpec, for SHA-256 and SHA-384 suites (58, 74, 64, 80); TLS 1.2 X25519 or P-256
/// ClientKeyExchange, ChangeCipherSpec and AES-GCM Finished (93, 126).
pub(super) const INNER_SECOND_FLIGHT: [usize; 6] = [58, 64, 74, 80, 93, 126];
/// Plaintext size range of a first record carrying an inner ClientHello: at least a minimal
/// hello with a server name and key share (~180 bytes), at most a post-quantum hello (~1.9 KB)
/// with a proxy request header in front.
const INNER_HELLO: std::ops::RangeInclusive<usize> = 180..=2600;
/// Server bytes after its leading handshake and ChangeCipherSpec records needed by the time of
/// the second client record: in TLS 1.3 the outer encrypted handshake (a certificate chain,
/// ~800 bytes at least) and an inner ServerHello flight (ServerHello, ChangeCipherSpec and an
/// encrypted certificate flight, ~1200 bytes at least); in TLS 1.2 the inner flight alone.
const SERVER_AFTER_HANDSHAKE_MIN: usize = 2000;
/// Characters of the outer server name shown.
const NAME_SHOWN_MAX: usize = 253;

/// Recognises a TLS handshake carried inside a TLS session.
pub(crate) struct TlsInTls;

impl Detector for TlsInTls {
    fn name(&self) -> &'static str {
        "tls-in-tls"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let p = view.packet?;
        let c = view.to_server.data();
        if view.proto != ip_proto::TCP
            || c.first() != Some(&tls::CONTENT_HANDSHAKE)
            || p.src != view.client.ip()
            || p.src_port != view.client.port()
            || c.len() >= STREAM_PREFIX_MAX
        {
            return None;
        }
        // Cheap record walk first: most TLS flows fail here without any hello being parsed.
        let apps = app_records(c)?;
        let sh = match view.server_hello() {
            Parse::Done(sh) => sh,
            _ => return None,
        };
        let overhead = overhead(sh.version, sh.cipher_suite)?;
        let (r1, r2) = inner_records(&apps, sh.version >= TLS13)?;
        let ch = view.client_hello().done()?;
        let (i1, i2) = (r1.checked_sub(overhead)?, r2.checked_sub(overhead)?);
        if !INNER_HELLO.contains(&i1) || !INNER_SECOND_FLIGHT.contains(&i2) {
            return None;
        }
        let after = server_after_handshake(view)?;
        if after < SERVER_AFTER_HANDSHAKE_MIN {
            return None;
        }
        let outer = match (sh.version >= TLS13, ch.sni.as_deref()) {
            (true, Some(n)) => format!(
                "outer TLS 1.3 to {}",
                printable(n.as_bytes(), NAME_SHOWN_MAX)
            ),
            (false, Some(n)) => format!(
                "outer TLS 1.2 to {}",
                printable(n.as_bytes(), NAME_SHOWN_MAX)
            ),
            (true, None) => "outer TLS 1.3, no server name".to_owned(),
            (false, None) => "outer TLS 1.2, no server name".to_owned(),
        };
        Some(
            Verdict::new(Kind::Anonymizer, "trojan", Confidence::Heuristic)
                .with(format!(
                    "TLS inside TLS: first client record carries {i1} bytes (a ClientHello), the second exactly {i2} (an inner client Finished flight), after the server sent {after} bytes"
                ))
                .with(outer)
                .with("family assumed: Trojan-style TLS-wrapped proxy (VLESS/VMess over TLS look the same)"),
        )
    }
}

/// The outer record overhead for the negotiated version and suite, when it is fixed.
fn overhead(version: u16, suite: u16) -> Option<usize> {
    if version >= TLS13 {
        Some(OVERHEAD_TLS13)
    } else if GCM_SUITES.iter().any(|r| r.contains(&suite)) {
        Some(OVERHEAD_GCM)
    } else if CHACHA_SUITES.contains(&suite) {
        Some(OVERHEAD_CHACHA)
    } else {
        None
    }
}

/// Application-data records fully present in the client stream: at most this many are
/// needed (the TLS 1.3 Finished and two more).
const APP_RECORDS_MAX: usize = 3;

/// The lengths of the client's application-data records, when the stream is a sequence of
/// whole TLS records ending exactly at the end of the last one (so the packet being inspected
/// completed it) and holds two or three of them.
fn app_records(c: &[u8]) -> Option<Vec<usize>> {
    let mut apps = Vec::with_capacity(APP_RECORDS_MAX);
    let mut off = 0;
    while off < c.len() {
        let kind = *c.get(off)?;
        if c.get(off + 1) != Some(&tls::VERSION_MAJOR)
            || !(CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(&kind)
        {
            return None;
        }
        let len = usize::from(be16(c, off + 3)?);
        off = off.checked_add(tls::RECORD_HEADER_LEN + len)?;
        if off > c.len() {
            return None;
        }
        if kind == APPLICATION_DATA {
            if apps.len() == APP_RECORDS_MAX {
                return None;
            }
            apps.push(len);
        }
    }
    (apps.len() >= 2).then_some(apps)
}

/// The first two application records after the outer handshake (TLS 1.3 encrypts the client's
/// Finished as application data: it is skipped, and must have a Finished record's size).
fn inner_records(apps: &[usize], tls13: bool) -> Option<(usize, usize)> {
    let rest = if tls13 {
        let (&fin, rest) = apps.split_first()?;
        if !TLS13_FINISHED_RECORDS.contains(&fin) {
            return None;
        }
        rest
    } else {
        apps
    };
    match rest {
        [r1, r2] => Some((*r1, *r2)),
        _ => None,
    }
}

/// Server payload bytes after its leading handshake and ChangeCipherSpec records: the recorded
/// segments' lengths on the wire, minus those records.
fn server_after_handshake(view: &FlowView<'_>) -> Option<usize> {
    let s = view.to_client.data();
    let mut off = 0;
    while let Some(&kind) = s.get(off) {
        if kind != tls::CONTENT_HANDSHAKE && kind != CHANGE_CIPHER_SPEC {
            break;
        }
        off = off.checked_add(tls::RECORD_HEADER_LEN + usize::from(be16(s, off + 3)?))?;
    }
    let total: usize = (0..view.to_client.segments().len())
        .filter_map(|i| view.to_client.wire_len(i))
        .sum();
    total.checked_sub(off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Packet;
    use crate::detect::anon_testdata::{client_hello, random, record, tls13_server_flight};
    use crate::detect::testing::ViewBuilder;
    use crate::ts::Ts;

    const CIPHERS: [u16; 3] = [0x1301, 0x1302, 0xc02f];

    /// A client packet (192.0.2.10:41796, as ViewBuilder's client) carrying `payload`.
    fn from_client(payload: &[u8]) -> Packet<'_> {
        Packet {
            ts: Ts::from_secs(1),
            vlan: 0,
            src: "192.0.2.10".parse().unwrap(),
            dst: "198.51.100.20".parse().unwrap(),
            proto: ip_proto::TCP,
            ttl: 64,
            src_port: 41796,
            dst_port: 443,
            tcp: None,
            icmp: None,
            ah_spi: None,
            payload,
            wire_len: payload.len() as u32 + 54,
            payload_wire_len: payload.len() as u32,
            tunnel: None,
        }
    }

    /// An outer TLS 1.3 session: the client's hello, CCS + Finished (53-byte record), the
    /// trojan request with an inner 517-byte ClientHello (585 bytes inside), then the inner
    /// client's CCS + SHA-384 Finished flight (80 bytes inside); the server's flight, then
    /// `inner` bytes of relayed inner server flight in two records.
    fn session(second_inside: usize, inner: usize) -> (ViewBuilder, Vec<u8>) {
        let mut b = ViewBuilder::tcp(41796, 443)
            .to_server(&client_hello(
                Some("proxy.example.net"),
                &["h2", "http/1.1"],
                &CIPHERS,
            ))
            .to_client(&tls13_server_flight(0x1301, 1000));
        let mut fin = record(20, &[1]);
        fin.extend(record(23, &random(1, 53)));
        b = b
            .to_server(&fin)
            .to_server(&record(23, &random(2, 585 + 17)));
        b = b
            .to_client(&record(23, &random(3, inner / 2)))
            .to_client(&record(23, &random(4, inner - inner / 2)));
        let last = record(23, &random(5, second_inside + 17));
        (b.to_server(&last), last)
    }

    fn inspect(b: &ViewBuilder, last: &[u8]) -> Option<Verdict> {
        let p = from_client(last);
        let mut v = b.view();
        v.packet = Some(&p);
        TlsInTls.inspect(&v)
    }

    #[test]
    fn inner_handshake_shape_is_a_heuristic_trojan() {
        let (b, last) = session(80, 6600);
        let v = inspect(&b, &last).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence),
            (Kind::Anonymizer, "trojan", Confidence::Heuristic)
        );
        assert!(v.evidence[0].contains("585 bytes"), "{:?}", v.evidence);
        assert!(v.evidence[1].contains("proxy.example.net"));
    }

    #[test]
    fn an_http_sized_second_record_is_ordinary() {
        for second in [9, 26, 57, 81, 120, 238, 400] {
            let (b, last) = session(second, 6600);
            assert_eq!(inspect(&b, &last), None, "{second}");
        }
    }

    #[test]
    fn a_short_server_answer_or_a_server_packet_is_not_judged() {
        let (b, last) = session(80, 400);
        assert_eq!(inspect(&b, &last), None);
        let (b, _) = session(80, 6600);
        let mut v = b.view();
        let mut p = from_client(b"x");
        p.src = "198.51.100.20".parse().unwrap();
        v.packet = Some(&p);
        assert_eq!(TlsInTls.inspect(&v), None);
        assert_eq!(TlsInTls.inspect(&b.view()), None);
    }

    #[test]
    fn a_third_record_or_a_cut_stream_is_not_judged() {
        let (b, _) = session(80, 6600);
        let extra = record(23, &random(9, 40));
        let b = b.to_server(&extra);
        assert_eq!(inspect(&b, &extra), None);
        let (b, last) = session(80, 6600);
        let stream = b.view().to_server.data().to_vec();
        for cut in 0..stream.len() {
            let b = ViewBuilder::tcp(41796, 443)
                .to_server(&stream[..cut])
                .to_client(&tls13_server_flight(0x1301, 5000));
            let _ = inspect(&b, &last);
        }
    }

    #[test]
    fn other_protocols_are_ignored() {
        for p in [
            b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
            random(1, 600),
        ] {
            let b = ViewBuilder::tcp(41796, 443).to_server(&p).to_client(&p);
            assert_eq!(inspect(&b, &p), None);
        }
    }
}
