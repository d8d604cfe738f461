//! VPN and tunnel scenarios: WireGuard (and Tailscale), OpenVPN, IPsec (IKE, ESP, AH), PPTP and
//! L2TP. Every message is laid out field by field as its specification describes; key material
//! and ciphertext are `noise`.

use crate::common::{noise, sa, CaptureBuilder, Scenario};
use std::net::IpAddr;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "wireguard-handshake",
            build: wireguard_handshake,
        },
        Scenario {
            name: "wireguard-midstream-5060",
            build: wireguard_midstream,
        },
        Scenario {
            name: "wireguard-over-pppoe",
            build: wireguard_over_pppoe,
        },
        Scenario {
            name: "tailscale-disco",
            build: tailscale_disco,
        },
        Scenario {
            name: "openvpn-udp-tls-auth",
            build: openvpn_udp_tls_auth,
        },
        Scenario {
            name: "openvpn-server-half-only",
            build: openvpn_server_half_only,
        },
        Scenario {
            name: "openvpn-tcp-443",
            build: openvpn_tcp_443,
        },
        Scenario {
            name: "openvpn-tls-crypt-v2",
            build: openvpn_tls_crypt_v2,
        },
        Scenario {
            name: "ikev2-sa-init",
            build: ikev2_sa_init,
        },
        Scenario {
            name: "ikev2-request-unanswered",
            build: ikev2_request_unanswered,
        },
        Scenario {
            name: "ike-nat-t-4500",
            build: ike_nat_t_4500,
        },
        Scenario {
            name: "esp-ipv6",
            build: esp_ipv6,
        },
        Scenario {
            name: "ah-icmp",
            build: ah_icmp,
        },
        Scenario {
            name: "pptp-control-and-gre",
            build: pptp_control_and_gre,
        },
        Scenario {
            name: "l2tp-control",
            build: l2tp_control,
        },
    ]
}

// ---------------------------------------------------------------- WireGuard (whitepaper §5.4)

/// Handshake initiation: type 1, reserved, sender index (LE), ephemeral, encrypted static,
/// encrypted timestamp, mac1, mac2 (zero: no cookie) = 148 bytes.
fn wg_initiation(sender: u32, seed: u64) -> Vec<u8> {
    let mut m = vec![1, 0, 0, 0];
    m.extend_from_slice(&sender.to_le_bytes());
    m.extend(noise(seed, 32 + 48 + 28 + 16));
    m.extend([0u8; 16]);
    m
}

/// Handshake response: type 2, reserved, sender, receiver, ephemeral, empty AEAD, mac1, mac2.
fn wg_response(sender: u32, receiver: u32, seed: u64) -> Vec<u8> {
    let mut m = vec![2, 0, 0, 0];
    m.extend_from_slice(&sender.to_le_bytes());
    m.extend_from_slice(&receiver.to_le_bytes());
    m.extend(noise(seed, 32 + 16 + 16));
    m.extend([0u8; 16]);
    m
}

/// Transport data: type 4, reserved, receiver, 64-bit counter (LE), ciphertext of `blocks`
/// 16-byte blocks plus the 16-byte tag.
fn wg_data(receiver: u32, counter: u64, blocks: usize, seed: u64) -> Vec<u8> {
    let mut m = vec![4, 0, 0, 0];
    m.extend_from_slice(&receiver.to_le_bytes());
    m.extend_from_slice(&counter.to_le_bytes());
    m.extend(noise(seed, 16 * (blocks + 1)));
    m
}

fn wireguard_handshake() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:43512"), sa("198.51.100.20:51820"));
    let (ci, si) = (0x4c16_4390, 0x4ed2_805a);
    let mut cap = CaptureBuilder::new();
    cap.udp(c, s, &wg_initiation(ci, 1));
    cap.wait_ms(40);
    cap.udp(s, c, &wg_response(si, ci, 2));
    cap.udp(c, s, &wg_data(si, 0, 0, 3)); // keepalive
    for n in 1..4u64 {
        cap.udp(c, s, &wg_data(si, n, 5, 10 + n));
        cap.udp(s, c, &wg_data(ci, n - 1, 4, 20 + n));
    }
    cap
}

