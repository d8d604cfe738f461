//! Remote-access scenarios: RDP (TCP and UDP), VNC, SSH, telnet, the BSD r-commands and XDMCP,
//! each built from the protocol's own message layouts, plus a look-alike that must stay silent.

use super::wire::{handshake, record};
use crate::common::{noise, sa, CaptureBuilder, Scenario};
use etherparse::{PacketBuilder, TcpOptionElement};
use std::net::{IpAddr, SocketAddr};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "rdp-x224-cookie-nla",
            build: rdp_x224_cookie_nla,
        },
        Scenario {
            name: "rdp-through-gre-tunnel",
            build: rdp_through_gre_tunnel,
        },
        Scenario {
            name: "rdp-standard-security-nonstandard-port",
            build: rdp_standard_security_nonstandard_port,
        },
        Scenario {
            name: "rdp-standard-security-korean-client",
            build: rdp_standard_security_korean_client,
        },
        Scenario {
            name: "rdp-udp-syn-handshake-ipv6",
            build: rdp_udp_syn_handshake_ipv6,
        },
        Scenario {
            name: "rdp-udp-through-teredo",
            build: rdp_udp_through_teredo,
        },
        Scenario {
            name: "rdp-udp-midstream",
            build: rdp_udp_midstream,
        },
        Scenario {
            name: "vnc-rfb-3.8",
            build: vnc_rfb_3_8,
        },
        Scenario {
            name: "vnc-reverse-listening-viewer",
            build: vnc_reverse_listening_viewer,
        },
        Scenario {
            name: "ssh-identification",
            build: ssh_identification,
        },
        Scenario {
            name: "ssh-on-port-443",
            build: ssh_on_port_443,
        },
        Scenario {
            name: "http-request-to-ssh-server",
            build: http_request_to_ssh_server,
        },
        Scenario {
            name: "telnet-negotiation",
            build: telnet_negotiation,
        },
        Scenario {
            name: "rsh-rcmd",
            build: rsh_rcmd,
        },
        Scenario {
            name: "rlogin-terminal",
            build: rlogin_terminal,
        },
        Scenario {
            name: "xdmcp-query-willing",
            build: xdmcp_query_willing,
        },
        Scenario {
            name: "iso-tsap-s7-not-rdp",
            build: iso_tsap_s7_not_rdp,
        },
    ]
}

/// TPKT header (RFC 1006 §6) around an X.224 TPDU.
fn tpkt(x224: &[u8]) -> Vec<u8> {
    let mut r = vec![3, 0];
    r.extend_from_slice(&((x224.len() + 4) as u16).to_be_bytes());
    r.extend_from_slice(x224);
    r
}

/// X.224 class 0 CR (0xE0) or CC (0xD0): LI, code, DST-REF, SRC-REF, class 0, variable part.
fn x224_conn(code: u8, dst_ref: u16, src_ref: u16, var: &[u8]) -> Vec<u8> {
    let mut x = vec![(6 + var.len()) as u8, code];
    x.extend_from_slice(&dst_ref.to_be_bytes());
    x.extend_from_slice(&src_ref.to_be_bytes());
    x.push(0);
    x.extend_from_slice(var);
    tpkt(&x)
}

/// RDP_NEG_REQ/RSP/FAILURE: type, flags, length 8 (LE), value (LE) (MS-RDPBCGR 2.2.1.1.1).
fn rdp_neg(kind: u8, flags: u8, value: u32) -> Vec<u8> {
    let mut n = vec![kind, flags, 8, 0];
    n.extend_from_slice(&value.to_le_bytes());
    n
}

/// A minimal TLS 1.2 ClientHello (RFC 5246 §7.4.1.2): one suite, null compression.
fn tls_client_hello(seed: u64) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&noise(seed, 32)); // random
    b.push(0); // session_id
    b.extend_from_slice(&[0, 2, 0xC0, 0x2F]); // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    b.extend_from_slice(&[1, 0]); // compression: null
    record(0x16, &handshake(1, &b))
}

/// The matching ServerHello (RFC 5246 §7.4.1.3).
fn tls_server_hello(seed: u64) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&noise(seed, 32));
    b.push(0);
    b.extend_from_slice(&[0xC0, 0x2F, 0]);
    record(0x16, &handshake(2, &b))
}

