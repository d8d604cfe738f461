//! The whole per-packet path (decode, flow table, DNS name cache, detector cascade, alert
//! policy) on a sequence of frames: first byte the link type, then length-prefixed frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::capture::LinkType;
use remotewatch::config::Config;
use remotewatch::pipeline::VecSink;
use remotewatch_fuzz::{frames, pipeline};
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static CFG: OnceLock<Config> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let mut c = Config::defaults();
        // Small limits so eviction and the inspection cap are reached within one input.
        c.flow.max_flows = 8;
        c.flow.max_inspecting = 4;
        c
    });
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let link = match sel % 6 {
        0 => LinkType::Ethernet,
        1 => LinkType::RawIp,
        2 => LinkType::LinuxSll,
        3 => LinkType::LinuxSll2,
        4 => LinkType::Null,
        _ => LinkType::Loop,
    };
    let mut sink = VecSink::default();
    let mut pipe = pipeline(cfg, link, &mut sink);
    for f in frames(rest) {
        let _ = pipe.frame(&f);
    }
    let _ = pipe.finish();
});
