//! Anonymizer and covert-tunnel scenarios: Tor, Psiphon, fully encrypted proxies (Shadowsocks,
//! VMess), TLS inside TLS (Trojan), WebSocket tunnels (wstunnel), DNS and ICMP tunnels, and one
//! capture of the ordinary traffic they must not be confused with. TLS records, certificates,
//! DNS and ICMP messages are laid out field by field as their specifications describe;
//! ciphertext and keys are `noise`.

use super::wire::{ext, handshake, record, tlv, vec16, vec24};
use crate::common::{noise, sa, CaptureBuilder, Scenario};
use std::net::IpAddr;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "tor-relay-tls12",
            build: tor_relay_tls12,
        },
        Scenario {
            name: "tor-orport-9001-tls13",
            build: tor_orport_tls13,
        },
        Scenario {
            name: "psiphon-no-sni-certificate",
            build: psiphon_no_sni,
        },
        Scenario {
            name: "shadowsocks-aead-tcp",
            build: shadowsocks_aead,
        },
        Scenario {
            name: "vmess-websocket",
            build: vmess_websocket,
        },
        Scenario {
            name: "trojan-tls-in-tls",
            build: trojan_tls_in_tls,
        },
        Scenario {
            name: "wstunnel-jwt-upgrade",
            build: wstunnel_jwt,
        },
        Scenario {
            name: "websocket-carrying-tls",
            build: websocket_carrying_tls,
        },
        Scenario {
            name: "dns-tunnel-null-queries",
            build: dns_tunnel_null,
        },
        Scenario {
            name: "icmp-tunnel-ip-in-echo",
            build: icmp_tunnel_ip,
        },
        Scenario {
            name: "ordinary-ping-dns-websocket",
            build: ordinary_traffic,
        },
    ]
}

// ------------------------------------------------------------ TLS (RFC 8446, RFC 5246, RFC 5280)

/// A ClientHello record (RFC 8446 §4.1.2): version 0x0303, random, 32-byte session id, cipher
/// suites, null compression, server_name (RFC 6066 §3) when given, supported_groups,
/// signature_algorithms, and ALPN (RFC 7301) when given.
fn client_hello(sni: Option<&str>, alpn: &[&str], ciphers: &[u16], seed: u64) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(noise(seed, 32));
    b.push(32);
    b.extend(noise(seed + 1, 32));
    let cs: Vec<u8> = ciphers.iter().flat_map(|c| c.to_be_bytes()).collect();
    b.extend(vec16(&cs));
    b.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut entry = vec![0];
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

/// A ServerHello (RFC 8446 §4.1.3); TLS 1.3 is selected by supported_versions (§4.2.1).
fn server_hello(tls13: bool, cipher: u16, seed: u64) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend(noise(seed, 32));
    b.push(32);
    b.extend(noise(seed + 1, 32));
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    let exts = if tls13 {
        ext(0x002b, &[3, 4])
    } else {
        ext(0xff01, &[0])
    };
    b.extend(vec16(&exts));
    handshake(2, &b)
}

/// TLS 1.2 server flight in one record: ServerHello, Certificate, ServerHelloDone (RFC 5246
/// §7.4.1.3, §7.4.2, §7.4.5).
fn tls12_flight(cipher: u16, certs: &[Vec<u8>], seed: u64) -> Vec<u8> {
    let list: Vec<u8> = certs.iter().flat_map(|c| vec24(c)).collect();
    let body = vec24(&list);
    let mut msgs = server_hello(false, cipher, seed);
    msgs.extend(handshake(11, &body));
    msgs.extend(handshake(14, &[]));
    record(0x16, &msgs)
}

/// TLS 1.3 server flight: ServerHello, ChangeCipherSpec (RFC 8446 §D.4), and the encrypted
/// handshake as one application-data record of `encrypted` bytes.
fn tls13_flight(cipher: u16, encrypted: usize, seed: u64) -> Vec<u8> {
    let mut s = record(0x16, &server_hello(true, cipher, seed));
    s.extend(record(0x14, &[1]));
    s.extend(record(0x17, &noise(seed + 2, encrypted)));
    s
}

/// A Name (RFC 5280 §4.1.2.4): an optional organizationName (2.5.4.10) and a commonName
/// (2.5.4.3).
fn name(cn: &str, o: Option<&str>) -> Vec<u8> {
    let rdn = |oid: &[u8], v: &str| {
        tlv(
            0x31,
            &tlv(0x30, &[tlv(0x06, oid), tlv(0x0c, v.as_bytes())].concat()),
        )
    };
    let mut rdns = Vec::new();
    if let Some(o) = o {
        rdns.extend(rdn(&[0x55, 0x04, 0x0a], o));
    }
    rdns.extend(rdn(&[0x55, 0x04, 0x03], cn));
    tlv(0x30, &rdns)
}