/// mstsc to a Windows host: cookie, NLA negotiated, CredSSP over TLS follows.
/// The `rdp-x224-cookie-nla` session carried through a GRE tunnel between the contractor's
/// router (203.0.113.1) and a rented server (203.0.113.200) that forwards it on.
fn rdp_through_gre_tunnel() -> CaptureBuilder {
    rdp_x224_cookie_nla().over_gre([192, 0, 2, 10], [203, 0, 113, 1], [203, 0, 113, 200], 0x1d)
}

fn rdp_x224_cookie_nla() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:50000"), sa("198.51.100.20:3389"));
    let mut var = b"Cookie: mstshash=alice\r\n".to_vec();
    var.extend_from_slice(&rdp_neg(0x01, 0, 0x0b)); // SSL|HYBRID|HYBRID_EX
    t.client_sends(&mut cap, &x224_conn(0xE0, 0, 0, &var));
    t.server_sends(
        &mut cap,
        &x224_conn(0xD0, 0, 0x1234, &rdp_neg(0x02, 0x1f, 0x02)),
    );
    t.client_sends(&mut cap, &tls_client_hello(1));
    t.server_sends(&mut cap, &tls_server_hello(2));
    t.client_sends(&mut cap, &record(0x17, &noise(3, 300)));
    t.close(&mut cap);
    cap
}

/// A Windows XP era client: cookie, no negotiation, MCS Connect-Initial with RDP client data,
/// on a port that is not 3389.
fn rdp_standard_security_nonstandard_port() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:13178"), sa("198.51.100.20:13389"));
    t.client_sends(
        &mut cap,
        &x224_conn(0xE0, 0, 0, b"Cookie: mstshash=A70067\r\n"),
    );
    t.server_sends(&mut cap, &x224_conn(0xD0, 0, 0x1234, &[]));
    t.client_sends(&mut cap, &tpkt(&mcs_connect_initial()));
    t.close(&mut cap);
    cap
}

/// A client on a Korean keyboard layout whose server only offers Standard RDP Security
/// (FreeRDP `/sec:rdp` asks for exactly that): RDP_NEG_REQ for PROTOCOL_RDP, RDP_NEG_RSP
/// selecting it, then the Connect-Initial in clear with the client's name, keyboard layout,
/// build and desktop size. The client's SYN is a Windows host's (TTL 128 at start, 12 routers
/// away) announcing MSS 1380, as behind a WireGuard interface at wg-quick's default MTU 1420.
fn rdp_standard_security_korean_client() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let client = sa("192.0.2.10:49733");
    let server = sa("198.51.100.20:3389");
    let mut t = SynConn::open(&mut cap, client, server, 1380, 8, 116);
    let mut var = b"Cookie: mstshash=kim\r\n".to_vec();
    var.extend_from_slice(&rdp_neg(0x01, 0, 0)); // requestedProtocols PROTOCOL_RDP
    t.send(&mut cap, true, &x224_conn(0xE0, 0, 0, &var));
    t.send(
        &mut cap,
        false,
        &x224_conn(0xD0, 0, 0x1234, &rdp_neg(0x02, 0x1f, 0)),
    );
    let korean = ClientCore {
        name: "WS-1234",
        keyboard_layout: 0x0000_0412,
        build: 19041,
        width: 1920,
        height: 1080,
    };
    t.send(&mut cap, true, &tpkt(&mcs_connect_initial_from(&korean)));
    t.close(&mut cap);
    cap
}

/// A TCP connection whose initiator's SYN options and TTL the scenario chooses (the common
/// builder's SYN is a Linux host next to the sensor): for the SYN fingerprint.
struct SynConn {
    client: SocketAddr,
    server: SocketAddr,
    seq: [u32; 2],
    ttl: [u8; 2],
}

/// The kind of segment [`SynConn::segment`] sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seg {
    /// SYN with MSS, NOP, window scale (RFC 9293 §3.7.1, RFC 7323 §2.2).
    Syn { mss: u16, wscale: u8 },
    /// SYN/ACK with the same options.
    SynAck { mss: u16, wscale: u8 },
    /// A bare ACK, or PSH/ACK when it carries data.
    Ack,
    /// FIN/ACK.
    Fin,
}