/// The same handshake seen on a DSL or fibre access link: PPPoE session frames behind the
/// provider's two VLAN tags.
fn wireguard_over_pppoe() -> CaptureBuilder {
    wireguard_handshake().over_pppoe(&[285, 121], 0x2175)
}

fn wireguard_midstream() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:22595"), sa("203.0.113.98:5060"));
    let (ci, si) = (0x1c10_48b0, 0x7949_7615);
    let mut cap = CaptureBuilder::new();
    for n in 0..4u64 {
        cap.udp(c, s, &wg_data(si, 0x13 + n, 4 + n as usize, 30 + n));
        cap.udp(s, c, &wg_data(ci, 0x0f + n, 3, 40 + n));
    }
    cap
}

/// Tailscale disco: magic "TS💬", sender disco key, 24-byte nonce, NaCl box of the message
/// (16-byte tag + type, version and body): ping body 12 bytes (tx id), pong 30 (tx id, address).
fn disco(key_seed: u64, nonce_seed: u64, plain: usize) -> Vec<u8> {
    let mut m = b"TS\xf0\x9f\x92\xac".to_vec();
    m.extend(noise(key_seed, 32));
    m.extend(noise(nonce_seed, 24));
    m.extend(noise(nonce_seed + 1000, 16 + plain));
    m
}

fn tailscale_disco() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:41641"), sa("198.51.100.20:41641"));
    let mut cap = CaptureBuilder::new();
    cap.udp(c, s, &disco(7, 1, 14)); // ping
    cap.udp(s, c, &disco(8, 2, 14)); // ping
    cap.udp(c, s, &disco(7, 3, 32)); // pong
    cap.udp(s, c, &disco(8, 4, 32)); // pong
    for n in 0..3u64 {
        cap.udp(s, c, &wg_data(0xfb51_e390, n, 6, 50 + n));
        cap.udp(c, s, &wg_data(0x98c8_3e7a, n, 6, 60 + n));
    }
    cap
}

// ------------------------------------------------ OpenVPN (ssl_pkt.h; RFC draft wire format)

/// Start time of the OpenVPN scenarios' replay "time" field: 2024-03-01T09:00:00Z.
const OVPN_TIME: u32 = 1_709_283_600;

/// A plain or tls-auth control packet: opcode/key byte, session id, [HMAC, replay id, time],
/// ack count, acked ids, peer session id (when acking), [sequence number], payload.
fn ovpn_control(
    opcode: u8,
    sid: &[u8],
    hmac: Option<(&[u8], u32)>,
    acks: &[u32],
    peer: Option<&[u8]>,
    seq: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![opcode << 3];
    p.extend_from_slice(sid);
    if let Some((mac, replay_id)) = hmac {
        p.extend_from_slice(mac);
        p.extend_from_slice(&replay_id.to_be_bytes());
        p.extend_from_slice(&OVPN_TIME.to_be_bytes());
    }
    p.push(acks.len() as u8);
    for a in acks {
        p.extend_from_slice(&a.to_be_bytes());
    }
    if let Some(peer) = peer {
        p.extend_from_slice(peer);
    }
    if let Some(seq) = seq {
        p.extend_from_slice(&seq.to_be_bytes());
    }
    p.extend_from_slice(payload);
    p
}

