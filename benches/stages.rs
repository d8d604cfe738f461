//! Stage benchmarks on the fixture captures under `fixtures/pcap/` (real handshakes of every
//! protocol the sensor knows, plus benign traffic): decode, flow-table lookup and insert, each
//! detector on its hit path (the captures it recognises) and its miss path (the captures it does
//! not), TLS ClientHello parsing, IP-intelligence lookups and alert formatting. Throughput is in
//! elements (frames, packets, hellos, addresses or alerts). Run with `cargo bench --bench stages`;
//! `benches/throughput.sh` measures whole runs on a large capture instead.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use remotewatch::alert::Alert;
use remotewatch::capture::{FileCapture, Frame, LinkType, Step};
use remotewatch::config::Config;
use remotewatch::decode::{decode, peek, peek_as, Decoded};
use remotewatch::detect::catalogue::Catalogue;
use remotewatch::detect::{server_name_indication, Cascade};
use remotewatch::flow::{FlowConfig, FlowTable};
use remotewatch::intel::{Intel, IntelConfig};
use remotewatch::pipeline::{Folded, Pipeline, VecSink};
use remotewatch::ts::Ts;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// One fixture capture held in memory.
struct Capture {
    link: LinkType,
    frames: Vec<(Ts, u32, Vec<u8>)>,
}

impl Capture {
    fn each(&self, mut f: impl FnMut(&Frame<'_>)) {
        for (ts, wire_len, data) in &self.frames {
            f(&Frame {
                ts: *ts,
                data,
                wire_len: *wire_len,
            });
        }
    }
}

fn captures() -> Vec<Capture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let mut paths: Vec<_> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("capture.pcap"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| FileCapture::open(p).ok())
        .map(|mut cap| {
            let mut frames = Vec::new();
            while let Ok(Step::Frames(_)) =
                cap.pump(|f| frames.push((f.ts, f.wire_len, f.data.to_vec())))
            {}
            Capture {
                link: cap.linktype(),
                frames,
            }
        })
        .collect()
}

fn frames_in(caps: &[&Capture]) -> u64 {
    caps.iter().map(|c| c.frames.len() as u64).sum()
}

/// Alerts a pipeline with `cascade` raises on `cap`.
fn run(cfg: &Config, cascade: Cascade, cap: &Capture) -> Vec<Alert> {
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::with_cascade(cfg, cap.link, cascade, &mut sink);
    cap.each(|f| {
        let _ = pipe.frame(f);
    });
    let _ = pipe.finish();
    drop(pipe);
    sink.0
}

