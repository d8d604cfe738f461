//! Live-capture load: sends UDP datagrams between two ports of 127.0.0.1 onto the loopback
//! interface as fast as one thread can (or at a given rate), `FLOWS` flows in turn, both
//! directions of each, for `benches/live.sh` to measure what capturing them costs the sensor.
//! The frames are written by a packet socket (libpcap's `pcap_inject`), so they are seen by
//! every capture on `lo` as received frames; they never leave the host and are addressed to
//! 127.0.0.1 only (the kernel then drops them: no socket listens on those ports). Needs root.
//!
//! ```sh
//! cargo run --release --example loinject -- 5000 1000000 0   # FLOWS COUNT PPS (0: no pacing)
//! ```

use etherparse::PacketBuilder;
use std::process::ExitCode;
use std::time::Instant;

/// Payload of every datagram: opaque bytes no detector recognises.
const PAYLOAD: [u8; 100] = [0x41; 100];

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(0))
        .collect();
    let [flows, count, pps] = args[..] else {
        eprintln!("usage: loinject FLOWS COUNT PPS");
        return ExitCode::from(2);
    };
    let flows = flows.clamp(1, 40_000);
    let mut cap = match pcap::Capture::from_device("lo").and_then(|c| c.open()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot open lo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut frames = Vec::new();
    for f in 0..flows {
        let (a, b) = (20_000 + f as u16, 60_000);
        for (src, dst) in [(a, b), (b, a)] {
            let mut frame = Vec::new();
            let built = PacketBuilder::ethernet2([0; 6], [0; 6])
                .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
                .udp(src, dst)
                .write(&mut frame, &PAYLOAD);
            if built.is_err() {
                return ExitCode::FAILURE;
            }
            frames.push(frame);
        }
    }
    let t0 = Instant::now();
    for (i, frame) in (0..count).zip(frames.iter().cycle()) {
        if pps > 0 {
            let due = u128::from(i) * 1_000_000_000 / u128::from(pps);
            while t0.elapsed().as_nanos() < due {
                std::hint::spin_loop();
            }
        }
        if let Err(e) = cap.sendpacket(&frame[..]) {
            eprintln!("send: {e}");
            return ExitCode::FAILURE;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "sent {count} frames in {secs:.3} s ({:.0} per second)",
        count as f64 / secs
    );
    ExitCode::SUCCESS
}