/// The start of a TLS ClientHello record as carried in P_CONTROL_V1.
fn client_hello_start(seed: u64) -> Vec<u8> {
    let mut h = vec![
        0x16, 0x03, 0x01, 0x00, 0x8c, 0x01, 0x00, 0x00, 0x88, 0x03, 0x03,
    ];
    h.extend(noise(seed, 32));
    h.extend_from_slice(&[0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
    h
}

/// The server's direction of a plain OpenVPN session over UDP, as a tap on one link of an
/// asymmetric path sees it: the server's reset acknowledging the client's, its TLS ServerHello
/// flight in two control packets, and acknowledgements. None of the client's packets.
fn openvpn_server_half_only() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:50312"), sa("198.51.100.20:1194"));
    let csid = noise(111, 8);
    let ssid = noise(112, 8);
    let mut cap = CaptureBuilder::new();
    let reset = ovpn_control(8, &ssid, None, &[0], Some(&csid), Some(0), &[]);
    cap.udp(s, c, &reset);
    cap.wait_ms(30);
    let mut hello = vec![
        0x16, 0x03, 0x03, 0x00, 0x5d, 0x02, 0x00, 0x00, 0x59, 0x03, 0x03,
    ];
    hello.extend(noise(113, 32));
    let flight = ovpn_control(4, &ssid, None, &[1], Some(&csid), Some(1), &hello);
    cap.udp(s, c, &flight);
    let more = ovpn_control(4, &ssid, None, &[], None, Some(2), &noise(114, 900));
    cap.udp(s, c, &more);
    cap.wait_ms(30);
    let ack = ovpn_control(5, &ssid, None, &[2], Some(&csid), None, &[]);
    cap.udp(s, c, &ack);
    cap
}

fn openvpn_udp_tls_auth() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:51146"), sa("198.51.100.20:1194"));
    let csid = noise(101, 8);
    let ssid = noise(102, 8);
    let h = 32; // HMAC-SHA256
    let mut cap = CaptureBuilder::new();
    let reset = ovpn_control(7, &csid, Some((&noise(1, h), 1)), &[], None, Some(0), &[]);
    cap.udp(c, s, &reset);
    cap.wait_ms(30);
    let reply = ovpn_control(
        8,
        &ssid,
        Some((&noise(2, h), 1)),
        &[0],
        Some(&csid),
        Some(0),
        &[],
    );
    cap.udp(s, c, &reply);
    let ack = ovpn_control(
        5,
        &csid,
        Some((&noise(3, h), 2)),
        &[0],
        Some(&ssid),
        None,
        &[],
    );
    cap.udp(c, s, &ack);
    let hello = ovpn_control(
        4,
        &csid,
        Some((&noise(4, h), 3)),
        &[],
        None,
        Some(1),
        &client_hello_start(4),
    );
    cap.udp(c, s, &hello);
    cap
}

fn openvpn_tcp_443() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:52973"), sa("203.0.113.103:443"));
    let csid = noise(111, 8);
    let ssid = noise(112, 8);
    let h = 20; // HMAC-SHA1
    let framed = |p: Vec<u8>| {
        let mut f = (p.len() as u16).to_be_bytes().to_vec();
        f.extend(p);
        f
    };
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(c, s);
    let reset = ovpn_control(7, &csid, Some((&noise(5, h), 1)), &[], None, Some(0), &[]);
    t.client_sends(&mut cap, &framed(reset));
    let reply = ovpn_control(
        8,
        &ssid,
        Some((&noise(6, h), 1)),
        &[0],
        Some(&csid),
        Some(0),
        &[],
    );
    t.server_sends(&mut cap, &framed(reply));
    let hello = ovpn_control(
        4,
        &csid,
        Some((&noise(8, h), 2)),
        &[0],
        Some(&ssid),
        Some(1),
        &client_hello_start(7),
    );
    t.client_sends(&mut cap, &framed(hello));
    t.close(&mut cap);
    cap
}