/// An X.509 v3 certificate (RFC 5280 §4.1): sha256WithRSAEncryption, the given issuer and
/// subject, an RSA key and signature of noise, subjectAltName dNSNames (§4.2.1.6) when given.
fn certificate(
    issuer: (&str, Option<&str>),
    subject: (&str, Option<&str>),
    san: &[&str],
) -> Vec<u8> {
    let sha256_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    let rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let alg = tlv(0x30, &[tlv(0x06, &sha256_rsa), vec![5, 0]].concat());
    let validity = tlv(
        0x30,
        &[tlv(0x17, b"240101000000Z"), tlv(0x17, b"350101000000Z")].concat(),
    );
    let mut modulus = vec![0];
    modulus.extend(noise(77, 128));
    let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[1, 0, 1])].concat());
    let mut bits = vec![0];
    bits.extend(key);
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &[tlv(0x06, &rsa), vec![5, 0]].concat()),
            tlv(0x03, &bits),
        ]
        .concat(),
    );
    let mut tbs = [
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &[0x3a, 0x11]),
        alg.clone(),
        name(issuer.0, issuer.1),
        validity,
        name(subject.0, subject.1),
        spki,
    ]
    .concat();
    if !san.is_empty() {
        let names: Vec<u8> = san.iter().flat_map(|n| tlv(0x82, n.as_bytes())).collect();
        let e = tlv(
            0x30,
            &[
                tlv(0x06, &[0x55, 0x1d, 0x11]),
                tlv(0x04, &tlv(0x30, &names)),
            ]
            .concat(),
        );
        tbs.extend(tlv(0xa3, &tlv(0x30, &e)));
    }
    let mut sig = vec![0];
    sig.extend(noise(78, 128));
    tlv(0x30, &[tlv(0x30, &tbs), alg, tlv(0x03, &sig)].concat())
}

/// The Tor client's cipher list begins with these (ECDHE/DHE with AES-CBC, as in tor's v2
/// cipher list).
const TOR_CIPHERS: [u16; 6] = [0xc00a, 0xc014, 0x0039, 0x0038, 0xc013, 0x002f];

fn tor_relay_tls12() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:51110"), sa("198.51.100.20:443"));
    t.client_sends(
        &mut cap,
        &client_hello(Some("www.ct7ctrgb6cr7.com"), &[], &TOR_CIPHERS, 1),
    );
    // The relay's link certificate (random www.*.net) issued by its identity certificate
    // (random www.*.com, self-signed).
    let link = certificate(
        ("www.xkgk7fdx362yyyxib.com", None),
        ("www.g6ghvisevf3ibuu5.net", None),
        &[],
    );
    let identity = certificate(
        ("www.xkgk7fdx362yyyxib.com", None),
        ("www.xkgk7fdx362yyyxib.com", None),
        &[],
    );
    t.server_sends(&mut cap, &tls12_flight(0xc013, &[link, identity], 2));
    let mut fin = record(0x16, &noise(3, 70));
    fin.extend(record(0x14, &[1]));
    fin.extend(record(0x16, &noise(4, 48)));
    t.client_sends(&mut cap, &fin);
    t.server_sends(
        &mut cap,
        &[record(0x14, &[1]), record(0x16, &noise(5, 48))].concat(),
    );
    t.client_sends(&mut cap, &record(0x17, &noise(6, 543)));
    t.server_sends(&mut cap, &record(0x17, &noise(7, 1072)));
    t.close(&mut cap);
    cap
}

fn tor_orport_tls13() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:51174"), sa("203.0.113.50:9001"));
    t.client_sends(
        &mut cap,
        &client_hello(
            Some("www.q4cyamnc6mtok.com"),
            &[],
            &[0x1301, 0x1302, 0xc02f],
            11,
        ),
    );
    t.server_sends(&mut cap, &tls13_flight(0x1302, 1290, 12));
    t.client_sends(
        &mut cap,
        &[record(0x14, &[1]), record(0x17, &noise(13, 69))].concat(),
    );
    t.client_sends(&mut cap, &record(0x17, &noise(14, 531)));
    t.server_sends(&mut cap, &record(0x17, &noise(15, 531)));
    t.close(&mut cap);
    cap
}

