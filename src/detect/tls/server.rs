//! The server's first flight: ServerHello (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3) and, for
//! TLS ≤ 1.2, the Certificate message that follows it in clear (RFC 5246 §7.4.2).
//!
//! Facts used: the server's first handshake message is a ServerHello (type 2) whose body is
//! `legacy_version(2) random(32) session_id<0..32> cipher_suite(2) compression(1)
//! extensions<0..2^16-1>`, read with `tls-parser`; TLS 1.3 negotiates its version in the
//! supported_versions extension (selected_version, 2 bytes) and encrypts everything after the
//! ServerHello, so the certificate is only in clear when the negotiated version is ≤ 1.2. A
//! HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest") (RFC 8446
//! §4.1.3). A Certificate body is `certificate_list<0..2^24-1>` of `ASN.1Cert<1..2^24-1>`; the
//! first entry is the server's own (leaf) certificate (RFC 5246 §7.4.2), parsed with
//! `x509-parser` as soon as its bytes are present, even when the rest of the chain is cut.

use super::client_hello::{split_extensions, EXT_ALPN, EXT_SUPPORTED_VERSIONS};
use super::record::{handshakes, message, Message};
use super::{
    is_grease, Certificate, Parse, ServerHello, ALPN_ID_MAX, CERT_NAME_MAX, EXTENSIONS_MAX,
    SAN_DNS_MAX,
};
use crate::detect::printable;
use tls_parser::{
    parse_tls_handshake_server_hello, parse_tls_server_hello_extension, TlsExtension,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// HandshakeType server_hello (RFC 8446 §4).
const HANDSHAKE_SERVER_HELLO: u8 = 2;
/// HandshakeType certificate (RFC 8446 §4).
const HANDSHAKE_CERTIFICATE: u8 = 11;
/// Smallest ServerHello body: version(2) random(32) session_id length(1) cipher(2)
/// compression(1) (RFC 5246 §7.4.1.3).
const SERVER_HELLO_MIN: usize = 38;
/// Largest ServerHello body accepted: one full record (2^14). Real ones are ~90–130 bytes.
const SERVER_HELLO_MAX: usize = 1 << 14;
/// Offset of `random` in a hello body, after the 2-byte version (RFC 8446 §4.1.3).
const RANDOM_OFFSET: usize = 2;
/// RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// TLS 1.3 (RFC 8446 §4.2.1): from this version on the certificate is encrypted.
const TLS13: u16 = 0x0304;
/// Size of a 24-bit length (RFC 8446 §3.4 vectors of up to 2^24-1 bytes).
const U24_LEN: usize = 3;
/// Largest leaf certificate parsed: 64 KiB, far above real ones (1–8 KB).
const CERT_DER_MAX: usize = 64 * 1024;

/// Parses the ServerHello at the start of a server→client stream.
pub(super) fn server_hello(stream: &[u8]) -> Parse<ServerHello> {
    let hs = match handshakes(stream) {
        Parse::Done(h) => h,
        Parse::Incomplete => return Parse::Incomplete,
        Parse::NotTls => return Parse::NotTls,
    };
    hello_at(&hs.bytes, hs.open).map(|(sh, _)| sh)
}

/// The ServerHello at the start of the handshake bytes `b`, and the bytes after it. `open`
/// says whether more handshake bytes could still arrive.
fn hello_at(b: &[u8], open: bool) -> Parse<(ServerHello, &[u8])> {
    let cut = if open {
        Parse::Incomplete
    } else {
        Parse::NotTls
    };
    if b.first().is_some_and(|&t| t != HANDSHAKE_SERVER_HELLO) {
        return Parse::NotTls;
    }
    let Some((msg, after)) = message(b) else {
        return cut;
    };
    if !(SERVER_HELLO_MIN..=SERVER_HELLO_MAX).contains(&msg.len) {
        return Parse::NotTls;
    }
    if !msg.complete() {
        return cut;
    }
    match body(msg.body) {
        Some(sh) => Parse::Done((sh, after)),
        None => Parse::NotTls,
    }
}

/// Parses a complete ServerHello body.
fn body(b: &[u8]) -> Option<ServerHello> {
    let (rest, raw) = parse_tls_handshake_server_hello(b).ok()?;
    if !rest.is_empty() || is_grease(raw.cipher.0) {
        return None;
    }
    let mut sh = ServerHello {
        legacy_version: raw.version.0,
        version: raw.version.0,
        cipher_suite: raw.cipher.0,
        hello_retry: b.get(RANDOM_OFFSET..RANDOM_OFFSET + HELLO_RETRY_RANDOM.len())
            == Some(&HELLO_RETRY_RANDOM[..]),
        ..ServerHello::default()
    };
    if let Some(ext) = raw.ext {
        extensions(ext, &mut sh)?;
    }
    Some(sh)
}

/// Reads the ServerHello extensions into `sh`.
fn extensions(block: &[u8], sh: &mut ServerHello) -> Option<()> {
    let mut ok = true;
    split_extensions(block, |ty, entry| {
        if sh.extensions.len() < EXTENSIONS_MAX {
            sh.extensions.push(ty);
        }
        let parsed = parse_tls_server_hello_extension(entry).ok().map(|(_, e)| e);
        match (ty, parsed) {
            (EXT_SUPPORTED_VERSIONS, Some(TlsExtension::SupportedVersions(v))) => {
                match v.as_slice() {
                    [one] if !is_grease(one.0) => sh.version = one.0,
                    _ => ok = false,
                }
            }
            (EXT_SUPPORTED_VERSIONS, _) => ok = false,
            (EXT_ALPN, Some(TlsExtension::ALPN(ids))) => match ids.as_slice() {
                // RFC 7301 §3.1: the server answers with exactly one protocol name.
                [one] => {
                    sh.alpn = Some(
                        one.get(..one.len().min(ALPN_ID_MAX))
                            .unwrap_or_default()
                            .to_vec(),
                    );
                }
                _ => ok = false,
            },
            _ => {}
        }
    })?;
    ok.then_some(())
}

/// Parses the leaf certificate that follows the ServerHello (TLS ≤ 1.2).
pub(super) fn certificate(stream: &[u8]) -> Parse<Certificate> {
    let hs = match handshakes(stream) {
        Parse::Done(h) => h,
        Parse::Incomplete => return Parse::Incomplete,
        Parse::NotTls => return Parse::NotTls,
    };
    let (sh, after) = match hello_at(&hs.bytes, hs.open) {
        Parse::Done(x) => x,
        Parse::Incomplete => return Parse::Incomplete,
        Parse::NotTls => return Parse::NotTls,
    };
    if sh.version >= TLS13 || sh.hello_retry {
        return Parse::NotTls;
    }
    // When the handshake records end without more bytes (a resumed session goes on with
    // ChangeCipherSpec), there is no certificate in clear.
    let cut = if hs.open {
        Parse::Incomplete
    } else {
        Parse::NotTls
    };
    if after.first().is_some_and(|&t| t != HANDSHAKE_CERTIFICATE) {
        return Parse::NotTls;
    }
    let Some((msg, _)) = message(after) else {
        return cut;
    };
    match leaf(&msg) {
        Parse::Incomplete => cut,
        other => other,
    }
}

/// The first certificate of a (possibly cut) Certificate message.
fn leaf(msg: &Message<'_>) -> Parse<Certificate> {
    let b = msg.body;
    let (Some(list_len), Some(cert_len)) = (be24(b, 0), be24(b, U24_LEN)) else {
        return if msg.complete() {
            Parse::NotTls
        } else {
            Parse::Incomplete
        };
    };
    // The list fills the message; the first certificate fits in the list.
    if list_len + U24_LEN != msg.len || cert_len + U24_LEN > list_len || cert_len == 0 {
        return Parse::NotTls;
    }
    if cert_len > CERT_DER_MAX {
        return Parse::NotTls;
    }
    let start = 2 * U24_LEN;
    let Some(der) = b.get(start..start + cert_len) else {
        return Parse::Incomplete;
    };
    match recent::lookup(der) {
        Some(Some(cert)) => Parse::Done(cert),
        Some(None) => Parse::NotTls,
        None => {
            let parsed = X509Certificate::from_der(der).ok().map(|(_, c)| names(&c));
            recent::remember(der, &parsed);
            parsed.map_or(Parse::NotTls, Parse::Done)
        }
    }
}

/// Leaf certificates parsed lately on this thread, by their DER bytes.
///
/// A sensor sees the same servers again and again (the VPN gateway, the remote-desktop relays
/// a team uses), each presenting the same leaf certificate on every connection, and the X.509
/// parse is the dearest step of reading a server's first flight. The names depend on the DER
/// bytes alone, so a remembered parse is exactly what parsing again would give. Per thread,
/// because each pipeline worker runs its own cascade and a shared cache would need a lock.
mod recent {
    use super::super::recent::Recent;
    use super::Certificate;
    use std::cell::RefCell;

    /// Certificates remembered per thread; the oldest is replaced first.
    const ENTRIES_MAX: usize = 64;
    /// Largest DER remembered: leaf certificates are typically 1–2 KiB, and the bound keeps the
    /// cache within `ENTRIES_MAX * DER_MAX` bytes whatever a server sends.
    const DER_MAX: usize = 4 * 1024;

    /// One remembered parse: the DER, and its names (`None`: not a certificate).
    type Entry = (Box<[u8]>, Option<Certificate>);

    thread_local! {
        static RECENT: RefCell<Recent<Entry>> = const { RefCell::new(Recent::new(ENTRIES_MAX)) };
    }

    /// The remembered parse of `der`: `Some(None)` when it was not a certificate.
    pub(super) fn lookup(der: &[u8]) -> Option<Option<Certificate>> {
        RECENT.with_borrow(|r| r.find(|(d, _)| **d == *der).map(|(_, c)| c.clone()))
    }

    /// Remembers the parse of `der`, unless it is too large to keep.
    pub(super) fn remember(der: &[u8], parsed: &Option<Certificate>) {
        if der.len() > DER_MAX {
            return;
        }
        RECENT.with_borrow_mut(|r| r.remember((Box::from(der), parsed.clone())));
    }
}

/// Reads a 24-bit big-endian length at `off`.
fn be24(b: &[u8], off: usize) -> Option<usize> {
    let s = b.get(off..off.checked_add(U24_LEN)?)?;
    Some(usize::from(*s.first()?) << 16 | usize::from(*s.get(1)?) << 8 | usize::from(*s.get(2)?))
}

/// The names we report from a parsed certificate.
fn names(cert: &X509Certificate<'_>) -> Certificate {
    let subject = cert.subject();
    let issuer = cert.issuer();
    let mut san_dns = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(d) = name {
                if san_dns.len() >= SAN_DNS_MAX {
                    break;
                }
                san_dns.push(printable(d.as_bytes(), CERT_NAME_MAX).to_ascii_lowercase());
            }
        }
    }
    Certificate {
        subject_cn: first(subject.iter_common_name()),
        issuer_cn: first(issuer.iter_common_name()),
        issuer_o: first(issuer.iter_organization()),
        san_dns,
        self_issued: name_der(subject) == name_der(issuer),
    }
}