fn openvpn_tls_crypt_v2() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:56256"), sa("198.51.100.20:1194"));
    let csid = noise(121, 8);
    let ssid = noise(122, 8);
    // Client V3 reset: header, session id, replay id and time, 32-byte tag, 5 encrypted bytes
    // (ack count and sequence number), then the wrapped client key (tag, encrypted key and
    // metadata, 2-byte length of the whole wrapped key).
    let mut reset = vec![10 << 3];
    reset.extend_from_slice(&csid);
    reset.extend_from_slice(&1u32.to_be_bytes());
    reset.extend_from_slice(&OVPN_TIME.to_be_bytes());
    reset.extend(noise(9, 32 + 5));
    let wkc_len: u16 = 299;
    reset.extend(noise(10, usize::from(wkc_len) - 2));
    reset.extend_from_slice(&wkc_len.to_be_bytes());
    // Server V2 reset under tls-crypt: its ack of the client is inside the 17 encrypted bytes,
    // followed by an encrypted early-negotiation TLV (6 bytes).
    let mut reply = vec![8 << 3];
    reply.extend_from_slice(&ssid);
    reply.extend_from_slice(&1u32.to_be_bytes());
    reply.extend_from_slice(&(OVPN_TIME + 1).to_be_bytes());
    reply.extend(noise(11, 32 + 17 + 6));
    let mut cap = CaptureBuilder::new();
    cap.udp(c, s, &reset);
    cap.wait_ms(15);
    cap.udp(s, c, &reply);
    cap
}

// ----------------------------------------------------------- IKE (RFC 7296 §3.1, RFC 2408 §3.1)

/// An IKE message: SPIs, next payload, version, exchange, flags, message id, length, then
/// payloads as (type, body) chained by generic payload headers.
fn ike(
    ispi: &[u8],
    rspi: &[u8],
    version: u8,
    exchange: u8,
    flags: u8,
    msg_id: u32,
    payloads: &[(u8, Vec<u8>)],
) -> Vec<u8> {
    let mut m = ispi.to_vec();
    m.extend_from_slice(rspi);
    m.push(payloads.first().map_or(0, |p| p.0));
    m.extend_from_slice(&[version, exchange, flags]);
    m.extend_from_slice(&msg_id.to_be_bytes());
    m.extend_from_slice(&[0; 4]);
    for (i, (_, body)) in payloads.iter().enumerate() {
        m.push(payloads.get(i + 1).map_or(0, |p| p.0));
        m.push(0);
        m.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        m.extend_from_slice(body);
    }
    let len = m.len() as u32;
    m[24..28].copy_from_slice(&len.to_be_bytes());
    m
}

/// An IKEv2 message whose only payload is Encrypted (SK, RFC 7296 §3.14): IV, ciphertext and
/// ICV as noise; the SK header's "next payload" names the first inner payload.
fn ike_sk(
    ispi: &[u8],
    rspi: &[u8],
    exchange: u8,
    flags: u8,
    msg_id: u32,
    inner: u8,
    body: Vec<u8>,
) -> Vec<u8> {
    let mut m = ike(ispi, rspi, 0x20, exchange, flags, msg_id, &[(SK, body)]);
    m[28] = inner;
    m
}

/// IKEv2 payload types used below (RFC 7296 §3.2).
const SA: u8 = 33;
const KE: u8 = 34;
const NONCE: u8 = 40;
const NOTIFY: u8 = 41;
const SK: u8 = 46;
/// IDi and IDr, the first payloads inside IKE_AUTH's SK payload.
const IDI: u8 = 35;
const IDR: u8 = 36;

