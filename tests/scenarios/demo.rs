//! The README's demonstration capture: one laptop with a mix of activity.

use crate::common::{noise, sa, CaptureBuilder, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "demo-mixed",
        build: demo_mixed,
    }]
}

/// X.224 Connection Request with a routing cookie and RDP_NEG_REQ for TLS + CredSSP
/// (MS-RDPBCGR 2.2.1.1).
pub(super) fn rdp_request(user: &str) -> Vec<u8> {
    let cookie = format!("Cookie: mstshash={user}\r\n");
    let neg_req = [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00];
    let total = 4 + 7 + cookie.len() + neg_req.len();
    let mut v = vec![
        0x03,
        0x00,
        0x00,
        total as u8,
        (total - 5) as u8,
        0xE0,
        0,
        0,
        0,
        0,
        0,
    ];
    v.extend_from_slice(cookie.as_bytes());
    v.extend_from_slice(&neg_req);
    v
}

/// X.224 Connection Confirm selecting CredSSP (HYBRID, 0x2) (MS-RDPBCGR 2.2.1.2).
pub(super) const RDP_CONFIRM: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x02,
    0x00, 0x00, 0x00,
];

/// WireGuard handshake initiation (type 1, 148 bytes) from sender index `idx`.
fn wg_initiation(idx: u32) -> Vec<u8> {
    let mut v = vec![1, 0, 0, 0];
    v.extend_from_slice(&idx.to_le_bytes());
    v.extend_from_slice(&noise(11, 148 - 8));
    v
}

/// WireGuard handshake response (type 2, 92 bytes): sender `idx`, receiver `to`.
fn wg_response(idx: u32, to: u32) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0];
    v.extend_from_slice(&idx.to_le_bytes());
    v.extend_from_slice(&to.to_le_bytes());
    v.extend_from_slice(&noise(12, 92 - 12));
    v
}

fn demo_mixed() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let laptop = "192.0.2.10";

    // An RDP session from the laptop to a remote desktop host, then TLS.
    let mut rdp = cap.tcp(sa(&format!("{laptop}:50100")), sa("198.51.100.20:3389"));
    rdp.client_sends(&mut cap, &rdp_request("jdoe"));
    rdp.server_sends(&mut cap, &RDP_CONFIRM);
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    hello.extend_from_slice(&noise(13, 0xc4 - 2));
    rdp.client_sends(&mut cap, &hello);
    rdp.close(&mut cap);

    // A WireGuard tunnel on a non-default port, handshake then data both ways.
    let (wc, ws) = (sa(&format!("{laptop}:41000")), sa("203.0.113.7:443"));
    cap.udp(wc, ws, &wg_initiation(0x1111_2222));
    cap.udp(ws, wc, &wg_response(0x3333_4444, 0x1111_2222));
    for i in 0..3u64 {
        let mut data = vec![4, 0, 0, 0];
        data.extend_from_slice(&0x3333_4444u32.to_le_bytes());
        data.extend_from_slice(&i.to_le_bytes());
        data.extend_from_slice(&noise(20 + i, 16 + 64));
        cap.udp(wc, ws, &data);
    }

    // An SSH session (reported at info severity by default).
    let mut ssh = cap.tcp(sa(&format!("{laptop}:50200")), sa("198.51.100.30:22"));
    ssh.server_sends(&mut cap, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
    ssh.client_sends(&mut cap, b"SSH-2.0-OpenSSH_9.7\r\n");
    ssh.close(&mut cap);

    // Ordinary HTTPS: no alert.
    let mut web = cap.tcp(sa(&format!("{laptop}:50300")), sa("198.51.100.40:443"));
    let mut ch = vec![
        0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03,
    ];
    ch.extend_from_slice(&noise(30, 0xfc - 2));
    web.client_sends(&mut cap, &ch);
    web.server_sends(&mut cap, &noise(31, 900));
    web.close(&mut cap);
    cap
}