fn decode_and_flows(c: &mut Criterion, caps: &[Capture]) {
    let mut g = c.benchmark_group("stages");
    let all: Vec<&Capture> = caps.iter().collect();
    g.throughput(Throughput::Elements(frames_in(&all)));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for cap in caps {
                cap.each(|f| {
                    black_box(decode(cap.link, f));
                });
            }
        })
    });
    // The workers' reader routes the common frame from its header fields alone.
    g.bench_function("route_peek", |b| {
        b.iter(|| {
            for cap in caps {
                cap.each(|f| {
                    black_box(peek(cap.link, f.data));
                });
            }
        })
    });
    // The same with the addresses folded into words, the form the workers' router hashes.
    g.bench_function("route_peek_words", |b| {
        b.iter(|| {
            for cap in caps {
                cap.each(|f| {
                    let k = peek_as::<Folded>(cap.link, f.data);
                    black_box(k.map(|k| k.src.0 .0 ^ k.dst.0 .0));
                });
            }
        })
    });
    // Lookups: every packet of the fixtures against a table that already holds their flows.
    let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
    let mut packets = 0u64;
    for cap in caps {
        cap.each(|f| {
            if let Decoded::Packet(p) = decode(cap.link, f) {
                table.ingest_at(&p, |_, _| {});
                packets += 1;
            }
        });
    }
    g.throughput(Throughput::Elements(packets));
    g.bench_function("flow_lookup", |b| {
        b.iter(|| {
            for cap in caps {
                cap.each(|f| {
                    if let Decoded::Packet(p) = decode(cap.link, f) {
                        black_box(table.ingest_at(&p, |_, _| {}));
                    }
                });
            }
        })
    });
    // Inserts: the same packets into an empty table (each fixture's first packets create flows).
    g.bench_function("flow_insert", |b| {
        b.iter_batched(
            || FlowTable::<()>::new(FlowConfig::default()),
            |mut t| {
                for cap in caps {
                    cap.each(|f| {
                        if let Decoded::Packet(p) = decode(cap.link, f) {
                            black_box(t.ingest_at(&p, |_, _| {}));
                        }
                    });
                }
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A configuration whose flow table is sized for a fixture, not for a sensor: creating a
/// pipeline then costs little next to running it.
fn small() -> Config {
    let mut cfg = Config::defaults();
    cfg.flow.max_flows = 4096;
    cfg
}

/// Each detector alone in the pipeline: hit path on the captures it raises alerts on, miss path
/// on the others.
fn detectors(c: &mut Criterion, caps: &[Capture]) {
    let cfg = small();
    // The catalogue is loaded once, as the sensor does, not per pipeline.
    let cat = Arc::new(Catalogue::builtin());
    let mut g = c.benchmark_group("detector");
    g.sample_size(20);
    for name in Cascade::standard().detector_names() {
        let only = || Cascade::with_shared_catalogue(Arc::clone(&cat)).retain(|n| n == name);
        let (hit, miss): (Vec<&Capture>, Vec<&Capture>) = caps
            .iter()
            .partition(|cap| !run(&cfg, only(), cap).is_empty());
        for (path, set) in [("hit", hit), ("miss", miss)] {
            if set.is_empty() {
                continue;
            }
            g.throughput(Throughput::Elements(frames_in(&set)));
            g.bench_function(format!("{name}/{path}"), |b| {
                b.iter(|| {
                    for cap in &set {
                        black_box(run(&cfg, only(), cap).len());
                    }
                })
            });
        }
    }
    g.finish();
}

fn tls_and_intel_and_alerts(c: &mut Criterion, caps: &[Capture]) {
    let mut g = c.benchmark_group("stages");
    // Every ClientHello that arrived in one segment in the fixtures.
    let mut hellos: Vec<Vec<u8>> = Vec::new();
    for cap in caps {
        cap.each(|f| {
            if let Decoded::Packet(p) = decode(cap.link, f) {
                if p.payload.first() == Some(&0x16) && server_name_indication(p.payload).is_some() {
                    hellos.push(p.payload.to_vec());
                }
            }
        });
    }
    g.throughput(Throughput::Elements(hellos.len() as u64));
    g.bench_function("tls_client_hello", |b| {
        b.iter(|| {
            for h in &hellos {
                black_box(server_name_indication(h));
            }
        })
    });
    // The built-in databases (country, ASN) and lists; public, private and listed addresses.
    if let Ok(intel) = Intel::load(&IntelConfig::default()) {
        let ips: Vec<IpAddr> = [
            "8.8.8.8",
            "1.1.1.1",
            "185.220.101.1",
            "104.16.0.1",
            "20.50.1.1",
            "192.168.1.10",
            "2001:4860:4860::8888",
            "2a06:98c0::1",
            "203.0.113.7",
            "45.83.220.1",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        g.throughput(Throughput::Elements(ips.len() as u64));
        g.bench_function("intel_lookup", |b| {
            b.iter(|| {
                for ip in &ips {
                    black_box(intel.lookup(*ip));
                }
            })
        });
    }
    let cfg = small();
    let alerts: Vec<Alert> = caps
        .iter()
        .flat_map(|cap| run(&cfg, Cascade::standard(), cap))
        .collect();
    g.throughput(Throughput::Elements(alerts.len() as u64));
    g.bench_function("alert_json", |b| {
        b.iter(|| {
            for a in &alerts {
                black_box(a.to_json());
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let caps = captures();
    if caps.is_empty() {
        eprintln!("no fixture captures found under fixtures/pcap: nothing to measure");
        return;
    }
    decode_and_flows(c, &caps);
    tls_and_intel_and_alerts(c, &caps);
    detectors(c, &caps);
}

criterion_group!(stages, benches);
criterion_main!(stages);