impl SynConn {
    /// SYN with MSS `mss` and window scale `wscale` at IP TTL `ttl`; SYN/ACK from a Windows
    /// server 7 routers away (TTL 121 of 128) with MSS 1460; ACK.
    fn open(
        cap: &mut CaptureBuilder,
        client: SocketAddr,
        server: SocketAddr,
        mss: u16,
        wscale: u8,
        ttl: u8,
    ) -> SynConn {
        let mut c = SynConn {
            client,
            server,
            seq: [0x3000_0000, 0x4000_0000],
            ttl: [ttl, 121],
        };
        c.segment(cap, true, Seg::Syn { mss, wscale }, &[]);
        let answer = Seg::SynAck {
            mss: 1460,
            wscale: 8,
        };
        c.segment(cap, false, answer, &[]);
        c.segment(cap, true, Seg::Ack, &[]);
        c
    }

    /// One side sends `payload` in one segment (PSH/ACK), the other ACKs.
    fn send(&mut self, cap: &mut CaptureBuilder, from_client: bool, payload: &[u8]) {
        self.segment(cap, from_client, Seg::Ack, payload);
        self.segment(cap, !from_client, Seg::Ack, &[]);
    }

    /// FIN/ACK both ways, last ACK.
    fn close(&mut self, cap: &mut CaptureBuilder) {
        self.segment(cap, true, Seg::Fin, &[]);
        self.segment(cap, false, Seg::Fin, &[]);
        self.segment(cap, true, Seg::Ack, &[]);
    }

    fn segment(&mut self, cap: &mut CaptureBuilder, from_client: bool, kind: Seg, payload: &[u8]) {
        let (src, dst, me) = if from_client {
            (self.client, self.server, 0)
        } else {
            (self.server, self.client, 1)
        };
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
            panic!("IPv4 only");
        };
        let b = PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 0x01], [0x02, 0, 0, 0, 0, 0x02])
            .ipv4(s.octets(), d.octets(), self.ttl[me])
            .tcp(src.port(), dst.port(), self.seq[me], 64240);
        let opts = |mss: u16, wscale: u8| {
            [
                TcpOptionElement::MaximumSegmentSize(mss),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(wscale),
            ]
        };
        let b = match kind {
            Seg::Syn { mss, wscale } => b.syn().options(&opts(mss, wscale)).expect("options"),
            Seg::SynAck { mss, wscale } => b
                .syn()
                .ack(self.seq[1 - me])
                .options(&opts(mss, wscale))
                .expect("options"),
            Seg::Ack if payload.is_empty() => b.ack(self.seq[1 - me]),
            Seg::Ack => b.psh().ack(self.seq[1 - me]),
            Seg::Fin => b.fin().ack(self.seq[1 - me]),
        };
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("tcp frame");
        cap.push(out);
        let flag = matches!(kind, Seg::Syn { .. } | Seg::SynAck { .. } | Seg::Fin);
        self.seq[me] = self.seq[me].wrapping_add(payload.len() as u32 + u32::from(flag));
    }
}

/// BER length (X.690 §8.1.3): short form below 128, else 0x82 and two bytes.
fn ber_len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

/// PER length (X.691 §11.9.3.6–7): one byte below 128, else two bytes with the top bit set.
fn per_len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![n as u8]
    } else {
        vec![0x80 | (n >> 8) as u8, n as u8]
    }
}

/// What a client says about itself in TS_UD_CS_CORE (MS-RDPBCGR 2.2.1.3.2).
struct ClientCore {
    name: &'static str,
    keyboard_layout: u32,
    build: u32,
    width: u16,
    height: u16,
}

/// A Windows XP client: RDP 5.x, 1024x768, US keyboard, build 2600.
const XP_CLIENT: ClientCore = ClientCore {
    name: "XPCLIENT",
    keyboard_layout: 0x0409,
    build: 2600,
    width: 1024,
    height: 768,
};

/// X.224 Data TPDU carrying an MCS Connect-Initial (T.125 §11.1, MS-RDPBCGR 2.2.1.3) whose GCC
/// Conference Create Request (T.124) holds the RDP client data blocks behind the "Duca" key.
fn mcs_connect_initial() -> Vec<u8> {
    mcs_connect_initial_from(&XP_CLIENT)
}