/// IKE_SA_INIT payloads: SA (one proposal), KE (group 19, 64-byte public value), Nonce, and
/// two NAT-detection notifies.
fn sa_init_payloads(seed: u64) -> Vec<(u8, Vec<u8>)> {
    let mut proposal = vec![0, 0, 0, 40, 1, 1, 0, 4];
    for (t, id) in [(1u8, 20u16), (2, 5), (3, 12), (4, 19)] {
        proposal.extend_from_slice(&[3, 0, 0, 8, t, 0]);
        proposal.extend_from_slice(&id.to_be_bytes());
    }
    proposal[3] = proposal.len() as u8;
    let last = proposal.len() - 8;
    proposal[last] = 0;
    let mut ke = vec![0, 19, 0, 0];
    ke.extend(noise(seed, 64));
    // Notify body: protocol id 0, SPI size 0, notify type, SHA-1 hash (RFC 7296 §3.10, §2.23).
    let notify = |kind: u16, s: u64| {
        let mut n = vec![0u8, 0];
        n.extend_from_slice(&kind.to_be_bytes());
        n.extend(noise(s, 20));
        n
    };
    vec![
        (SA, proposal),
        (KE, ke),
        (NONCE, noise(seed + 1, 32)),
        (NOTIFY, notify(16388, seed + 2)),
        (NOTIFY, notify(16389, seed + 3)),
    ]
}

fn ikev2_sa_init() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:500"), sa("198.51.100.20:500"));
    let ispi = noise(201, 8);
    let rspi = noise(202, 8);
    let mut cap = CaptureBuilder::new();
    cap.udp(
        c,
        s,
        &ike(&ispi, &[0; 8], 0x20, 34, 0x08, 0, &sa_init_payloads(203)),
    );
    cap.wait_ms(20);
    cap.udp(
        s,
        c,
        &ike(&ispi, &rspi, 0x20, 34, 0x20, 0, &sa_init_payloads(204)),
    );
    cap.udp(
        c,
        s,
        &ike_sk(&ispi, &rspi, 35, 0x08, 1, IDI, noise(205, 300)),
    );
    cap
}

fn ikev2_request_unanswered() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:500"), sa("203.0.113.8:500"));
    let ispi = noise(211, 8);
    let mut cap = CaptureBuilder::new();
    for _ in 0..3 {
        cap.udp(
            c,
            s,
            &ike(&ispi, &[0; 8], 0x20, 34, 0x08, 0, &sa_init_payloads(212)),
        );
        cap.wait_ms(1000);
    }
    cap
}

fn ike_nat_t_4500() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:14500"), sa("198.51.100.20:4500"));
    let ispi = noise(221, 8);
    let rspi = noise(222, 8);
    let marked = |m: Vec<u8>| {
        let mut p = vec![0u8; 4];
        p.extend(m);
        p
    };
    let esp = |spi: u32, seq: u32, seed: u64| {
        let mut p = spi.to_be_bytes().to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend(noise(seed, 96));
        p
    };
    let mut cap = CaptureBuilder::new();
    // IKE_AUTH request (I flag) and response (R flag), after IKE_SA_INIT moved to port 4500.
    cap.udp(
        c,
        s,
        &marked(ike_sk(&ispi, &rspi, 35, 0x08, 1, IDI, noise(223, 400))),
    );
    cap.wait_ms(25);
    cap.udp(
        s,
        c,
        &marked(ike_sk(&ispi, &rspi, 35, 0x20, 1, IDR, noise(224, 180))),
    );
    for n in 1..4u32 {
        cap.udp(c, s, &esp(0x0488_8fe4, n, 230 + u64::from(n)));
        cap.udp(s, c, &esp(0xcbb7_a0c6, n, 240 + u64::from(n)));
    }
    cap.udp(c, s, &[0xff]);
    cap
}

// -------------------------------------------------------- ESP and AH (RFC 4303, RFC 4302)

fn esp_ipv6() -> CaptureBuilder {
    let c: IpAddr = "2001:db8::10".parse().unwrap();
    let s: IpAddr = "2001:db8::20".parse().unwrap();
    let esp = |spi: u32, seq: u32, seed: u64| {
        let mut p = spi.to_be_bytes().to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend(noise(seed, 16 + 64 + 12)); // IV, ciphertext, ICV
        p
    };
    let mut cap = CaptureBuilder::new();
    for n in 1..4u32 {
        cap.ip(c, s, 50, &esp(0x0000_c001, n, 300 + u64::from(n)));
        cap.ip(s, c, 50, &esp(0x0000_c002, n, 310 + u64::from(n)));
    }
    cap
}

