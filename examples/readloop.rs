//! The floor any analysis of a capture file is measured against: libpcap reads every record and
//! etherparse's lax slicer splits every frame into its headers, and nothing else happens
//! (`pcap::Capture::from_file_with_precision` with nanosecond timestamps, as tools built on
//! libpcap read files).
//!
//! With `--direct`, the records come from remotewatch's own reader instead (`capture::FileCapture`
//! in chunks, as `analyze` reads classic pcap), sliced the same way: the floor of the input path
//! `analyze` actually uses.
//!
//! ```sh
//! cargo run --release --example readloop -- [--direct] /path/to/capture.pcap
//! ```
//!
//! Prints `packets N sliced N seconds S packets/s R` on stderr. `benches/throughput.sh` runs both
//! next to `analyze` and nDPI's `ndpiReader`.

use etherparse::LaxSlicedPacket;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// LINKTYPE_ETHERNET (<https://www.tcpdump.org/linktypes.html>).
const DLT_ETHERNET: i32 = 1;

/// Slices a frame as the libpcap loop does; whether it carried a network layer.
fn slice(ethernet: bool, data: &[u8]) -> bool {
    // Keep the slicer's result observable so it is not optimised away.
    if ethernet {
        LaxSlicedPacket::from_ethernet(data).is_ok_and(|s| black_box(s).net.is_some())
    } else {
        LaxSlicedPacket::from_ip(data).is_ok_and(|s| black_box(s).net.is_some())
    }
}

/// The same loop over remotewatch's direct reader.
fn direct(path: &std::path::Path) -> ExitCode {
    use remotewatch::capture::{ChunkStep, FileCapture, LinkType};
    let mut cap = match FileCapture::open(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("readloop: {e}");
            return ExitCode::from(2);
        }
    };
    if !cap.chunked() {
        eprintln!(
            "readloop: {}: --direct reads classic pcap only",
            path.display()
        );
        return ExitCode::from(2);
    }
    let ethernet = cap.linktype() == LinkType::Ethernet;
    let started = Instant::now();
    let (mut packets, mut sliced, mut spare) = (0u64, 0u64, None);
    loop {
        match cap.chunk(spare.take()) {
            Ok(ChunkStep::Chunk(c)) => {
                c.for_each(|f| {
                    packets += 1;
                    sliced += u64::from(slice(ethernet, f.data));
                });
                spare = Some(c.into_buffer());
            }
            Ok(ChunkStep::End | ChunkStep::Truncated(_)) => break,
            Err(e) => {
                eprintln!("readloop: {e}");
                return ExitCode::from(1);
            }
        }
    }
    report(packets, sliced, started);
    ExitCode::SUCCESS
}

fn report(packets: u64, sliced: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        packets as f64 / secs
    } else {
        0.0
    };
    eprintln!("packets {packets} sliced {sliced} seconds {secs:.3} packets/s {rate:.0}");
}

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let use_direct = args.first().is_some_and(|a| a == "--direct");
    if use_direct {
        args.remove(0);
    }
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: readloop [--direct] CAPTURE.pcap");
        return ExitCode::from(2);
    };
    if use_direct {
        return direct(std::path::Path::new(&path));
    }
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
                sliced += u64::from(slice(ethernet, p.data));
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                eprintln!("readloop: {}: {e}", path.to_string_lossy());
                return ExitCode::from(1);
            }
        }
    }
    report(packets, sliced, started);
    ExitCode::SUCCESS
}