/// As [`mcs_connect_initial`], for the client `c`.
fn mcs_connect_initial_from(c: &ClientCore) -> Vec<u8> {
    // TS_UD_CS_CORE (MS-RDPBCGR 2.2.1.3.2): RDP 5.x, 8 bpp, the client's size, keyboard, build.
    let mut core = Vec::new();
    core.extend_from_slice(&0x0008_0001u32.to_le_bytes()); // version
    core.extend_from_slice(&c.width.to_le_bytes());
    core.extend_from_slice(&c.height.to_le_bytes());
    core.extend_from_slice(&0xCA01u16.to_le_bytes()); // RNS_UD_COLOR_8BPP
    core.extend_from_slice(&0xAA03u16.to_le_bytes()); // RNS_UD_SAS_DEL
    core.extend_from_slice(&c.keyboard_layout.to_le_bytes()); // keyboardLayout
    core.extend_from_slice(&c.build.to_le_bytes()); // clientBuild
    let mut name: Vec<u8> = c.name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    name.resize(32, 0);
    core.extend_from_slice(&name); // clientName
    core.extend_from_slice(&4u32.to_le_bytes()); // keyboardType
    core.extend_from_slice(&0u32.to_le_bytes()); // keyboardSubType
    core.extend_from_slice(&12u32.to_le_bytes()); // keyboardFunctionKey
    core.extend_from_slice(&[0; 64]); // imeFileName
    let mut blocks = 0xC001u16.to_le_bytes().to_vec(); // CS_CORE
    blocks.extend_from_slice(&((core.len() + 4) as u16).to_le_bytes());
    blocks.extend_from_slice(&core);
    // TS_UD_CS_SEC (2.2.1.3.3): 40- and 128-bit RC4.
    blocks.extend_from_slice(&[0x02, 0xC0, 12, 0, 0x03, 0, 0, 0, 0, 0, 0, 0]);
    // ConferenceCreateRequest (T.124, PER) with the H.221 non-standard key "Duca".
    let mut ccr = vec![0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xC0, 0x00];
    ccr.extend_from_slice(b"Duca");
    ccr.extend_from_slice(&per_len(blocks.len()));
    ccr.extend_from_slice(&blocks);
    // GCC ConnectData: key object identifier {0 0 20 124 0 1}, then the ConnectPDU.
    let mut gcc = vec![0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01];
    gcc.extend_from_slice(&per_len(ccr.len()));
    gcc.extend_from_slice(&ccr);
    // DomainParameters: target, minimum, maximum (T.125 §7, MS-RDPBCGR 4.1.3 values).
    let domain = |v: &[&[u8]]| {
        let body: Vec<u8> = v
            .iter()
            .flat_map(|x| {
                let mut i = vec![0x02, x.len() as u8];
                i.extend_from_slice(x);
                i
            })
            .collect();
        let mut d = vec![0x30];
        d.extend_from_slice(&ber_len(body.len()));
        d.extend_from_slice(&body);
        d
    };
    let mut ci = vec![0x04, 0x01, 0x01, 0x04, 0x01, 0x01, 0x01, 0x01, 0xFF];
    ci.extend_from_slice(&domain(&[
        &[34],
        &[2],
        &[0],
        &[1],
        &[0],
        &[1],
        &[0xFF, 0xFF],
        &[2],
    ]));
    ci.extend_from_slice(&domain(&[
        &[1],
        &[1],
        &[1],
        &[1],
        &[0],
        &[1],
        &[0x04, 0x20],
        &[2],
    ]));
    ci.extend_from_slice(&domain(&[
        &[0xFF, 0xFF],
        &[0xFC, 0x17],
        &[0xFF, 0xFF],
        &[1],
        &[0],
        &[1],
        &[0xFF, 0xFF],
        &[2],
    ]));
    ci.push(0x04); // userData OCTET STRING
    ci.extend_from_slice(&ber_len(gcc.len()));
    ci.extend_from_slice(&gcc);
    let mut pdu = vec![0x02, 0xF0, 0x80, 0x7F, 0x65];
    pdu.extend_from_slice(&ber_len(ci.len()));
    pdu.extend_from_slice(&ci);
    pdu
}

