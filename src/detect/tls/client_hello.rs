//! ClientHello parsing (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2 for TLS ≤ 1.2).
//!
//! The body is `legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
//! compression_methods<1..2^8-1> extensions<0..2^16-1>`; `tls-parser` reads it and every
//! extension's content. Our checks on top: the handshake type is ClientHello (1), the body
//! length is within [`CLIENT_HELLO_MAX`], the version's major byte is 3, at least one cipher
//! suite and one compression method are offered, and the extension block is a sequence of
//! `type(2) length(2) data` entries that fills the body exactly. A message that fails any of these
//! is not a ClientHello; one whose bytes are merely cut is `Incomplete`.
//!
//! The same body arrives in QUIC CRYPTO frames without a record header (RFC 9001 §4), so
//! [`from_handshake`] is shared with the QUIC parser.

use super::record::{handshakes, message};
use super::{
    keep, ClientHello, Parse, ALPN_ID_MAX, ALPN_MAX, DNS_LABEL_MAX, EXTENSIONS_MAX, GROUPS_MAX,
    SIG_ALGS_MAX, SNI_MAX, VERSIONS_MAX,
};
use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_client_hello, SNIType, TlsExtension,
};

/// HandshakeType client_hello (RFC 8446 §4).
pub(super) const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Largest ClientHello body accepted: 2^14 bytes (one full record). Browsers send < 2 KB even
/// with post-quantum key shares; a longer declared length is not a ClientHello we will ever see
/// whole in a stream prefix.
pub(super) const CLIENT_HELLO_MAX: usize = 1 << 14;
/// Smallest ClientHello body: version(2) random(32) session_id length(1) one cipher suite with
/// its length(4) one compression method with its length(2) (RFC 5246 §7.4.1.2).
const CLIENT_HELLO_MIN: usize = 41;
/// Version major byte of SSL 3.0 .. TLS 1.3 (RFC 8446 Appendix D).
const VERSION_MAJOR: u16 = 0x03;
/// Highest version minor byte: TLS 1.3 (0x0304; RFC 8446 §4.1.2 fixes legacy_version at
/// 0x0303, anything above 0x0304 is not TLS).
const VERSION_MINOR_MAX: u8 = 4;
/// Extension type server_name (RFC 6066 §3).
pub(super) const EXT_SERVER_NAME: u16 = 0x0000;
/// Extension type supported_groups (RFC 8446 §4.2.7).
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
/// Extension type signature_algorithms (RFC 8446 §4.2.3).
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
/// Extension type application_layer_protocol_negotiation (RFC 7301 §3.1).
pub(super) const EXT_ALPN: u16 = 0x0010;
/// Extension type supported_versions (RFC 8446 §4.2.1).
pub(super) const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
/// Size of an extension header: type(2) length(2) (RFC 8446 §4.2).
pub(super) const EXT_HEADER_LEN: usize = 4;

/// Parses a ClientHello at the start of a TCP stream (one or more handshake records).
pub(super) fn from_stream(stream: &[u8]) -> Parse<ClientHello> {
    let hs = match handshakes(stream) {
        Parse::Done(h) => h,
        Parse::Incomplete => return Parse::Incomplete,
        Parse::NotTls => return Parse::NotTls,
    };
    match from_handshake(&hs.bytes) {
        Parse::Incomplete if !hs.open => Parse::NotTls,
        other => other,
    }
}

/// Parses a ClientHello handshake message (type, 24-bit length, body) at the start of `b`.
pub(super) fn from_handshake(b: &[u8]) -> Parse<ClientHello> {
    if b.first().is_some_and(|&t| t != HANDSHAKE_CLIENT_HELLO) {
        return Parse::NotTls;
    }
    let Some((msg, _)) = message(b) else {
        return Parse::Incomplete;
    };
    if !(CLIENT_HELLO_MIN..=CLIENT_HELLO_MAX).contains(&msg.len) {
        return Parse::NotTls;
    }
    if !version_prefix_ok(msg.body) {
        return Parse::NotTls;
    }
    if !msg.complete() {
        return Parse::Incomplete;
    }
    match body(msg.body) {
        Some(ch) => Parse::Done(ch),
        None => Parse::NotTls,
    }
}

/// Whether the legacy_version bytes present say SSL 3.0 .. TLS 1.3.
fn version_prefix_ok(body: &[u8]) -> bool {
    let major_ok = body.first().is_none_or(|&m| u16::from(m) == VERSION_MAJOR);
    let minor_ok = body.get(1).is_none_or(|&m| m <= VERSION_MINOR_MAX);
    major_ok && minor_ok
}

