//! Product catalogue scenarios: remote-access tools and VPN brands recognised by the names they
//! use (TLS and QUIC server names, certificates, DNS names), by their own protocols' bytes, and a
//! generic tunnel attributed to its brand. Every message is laid out as its specification (or,
//! for proprietary protocols, the nDPI dissector that recognises it) describes; keys and
//! ciphertext are `noise`.

use super::wire::{ext, handshake, record, tlv, vec16, vec24};
use crate::common::{noise, sa, CaptureBuilder, Scenario};
use aes_gcm::aead::array::Array;
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "anydesk-tls-sni-certificate",
            build: anydesk_tls_sni_certificate,
        },
        Scenario {
            name: "protonvpn-tls13-sni",
            build: protonvpn_tls13_sni,
        },
        Scenario {
            name: "pia-certificate-no-sni",
            build: pia_certificate_no_sni,
        },
        Scenario {
            name: "warp-masque-quic-sni",
            build: warp_masque_quic_sni,
        },
        Scenario {
            name: "anydesk-dns-name-then-flow",
            build: anydesk_dns_name_then_flow,
        },
        Scenario {
            name: "wireguard-mullvad-provider",
            build: wireguard_mullvad_provider,
        },
        Scenario {
            name: "teamviewer-tcp-5938",
            build: teamviewer_tcp_5938,
        },
        Scenario {
            name: "teamviewer-in-a-vxlan-traffic-mirror",
            build: teamviewer_in_a_vxlan_traffic_mirror,
        },
        Scenario {
            name: "teamviewer-tcp-port-80",
            build: teamviewer_tcp_port_80,
        },
        Scenario {
            name: "citrix-ica-detect",
            build: citrix_ica_detect,
        },
        Scenario {
            name: "radmin-handshake",
            build: radmin_handshake,
        },
        Scenario {
            name: "nomachine-nx-greeting",
            build: nomachine_nx_greeting,
        },
        Scenario {
            name: "tinc-id-exchange",
            build: tinc_id_exchange,
        },
        Scenario {
            name: "softether-nat-t",
            build: softether_nat_t,
        },
        Scenario {
            name: "anyconnect-dtls-0100",
            build: anyconnect_dtls_0100,
        },
        Scenario {
            name: "benign-tls-lookalike-and-shared-address",
            build: benign_tls,
        },
    ]
}

// ----------------------------------------------------------------- TLS (RFC 8446, RFC 5246)

fn be16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap().to_be_bytes()
}

/// A ClientHello message (RFC 8446 §4.1.2): legacy_version 0x0303, random, a 32-byte session
/// id, three TLS 1.3 and two TLS 1.2 suites, null compression; extensions server_name (0,
/// RFC 6066 §3) when `sni` is given, supported_groups (10), signature_algorithms (13), ALPN
/// (16, RFC 7301) when `alpn` is not empty, supported_versions (43) and key_share (51, x25519).
fn client_hello_message(sni: Option<&str>, alpn: &[&str], seed: u64) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend(noise(seed, 32));
    body.push(32);
    body.extend(noise(seed + 1, 32));
    body.extend(vec16(&[
        0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f,
    ]));
    body.extend([1, 0]);
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
        for id in alpn {
            list.push(u8::try_from(id.len()).unwrap());
            list.extend_from_slice(id.as_bytes());
        }
        exts.extend(ext(0x0010, &vec16(&list)));
    }
    exts.extend(ext(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]));
    let mut share = vec![0x00, 0x1d];
    share.extend(vec16(&noise(seed + 2, 32)));
    exts.extend(ext(0x0033, &vec16(&share)));
    body.extend(vec16(&exts));
    handshake(0x01, &body)
}

/// The ClientHello in one handshake record.
fn client_hello(sni: Option<&str>, alpn: &[&str], seed: u64) -> Vec<u8> {
    record(0x16, &client_hello_message(sni, alpn, seed))
}