/// RDPUDP_FEC_HEADER + RDPUDP_SYNDATA_PAYLOAD (+ optional parts), zero-padded to 1232 bytes
/// (MS-RDPEUDP 2.2.2.1, 2.2.2.5, 2.2.2.8, 2.2.2.9, 3.1.5.1.1).
fn rdpeudp_syn(ack: u32, flags: u16, isn: u32, correlation: bool, version: u16) -> Vec<u8> {
    let mut d = Vec::with_capacity(1232);
    d.extend_from_slice(&ack.to_be_bytes());
    d.extend_from_slice(&64u16.to_be_bytes());
    d.extend_from_slice(&flags.to_be_bytes());
    d.extend_from_slice(&isn.to_be_bytes());
    d.extend_from_slice(&1232u16.to_be_bytes());
    d.extend_from_slice(&1232u16.to_be_bytes());
    if correlation {
        d.extend_from_slice(&noise(6, 16));
        d.extend_from_slice(&[0; 16]);
    }
    d.extend_from_slice(&1u16.to_be_bytes()); // RDPUDP_VERSION_INFO_VALID
    d.extend_from_slice(&version.to_be_bytes());
    d.resize(1232, 0);
    d
}

/// The `rdp-udp-syn-handshake-ipv6` session reached over Teredo: the client behind a NAT
/// (mapped 192.0.2.77:40123) speaks IPv6 through a relay (203.0.113.35, port 3544).
fn rdp_udp_through_teredo() -> CaptureBuilder {
    rdp_udp_syn_handshake_ipv6().over_teredo(
        "2001:db8::10".parse().unwrap(),
        ([192, 0, 2, 77], 40123),
        [203, 0, 113, 35],
    )
}

/// RDP-UDP over IPv6 negotiating RDP-UDP2 (uUdpVer 0x0101), then RDP-UDP2 traffic.
fn rdp_udp_syn_handshake_ipv6() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let client = sa("[2001:db8::10]:61291");
    let server = sa("[2001:db8::20]:3389");
    // SYN | CORRELATION_ID | SYNEX, then SYN | ACK | SYNEX.
    let syn = rdpeudp_syn(0xFFFF_FFFF, 0x1801, 0x0b12_7f15, true, 0x0101);
    cap.udp(client, server, &syn);
    let syn_ack = rdpeudp_syn(0x0b12_7f15, 0x1005, 0x0f94_ea0b, false, 0x0101);
    cap.udp(server, client, &syn_ack);
    for i in 0..4u64 {
        cap.udp(client, server, &noise(10 + i, 160));
        cap.udp(server, client, &noise(20 + i, 900));
    }
    cap
}

/// RDPUDP_FEC_HEADER (ACK|DATA), one-element ACK vector, source payload header, TLS record
/// (MS-RDPEUDP 3.1.5.1.4).
fn rdpeudp_data(ack: u32, coded: u32, seed: u64) -> Vec<u8> {
    let mut d = ack.to_be_bytes().to_vec();
    d.extend_from_slice(&[0x04, 0x00, 0x00, 0x0c]); // uReceiveWindowSize, uFlags ACK|DATA
    d.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]); // uAckVectorSize 1, element, padding
    d.extend_from_slice(&coded.to_be_bytes()); // snCoded
    d.extend_from_slice(&coded.to_be_bytes()); // snSourceStart
    d.extend_from_slice(&record(0x17, &noise(seed, 48)));
    d
}

/// A UDP RDP transport already running when the capture starts: no SYN, data both ways.
fn rdp_udp_midstream() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let client = sa("192.0.2.10:51652");
    let server = sa("198.51.100.20:3389");
    let (mut up, mut down) = (0xe65f_846d_u32, 0x1097_6034_u32);
    for i in 0..4u64 {
        cap.udp(client, server, &rdpeudp_data(down - 1, up, 30 + i));
        cap.udp(server, client, &rdpeudp_data(up, down, 40 + i));
        up += 1;
        down += 1;
    }
    cap
}

/// RFB 3.8 with VNC Authentication (RFC 6143 §7.1–7.2).
fn vnc_rfb_3_8() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:58102"), sa("198.51.100.20:5900"));
    t.server_sends(&mut cap, b"RFB 003.008\n");
    t.client_sends(&mut cap, b"RFB 003.008\n");
    t.server_sends(&mut cap, &[1, 2]); // one security type: VNC Authentication
    t.client_sends(&mut cap, &[2]);
    t.server_sends(&mut cap, &noise(7, 16)); // challenge
    t.client_sends(&mut cap, &noise(8, 16)); // response
    t.server_sends(&mut cap, &[0, 0, 0, 0]); // SecurityResult OK
    t.close(&mut cap);
    cap
}