fn psiphon_no_sni() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:40557"), sa("198.51.100.20:443"));
    t.client_sends(
        &mut cap,
        &client_hello(None, &["h2", "http/1.1"], &[0xc02b, 0xc02f, 0xcca9], 21),
    );
    let leaf = certificate(
        ("Example CDN ECC CA-3", Some("Example CDN, Inc.")),
        ("sni.cdn.example.net", Some("Example CDN, Inc.")),
        &["sni.cdn.example.net", "psiphon3.net", "*.psiphon3.net"],
    );
    t.server_sends(&mut cap, &tls12_flight(0xc02b, &[leaf], 22));
    t.close(&mut cap);
    cap
}

// -------------------------------------------------- fully encrypted proxies (Shadowsocks, VMess)

fn shadowsocks_aead() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:40164"), sa("198.51.100.20:8388"));
    // Salt (32) + [length chunk (18) + address (19) + tag (16)] + [length chunk (18) + an
    // inner 517-byte TLS ClientHello + tag (16)]: 636 bytes of ciphertext.
    t.client_sends(&mut cap, &noise(31, 32 + 18 + 19 + 16 + 18 + 517 + 16));
    // The server's salt and one chunk carrying the upstream's first 1208 bytes.
    t.server_sends(&mut cap, &noise(32, 32 + 18 + 1208 + 16));
    // One chunk around the inner client's ChangeCipherSpec + SHA-384 Finished (80 bytes).
    t.client_sends(&mut cap, &noise(33, 18 + 80 + 16));
    t.server_sends(&mut cap, &noise(34, 18 + 1200 + 16));
    t.close(&mut cap);
    cap
}

/// The WebSocket opening handshake of a Go client (RFC 6455 §4.1) and its answer (§4.2.2).
const GO_UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: 198.51.100.20\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\nSec-WebSocket-Key: kZZIwDrnHmWYxjh7a/vl8w==\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n";
const UPGRADED: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: CD1U0JDcEhm/1Rbp3PwxoCiQ9IU=\r\n\r\n";

/// A frame (RFC 6455 §5.2): FIN and `opcode`, the length (7-bit or 16-bit), the masking key
/// for a client frame, and the payload (masked for a client).
fn ws_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let m = if mask.is_some() { 0x80 } else { 0 };
    let mut f = vec![0x80 | opcode];
    if payload.len() < 126 {
        f.push(m | payload.len() as u8);
    } else {
        f.push(m | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().zip(k.iter().cycle()).map(|(x, k)| x ^ k));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

const MASK: [u8; 4] = [0x3a, 0x91, 0x0c, 0x5e];

fn vmess_websocket() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:33702"), sa("198.51.100.20:80"));
    t.client_sends(&mut cap, GO_UPGRADE);
    t.server_sends(&mut cap, UPGRADED);
    // VMess request (authentication id, encrypted length and header, first data chunk) and
    // response, all ciphertext, in binary frames.
    t.client_sends(&mut cap, &ws_frame(2, &noise(41, 691), Some(MASK)));
    t.server_sends(&mut cap, &ws_frame(2, &noise(42, 1400), None));
    t.client_sends(&mut cap, &ws_frame(2, &noise(43, 154), Some(MASK)));
    t.close(&mut cap);
    cap
}

// ------------------------------------------------------------------ TLS inside TLS (Trojan)

fn trojan_tls_in_tls() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:41796"), sa("198.51.100.20:443"));
    t.client_sends(
        &mut cap,
        &client_hello(
            Some("proxy.example.net"),
            &["h2", "http/1.1"],
            &[0x1301, 0x1302, 0x1303],
            51,
        ),
    );
    t.server_sends(&mut cap, &tls13_flight(0x1301, 980, 52));
    // ChangeCipherSpec and the outer Finished (53-byte record).
    t.client_sends(
        &mut cap,
        &[record(0x14, &[1]), record(0x17, &noise(53, 53))].concat(),
    );
    // Trojan request: 56-byte password hash, CRLF, CONNECT IPv4 request, CRLF, and an inner
    // 517-byte ClientHello: 585 bytes inside, plus 17 bytes of TLS 1.3 overhead.
    t.client_sends(&mut cap, &record(0x17, &noise(54, 585 + 17)));
    // The relayed inner ServerHello flight.
    t.server_sends(
        &mut cap,
        &[
            record(0x17, &noise(55, 1203)),
            record(0x17, &noise(56, 2065)),
        ]
        .concat(),
    );
    // The inner client's ChangeCipherSpec + SHA-384 Finished (80 bytes) in one outer record.
    t.client_sends(&mut cap, &record(0x17, &noise(57, 80 + 17)));
    t.server_sends(&mut cap, &record(0x17, &noise(58, 474)));
    t.close(&mut cap);
    cap
}

// ------------------------------------------------------------------ WebSocket tunnels

