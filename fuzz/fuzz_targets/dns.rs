//! DNS parsing: the input's chunks as DNS messages on UDP port 53, queries one way and responses
//! the other, through the whole pipeline (the name cache reads responses, the DNS-tunnel
//! detector reads queries), followed by a TLS flow to an address the responses may have named.
#![no_main]

use etherparse::PacketBuilder;
use libfuzzer_sys::fuzz_target;
use remotewatch::capture::{Frame, LinkType};
use remotewatch::config::Config;
use remotewatch::flow::Dir;
use remotewatch::pipeline::VecSink;
use remotewatch::ts::Ts;
use remotewatch_fuzz::{chunks, pipeline};

const CLIENT: [u8; 4] = [192, 0, 2, 10];
const RESOLVER: [u8; 4] = [192, 0, 2, 53];

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src, dst, 64).udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    let _ = b.write(&mut out, payload);
    out
}

fuzz_target!(|data: &[u8]| {
    let cfg = Config::defaults();
    let mut sink = VecSink::default();
    let mut pipe = pipeline(&cfg, LinkType::RawIp, &mut sink);
    let mut ts = Ts::from_secs(1_709_283_600);
    let mut frames = Vec::new();
    let mut named = None;
    for (dir, msg) in chunks(data) {
        frames.push(match dir {
            Dir::ToServer => udp(CLIENT, RESOLVER, 40000, 53, msg),
            Dir::ToClient => {
                // The first A record's address, if the bytes hold one at a plausible place.
                if named.is_none() && msg.len() >= 4 {
                    named = msg
                        .get(msg.len() - 4..)
                        .and_then(|s| <[u8; 4]>::try_from(s).ok());
                }
                udp(RESOLVER, CLIENT, 53, 40000, msg)
            }
        });
    }
    if let Some(server) = named {
        frames.push(udp(CLIENT, server, 40001, 443, b"\x16\x03\x01\x00\x00"));
    }
    for f in &frames {
        ts = ts.plus(1_000_000);
        let frame = Frame {
            ts,
            data: f,
            wire_len: u32::try_from(f.len()).unwrap_or(u32::MAX),
        };
        let _ = pipe.frame(&frame);
    }
    let _ = pipe.finish();
});
