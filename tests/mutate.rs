//! No panic on any bytes: thousands of mutated versions of the fixture captures (bit flips,
//! truncation, and length fields set to extremes: pcap record lengths, IP total length, TCP data
//! offset, UDP length, TLS record and handshake lengths) go through the same code as
//! `remotewatch analyze` (file capture, decode, flow table, detector cascade, alert policy), and a
//! few hundred through the binary itself, which must exit 0 or 2 and never panic.
//!
//! Every mutation comes from a fixed seed, so a failure names a case that reproduces.
//!
//! The ignored test `ten_million_frames_through_decode_and_detectors` is the long run behind the
//! "10 M frames without a panic" figure in the README:
//! `cargo test --release --test mutate -- --ignored --nocapture`
//! (`REMOTEWATCH_FRAMES` sets the count).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use remotewatch::alert::Alert;
use remotewatch::capture::{FileCapture, Frame, LinkType, Step};
use remotewatch::config::Config;
use remotewatch::detect::catalogue::Catalogue;
use remotewatch::detect::Cascade;
use remotewatch::pipeline::{AlertSink, Pipeline, VecSink};
use remotewatch::ts::Ts;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Classic pcap: global header, then per record 16 bytes of header (RFC-draft "pcap" §4, §5).
const PCAP_GLOBAL_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
const ETH_LEN: usize = 14;

/// Deterministic xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// Values a length field is set to: zero, one, the smallest and largest plausible, all ones.
const EXTREMES_16: [u16; 7] = [0, 1, 4, 20, 0x3fff, 0x8000, 0xffff];
const EXTREMES_32: [u32; 7] = [
    0,
    1,
    0xffff,
    0x0004_0000,
    0x7fff_ffff,
    0x8000_0000,
    u32::MAX,
];

fn fixture_captures() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path().join("capture.pcap");
            let bytes = std::fs::read(&p).ok()?;
            Some((p, bytes))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20, "fixture captures missing under {root:?}");
    out
}

/// Byte offsets of each record's header in a classic little-endian pcap.
fn record_offsets(pcap: &[u8]) -> Vec<usize> {
    let mut offs = Vec::new();
    let mut at = PCAP_GLOBAL_LEN;
    while at + PCAP_RECORD_LEN <= pcap.len() {
        offs.push(at);
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += PCAP_RECORD_LEN + incl;
    }
    offs
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = b.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Where the IP header, the transport header and its payload start inside an Ethernet frame
/// (untagged or one 802.1Q tag), for IPv4 and IPv6 without extension headers.
struct Layout {
    ip: usize,
    v4: bool,
    proto: u8,
    l4: usize,
}

fn layout(frame: &[u8]) -> Option<Layout> {
    let mut at = 12;
    let mut ether = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
    if ether == 0x8100 {
        at += 4;
        ether = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
    }
    let ip = at + 2;
    match ether {
        0x0800 => {
            let ihl = usize::from(frame.get(ip)? & 0x0f) * 4;
            Some(Layout {
                ip,
                v4: true,
                proto: *frame.get(ip + 9)?,
                l4: ip + ihl,
            })
        }
        0x86dd => Some(Layout {
            ip,
            v4: false,
            proto: *frame.get(ip + 6)?,
            l4: ip + 40,
        }),
        _ => None,
    }
}

/// One structural mutation of a frame (Ethernet bytes), chosen by `rng`. Returns its name.
fn mutate_frame(frame: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    let Some(l) = layout(frame) else {
        flip_bits(frame, rng, 3);
        return "bit flips (non-IP frame)";
    };
    match rng.below(8) {
        0 if l.v4 => {
            put16(frame, l.ip + 2, rng.pick(&EXTREMES_16));
            "IPv4 total length"
        }
        0 => {
            put16(frame, l.ip + 4, rng.pick(&EXTREMES_16));
            "IPv6 payload length"
        }
        1 if l.v4 => {
            // IHL below the minimum (5) or at its maximum (15 words).
            let ihl = rng.pick(&[0u8, 1, 4, 15]);
            if let Some(b) = frame.get_mut(l.ip) {
                *b = (*b & 0xf0) | ihl;
            }
            "IPv4 header length"
        }
        2 if l.proto == 6 => {
            let off = rng.pick(&[0u8, 1, 4, 5, 15]);
            if let Some(b) = frame.get_mut(l.l4 + 12) {
                *b = (*b & 0x0f) | (off << 4);
            }
            "TCP data offset"
        }
        3 if l.proto == 17 => {
            put16(frame, l.l4 + 4, rng.pick(&EXTREMES_16));
            "UDP length"
        }
        4 | 5 => tls_lengths(frame, &l, rng),
        6 => {
            let cut = rng.below(frame.len());
            frame.truncate(cut);
            "frame truncated"
        }
        _ => {
            let n = 1 + rng.below(8);
            flip_bits(frame, rng, n);
            "bit flips"
        }
    }
}

/// Sets a TLS record length (RFC 8446 §5.1) or handshake length (§4) in the frame's transport
/// payload to an extreme, when the payload starts with a TLS record.
fn tls_lengths(frame: &mut [u8], l: &Layout, rng: &mut Rng) -> &'static str {
    let payload = match l.proto {
        6 => l.l4 + usize::from(frame.get(l.l4 + 12).map_or(5, |b| b >> 4)) * 4,
        17 => l.l4 + 8,
        _ => return "no transport payload",
    };
    let is_tls = frame.get(payload).is_some_and(|t| (20..=23).contains(t))
        && frame.get(payload + 1) == Some(&3);
    if !is_tls {
        flip_bits(frame, rng, 2);
        return "bit flips (no TLS record)";
    }
    if rng.below(2) == 0 {
        put16(frame, payload + 3, rng.pick(&EXTREMES_16));
        "TLS record length"
    } else {
        let v = rng.pick(&EXTREMES_32).to_be_bytes();
        if let Some(s) = frame.get_mut(payload + 6..payload + 9) {
            s.copy_from_slice(&v[1..]);
        }
        "TLS handshake length"
    }
}