/// Parses a complete ClientHello body.
fn body(b: &[u8]) -> Option<ClientHello> {
    let (rest, raw) = parse_tls_handshake_client_hello(b).ok()?;
    if !rest.is_empty() || raw.ciphers.is_empty() || raw.comp.is_empty() {
        // Trailing bytes mean the extension block's length disagreed with the message length.
        return None;
    }
    // Each list is sized once from its count on the wire (bounded as `keep` bounds it) rather
    // than grown push by push: a browser's hello lists a dozen or more of each.
    let mut ch = ClientHello {
        legacy_version: raw.version.0,
        cipher_suites: Vec::with_capacity(raw.ciphers.len().min(super::CIPHER_SUITES_MAX)),
        ..ClientHello::default()
    };
    for c in &raw.ciphers {
        keep(
            &mut ch.cipher_suites,
            c.0,
            super::CIPHER_SUITES_MAX,
            &mut ch.grease,
            &mut ch.truncated,
        );
    }
    if let Some(ext) = raw.ext {
        extensions(ext, &mut ch)?;
    }
    Some(ch)
}

/// Splits an extension block into `(type, whole entry)`; `None` when the entries do not fill
/// the block exactly.
pub(super) fn split_extensions(mut b: &[u8], mut each: impl FnMut(u16, &[u8])) -> Option<()> {
    while !b.is_empty() {
        let ty = crate::detect::be16(b, 0)?;
        let len = usize::from(crate::detect::be16(b, 2)?);
        let (entry, rest) = b.split_at_checked(EXT_HEADER_LEN.checked_add(len)?)?;
        each(ty, entry);
        b = rest;
    }
    Some(())
}

/// Reads the extension block into `ch`.
fn extensions(block: &[u8], ch: &mut ClientHello) -> Option<()> {
    let mut n = 0usize;
    split_extensions(block, |_, _| n += 1)?;
    ch.extensions.reserve(n.min(EXTENSIONS_MAX));
    split_extensions(block, |ty, entry| {
        keep(
            &mut ch.extensions,
            ty,
            EXTENSIONS_MAX,
            &mut ch.grease,
            &mut ch.truncated,
        );
        if ty == EXT_SERVER_NAME {
            ch.sni_present = true;
        }
        // A malformed extension body is skipped, not fatal: Wireshark and Zeek also keep going,
        // and the extension's type alone still counts for the fingerprint.
        if let Ok((_, ext)) = parse_tls_client_hello_extension(entry) {
            content(ext, ch);
        }
    })
}

/// Takes the fields we report from one parsed extension.
fn content(ext: TlsExtension<'_>, ch: &mut ClientHello) {
    let (g, t) = (&mut ch.grease, &mut ch.truncated);
    match ext {
        TlsExtension::SNI(names) if ch.sni.is_none() => {
            ch.sni = names
                .iter()
                .find(|(kind, _)| *kind == SNIType::HostName)
                .and_then(|(_, name)| dns_name(name));
        }
        TlsExtension::ALPN(ids) => {
            for id in ids {
                if ch.alpn.len() >= ALPN_MAX {
                    *t = true;
                    break;
                }
                ch.alpn.push(
                    id.get(..id.len().min(ALPN_ID_MAX))
                        .unwrap_or_default()
                        .to_vec(),
                );
            }
        }
        TlsExtension::SignatureAlgorithms(algs) => {
            ch.signature_algorithms
                .reserve(algs.len().min(SIG_ALGS_MAX));
            for a in algs {
                keep(&mut ch.signature_algorithms, a, SIG_ALGS_MAX, g, t);
            }
        }
        TlsExtension::EllipticCurves(groups) => {
            ch.supported_groups.reserve(groups.len().min(GROUPS_MAX));
            for n in groups {
                keep(&mut ch.supported_groups, n.0, GROUPS_MAX, g, t);
            }
        }
        TlsExtension::SupportedVersions(vs) => {
            for v in vs {
                keep(&mut ch.supported_versions, v.0, VERSIONS_MAX, g, t);
            }
        }
        _ => {}
    }
}