/// The first attribute of a name, as printable text (UTF-8 decoded when it is a string type).
fn first<'a, 'b: 'a>(
    mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
) -> Option<String> {
    let attr = it.next()?;
    let bytes = attr.as_str().map_or(attr.as_slice(), str::as_bytes);
    Some(printable(bytes, CERT_NAME_MAX))
}

/// The DER of a name, for comparison.
fn name_der<'a>(n: &'a X509Name<'_>) -> &'a [u8] {
    n.as_raw()
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{self, handshake, hex, record};
    use super::*;
    use proptest::prelude::*;

    /// A TLS 1.2 ServerHello body laid out per RFC 5246 §7.4.1.3: version 0x0303 (0..2),
    /// random (2..34), session_id length 32 (34) and id (35..67), cipher 0xc02f (67..69),
    /// compression 0 (69), extensions length (70..72): renegotiation_info (ff01, empty info)
    /// and ALPN "h2" (0010).
    fn tls12_server_hello() -> Vec<u8> {
        let mut b = vec![0x03, 0x03];
        b.extend_from_slice(&[0x5a; 32]);
        b.push(32);
        b.extend_from_slice(&[0x77; 32]);
        b.extend_from_slice(&[0xc0, 0x2f, 0x00]);
        let exts = b"\xff\x01\x00\x01\x00\x00\x10\x00\x05\x00\x03\x02h2";
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend_from_slice(exts);
        handshake(2, &b)
    }

    /// A Certificate message with the test leaf and a second (fake) chain entry.
    fn certificate_message() -> Vec<u8> {
        let leaf = hex(testdata::TEST_LEAF_CERT);
        let chain2 = vec![0x30, 0x03, 0x02, 0x01, 0x00];
        let mut list = Vec::new();
        for c in [&leaf, &chain2] {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        handshake(11, &body)
    }

    /// ServerHello and Certificate in one record, ServerHelloDone in a second one.
    fn tls12_flight() -> Vec<u8> {
        let mut s = record(
            0x16,
            &[tls12_server_hello(), certificate_message()].concat(),
        );
        s.extend(record(0x16, &handshake(14, &[])));
        s
    }

    #[test]
    fn tls12_server_hello_fields() {
        let sh = server_hello(&tls12_flight()).done().unwrap();
        assert_eq!(
            (sh.legacy_version, sh.version, sh.cipher_suite),
            (0x0303, 0x0303, 0xc02f)
        );
        assert_eq!(sh.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(sh.extensions, vec![0xff01, 0x0010]);
        assert!(!sh.hello_retry);
    }

    /// RFC 9001 Appendix A.3: the server's ServerHello (TLS 1.3 via supported_versions).
    #[test]
    fn rfc9001_server_hello() {
        let s = record(0x16, &hex(testdata::RFC9001_SERVER_HELLO));
        let sh = server_hello(&s).done().unwrap();
        assert_eq!(
            (sh.legacy_version, sh.version, sh.cipher_suite),
            (0x0303, 0x0304, 0x1301)
        );
        assert_eq!(sh.extensions, vec![0x0033, 0x002b]);
        assert_eq!(sh.alpn, None);
        // TLS 1.3: no certificate in clear.
        assert_eq!(certificate(&s), Parse::NotTls);
    }

    #[test]
    fn hello_retry_request_is_flagged() {
        let mut m = hex(testdata::RFC9001_SERVER_HELLO);
        m[4 + RANDOM_OFFSET..4 + RANDOM_OFFSET + 32].copy_from_slice(&HELLO_RETRY_RANDOM);
        let sh = server_hello(&record(0x16, &m)).done().unwrap();
        assert!(sh.hello_retry);
    }

    #[test]
    fn leaf_certificate_names() {
        let c = certificate(&tls12_flight()).done().unwrap();
        assert_eq!(c.subject_cn.as_deref(), Some("vpn.example.net"));
        assert_eq!(c.issuer_cn.as_deref(), Some("Test Issuing CA"));
        assert_eq!(c.issuer_o.as_deref(), Some("Test CA Ltd"));
        assert_eq!(c.san_dns, vec!["vpn.example.net", "*.vpn.example.net"]);
        assert!(!c.self_issued);
    }

    #[test]
    fn every_prefix_is_incomplete_until_the_leaf_is_whole() {
        let s = tls12_flight();
        // Record header (5) + ServerHello + Certificate header (4) + list/cert lengths (6) + DER.
        let leaf_end = 5 + tls12_server_hello().len() + 4 + 6 + hex(testdata::TEST_LEAF_CERT).len();
        for n in 0..s.len() {
            let c = certificate(&s[..n]);
            if n < leaf_end {
                assert_eq!(c, Parse::Incomplete, "prefix {n}");
            } else {
                assert!(c.done().is_some(), "prefix {n}");
            }
            let sh = server_hello(&s[..n]);
            assert!(
                matches!(sh, Parse::Incomplete | Parse::Done(_)),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn resumed_session_has_no_certificate() {
        let mut s = record(0x16, &tls12_server_hello());
        s.extend(record(0x14, b"\x01"));
        assert!(server_hello(&s).done().is_some());
        assert_eq!(certificate(&s), Parse::NotTls);
    }

    #[test]
    fn malformed_server_hellos_are_refused() {
        let good = tls12_server_hello();
        // Version 0x0305 is no TLS version (tls-parser knows 0x0300..0x0303 in this field).
        let mut v = good.clone();
        v[5] = 5;
        // Extension block length one too long (offset 4 + 70 .. 72).
        let mut e = good.clone();
        e[4 + 71] += 1;
        // Two ALPN names in a ServerHello (RFC 7301 §3.1 allows one).
        let mut two = good[..good.len() - 9].to_vec();
        two.extend_from_slice(b"\x00\x10\x00\x08\x00\x06\x02h2\x02h3");
        let n = two.len() - 4;
        two[1..4].copy_from_slice(&(n as u32).to_be_bytes()[1..]);
        let ext_len = (two.len() - 4 - 72) as u16;
        two[4 + 70..4 + 72].copy_from_slice(&ext_len.to_be_bytes());
        for m in [v, e, two] {
            assert_eq!(server_hello(&record(0x16, &m)), Parse::NotTls);
        }
        // A ClientHello is not a ServerHello.
        assert_eq!(server_hello(&testdata::ja4_example_stream()), Parse::NotTls);
        assert_eq!(server_hello(b"HTTP/1.1 200 OK\r\n"), Parse::NotTls);
    }

    #[test]
    fn certificate_list_lengths_must_agree() {
        let mut m = certificate_message();
        m[4 + 2] ^= 1; // certificate_list length no longer fills the message
        let s = record(0x16, &[tls12_server_hello(), m].concat());
        assert_eq!(certificate(&s), Parse::NotTls);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = server_hello(&b);
            let _ = certificate(&b);
            let _ = certificate(&record(0x16, &b));
        }

        #[test]
        fn mutated_flight_never_panics(i in 0usize..1200, x in any::<u8>()) {
            let mut s = tls12_flight();
            let n = s.len();
            s[i % n] ^= x;
            let _ = server_hello(&s);
            let _ = certificate(&s);
        }
    }
}