fn flip_bits(b: &mut [u8], rng: &mut Rng, n: usize) {
    for _ in 0..n {
        if b.is_empty() {
            return;
        }
        let i = rng.below(b.len());
        b[i] ^= 1 << rng.below(8);
    }
}

/// Names of the mutations applied, with how often.
type Tally = std::collections::BTreeMap<&'static str, usize>;

/// One mutation of a whole capture file: the mutated file; what was done is counted in `tally`.
fn mutate_capture(pcap: &[u8], rng: &mut Rng, tally: &mut Tally) -> Vec<u8> {
    let mut out = pcap.to_vec();
    let recs = record_offsets(pcap);
    let what = match rng.below(6) {
        0 => {
            let n = 1 + rng.below(16);
            flip_bits(&mut out, rng, n);
            "bit flips anywhere"
        }
        1 => {
            out.truncate(rng.below(pcap.len()));
            "file truncated"
        }
        2 if !recs.is_empty() => {
            // incl_len or orig_len of one record.
            let r = recs[rng.below(recs.len())];
            let field = r + if rng.below(2) == 0 { 8 } else { 12 };
            out[field..field + 4].copy_from_slice(&rng.pick(&EXTREMES_32).to_le_bytes());
            "pcap record length"
        }
        3 => {
            // Global header: snaplen, link type, version.
            let (at, v) = match rng.below(3) {
                0 => (16, rng.pick(&EXTREMES_32)),
                1 => (20, rng.pick(&[0u32, 101, 113, 276, 108, 147, u32::MAX])),
                _ => (4, rng.pick(&EXTREMES_32)),
            };
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
            "pcap global header"
        }
        _ if !recs.is_empty() => {
            // Several frames get a structural mutation each.
            for _ in 0..1 + rng.below(4) {
                // Offsets move when a mutated frame changes length.
                let recs = record_offsets(&out);
                let r = recs[rng.below(recs.len())];
                let what = mutate_record(&mut out, r, rng);
                *tally.entry(what).or_default() += 1;
            }
            "frames"
        }
        _ => "unchanged",
    };
    *tally.entry(what).or_default() += 1;
    out
}

/// Mutates the frame of the record at `r` in place, keeping the record lengths consistent with
/// the new frame length (so the frame mutation, not the record framing, is what is tested).
fn mutate_record(file: &mut Vec<u8>, r: usize, rng: &mut Rng) -> &'static str {
    let incl = u32::from_le_bytes(file[r + 8..r + 12].try_into().unwrap()) as usize;
    let start = r + PCAP_RECORD_LEN;
    let end = (start + incl).min(file.len());
    let mut frame = file[start..end].to_vec();
    let what = mutate_frame(&mut frame, rng);
    let len = (frame.len() as u32).to_le_bytes();
    file[r + 8..r + 12].copy_from_slice(&len);
    file[r + 12..r + 16].copy_from_slice(&len);
    file.splice(start..end, frame);
    what
}