/// A ServerHello (RFC 8446 §4.1.3) choosing `suite`; for TLS 1.3 with supported_versions
/// 0x0304 and a key_share, for TLS 1.2 with no extensions.
fn server_hello(tls13: bool, seed: u64) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend(noise(seed, 32));
    body.push(0);
    if tls13 {
        body.extend([0x13, 0x01, 0x00]);
        let mut exts = ext(0x002b, &[0x03, 0x04]);
        let mut share = vec![0x00, 0x1d];
        share.extend(vec16(&noise(seed + 1, 32)));
        exts.extend(ext(0x0033, &share));
        body.extend(vec16(&exts));
    } else {
        body.extend([0xc0, 0x2f, 0x00]);
    }
    handshake(0x02, &body)
}

/// A TLS 1.2 server flight: ServerHello, Certificate with `leaf` (RFC 5246 §7.4.2),
/// ServerHelloDone, in one record.
fn tls12_server_flight(leaf: &[u8], seed: u64) -> Vec<u8> {
    let mut msgs = server_hello(false, seed);
    msgs.extend(handshake(0x0b, &vec24(&vec24(leaf))));
    msgs.extend(handshake(0x0e, &[]));
    record(0x16, &msgs)
}

/// Encrypted TLS records standing in for application data (content type 23).
fn app_data(len: usize, seed: u64) -> Vec<u8> {
    record(0x17, &noise(seed, len))
}

// ---------------------------------------------------------- X.509 in DER (RFC 5280, X.690)

/// A Name (RFC 5280 §4.1.2.4): organizationName (2.5.4.10) and commonName (2.5.4.3).
fn x509_name(o: Option<&str>, cn: &str) -> Vec<u8> {
    let mut rdns = Vec::new();
    let attrs = [
        (&[0x55, 0x04, 0x0a][..], o),
        (&[0x55, 0x04, 0x03][..], Some(cn)),
    ];
    for (oid, value) in attrs {
        if let Some(value) = value {
            let mut atv = tlv(0x06, oid);
            atv.extend(tlv(0x0c, value.as_bytes()));
            rdns.extend(tlv(0x31, &tlv(0x30, &atv)));
        }
    }
    tlv(0x30, &rdns)
}

/// A v3 certificate with an Ed25519 key (RFC 8410); the signature is noise.
fn certificate(subject: (Option<&str>, &str), issuer: (Option<&str>, &str), seed: u64) -> Vec<u8> {
    let ed25519 = tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x70]));
    let mut tbs = tlv(0xa0, &tlv(0x02, &[0x02]));
    tbs.extend(tlv(0x02, &noise(seed, 8)));
    tbs.extend(ed25519.clone());
    tbs.extend(x509_name(issuer.0, issuer.1));
    let mut validity = tlv(0x17, b"240101000000Z");
    validity.extend(tlv(0x17, b"340101000000Z"));
    tbs.extend(tlv(0x30, &validity));
    tbs.extend(x509_name(subject.0, subject.1));
    let mut key = vec![0u8];
    key.extend(noise(seed + 1, 32));
    let mut spki = ed25519.clone();
    spki.extend(tlv(0x03, &key));
    tbs.extend(tlv(0x30, &spki));
    let mut sig = vec![0u8];
    sig.extend(noise(seed + 2, 64));
    let mut cert = tlv(0x30, &tbs);
    cert.extend(ed25519);
    cert.extend(tlv(0x03, &sig));
    tlv(0x30, &cert)
}

/// A TLS connection: hello, server flight, then a few application records each way.
fn tls_session(
    cap: &mut CaptureBuilder,
    c: SocketAddr,
    s: SocketAddr,
    hello: &[u8],
    flight: &[u8],
) {
    let mut t = cap.tcp(c, s);
    t.client_sends(cap, hello);
    t.server_sends(cap, flight);
    for n in 0..2u64 {
        t.client_sends(cap, &app_data(120, 100 + n));
        t.server_sends(cap, &app_data(300, 200 + n));
    }
    t.close(cap);
}