/// A VNC server dialling out to a listening viewer on port 5500: the initiator sends the
/// server's ProtocolVersion first.
fn vnc_reverse_listening_viewer() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:49200"), sa("198.51.100.20:5500"));
    t.client_sends(&mut cap, b"RFB 003.008\n");
    t.server_sends(&mut cap, b"RFB 003.008\n");
    t.client_sends(&mut cap, &[2, 1, 2]); // None, VNC Authentication
    t.server_sends(&mut cap, &[1]);
    t.client_sends(&mut cap, &[0, 0, 0, 0]);
    t.close(&mut cap);
    cap
}

/// An unencrypted SSH binary packet (RFC 4253 §6) carrying SSH_MSG_KEXINIT (§7.1).
fn ssh_kexinit(seed: u64) -> Vec<u8> {
    let mut payload = vec![20]; // SSH_MSG_KEXINIT
    payload.extend_from_slice(&noise(seed, 16)); // cookie
    for list in [
        &b"curve25519-sha256"[..],
        b"ssh-ed25519",
        b"aes128-ctr",
        b"aes128-ctr",
        b"hmac-sha2-256",
        b"hmac-sha2-256",
        b"none",
        b"none",
        b"",
        b"",
    ] {
        payload.extend_from_slice(&(list.len() as u32).to_be_bytes());
        payload.extend_from_slice(list);
    }
    payload.extend_from_slice(&[0, 0, 0, 0, 0]); // first_kex_packet_follows, reserved
                                                 // Padding of at least 4 bytes brings the packet to a multiple of 8 (§6).
    let padding = 4 + (8 - (4 + 1 + payload.len() + 4) % 8) % 8;
    let mut p = ((1 + payload.len() + padding) as u32)
        .to_be_bytes()
        .to_vec();
    p.push(padding as u8);
    p.extend_from_slice(&payload);
    p.extend_from_slice(&vec![0; padding]);
    p
}

fn ssh_identification() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:51880"), sa("198.51.100.20:22"));
    t.server_sends(&mut cap, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
    let mut hello = b"SSH-2.0-OpenSSH_9.7\r\n".to_vec();
    hello.extend_from_slice(&ssh_kexinit(9));
    t.client_sends(&mut cap, &hello);
    t.server_sends(&mut cap, &ssh_kexinit(10));
    t.close(&mut cap);
    cap
}

/// SSH hidden on the HTTPS port, client speaking first.
fn ssh_on_port_443() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:40184"), sa("203.0.113.5:443"));
    t.client_sends(&mut cap, b"SSH-2.0-PuTTY_Release_0.80\r\n");
    t.server_sends(&mut cap, b"SSH-2.0-dropbear_2022.83\r\n");
    t.client_sends(&mut cap, &ssh_kexinit(11));
    t.server_sends(&mut cap, &ssh_kexinit(12));
    t.close(&mut cap);
    cap
}

/// An HTTP client on the SSH port: the server announces itself, the client sends an HTTP
/// request, the server complains (OpenSSH's own words) and closes. No SSH session.
fn http_request_to_ssh_server() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:58244"), sa("198.51.100.20:22"));
    t.server_sends(&mut cap, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
    t.client_sends(
        &mut cap,
        b"GET / HTTP/1.1\r\nHost: 198.51.100.20:22\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    );
    t.server_sends(&mut cap, b"Invalid SSH identification string.\r\n");
    t.close(&mut cap);
    cap
}

/// BSD telnet to a telnetd: negotiation both ways, terminal type, then the login prompt.
fn telnet_negotiation() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:1550"), sa("198.51.100.20:23"));
    // DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, WILL NAWS, WILL NEW-ENVIRON.
    t.client_sends(
        &mut cap,
        b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f\xff\xfb\x27",
    );
    // DO TERMINAL-TYPE, WILL SUPPRESS-GO-AHEAD, WILL ECHO.
    t.server_sends(&mut cap, b"\xff\xfd\x18\xff\xfb\x03\xff\xfb\x01");
    t.server_sends(&mut cap, b"\xff\xfa\x18\x01\xff\xf0"); // SB TERMINAL-TYPE SEND
    t.client_sends(&mut cap, b"\xff\xfa\x18\x00xterm-256color\xff\xf0");
    t.server_sends(&mut cap, b"\r\nDebian GNU/Linux 12\r\nlogin: ");
    t.client_sends(&mut cap, b"alice\r\n");
    t.close(&mut cap);
    cap
}

