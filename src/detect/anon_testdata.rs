//! Test inputs shared by the anonymizer and covert-tunnel detectors' unit tests: TLS records,
//! hellos and X.509 certificates laid out field by field (RFC 8446 §4, RFC 5246 §7.4, RFC 5280
//! §4.1), and deterministic ciphertext stand-ins.

/// Deterministic random-looking bytes (xorshift64*), for keys and ciphertext.
pub(crate) fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// A TLS record: type, version 0x0303, 16-bit length, body (RFC 8446 §5.1).
pub(crate) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 0x03, 0x03];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake message: type, 24-bit length, body (RFC 8446 §4).
pub(crate) fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// One extension: type, 16-bit length, data (RFC 8446 §4.2).
fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut e = ty.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

/// A 16-bit length-prefixed vector.
fn vec16(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A ClientHello record (RFC 8446 §4.1.2): legacy version 0x0303, random, 32-byte session id,
/// `ciphers`, null compression, and the extensions server_name (RFC 6066 §3) when `sni` is
/// given, supported_groups, signature_algorithms and ALPN (RFC 7301) when `alpn` is not empty.
pub(crate) fn client_hello(sni: Option<&str>, alpn: &[&str], ciphers: &[u16]) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend(random(0x5eed, 32));
    b.push(32);
    b.extend(random(0x1d, 32));
    let cs: Vec<u8> = ciphers.iter().flat_map(|c| c.to_be_bytes()).collect();
    b.extend(vec16(&cs));
    b.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        entry.extend(vec16(name.as_bytes()));
        exts.extend(ext(0x0000, &vec16(&entry)));
    }
    exts.extend(ext(0x000a, &vec16(&[0x00, 0x1d, 0x00, 0x17])));
    exts.extend(ext(0x000d, &vec16(&[0x04, 0x03, 0x08, 0x04, 0x04, 0x01])));
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for p in alpn {
            list.push(p.len() as u8);
            list.extend_from_slice(p.as_bytes());
        }
        exts.extend(ext(0x0010, &vec16(&list)));
    }
    b.extend(vec16(&exts));
    record(0x16, &handshake(1, &b))
}

/// A ServerHello message (RFC 8446 §4.1.3): legacy version 0x0303, random, 32-byte session id,
/// `cipher`, null compression; for `version` 0x0304 a supported_versions extension selecting
/// TLS 1.3 (RFC 8446 §4.2.1).
pub(crate) fn server_hello(version: u16, cipher: u16) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend(random(0x5e, 32));
    b.push(32);
    b.extend(random(0x1d, 32));
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    let exts = if version == 0x0304 {
        ext(0x002b, &[0x03, 0x04])
    } else {
        ext(0xff01, &[0x00])
    };
    b.extend(vec16(&exts));
    handshake(2, &b)
}

/// A TLS 1.2 server flight in one record: ServerHello, Certificate with `certs`, and
/// ServerHelloDone (RFC 5246 §7.4.1.3, §7.4.2, §7.4.5).
pub(crate) fn tls12_server_flight(cipher: u16, certs: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certs {
        list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(c);
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    let mut msgs = server_hello(0x0303, cipher);
    msgs.extend(handshake(11, &body));
    msgs.extend(handshake(14, &[]));
    record(0x16, &msgs)
}

/// A TLS 1.3 server flight: ServerHello record, a ChangeCipherSpec record (RFC 8446 §D.4), and
/// the encrypted handshake as one application-data record of `encrypted` bytes.
pub(crate) fn tls13_server_flight(cipher: u16, encrypted: usize) -> Vec<u8> {
    let mut s = record(0x16, &server_hello(0x0304, cipher));
    s.extend(record(0x14, &[1]));
    s.extend(record(0x17, &random(0x13, encrypted)));
    s
}

/// A DER TLV with a definite length (X.690 §8.1).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.push(0x82);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    v.extend_from_slice(content);
    v
}

/// id-at-commonName 2.5.4.3 (RFC 5280 Appendix A).
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// id-at-organizationName 2.5.4.10.
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
/// sha256WithRSAEncryption 1.2.840.113549.1.1.11 (RFC 4055).
const OID_SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
/// rsaEncryption 1.2.840.113549.1.1.1 (RFC 8017).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ce-subjectAltName 2.5.29.17 (RFC 5280 §4.2.1.6).
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// A Name (RFC 5280 §4.1.2.4) with an optional organizationName and a commonName.
fn name(cn: &str, o: Option<&str>) -> Vec<u8> {
    let rdn = |oid: &[u8], v: &str| {
        let atv = [tlv(0x06, oid), tlv(0x0c, v.as_bytes())].concat();
        tlv(0x31, &tlv(0x30, &atv))
    };
    let mut rdns = Vec::new();
    if let Some(o) = o {
        rdns.extend(rdn(OID_O, o));
    }
    rdns.extend(rdn(OID_CN, cn));
    tlv(0x30, &rdns)
}

/// An X.509 v3 certificate (RFC 5280 §4.1) with the given issuer and subject names and
/// subjectAltName dNSNames; the key and signature are random stand-ins.
pub(crate) fn certificate(
    issuer: (&str, Option<&str>),
    subject: (&str, Option<&str>),
    san: &[&str],
) -> Vec<u8> {
    let alg = tlv(
        0x30,
        &[tlv(0x06, OID_SHA256_RSA), vec![0x05, 0x00]].concat(),
    );
    let validity = tlv(
        0x30,
        &[tlv(0x17, b"240101000000Z"), tlv(0x17, b"350101000000Z")].concat(),
    );
    let mut modulus = vec![0x00];
    modulus.extend(random(0x4b, 64));
    let rsa_key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[1, 0, 1])].concat());
    let mut key_bits = vec![0x00];
    key_bits.extend(rsa_key);
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &[tlv(0x06, OID_RSA), vec![0x05, 0x00]].concat()),
            tlv(0x03, &key_bits),
        ]
        .concat(),
    );
    let mut tbs = [
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[0x01, 0x23]),
        alg.clone(),
        name(issuer.0, issuer.1),
        validity,
        name(subject.0, subject.1),
        spki,
    ]
    .concat();
    if !san.is_empty() {
        let names: Vec<u8> = san.iter().flat_map(|n| tlv(0x82, n.as_bytes())).collect();
        let ext = tlv(
            0x30,
            &[tlv(0x06, OID_SAN), tlv(0x04, &tlv(0x30, &names))].concat(),
        );
        tbs.extend(tlv(0xa3, &tlv(0x30, &ext)));
    }
    let mut sig = vec![0x00];
    sig.extend(random(0x51, 64));
    tlv(0x30, &[tlv(0x30, &tbs), alg, tlv(0x03, &sig)].concat())
}