/// A server name as RFC 6066 §3 requires it: a DNS host name in ASCII, no trailing dot. Labels
/// of letters, digits, hyphens and underscores (seen in real SNI) of 1..=63 characters, the
/// whole at most [`SNI_MAX`]; returned lower-cased. A single trailing dot, which some clients
/// send, is dropped.
pub(super) fn dns_name(raw: &[u8]) -> Option<String> {
    let name = raw.strip_suffix(b".").unwrap_or(raw);
    if name.is_empty() || name.len() > SNI_MAX {
        return None;
    }
    let label_ok = |l: &[u8]| {
        (1..=DNS_LABEL_MAX).contains(&l.len())
            && l.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    if !name.split(|&c| c == b'.').all(label_ok) {
        return None;
    }
    let s = std::str::from_utf8(name).ok()?;
    Some(s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{self, record};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9001_client_hello_in_a_record() {
        // The ClientHello carried in RFC 9001 Appendix A.2's CRYPTO frame, wrapped in one TLS
        // handshake record (type 0x16, version 0x0301, length).
        let s = record(0x16, &testdata::rfc9001_client_hello());
        let ch = client_hello_done(&s);
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.version(), 0x0304);
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert!(ch.sni_present);
        assert_eq!(ch.alpn, vec![b"alpn".to_vec()]);
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302]);
        assert_eq!(
            ch.extensions,
            vec![
                0x0000, 0xff01, 0x000a, 0x0010, 0x0005, 0x0033, 0x002b, 0x000d, 0x002d, 0x001c,
                0x0039
            ]
        );
        assert_eq!(ch.supported_groups, vec![0x001d, 0x0017, 0x0018]);
        assert_eq!(
            ch.signature_algorithms,
            vec![0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805, 0x0806]
        );
        assert!(!ch.grease && !ch.truncated);
    }

    fn client_hello_done(s: &[u8]) -> ClientHello {
        match from_stream(s) {
            Parse::Done(ch) => ch,
            other => panic!("expected a ClientHello, got {other:?}"),
        }
    }

    #[test]
    fn ja4_example_hello_lists_drop_grease() {
        let s = testdata::ja4_example_stream();
        let ch = client_hello_done(&s);
        assert!(ch.grease);
        assert_eq!(ch.cipher_suites.len(), 15);
        assert_eq!(ch.extensions.len(), 16);
        assert_eq!(ch.supported_versions, vec![0x0304, 0x0303]);
        assert_eq!(ch.sni.as_deref(), Some("www.example.org"));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn every_prefix_is_incomplete_and_the_whole_is_done() {
        let s = testdata::ja4_example_stream();
        for n in 0..s.len() {
            assert_eq!(from_stream(&s[..n]), Parse::Incomplete, "prefix {n}");
        }
        assert!(from_stream(&s).done().is_some());
    }

    #[test]
    fn hello_split_over_two_records() {
        let body = testdata::rfc9001_client_hello();
        let (a, b) = body.split_at(60);
        let mut s = record(0x16, a);
        s.extend(record(0x16, b));
        assert_eq!(client_hello_done(&s).sni.as_deref(), Some("example.com"));
        // The second record cut: incomplete; followed by another record type instead: not TLS.
        assert_eq!(from_stream(&s[..s.len() - 3]), Parse::Incomplete);
        let mut bad = record(0x16, a);
        bad.extend(record(0x15, b"\x02\x28"));
        assert_eq!(from_stream(&bad), Parse::NotTls);
    }

    #[test]
    fn other_messages_and_protocols_are_not_a_client_hello() {
        let mut server_hello = testdata::rfc9001_client_hello();
        server_hello[0] = 2;
        for s in [
            record(0x16, &server_hello),
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            testdata::DNS_QUERY.to_vec(),
            testdata::STUN_BINDING_REQUEST.to_vec(),
            b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"
                .to_vec(),
        ] {
            assert_eq!(from_stream(&s), Parse::NotTls, "{s:02x?}");
        }
    }

    #[test]
    fn inconsistent_lengths_are_refused() {
        let good = testdata::rfc9001_client_hello();
        // Extension block length (body offset 4+2+32+1+2+4+1+1 = 47 .. 49) one too long.
        let mut ext_long = good.clone();
        ext_long[4 + 43] += 1;
        assert_eq!(from_handshake(&ext_long), Parse::NotTls);
        // Handshake length larger than the bound.
        let mut huge = good.clone();
        huge[1] = 0x01;
        assert_eq!(from_handshake(&huge), Parse::NotTls);
        // Version major byte 2.
        let mut v2 = good;
        v2[4] = 2;
        assert_eq!(from_handshake(&v2), Parse::NotTls);
    }

    #[test]
    fn server_names_are_validated_and_lower_cased() {
        assert_eq!(
            dns_name(b"WWW.Example.COM."),
            Some("www.example.com".into())
        );
        assert_eq!(
            dns_name(b"_dmarc.a-b.example"),
            Some("_dmarc.a-b.example".into())
        );
        assert_eq!(dns_name(b"10.0.0.1"), Some("10.0.0.1".into()));
        for bad in [
            &b""[..],
            b".",
            b"a..b",
            b"a b",
            b"caf\xc3\xa9.fr",
            b"x\x00y",
            b".lead",
        ] {
            assert_eq!(dns_name(bad), None, "{bad:?}");
        }
        let long_label = [b'a'; 64];
        assert_eq!(dns_name(&long_label), None);
        let long_name = b"abcdefghi.".repeat(26);
        assert_eq!(dns_name(&long_name[..259]), None);
        assert!(dns_name(&long_name[..SNI_MAX]).is_some());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = from_stream(&b);
            let _ = from_handshake(&b);
        }

        #[test]
        fn arbitrary_records_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut s = record(0x16, &b);
            let _ = from_stream(&s);
            s.truncate(s.len() / 2);
            let _ = from_stream(&s);
        }

        #[test]
        fn mutated_hello_never_panics(i in 0usize..600, x in any::<u8>()) {
            let mut s = testdata::ja4_example_stream();
            let n = s.len();
            s[i % n] ^= x;
            let _ = from_stream(&s);
        }
    }
}