/// Base64url without padding (RFC 4648 §5).
fn b64url(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    s
}

fn wstunnel_jwt() -> CaptureBuilder {
    let claims =
        br#"{"id":"018d0565-9fe2-71de-b64e-5938fe24fb2d","p":"Tcp","r":"203.0.113.80","rp":443}"#;
    let jwt = format!(
        "{}.{}.{}",
        b64url(br#"{"typ":"JWT","alg":"HS256"}"#),
        b64url(claims),
        b64url(&noise(61, 32))
    );
    let request = format!(
        "GET /v1/events HTTP/1.1\r\nhost: 198.51.100.20:8080\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: 2avYdCL8ryrY3ZRXm5HuVw==\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: v1, authorization.bearer.{jwt}\r\n\r\n"
    );
    let response = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: tEXUGemPFYqHcWRb+W9fYHDpNL4=\r\nsec-websocket-protocol: v1\r\n\r\n";
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:39992"), sa("198.51.100.20:8080"));
    t.client_sends(&mut cap, request.as_bytes());
    t.server_sends(&mut cap, response);
    t.client_sends(&mut cap, &ws_frame(2, &noise(62, 517), Some(MASK)));
    t.server_sends(&mut cap, &ws_frame(2, &noise(63, 1380), None));
    t.close(&mut cap);
    cap
}

fn websocket_carrying_tls() -> CaptureBuilder {
    let upgrade = b"GET /tunnel HTTP/1.1\r\nHost: 203.0.113.60:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let accepted = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:50412"), sa("203.0.113.60:8443"));
    t.client_sends(&mut cap, upgrade);
    t.server_sends(&mut cap, accepted);
    let hello = client_hello(Some("intranet.example.org"), &["h2"], &[0x1301, 0xc02f], 71);
    t.client_sends(&mut cap, &ws_frame(2, &hello, Some(MASK)));
    t.server_sends(&mut cap, &ws_frame(2, &tls13_flight(0x1301, 900, 72), None));
    t.close(&mut cap);
    cap
}

// ------------------------------------------------------------------ DNS and ICMP tunnels

