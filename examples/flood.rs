//! Memory under a flood of new flows: feeds the pipeline one UDP datagram (with a payload, so
//! flows also take inspection buffers) from each of `FLOWS` distinct address pairs, all within
//! the idle timeout, with the flow table capped at `CAP`, and prints the process's resident
//! memory as it goes. With `FLOWS` = `CAP` it shows the cost of that many concurrent flows;
//! with `FLOWS` > `CAP`, that eviction keeps memory flat once the table is full.
//!
//! ```sh
//! cargo run --release --example flood -- 1000000 1000000    # 1 M concurrent flows
//! cargo run --release --example flood -- 10000000 1000000   # 10 M new flows, 1 M cap
//! ```
//!
//! Frames are built in memory (no capture file), one reused buffer, packet times 1 µs apart.

use etherparse::PacketBuilder;
use remotewatch::capture::{Frame, LinkType};
use remotewatch::config::Config;
use remotewatch::pipeline::{Pipeline, VecSink};
use remotewatch::ts::Ts;
use std::process::ExitCode;

// The allocator the `remotewatch` binary uses, so the memory measured is the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lines printed over the run.
const REPORTS: u64 = 10;
/// Payload of each datagram: opaque bytes no detector recognises.
const PAYLOAD: [u8; 64] = [0x5a; 64];

/// Resident and peak resident memory of this process in MiB (`/proc/self/status`).
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (Some(&flows), Some(&cap)) = (args.first(), args.get(1)) else {
        eprintln!("usage: flood FLOWS CAP");
        return ExitCode::from(2);
    };
    let mut cfg = Config::defaults();
    cfg.flow.max_flows = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::new(&cfg, LinkType::Ethernet, &mut sink);
    let (rss0, _) = rss();
    eprintln!("start: rss {rss0:.1} MiB, cap {cap} flows");
    let mut frame = Vec::with_capacity(128);
    let every = (flows / REPORTS).max(1);
    let start = Ts::from_secs(1_700_000_000);
    for i in 0..flows {
        let b = i.to_be_bytes();
        let src = [10, b[5], b[6], b[7]];
        let sport = 1024 + u16::from(b[4]);
        frame.clear();
        let built = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, [192, 0, 2, 1], 64)
            .udp(sport, 40_000)
            .write(&mut frame, &PAYLOAD);
        if built.is_err() {
            eprintln!("cannot build frame {i}");
            return ExitCode::from(1);
        }
        let f = Frame {
            ts: start.plus(i * 1_000),
            data: &frame,
            wire_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
        };
        if let Err(e) = pipe.frame(&f) {
            eprintln!("pipeline: {e}");
            return ExitCode::from(1);
        }
        if (i + 1) % every == 0 {
            let (now, peak) = rss();
            let st = pipe.stats();
            eprintln!(
                "flows {:>9}: rss {now:7.1} MiB, peak {peak:7.1} MiB, tracked {:>8}, evicted {:>8}",
                i + 1,
                st.flows_active,
                st.flows.evicted
            );
        }
    }
    let (_, peak) = rss();
    eprintln!(
        "done: peak rss {peak:.1} MiB, {:.0} bytes per tracked flow above the start",
        (peak - rss0) * 1024.0 * 1024.0 / (flows.min(cap).max(1) as f64)
    );
    ExitCode::SUCCESS
}
