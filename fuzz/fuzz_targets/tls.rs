//! TLS and QUIC parsing (ClientHello, ServerHello, certificates, QUIC Initial decryption) through
//! the cascade: the input is wrapped in TLS record and handshake headers (or a QUIC long header)
//! whose lengths match it, so the parsers get past the first length check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::decode::ip_proto;
use remotewatch::flow::Dir;
use remotewatch_fuzz::{cascade, FlowInput};

/// A TLS record (RFC 8446 §5.1) of `ctype` carrying one handshake message (§4) of `htype`.
fn record(ctype: u8, htype: u8, body: &[u8]) -> Vec<u8> {
    let hlen = body.len().min(0xff_ffff);
    let rlen = (hlen + 4).min(0xffff);
    let mut v = vec![ctype, 3, 1, (rlen >> 8) as u8, rlen as u8];
    v.extend_from_slice(&[htype, (hlen >> 16) as u8, (hlen >> 8) as u8, hlen as u8]);
    v.extend_from_slice(body);
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(sel).min(rest.len()) * rest.len() / 256;
    let (a, b) = rest.split_at(cut.min(rest.len()));
    let (up, down);
    let flow = if sel & 1 == 0 {
        // ClientHello (type 1) one way, ServerHello + Certificate (types 2, 11) back.
        up = record(22, 1, a);
        let (hello, cert) = b.split_at(b.len() / 2);
        let mut d = record(22, 2, hello);
        d.extend(record(22, 11, cert));
        down = d;
        FlowInput {
            proto: ip_proto::TCP,
            client_port: 50000,
            server_port: 443,
            packets: vec![(Dir::ToServer, &up[..]), (Dir::ToClient, &down[..])],
        }
    } else {
        // A QUIC long-header Initial (RFC 9000 §17.2.2) padded to the 1200-byte minimum.
        let mut u = vec![0xc3, 0, 0, 0, 1];
        u.extend_from_slice(a);
        u.resize(u.len().max(1200), 0);
        up = u;
        down = b.to_vec();
        FlowInput {
            proto: ip_proto::UDP,
            client_port: 50000,
            server_port: 443,
            packets: vec![(Dir::ToServer, &up[..]), (Dir::ToClient, &down[..])],
        }
    };
    let _ = flow.run(cascade());
});
