//! Bounded under flood: packets of random 5-tuples, far more flows than `flow.max_flows`, with a
//! real RDP connection (the `rdp-x224-cookie-nla` fixture) interleaved. The flow table stays at
//! its cap, every flow beyond it is counted as evicted, memory stays at what a full table
//! needs, and the RDP connection is still detected with its full handshake.
//!
//! Memory is measured on the binary (`remotewatch analyze` reports its peak RSS): once with
//! exactly `max_flows` distinct flows (a full table, no eviction: the configured cap's expected
//! size) and once with twenty times as many; the flood's peak must be within 10 % of the first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use etherparse::PacketBuilder;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// The table cap under test: large enough that the table, not the program, dominates memory.
const MAX_FLOWS: usize = 50_000;
/// How many times the cap the flood's distinct flows exceed it.
const FLOOD_FACTOR: usize = 20;
const PCAP_GLOBAL_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Ethernet frames of a classic pcap.
fn frames_of(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = PCAP_GLOBAL_LEN;
    while at + PCAP_RECORD_LEN <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(pcap[at + PCAP_RECORD_LEN..at + PCAP_RECORD_LEN + incl].to_vec());
        at += PCAP_RECORD_LEN + incl;
    }
    out
}

/// One flood packet: a new random 5-tuple (UDP, or a TCP SYN), with a few payload bytes so
/// flows also compete for inspection buffers. Addresses are in 10/8 and 172.16/12, never the
/// RDP fixture's documentation addresses.
fn flood_frame(rng: &mut Rng, out: &mut Vec<u8>) {
    let r = rng.next();
    let src = [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8];
    let dst = [
        172,
        16 | ((r >> 32) as u8 & 0x0f),
        (r >> 40) as u8,
        (r >> 48) as u8,
    ];
    let (sport, dport) = ((rng.next() as u16) | 1024, (rng.next() as u16) | 1);
    let payload = rng.next().to_le_bytes();
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64);
    out.clear();
    if r & 1 == 0 {
        eth.udp(sport, dport).write(out, &payload).unwrap();
    } else {
        eth.tcp(sport, dport, rng.next() as u32, 1024)
            .syn()
            .write(out, &payload)
            .unwrap();
    }
}

/// Writes a classic pcap of `flood` random-flow packets with the RDP fixture's frames
/// interleaved, one every `MAX_FLOWS / 4` flood packets from the middle on, so the RDP flow is
/// always among the most recently active and the flood keeps evicting all around it.
fn write_capture(path: &Path, flood: usize, rdp: &[Vec<u8>]) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    // Magic, version 2.4, zone, sigfigs, snaplen 65535, LINKTYPE_ETHERNET.
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65_535, 1] {
        hdr.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&hdr).unwrap();
    let mut rng = Rng(0x5eed_f100d);
    let mut frame = Vec::with_capacity(128);
    let mut micros = 0u64;
    let record = |w: &mut std::io::BufWriter<std::fs::File>, data: &[u8], micros: u64| {
        let secs = 1_709_283_600 + micros / 1_000_000;
        for v in [
            secs as u32,
            (micros % 1_000_000) as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            w.write_all(&v.to_le_bytes()).unwrap();
        }
        w.write_all(data).unwrap();
    };
    let every = MAX_FLOWS / 4;
    let start = flood / 2;
    let mut next_rdp = 0;
    for i in 0..flood {
        if i >= start && (i - start).is_multiple_of(every) && next_rdp < rdp.len() {
            record(&mut w, &rdp[next_rdp], micros);
            next_rdp += 1;
            micros += 1;
        }
        flood_frame(&mut rng, &mut frame);
        record(&mut w, &frame, micros);
        micros += 1;
    }
    for f in &rdp[next_rdp..] {
        record(&mut w, f, micros);
        micros += 1;
    }
    w.flush().unwrap();
}

