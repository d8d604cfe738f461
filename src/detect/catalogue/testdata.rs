//! Messages laid out field by field for the catalogue's tests: TLS records (RFC 8446 §5.1), a
//! ClientHello with server_name and ALPN (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1), a
//! TLS 1.2 server flight with a certificate (RFC 5246 §7.4.1.3, §7.4.2), and a minimal X.509
//! certificate in DER (RFC 5280 §4.1, X.690 §8).

/// A TLS record of `kind` with version 0x0301 (RFC 8446 §5.1).
pub(super) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 0x03, 0x01];
    v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A handshake message: type, 24-bit length, body (RFC 8446 §4).
fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = vec![kind, len[1], len[2], len[3]];
    v.extend_from_slice(body);
    v
}

fn len16(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend(len16(body));
    v
}

/// A ClientHello in one record: TLS 1.2 legacy version, zero random, no session id, suites
/// 0x1301 and 0xc02f, null compression, then server_name (type 0, host_name 0) when `sni` is
/// given, ALPN (type 16) when `alpn` is not empty, and supported_versions (type 43) = TLS 1.3.
pub(super) fn client_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([0u8; 32]);
    body.push(0);
    body.extend(len16(&[0x13, 0x01, 0xc0, 0x2f]));
    body.extend([1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        entry.extend(len16(name.as_bytes()));
        exts.extend(ext(0x0000, &len16(&entry)));
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for id in alpn {
            list.push(u8::try_from(id.len()).unwrap());
            list.extend_from_slice(id.as_bytes());
        }
        exts.extend(ext(0x0010, &len16(&list)));
    }
    exts.extend(ext(0x002b, &[0x02, 0x03, 0x04]));
    body.extend(len16(&exts));
    record(0x16, &handshake(0x01, &body))
}

/// A TLS 1.2 server flight: ServerHello (suite 0xc02f, no extensions) and a Certificate
/// message carrying `leaf`, each in its own record.
pub(super) fn server_flight(leaf: &[u8]) -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend([0x11u8; 32]);
    hello.extend([0x00, 0xc0, 0x2f, 0x00]);
    let mut v = record(0x16, &handshake(0x02, &hello));
    let entry = u24(leaf);
    v.extend(record(0x16, &handshake(0x0b, &u24(&entry))));
    v
}

fn u24(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut v = vec![len[1], len[2], len[3]];
    v.extend_from_slice(body);
    v
}

/// DER TLV (X.690 §8.1: short form below 128, else 0x81/0x82 long form).
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    match body.len() {
        n if n < 0x80 => v.push(u8::try_from(n).unwrap()),
        n if n < 0x100 => v.extend([0x81, u8::try_from(n).unwrap()]),
        n => v.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    v.extend_from_slice(body);
    v
}

/// A Name (RFC 5280 §4.1.2.4) with optional commonName (2.5.4.3) and organizationName
/// (2.5.4.10), as UTF8Strings.
fn name(cn: Option<&str>, o: Option<&str>) -> Vec<u8> {
    let mut rdns = Vec::new();
    for (oid, v) in [([0x55, 0x04, 0x0a], o), ([0x55, 0x04, 0x03], cn)] {
        if let Some(v) = v {
            let mut atv = tlv(0x06, &oid);
            atv.extend(tlv(0x0c, v.as_bytes()));
            rdns.extend(tlv(0x31, &tlv(0x30, &atv)));
        }
    }
    tlv(0x30, &rdns)
}

/// Names for [`certificate`].
#[derive(Default)]
pub(super) struct CertNames<'a> {
    /// Subject commonName.
    pub(super) subject_cn: Option<&'a str>,
    /// Subject organizationName.
    pub(super) subject_o: Option<&'a str>,
    /// Issuer commonName.
    pub(super) issuer_cn: Option<&'a str>,
    /// Issuer organizationName.
    pub(super) issuer_o: Option<&'a str>,
    /// subjectAltName dNSNames.
    pub(super) san: &'a [&'a str],
}

/// A v3 certificate (RFC 5280 §4.1) with an Ed25519 key (RFC 8410) and, when `san` is not
/// empty, a subjectAltName extension of dNSNames (§4.2.1.6). The signature is zero bytes: the
/// parser reads names, it does not verify.
pub(super) fn certificate(n: &CertNames<'_>) -> Vec<u8> {
    let ed25519 = tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x70]));
    let mut tbs = tlv(0xa0, &tlv(0x02, &[0x02]));
    tbs.extend(tlv(0x02, &[0x01, 0x23]));
    tbs.extend(ed25519.clone());
    tbs.extend(name(n.issuer_cn, n.issuer_o));
    let mut validity = tlv(0x17, b"240101000000Z");
    validity.extend(tlv(0x17, b"340101000000Z"));
    tbs.extend(tlv(0x30, &validity));
    tbs.extend(name(n.subject_cn, n.subject_o));
    let mut spki = ed25519.clone();
    let mut key = vec![0u8];
    key.extend([0x42u8; 32]);
    spki.extend(tlv(0x03, &key));
    tbs.extend(tlv(0x30, &spki));
    if !n.san.is_empty() {
        let mut names = Vec::new();
        for d in n.san {
            names.extend(tlv(0x82, d.as_bytes()));
        }
        let mut e = tlv(0x06, &[0x55, 0x1d, 0x11]);
        e.extend(tlv(0x04, &tlv(0x30, &names)));
        tbs.extend(tlv(0xa3, &tlv(0x30, &tlv(0x30, &e))));
    }
    let mut cert = tlv(0x30, &tbs);
    cert.extend(ed25519);
    let mut sig = vec![0u8];
    sig.extend([0u8; 64]);
    cert.extend(tlv(0x03, &sig));
    tlv(0x30, &cert)
}

/// RFC 9001 Appendix A.2: the protected client Initial (QUIC v1, 1200 bytes) whose ClientHello
/// names `example.com` (kept once, with the TLS/QUIC parser's test vectors).
pub(super) use crate::detect::tls::RFC9001_CLIENT_INITIAL;

/// Decodes hex, ignoring whitespace.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