/// A DNS message (RFC 1035 §4.1): header (id, flags, one question, one answer when `answer`
/// is given), the question (`labels`, `qtype`, class IN), and the answer by pointer to the
/// question name (offset 12) with `answer` as RDATA.
fn dns_message(id: u16, labels: &[&[u8]], qtype: u16, answer: Option<&[u8]>) -> Vec<u8> {
    let flags: u16 = if answer.is_some() { 0x8180 } else { 0x0100 };
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for l in labels {
        m.push(l.len() as u8);
        m.extend_from_slice(l);
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if let Some(rdata) = answer {
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

/// Base32 text (iodine's upstream encoding alphabet: a–z and 0–5).
fn base32(seed: u64, len: usize) -> Vec<u8> {
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz012345";
    noise(seed, len)
        .iter()
        .map(|b| B32[usize::from(b % 32)])
        .collect()
}

/// NULL record type (RFC 1035 §3.3.10).
const TYPE_NULL: u16 = 10;

fn dns_tunnel_null() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:44639"), sa("198.51.100.53:53"));
    let mut cap = CaptureBuilder::new();
    for i in 0..5u16 {
        let data = base32(80 + u64::from(i), 57);
        let labels: [&[u8]; 4] = [&data, b"t", b"example", b"net"];
        cap.udp(c, s, &dns_message(0x2a00 + i, &labels, TYPE_NULL, None));
        cap.udp(
            s,
            c,
            &dns_message(
                0x2a00 + i,
                &labels,
                TYPE_NULL,
                Some(&noise(90 + u64::from(i), 120)),
            ),
        );
    }
    cap
}

/// An ICMP echo message (RFC 792): type, code 0, checksum, identifier, sequence, data.
fn icmp_echo(ty: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(data);
    let sum = !ones_sum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The one's-complement sum of 16-bit words (RFC 1071).
fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An IPv4 packet (RFC 791 §3.1): IHL 5, TTL 64, protocol TCP, header checksum, then `body`.
fn ipv4(src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
    h[2..4].copy_from_slice(&((20 + body.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let sum = !ones_sum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(body);
    h
}

/// ICMP (IP protocol 1).
const ICMP: u8 = 1;

fn icmp_tunnel_ip() -> CaptureBuilder {
    let c: IpAddr = "192.0.2.10".parse().unwrap();
    let s: IpAddr = "198.51.100.20".parse().unwrap();
    // Inside: a TCP conversation between the tunnel's own addresses.
    let (inner_c, inner_s) = ([198, 51, 100, 201], [203, 0, 113, 7]);
    let mut cap = CaptureBuilder::new();
    for seq in 0..4u16 {
        let out = ipv4(
            inner_c,
            inner_s,
            &noise(100 + u64::from(seq), 40 + 60 * usize::from(seq)),
        );
        cap.ip(c, s, ICMP, &icmp_echo(8, 0xfeff, seq, &out));
        let back = ipv4(
            inner_s,
            inner_c,
            &noise(200 + u64::from(seq), 40 + 300 * usize::from(seq)),
        );
        cap.ip(s, c, ICMP, &icmp_echo(0, 0xfeff, seq, &back));
    }
    cap
}

/// Linux iputils ping data: a 16-byte timestamp, then 0x10, 0x11, … 0x37 (56 bytes).
fn linux_ping_data(seq: u16) -> Vec<u8> {
    let mut d = vec![0x65, 0xe1, 0x9a, 0x10, 0, 0, 0, 0];
    d.extend_from_slice(&(0x0004_5a10u64 + u64::from(seq) * 1000).to_le_bytes());
    d.extend(0x10u8..0x38);
    d
}

fn ordinary_traffic() -> CaptureBuilder {
    let c: IpAddr = "192.0.2.10".parse().unwrap();
    let s: IpAddr = "198.51.100.20".parse().unwrap();
    let mut cap = CaptureBuilder::new();
    // Linux and Windows pings, answered with their own data.
    for seq in 1..5u16 {
        let d = linux_ping_data(seq);
        cap.ip(c, s, ICMP, &icmp_echo(8, 0x1c2d, seq, &d));
        cap.ip(s, c, ICMP, &icmp_echo(0, 0x1c2d, seq, &d));
        let w = b"abcdefghijklmnopqrstuvwabcdefghi";
        cap.ip(s, c, ICMP, &icmp_echo(8, 1, seq, w));
        cap.ip(c, s, ICMP, &icmp_echo(0, 1, seq, w));
    }
    // DNS lookups for long CDN and cloud names, several on one socket, answered.
    let resolver = sa("198.51.100.53:53");
    let names: [&[&[u8]]; 5] = [
        &[b"rr3---sn-4g5e6nzl", b"googlevideo", b"com"],
        &[b"d111111abcdef8", b"cloudfront", b"net"],
        &[b"e1234", b"a", b"akamaiedge", b"net"],
        &[
            b"my-load-balancer-1234567890",
            b"us-west-2",
            b"elb",
            b"amazonaws",
            b"com",
        ],
        &[
            b"d41d8cd98f00b204e9800998ecf8427e",
            b"avqs",
            b"example",
            b"com",
        ],
    ];
    let stub = sa("192.0.2.10:53211");
    for (i, n) in names.iter().enumerate() {
        let id = 0x4100 + i as u16;
        cap.udp(stub, resolver, &dns_message(id, n, 1, None));
        cap.udp(
            resolver,
            stub,
            &dns_message(id, n, 1, Some(&[203, 0, 113, 9])),
        );
        cap.udp(stub, resolver, &dns_message(id + 0x100, n, 16, None));
    }
    // A web application's WebSocket: JSON text frames both ways.
    let mut t = cap.tcp(sa("192.0.2.10:50500"), sa("198.51.100.20:8080"));
    t.client_sends(&mut cap, GO_UPGRADE);
    t.server_sends(&mut cap, UPGRADED);
    t.client_sends(
        &mut cap,
        &ws_frame(1, br#"{"op":"subscribe","channel":"prices"}"#, Some(MASK)),
    );
    t.server_sends(
        &mut cap,
        &ws_frame(1, br#"{"channel":"prices","data":[101.5,101.7]}"#, None),
    );
    t.close(&mut cap);
    // HTTPS: a browser-like TLS 1.3 hello with a server name and ALPN.
    let mut h = cap.tcp(sa("192.0.2.10:50501"), sa("198.51.100.20:8443"));
    h.client_sends(
        &mut cap,
        &client_hello(
            Some("www.example.com"),
            &["h2", "http/1.1"],
            &[0x1301, 0x1302],
            91,
        ),
    );
    h.server_sends(&mut cap, &tls13_flight(0x1301, 2400, 92));
    h.client_sends(
        &mut cap,
        &[record(0x14, &[1]), record(0x17, &noise(93, 53))].concat(),
    );
    h.client_sends(&mut cap, &record(0x17, &noise(94, 310)));
    h.server_sends(&mut cap, &record(0x17, &noise(95, 5200)));
    h.client_sends(&mut cap, &record(0x17, &noise(96, 26)));
    h.close(&mut cap);
    cap
}