fn anydesk_tls_sni_certificate() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let leaf = certificate((None, "AnyDesk Client"), (None, "AnyDesk Client"), 1);
    tls_session(
        &mut cap,
        sa("192.0.2.10:48260"),
        sa("198.51.100.40:443"),
        &client_hello(Some("relay-1.net.anydesk.com"), &["anydesk/8.0.8/linux"], 2),
        &tls12_server_flight(&leaf, 3),
    );
    cap
}

fn protonvpn_tls13_sni() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut flight = record(0x16, &server_hello(true, 5));
    flight.extend(record(0x14, &[0x01]));
    flight.extend(app_data(900, 6)); // EncryptedExtensions, Certificate, … (TLS 1.3: encrypted)
    tls_session(
        &mut cap,
        sa("192.0.2.10:37810"),
        sa("203.0.113.148:443"),
        &client_hello(Some("vpn-api.proton.me"), &["h2", "http/1.1"], 4),
        &flight,
    );
    cap
}

fn pia_certificate_no_sni() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let pia = Some("Private Internet Access");
    let leaf = certificate((pia, "newjersey402"), (pia, "Private Internet Access"), 7);
    tls_session(
        &mut cap,
        sa("192.0.2.10:56854"),
        sa("198.51.100.60:443"),
        &client_hello(None, &[], 8),
        &tls12_server_flight(&leaf, 9),
    );
    cap
}

// ------------------------------------------------------------------- QUIC (RFC 9000, 9001)

/// RFC 9001 §5.2: the QUIC v1 initial salt.
const QUIC_V1_SALT: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

/// HKDF-Expand-Label(secret, label, "", len) (RFC 8446 §7.1).
fn expand_label(hk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) {
    let full = format!("tls13 {label}");
    let mut info = be16(out.len()).to_vec();
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    hk.expand(&info, out).unwrap();
}

/// A protected client Initial (RFC 9001 §5) carrying `crypto` in one CRYPTO frame at offset 0,
/// padded to a 1200-byte datagram (RFC 9000 §14.1), packet number 0 in one byte.
fn quic_initial(dcid: &[u8], crypto: &[u8]) -> Vec<u8> {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(&QUIC_V1_SALT), dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, "client in", &mut secret);
    let client = Hkdf::<Sha256>::from_prk(&secret).unwrap();
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, "quic key", &mut key);
    expand_label(&client, "quic iv", &mut iv);
    expand_label(&client, "quic hp", &mut hp);
    // CRYPTO frame (RFC 9000 §19.6): type 6, offset 0, 2-byte varint length, data.
    let mut plain = vec![0x06, 0x00];
    plain.extend((0x4000 | u16::try_from(crypto.len()).unwrap()).to_be_bytes());
    plain.extend_from_slice(crypto);
    let mut hdr = vec![0xc0, 0x00, 0x00, 0x00, 0x01, dcid.len() as u8];
    hdr.extend_from_slice(dcid);
    hdr.extend([0x00, 0x00]); // SCID length 0, token length 0
    let pn_offset = hdr.len() + 2;
    let length_field = 1200 - pn_offset; // packet number + payload + tag fill the datagram
    plain.resize(length_field - 1 - 16, 0); // PADDING frames
    hdr.extend((0x4000 | u16::try_from(length_field).unwrap()).to_be_bytes());
    hdr.push(0x00); // packet number 0
    let tag = Aes128Gcm::new(&Array::from(key))
        .encrypt_inout_detached(&Array::from(iv), &hdr, plain.as_mut_slice().into())
        .unwrap();
    let mut pkt = [hdr, plain, tag.to_vec()].concat();
    // Header protection (RFC 9001 §5.4): sample 4 bytes after the packet number offset.
    let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mut mask = Array::from(sample);
    Aes128::new(&Array::from(hp)).encrypt_block(&mut mask);
    pkt[0] ^= mask[0] & 0x0f;
    pkt[pn_offset] ^= mask[1];
    pkt
}

