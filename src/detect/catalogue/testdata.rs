//! Messages laid out field by field for the catalogue's tests: a ClientHello with server_name
//! and ALPN (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1) and a TLS 1.2 server flight with a
//! certificate (RFC 5246 §7.4.1.3, §7.4.2), built from the TLS module's test layouts.

pub(super) use crate::detect::tls::testdata::{certificate, hex, CertNames};
use crate::detect::tls::testdata::{ext, handshake, record, vec16, vec24};

/// RFC 9001 Appendix A.2: the protected client Initial (QUIC v1, 1200 bytes) whose ClientHello
/// names `example.com` (kept once, with the TLS/QUIC parser's test vectors).
pub(super) use crate::detect::tls::RFC9001_CLIENT_INITIAL;

/// A ClientHello in one record: TLS 1.2 legacy version, zero random, no session id, suites
/// 0x1301 and 0xc02f, null compression, then server_name (type 0, host_name 0) when `sni` is
/// given, ALPN (type 16) when `alpn` is not empty, and supported_versions (type 43) = TLS 1.3.
pub(super) fn client_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend([0u8; 32]);
    body.push(0);
    body.extend(vec16(&[0x13, 0x01, 0xc0, 0x2f]));
    body.extend([1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0u8];
        entry.extend(vec16(name.as_bytes()));
        exts.extend(ext(0x0000, &vec16(&entry)));
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for id in alpn {
            list.push(u8::try_from(id.len()).unwrap());
            list.extend_from_slice(id.as_bytes());
        }
        exts.extend(ext(0x0010, &vec16(&list)));
    }
    exts.extend(ext(0x002b, &[0x02, 0x03, 0x04]));
    body.extend(vec16(&exts));
    record(0x16, &handshake(0x01, &body))
}

/// A TLS 1.2 server flight: ServerHello (suite 0xc02f, no extensions) and a Certificate
/// message carrying `leaf`, each in its own record.
pub(super) fn server_flight(leaf: &[u8]) -> Vec<u8> {
    let mut hello = vec![0x03, 0x03];
    hello.extend([0x11u8; 32]);
    hello.extend([0x00, 0xc0, 0x2f, 0x00]);
    let mut v = record(0x16, &handshake(0x02, &hello));
    let entry = vec24(leaf);
    v.extend(record(0x16, &handshake(0x0b, &vec24(&entry))));
    v
}