/// ICMP echo with a correct checksum (RFC 792).
fn icmp_echo(kind: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
    let mut sum: u32 = m
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    m
}

/// AH header (RFC 4302 §2): next header, payload length (AH length in 32-bit words minus 2),
/// reserved, SPI, sequence number, 96-bit ICV; then the protected ICMP message.
fn ah(spi: u32, seq: u32, inner: &[u8], seed: u64) -> Vec<u8> {
    let mut a = vec![1, 4, 0, 0];
    a.extend_from_slice(&spi.to_be_bytes());
    a.extend_from_slice(&seq.to_be_bytes());
    a.extend(noise(seed, 12));
    a.extend_from_slice(inner);
    a
}

fn ah_icmp() -> CaptureBuilder {
    let c: IpAddr = "192.0.2.10".parse().unwrap();
    let s: IpAddr = "198.51.100.20".parse().unwrap();
    let mut cap = CaptureBuilder::new();
    for n in 1..3u16 {
        cap.ip(
            c,
            s,
            51,
            &ah(0x6048_16f6, u32::from(n), &icmp_echo(8, 0x1d2e, n), 400),
        );
        cap.ip(
            s,
            c,
            51,
            &ah(0xaf86_83ef, u32::from(n), &icmp_echo(0, 0x1d2e, n), 410),
        );
        cap.wait_ms(1000);
    }
    cap
}

// --------------------------------------------------------------------- PPTP (RFC 2637)

/// A control message: length, message type 1, magic cookie, control type, reserved0, body.
fn pptp(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut m = ((12 + body.len()) as u16).to_be_bytes().to_vec();
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&0x1a2b_3c4du32.to_be_bytes());
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(body);
    m
}

/// A 64-byte NUL-padded name field.
fn name64(s: &[u8]) -> Vec<u8> {
    let mut f = s.to_vec();
    f.resize(64, 0);
    f
}

fn pptp_control_and_gre() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:41366"), sa("198.51.100.20:1723"));
    // SCCRQ body: version 1.0, reserved, framing 3, bearer 3, max channels, firmware, host,
    // vendor (§2.1).
    let mut sccrq = vec![1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0xff, 0xff, 0, 1];
    sccrq.extend(name64(b"laptop-17"));
    sccrq.extend(name64(b"Linux pptp"));
    // SCCRP body: version 1.0, result 1 (success), error 0, caps, host, vendor (§2.2).
    let mut sccrp = vec![1, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0];
    sccrp.extend(name64(b""));
    sccrp.extend(name64(b"Microsoft"));
    // OCRQ body: call id 0x2deb, serial, min/max bps, bearer, framing, window, delay, phone
    // number, subaddress (§2.7).
    let mut ocrq = vec![0x2d, 0xeb, 0, 1, 0, 0, 0x09, 0x60, 0, 0x98, 0x96, 0x80];
    ocrq.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 3, 0, 0x40, 0, 0, 0, 0, 0, 0]);
    ocrq.extend([0u8; 64 + 64]);
    // OCRP body: call id 0xa196, peer's call id 0x2deb, result 1, error 0, cause, speed,
    // window, delay, channel id (§2.8).
    let ocrp = vec![
        0xa1, 0x96, 0x2d, 0xeb, 1, 0, 0, 0, 0x00, 0x98, 0x96, 0x80, 0, 0x40, 0, 0, 0, 0, 0, 0,
    ];
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(c, s);
    t.client_sends(&mut cap, &pptp(1, &sccrq));
    t.server_sends(&mut cap, &pptp(2, &sccrp));
    t.client_sends(&mut cap, &pptp(7, &ocrq));
    t.server_sends(&mut cap, &pptp(8, &ocrp));
    // Enhanced GRE (§4.1): K and S set, version 1, protocol 0x880B, payload length, the peer's
    // call id, sequence number [, ack]; payload a PPP LCP Configure-Request.
    let lcp = [
        0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0a, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78,
    ];
    let gre = |call: u16, seq: u32, ack: Option<u32>| {
        let mut g = vec![0x30, if ack.is_some() { 0x81 } else { 0x01 }, 0x88, 0x0b];
        g.extend_from_slice(&(lcp.len() as u16).to_be_bytes());
        g.extend_from_slice(&call.to_be_bytes());
        g.extend_from_slice(&seq.to_be_bytes());
        if let Some(a) = ack {
            g.extend_from_slice(&a.to_be_bytes());
        }
        g.extend_from_slice(&lcp);
        g
    };
    cap.ip(c.ip(), s.ip(), 47, &gre(0xa196, 0, None));
    cap.ip(s.ip(), c.ip(), 47, &gre(0x2deb, 0, Some(0)));
    cap.ip(c.ip(), s.ip(), 47, &gre(0xa196, 1, Some(0)));
    t.close(&mut cap);
    cap
}