fn warp_masque_quic_sni() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:52814"), sa("198.51.100.70:443"));
    let mut cap = CaptureBuilder::new();
    let hello = client_hello_message(Some("consumer-masque.cloudflareclient.com"), &["h3"], 11);
    cap.udp(c, s, &quic_initial(&noise(12, 8), &hello));
    // The server's Initial and Handshake packets: a long header, then protected bytes.
    let mut reply = vec![0xc1, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08];
    reply.extend(noise(13, 8));
    reply.extend(noise(14, 1100));
    cap.udp(s, c, &reply);
    for n in 0..3u64 {
        let mut short = vec![0x40 | (n as u8 & 0x3f)];
        short.extend(noise(30 + n, 200));
        cap.udp(c, s, &short);
        cap.udp(s, c, &short);
    }
    cap
}

// ------------------------------------------------------------------------ DNS (RFC 1035)

/// A standard query for `name` type A, or its answer with `addr` (RFC 1035 §4.1): header,
/// question, and one A record using a compression pointer to the question name (0xc00c).
fn dns(id: u16, name: &str, addr: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend(if addr.is_some() {
        [0x81, 0x80]
    } else {
        [0x01, 0x00]
    });
    m.extend([0, 1, 0, u8::from(addr.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend([0, 0, 1, 0, 1]);
    if let Some(a) = addr {
        m.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend(a);
    }
    m
}

fn resolve(cap: &mut CaptureBuilder, name: &str, addr: IpAddr) {
    let IpAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let (c, r) = (sa("192.0.2.10:53124"), sa("192.0.2.53:53"));
    cap.udp(c, r, &dns(0x3a1f, name, None));
    cap.udp(r, c, &dns(0x3a1f, name, Some(v4.octets())));
    cap.wait_ms(10);
}

fn anydesk_dns_name_then_flow() -> CaptureBuilder {
    let s = sa("203.0.113.15:6568");
    let mut cap = CaptureBuilder::new();
    resolve(&mut cap, "relay-3185a847.net.anydesk.com", s.ip());
    let mut t = cap.tcp(sa("192.0.2.10:40112"), s);
    for n in 0..3u64 {
        t.client_sends(&mut cap, &noise(40 + n, 90));
        t.server_sends(&mut cap, &noise(50 + n, 210));
    }
    t.close(&mut cap);
    cap
}

/// WireGuard initiation (148 bytes) and response (92 bytes) tied by the initiator's index,
/// then transport data (whitepaper §5.4.2, §5.4.3, §5.4.6).
fn wireguard_mullvad_provider() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:43001"), sa("198.51.100.90:51820"));
    let mut cap = CaptureBuilder::new();
    resolve(&mut cap, "se-got-wg-001.relays.mullvad.net", s.ip());
    let (ci, si) = (0x1a2b_3c4du32, 0x5e6f_7081u32);
    let mut init = vec![1, 0, 0, 0];
    init.extend(ci.to_le_bytes());
    init.extend(noise(61, 32 + 48 + 28 + 16));
    init.extend([0u8; 16]);
    let mut resp = vec![2, 0, 0, 0];
    resp.extend(si.to_le_bytes());
    resp.extend(ci.to_le_bytes());
    resp.extend(noise(62, 32 + 16 + 16));
    resp.extend([0u8; 16]);
    cap.udp(c, s, &init);
    cap.udp(s, c, &resp);
    for n in 0..3u64 {
        let mut d = vec![4, 0, 0, 0];
        d.extend(si.to_le_bytes());
        d.extend(n.to_le_bytes());
        d.extend(noise(70 + n, 64));
        cap.udp(c, s, &d);
    }
    cap
}

// ------------------------------------------------------------- proprietary remote access

/// TeamViewer: the client's CMD_IDENTIFY command (magic 0x1724, command 0x0a, 37 bytes; nDPI
/// teamviewer.c, libprotoident lpi_teamviewer.cc), the server's 0x1130 command headers.
fn teamviewer_exchange(cap: &mut CaptureBuilder, c: SocketAddr, s: SocketAddr) {
    let mut t = cap.tcp(c, s);
    let mut identify = vec![0x17, 0x24, 0x0a, 0x20];
    identify.extend(noise(80, 33));
    t.client_sends(cap, &identify);
    let mut answer = vec![0x11, 0x30, 0x36, 0x00, 0x18, 0x00, 0x00, 0x00];
    answer.extend(noise(81, 40));
    t.server_sends(cap, &answer);
    let mut more = vec![0x11, 0x30, 0x3c, 0x00];
    more.extend(noise(82, 143));
    t.server_sends(cap, &more);
    t.client_sends(cap, &noise(83, 378));
    t.close(cap);
}

/// The `teamviewer-tcp-5938` session as a sensor in the cloud receives it: mirrored from the
/// contractor's virtual desktop (10.20.0.15) to the sensor (10.20.0.99) in VXLAN, VNI 0x2a61.
fn teamviewer_in_a_vxlan_traffic_mirror() -> CaptureBuilder {
    teamviewer_tcp_5938().over_vxlan([10, 20, 0, 15], [10, 20, 0, 99], 0x2a61)
}

fn teamviewer_tcp_5938() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    teamviewer_exchange(&mut cap, sa("192.0.2.10:35732"), sa("198.51.100.170:5938"));
    cap
}

fn teamviewer_tcp_port_80() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    teamviewer_exchange(&mut cap, sa("192.0.2.10:35733"), sa("198.51.100.171:80"));
    cap
}

