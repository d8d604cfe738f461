//! Every detector family: arbitrary payloads in both directions of a flow of any IP protocol,
//! through the standard cascade (inspect after each packet, then conclude).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch_fuzz::{cascade, FlowInput};

fuzz_target!(|data: &[u8]| {
    if let Some(flow) = FlowInput::parse(data) {
        let _ = flow.run(cascade());
    }
});