// ---------------------------------------------------------------------- L2TP (RFC 2661)

/// An AVP with the M bit: flags|length, vendor 0, attribute, value (§4.1).
fn avp(attr: u16, value: &[u8]) -> Vec<u8> {
    let mut a = (0x8000u16 | (6 + value.len()) as u16)
        .to_be_bytes()
        .to_vec();
    a.extend_from_slice(&0u16.to_be_bytes());
    a.extend_from_slice(&attr.to_be_bytes());
    a.extend_from_slice(value);
    a
}

/// A control message: 0xC802, length, tunnel id, session id, Ns, Nr, AVPs (§3.1).
fn l2tp(tunnel: u16, ns: u16, nr: u16, avps: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = avps.concat();
    let mut m = 0xc802u16.to_be_bytes().to_vec();
    m.extend_from_slice(&((12 + body.len()) as u16).to_be_bytes());
    m.extend_from_slice(&tunnel.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&ns.to_be_bytes());
    m.extend_from_slice(&nr.to_be_bytes());
    m.extend(body);
    m
}

fn l2tp_control() -> CaptureBuilder {
    let (c, s) = (sa("192.0.2.10:1701"), sa("198.51.100.20:1701"));
    // SCCRQ (§6.1): Message Type 1, Protocol Version 1.0, Host Name, Framing Capabilities,
    // Assigned Tunnel ID 0x3a1f, Receive Window Size.
    let sccrq = l2tp(
        0,
        0,
        0,
        &[
            avp(0, &1u16.to_be_bytes()),
            avp(2, &[1, 0]),
            avp(7, b"lac.example"),
            avp(3, &3u32.to_be_bytes()),
            avp(9, &0x3a1fu16.to_be_bytes()),
            avp(10, &4u16.to_be_bytes()),
        ],
    );
    // SCCRP (§6.2) to tunnel 0x3a1f: Message Type 2, version, host, framing, Assigned Tunnel
    // ID 0x0c07.
    let sccrp = l2tp(
        0x3a1f,
        0,
        1,
        &[
            avp(0, &2u16.to_be_bytes()),
            avp(2, &[1, 0]),
            avp(7, b"lns.example"),
            avp(3, &3u32.to_be_bytes()),
            avp(9, &0x0c07u16.to_be_bytes()),
        ],
    );
    // SCCCN (§6.3) to tunnel 0x0c07, then the server's zero-length-body acknowledgement.
    let scccn = l2tp(0x0c07, 1, 1, &[avp(0, &3u16.to_be_bytes())]);
    let zlb = l2tp(0x3a1f, 1, 2, &[]);
    let mut cap = CaptureBuilder::new();
    cap.udp(c, s, &sccrq);
    cap.wait_ms(12);
    cap.udp(s, c, &sccrp);
    cap.udp(c, s, &scccn);
    cap.udp(s, c, &zlb);
    cap
}
