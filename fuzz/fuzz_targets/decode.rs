//! Decode: any bytes as a frame of every supported link type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::capture::{Frame, LinkType};
use remotewatch::decode::decode;
use remotewatch::ts::Ts;

const LINKS: [LinkType; 6] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
];

fuzz_target!(|data: &[u8]| {
    let Some((&wire, frame)) = data.split_first() else {
        return;
    };
    for link in LINKS {
        let f = Frame {
            ts: Ts::from_secs(1),
            data: frame,
            // The first byte says how much the snap length cut, so cut frames are decoded too.
            wire_len: u32::try_from(frame.len()).unwrap_or(u32::MAX) + u32::from(wire),
        };
        let _ = decode(link, &f);
    }
});