/// What `remotewatch analyze` does with one file, in-process: `Ok(alerts)` or the exit-2 error.
fn analyze_in_process(path: &Path, cat: &Arc<Catalogue>) -> Result<usize, String> {
    let mut cap = FileCapture::open(path).map_err(|e| e.to_string())?;
    let cfg = Config::defaults();
    let mut sink = VecSink::default();
    let cascade = Cascade::with_shared_catalogue(Arc::clone(cat));
    let mut pipe = Pipeline::with_cascade(&cfg, cap.linktype(), cascade, &mut sink);
    loop {
        let step = cap.pump(|f| pipe.frame(f).unwrap());
        match step {
            Ok(Step::Frames(_)) => continue,
            Ok(_) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    pipe.finish().unwrap();
    drop(pipe);
    Ok(sink.0.len())
}

#[test]
fn thousands_of_mutated_captures_never_panic_in_process() {
    let fixtures = fixture_captures();
    let cat = Arc::new(Catalogue::builtin());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.pcap");
    let mut rng = Rng::new(0x5eed_0008);
    let (mut read, mut refused, mut alerts) = (0, 0, 0);
    let mut kinds = Tally::new();
    let rounds = 4000;
    for i in 0..rounds {
        let (src, pcap) = &fixtures[i % fixtures.len()];
        let bytes = mutate_capture(pcap, &mut rng, &mut kinds);
        std::fs::write(&path, &bytes).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            analyze_in_process(&path, &cat)
        }));
        match r {
            Ok(Ok(n)) => {
                read += 1;
                alerts += n;
            }
            Ok(Err(_)) => refused += 1,
            Err(_) => {
                let keep = std::env::temp_dir().join(format!("remotewatch-mutant-{i}.pcap"));
                std::fs::write(&keep, &bytes).unwrap();
                panic!("case {i} (a mutant of {src:?}) panicked; kept as {keep:?}");
            }
        }
    }
    println!("{rounds} mutants: {read} read, {refused} refused, {alerts} alerts; {kinds:?}");
    // The mutations must exercise both paths: most files still read, some refused.
    assert!(
        read > rounds / 2 && refused > 0,
        "{read} read, {refused} refused"
    );
    assert!(
        alerts > 0,
        "mutants of detecting fixtures still detect something"
    );
    for k in [
        "pcap record length",
        "IPv4 total length",
        "TCP data offset",
        "UDP length",
        "TLS record length",
        "TLS handshake length",
        "file truncated",
    ] {
        assert!(kinds.contains_key(k), "{k} never tried: {kinds:?}");
    }
}

#[test]
fn hundreds_of_mutated_captures_through_the_binary_exit_0_or_2() {
    let fixtures = fixture_captures();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5eed_b1b0);
    let mut tally = Tally::new();
    let batch = 10;
    let mut runs = 0;
    let mut codes = std::collections::BTreeMap::<i32, usize>::new();
    for b in 0..30 {
        let paths: Vec<PathBuf> = (0..batch)
            .map(|j| {
                let (_, pcap) = &fixtures[(b * batch + j) % fixtures.len()];
                let bytes = mutate_capture(pcap, &mut rng, &mut tally);
                let p = dir.path().join(format!("m{b}-{j}.pcap"));
                std::fs::write(&p, bytes).unwrap();
                p
            })
            .collect();
        for p in &paths {
            let out = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
                .args(["analyze", "--no-progress"])
                .arg(p)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 2)) && !err.contains("panicked"),
                "{p:?}: exit {code:?}: {err}"
            );
            *codes.entry(code.unwrap_or(-1)).or_default() += 1;
            runs += 1;
        }
    }
    println!("{runs} runs of the binary: exit codes {codes:?}");
    assert!(
        codes.contains_key(&0) && codes.contains_key(&2),
        "{codes:?}"
    );
}

/// What a run of [`frames_through_every_link_type`] saw.
#[derive(Debug, Default)]
struct Tallies {
    frames: u64,
    packets: u64,
    malformed: u64,
    flows: u64,
    alerts: u64,
}