/// Citrix ICA: both ends send the 6-byte detect string 7f 7f "ICA" 00 (server first), then the
/// client's ICA packets (nDPI citrix.c).
fn citrix_ica_detect() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:45225"), sa("198.51.100.7:1494"));
    t.server_sends(&mut cap, b"\x7f\x7fICA\x00");
    t.client_sends(&mut cap, b"\x7f\x7fICA\x00");
    t.server_sends(&mut cap, &noise(90, 18));
    t.client_sends(&mut cap, &noise(91, 154));
    t.close(&mut cap);
    cap
}

/// Radmin: the client's 10-byte hello and the server's 46-byte reply, both with the 0x01000000
/// header (nDPI radmin.c).
fn radmin_handshake() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:49736"), sa("198.51.100.197:4899"));
    t.client_sends(&mut cap, &[0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x08, 0x08]);
    let mut reply = vec![
        0x01, 0, 0, 0, 0x25, 0, 0, 0x02, 0x12, 0x08, 0x02, 0, 0, 0x0a,
    ];
    reply.extend(noise(95, 32));
    t.server_sends(&mut cap, &reply);
    t.close(&mut cap);
    cap
}

/// NoMachine: "NXSH-<version>\n" from the client, "NXD-<version>\n" from the server, then TLS
/// (nDPI nomachine.c).
fn nomachine_nx_greeting() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:48084"), sa("198.51.100.208:4000"));
    t.client_sends(&mut cap, b"NXSH-8.10.1\n");
    t.server_sends(&mut cap, b"NXD-8.10.1\n");
    t.client_sends(&mut cap, &client_hello(None, &[], 96));
    t.close(&mut cap);
    cap
}

// ------------------------------------------------------------------- VPN protocols

