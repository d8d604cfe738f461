//! Test inputs shared by the anonymizer and covert-tunnel detectors' unit tests: TLS hellos and
//! server flights laid out field by field (RFC 8446 §4, RFC 5246 §7.4) from the TLS module's
//! test layouts, and deterministic ciphertext stand-ins.

pub(crate) use crate::detect::tls::testdata::{certificate, record, CertNames};
use crate::detect::tls::testdata::{ext, handshake, vec16, vec24};

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
    let list: Vec<u8> = certs.iter().flat_map(|c| vec24(c)).collect();
    let body = vec24(&list);
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