struct Run {
    alerts: Vec<serde_json::Value>,
    summary: String,
    peak_rss_mib: f64,
}

fn analyze(config: &Path, capture: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args(["analyze", "--no-progress", "--config"])
        .arg(config)
        .arg(capture)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{summary}");
    let peak_rss_mib = summary
        .split("peak RSS ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("peak RSS in the summary");
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Run {
        alerts,
        summary,
        peak_rss_mib,
    }
}

/// The `n` in "`label` n" of the summary line that starts with `line`.
fn counter(summary: &str, line: &str, label: &str) -> u64 {
    let l = summary
        .lines()
        .find(|l| l.trim_start().starts_with(line))
        .unwrap_or_else(|| panic!("no {line} line in {summary}"));
    let words: Vec<&str> = l.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_start_matches('(') == label)
        .unwrap_or_else(|| panic!("no {label} in {l}"));
    words[i - 1]
        .trim_start_matches('(')
        .parse()
        .unwrap_or_else(|_| panic!("{l}"))
}

#[test]
fn a_flood_of_flows_stays_at_the_cap_counts_evictions_and_rdp_is_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let rdp_fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/pcap/rdp-x224-cookie-nla/capture.pcap");
    let rdp = frames_of(&std::fs::read(rdp_fixture).unwrap());
    assert!(rdp.len() >= 4, "RDP fixture frames");
    let config = dir.path().join("flood.toml");
    std::fs::write(
        &config,
        format!(
            "[flow]\nmax_flows = {MAX_FLOWS}\nmax_inspecting = {}\n",
            MAX_FLOWS / 2
        ),
    )
    .unwrap();

    // The cap's expected size: exactly MAX_FLOWS distinct flows fill the table, none evicted.
    let full = dir.path().join("full.pcap");
    write_capture(&full, MAX_FLOWS - 1, &rdp);
    let reference = analyze(&config, &full);
    assert_eq!(counter(&reference.summary, "flows", "evicted,"), 0);

    let flood_path = dir.path().join("flood.pcap");
    let flood = MAX_FLOWS * FLOOD_FACTOR;
    write_capture(&flood_path, flood, &rdp);
    let run = analyze(&config, &flood_path);
    let s = &run.summary;
    let created = s
        .lines()
        .find(|l| l.trim_start().starts_with("flows"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    let peak = counter(s, "flows", "in");
    let evicted = counter(s, "flows", "evicted,");
    println!("{}{}", reference.summary, run.summary);
    println!(
        "flood: {created} flows, peak {peak} in table, {evicted} evicted; peak RSS {:.1} MiB \
         (full table without flood: {:.1} MiB)",
        run.peak_rss_mib, reference.peak_rss_mib
    );
    assert!(created > (MAX_FLOWS * (FLOOD_FACTOR - 1)) as u64, "{s}");
    assert_eq!(
        peak, MAX_FLOWS as u64,
        "the table fills to its cap and no further: {s}"
    );
    // No flow idles out in this capture (it lasts about a second), so every flow that is not in
    // the table at the end was evicted, and counted.
    assert_eq!(evicted, created - MAX_FLOWS as u64, "{s}");
    assert!(
        run.peak_rss_mib <= reference.peak_rss_mib * 1.10,
        "peak RSS {:.1} MiB under flood, {:.1} MiB with a full table: {s}",
        run.peak_rss_mib,
        reference.peak_rss_mib
    );

    // The RDP connection inside the flood is found with its whole handshake, as without it.
    let rdp_alerts: Vec<&serde_json::Value> = run
        .alerts
        .iter()
        .filter(|a| a["family"] == "rdp" && a["peer"] == "198.51.100.20:3389")
        .collect();
    assert_eq!(rdp_alerts.len(), 1, "{:?}", run.alerts);
    let a = rdp_alerts[0];
    assert_eq!(a["confidence"], "handshake");
    assert!(a["evidence"].to_string().contains("mstshash=alice"), "{a}");
}