/// Frames (not files) straight into the pipeline for every link type: fixture frames with
/// structural mutations, re-framed for each link type, and purely random frames.
fn frames_through_every_link_type(total: u64, seed: u64) -> Tallies {
    let fixtures = fixture_captures();
    let frames: Vec<Vec<u8>> = fixtures
        .iter()
        .flat_map(|(_, pcap)| {
            record_offsets(pcap)
                .into_iter()
                .map(|r| {
                    let incl = u32::from_le_bytes(pcap[r + 8..r + 12].try_into().unwrap()) as usize;
                    let s = r + PCAP_RECORD_LEN;
                    pcap[s..(s + incl).min(pcap.len())].to_vec()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let cat = Arc::new(Catalogue::builtin());
    let links = [
        LinkType::Ethernet,
        LinkType::RawIp,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
    ];
    let mut cfg = Config::defaults();
    // A small table so eviction and expiry run all the time.
    cfg.flow.max_flows = 4096;
    cfg.flow.max_inspecting = 1024;
    let mut rng = Rng::new(seed);
    let mut t = Tallies::default();
    let per_link = total.div_ceil(links.len() as u64);
    for link in links {
        let mut sink = CountSink(0);
        let cascade = Cascade::with_shared_catalogue(Arc::clone(&cat));
        let mut pipe = Pipeline::with_cascade(&cfg, link, cascade, &mut sink);
        let mut ts = Ts::from_secs(1_709_283_600);
        let mut buf = Vec::with_capacity(2048);
        for n in 0..per_link {
            buf.clear();
            if n % 8 == 7 {
                let len = rng.below(1600);
                buf.extend((0..len).map(|_| rng.next() as u8));
            } else {
                let f = &frames[rng.below(frames.len())];
                buf.extend_from_slice(f);
                if rng.below(4) != 0 {
                    mutate_frame(&mut buf, &mut rng);
                }
                reframe(&mut buf, link, &mut rng);
            }
            ts = ts.plus(rng.below(2_000_000) as u64);
            let frame = Frame {
                ts,
                data: &buf,
                wire_len: buf.len() as u32 + rng.pick(&[0u32, 0, 0, 1, 60_000]),
            };
            pipe.frame(&frame).unwrap();
            // End every flow now and then, so flow-end conclusions run on mutated state too.
            if n % 65_536 == 0 {
                pipe.finish().unwrap();
            }
        }
        pipe.finish().unwrap();
        let st = pipe.stats();
        t.frames += st.frames;
        t.packets += st.packets;
        t.malformed += st.malformed_total();
        t.flows += st.flows.created;
        drop(pipe);
        t.alerts += sink.0;
    }
    t
}

/// Counts alerts without keeping them: the long run would otherwise hold millions.
struct CountSink(u64);

impl AlertSink for CountSink {
    fn emit(&mut self, _: &Alert) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replaces an Ethernet header by `link`'s framing (keeping the IP packet), sometimes with a
/// random protocol field.
fn reframe(frame: &mut Vec<u8>, link: LinkType, rng: &mut Rng) {
    if link == LinkType::Ethernet || frame.len() < ETH_LEN {
        return;
    }
    let ether = [frame[12], frame[13]];
    let v6 = ether == [0x86, 0xdd];
    let header: Vec<u8> = match link {
        LinkType::RawIp => Vec::new(),
        LinkType::LinuxSll => {
            let mut h = vec![0u8; 16];
            h[14..16].copy_from_slice(&ether);
            h
        }
        LinkType::LinuxSll2 => {
            let mut h = vec![0u8; 20];
            h[0..2].copy_from_slice(&ether);
            h
        }
        LinkType::Null => (if v6 { 30u32 } else { 2 }).to_le_bytes().to_vec(),
        LinkType::Loop => (if v6 { 30u32 } else { 2 }).to_be_bytes().to_vec(),
        LinkType::Ethernet => return,
    };
    frame.splice(0..ETH_LEN, header);
    if rng.below(16) == 0 {
        flip_bits(frame, rng, 2);
    }
}

#[test]
fn random_and_mutated_frames_of_every_link_type_never_panic() {
    let t = frames_through_every_link_type(60_000, 0x5eed_f4a3);
    assert_eq!(t.frames, 60_000);
    // Both paths are exercised: frames that decode into flows that alert, and malformed ones.
    assert!(t.packets > 0 && t.malformed > 0 && t.alerts > 0, "{t:?}");
}

#[test]
#[ignore = "long run (10 M frames, minutes in release): cargo test --release --test mutate -- --ignored --nocapture"]
fn ten_million_frames_through_decode_and_detectors() {
    let total = std::env::var("REMOTEWATCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000u64);
    let started = std::time::Instant::now();
    let t = frames_through_every_link_type(total, 0x5eed_1000);
    println!(
        "{} frames through decode and the detector cascade without a panic in {:.1} s: \
         {} decoded to IP packets, {} malformed, {} flows, {} alerts",
        t.frames,
        started.elapsed().as_secs_f64(),
        t.packets,
        t.malformed,
        t.flows,
        t.alerts
    );
    assert!(t.frames >= total);
}