/// tinc meta protocol: each side's ID request "0 <name> 17\n", then METAKEY lines (nDPI
/// tinc.c; tinc protocol_auth.c send_id).
fn tinc_id_exchange() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:59244"), sa("198.51.100.112:655"));
    t.client_sends(&mut cap, b"0 alpha 17\n");
    t.server_sends(&mut cap, b"0 beta 17\n");
    t.client_sends(&mut cap, b"1 429 672 0 0 2CDA99D7120FD6DEBC0BE0B085\n");
    t.server_sends(&mut cap, b"1 94 64 0 0 6B259709B2ADD0898BB8A987AA\n");
    t.close(&mut cap);
    cap
}

/// SoftEther NAT traversal: the client's one-byte probe 'A', the server's
/// "IP=<address>,PORT=<port>" answer (nDPI softether.c).
fn softether_nat_t() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:51381"), sa("198.51.100.113:5004"));
    let mut cap = CaptureBuilder::new();
    for _ in 0..2 {
        cap.udp(c, s, b"A");
        cap.udp(s, c, b"IP=192.0.2.10,PORT=51381");
        cap.wait_ms(500);
    }
    cap
}

/// AnyConnect's DTLS data channel: Cisco's pre-standard DTLS (record version 0x0100): the
/// client's ClientHello resuming the session the CSTP tunnel negotiated, the server's answer.
fn anyconnect_dtls_0100() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:54107"), sa("198.51.100.91:443"));
    let mut cap = CaptureBuilder::new();
    // DTLS record: type 22, version 0x0100, epoch 0, sequence 0 (6 bytes), length, then a
    // ClientHello with the DTLS fields (message_seq, fragment offset and length).
    let dtls = |kind: u8, body: &[u8]| {
        let mut r = vec![0x16, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut msg = vec![kind];
        msg.extend(vec24(body)[..3].to_vec());
        msg.extend([0, 0, 0, 0, 0]);
        msg.extend(vec24(body));
        r.extend(vec16(&msg));
        r
    };
    let mut hello = vec![0x01, 0x00];
    hello.extend(noise(100, 32));
    hello.push(32);
    hello.extend(noise(101, 32));
    hello.push(0); // cookie length
    hello.extend(vec16(&[0x00, 0x2f]));
    hello.extend([1, 0]);
    cap.udp(c, s, &dtls(0x01, &hello));
    let mut verify = vec![0x01, 0x00, 20];
    verify.extend(noise(102, 20));
    cap.udp(s, c, &dtls(0x03, &verify));
    for n in 0..3u64 {
        let mut data = vec![0x17, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, n as u8];
        data.extend(vec16(&noise(110 + n, 120)));
        cap.udp(c, s, &data);
        cap.udp(s, c, &data);
    }
    cap
}

// ------------------------------------------------------------------------------- benign

/// Ordinary HTTPS to www.example.org; a look-alike name (evilanydesk.com, which is not below
/// anydesk.com); and a connection whose address was last resolved from an AnyDesk relay name
/// but whose SNI names another site (a shared address): none is a product.
fn benign_tls() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let site = certificate(
        (Some("Example Org"), "www.example.org"),
        (Some("Example CA"), "Example CA R1"),
        120,
    );
    tls_session(
        &mut cap,
        sa("192.0.2.10:51001"),
        sa("198.51.100.80:443"),
        &client_hello(Some("www.example.org"), &["h2", "http/1.1"], 121),
        &tls12_server_flight(&site, 122),
    );
    tls_session(
        &mut cap,
        sa("192.0.2.10:51002"),
        sa("198.51.100.81:443"),
        &client_hello(Some("evilanydesk.com"), &["h2", "http/1.1"], 123),
        &tls12_server_flight(&site, 124),
    );
    let shared = sa("203.0.113.82:443");
    resolve(&mut cap, "relay-0a1b2c3d.net.anydesk.com", shared.ip());
    tls_session(
        &mut cap,
        sa("192.0.2.10:51003"),
        shared,
        &client_hello(Some("www.example.org"), &["h2", "http/1.1"], 125),
        &tls12_server_flight(&site, 126),
    );
    cap
}