/// rsh: stderr port, users and command, server's \0, command output (rcmd(3), rshd(8)).
fn rsh_rcmd() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:1023"), sa("198.51.100.20:514"));
    t.client_sends(&mut cap, b"1022\0");
    t.client_sends(&mut cap, b"alice\0root\0uname -a\0");
    t.server_sends(&mut cap, b"\0");
    t.server_sends(&mut cap, b"Linux host 6.1.0 x86_64 GNU/Linux\n");
    t.close(&mut cap);
    cap
}

/// rlogin: leading NUL, users, terminal/speed, server's \0 (RFC 1282 §3).
fn rlogin_terminal() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:1021"), sa("198.51.100.20:513"));
    t.client_sends(&mut cap, b"\0alice\0alice\0xterm/38400\0");
    t.server_sends(&mut cap, b"\0");
    t.server_sends(&mut cap, b"Password: ");
    t.close(&mut cap);
    cap
}

/// XDMCP header: version 1, opcode, length of the rest (XDMCP §9).
fn xdmcp(opcode: u16, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0, 1];
    m.extend_from_slice(&opcode.to_be_bytes());
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// An X terminal asking a display manager to manage it: Query, Willing, Request, Accept, Manage.
fn xdmcp_query_willing() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let display = sa("192.0.2.10:61426");
    let manager = sa("198.51.100.20:177");
    cap.udp(display, manager, &xdmcp(2, &[0])); // Query, no authentication names
    let mut willing = vec![0, 0, 0, 4];
    willing.extend_from_slice(b"dm01");
    willing.extend_from_slice(&[0, 17]);
    willing.extend_from_slice(b"Willing to manage");
    cap.udp(manager, display, &xdmcp(5, &willing));
    // Request: display 0, one IPv4 connection, no authentication, MIT-MAGIC-COOKIE-1, id "".
    let mut req = vec![0, 0, 1, 0, 0, 1, 0, 4, 192, 0, 2, 10, 0, 0, 0, 0, 1, 0, 18];
    req.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
    req.extend_from_slice(&[0, 0]);
    cap.udp(display, manager, &xdmcp(7, &req));
    let mut accept = vec![0x0c, 0x80, 0x32, 0x03, 0, 0, 0, 0, 0, 18];
    accept.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
    accept.extend_from_slice(&[0, 16]);
    accept.extend_from_slice(&noise(13, 16));
    cap.udp(manager, display, &xdmcp(8, &accept));
    let mut manage = vec![0x0c, 0x80, 0x32, 0x03, 0, 0, 0, 15];
    manage.extend_from_slice(b"MIT-unspecified");
    cap.udp(display, manager, &xdmcp(10, &manage));
    cap
}

/// Siemens S7 over ISO-TSAP (port 102): TPKT and X.224 like RDP, but COTP parameters in the
/// request and S7 PDUs in the data phase. No RDP alert may come of it.
fn iso_tsap_s7_not_rdp() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:49500"), sa("198.51.100.30:102"));
    // CR with calling/called TSAP (C1, C2) and TPDU size (C0) parameters.
    t.client_sends(
        &mut cap,
        &x224_conn(0xE0, 0, 1, b"\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a"),
    );
    t.server_sends(
        &mut cap,
        &x224_conn(0xD0, 1, 5, b"\xc0\x01\x0a\xc1\x02\x01\x00\xc2\x02\x01\x02"),
    );
    // X.224 Data + S7 "Setup communication" job and its ack (protocol id 0x32).
    let job =
        b"\x02\xf0\x80\x32\x01\x00\x00\x00\x00\x00\x08\x00\x00\xf0\x00\x00\x01\x00\x01\x01\xe0";
    let ack = b"\x02\xf0\x80\x32\x03\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\xf0\x00\x00\x01\x00\x01\x00\xf0";
    t.client_sends(&mut cap, &tpkt(job));
    t.server_sends(&mut cap, &tpkt(ack));
    t.close(&mut cap);
    cap
}
