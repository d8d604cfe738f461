//! The floor any analysis of a capture file is measured against: libpcap reads every record and
//! etherparse's lax slicer splits every frame into its headers, and nothing else happens. It is
//! the same read path `remotewatch analyze` uses (`pcap::Capture::from_file_with_precision` with
//! nanosecond timestamps), so `analyze`'s packets/s divided by this program's is the share of the
//! reachable rate the sensor achieves.
//!
//! ```sh
//! cargo run --release --example readloop -- /path/to/capture.pcap
//! ```
//!
//! Prints `packets N sliced N seconds S packets/s R` on stderr. `benches/throughput.sh` runs it
//! next to `analyze` and nDPI's `ndpiReader`.

use etherparse::LaxSlicedPacket;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// LINKTYPE_ETHERNET (<https://www.tcpdump.org/linktypes.html>).
const DLT_ETHERNET: i32 = 1;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: readloop CAPTURE.pcap");
        return ExitCode::from(2);
    };
    let mut cap = match pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("readloop: {}: {e}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let ethernet = cap.get_datalink().0 == DLT_ETHERNET;
    let started = Instant::now();
    let (mut packets, mut sliced) = (0u64, 0u64);
    loop {
        match cap.next_packet() {
            Ok(p) => {
                packets += 1;
                // Keep the slicer's result observable so it is not optimised away.
                let ok = if ethernet {
                    LaxSlicedPacket::from_ethernet(p.data).is_ok_and(|s| black_box(s).net.is_some())
                } else {
                    LaxSlicedPacket::from_ip(p.data).is_ok_and(|s| black_box(s).net.is_some())
                };
                sliced += u64::from(ok);
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                eprintln!("readloop: {}: {e}", path.to_string_lossy());
                return ExitCode::from(1);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        packets as f64 / secs
    } else {
        0.0
    };
    eprintln!("packets {packets} sliced {sliced} seconds {secs:.3} packets/s {rate:.0}");
    ExitCode::SUCCESS
}
