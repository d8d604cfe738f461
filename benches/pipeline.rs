//! Stage benchmarks on synthetic traffic built in memory (no capture file needed):
//! decode alone, and the whole pipeline (decode → flow table → detectors → alerts).
//! Throughput is reported in packets. Run with `cargo bench`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use etherparse::PacketBuilder;
use remotewatch::capture::{Frame, LinkType};
use remotewatch::config::Config;
use remotewatch::decode::decode;
use remotewatch::pipeline::{Pipeline, VecSink};
use remotewatch::ts::Ts;
use std::hint::black_box;

/// A mix of traffic shapes: many short TCP flows with a few payload packets each (web-like
/// ciphertext), some UDP request/response pairs, one SSH banner exchange per 64 flows.
fn workload(flows: u32) -> Vec<(Ts, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut t = Ts::from_secs(1_700_000_000);
    let mut push = |data: Vec<u8>| {
        t = t.plus(10_000);
        frames.push((t, data));
    };
    for i in 0..flows {
        let c = [10, 0, (i >> 8) as u8, i as u8];
        let s = [192, 0, 2, (i % 200) as u8 + 1];
        let cport = 40_000 + (i % 20_000) as u16;
        let sport = if i % 64 == 0 { 22 } else { 443 };
        let tcp =
            |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, seq: u32, syn: bool, payload: &[u8]| {
                let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                    .ipv4(src, dst, 64)
                    .tcp(sp, dp, seq, 64_000);
                b = if syn { b.syn() } else { b.ack(1) };
                let mut out = Vec::new();
                let _ = b.write(&mut out, payload);
                out
            };
        push(tcp(c, s, cport, sport, 0, true, &[]));
        push(tcp(s, c, sport, cport, 0, true, &[]));
        let hello: &[u8] = if sport == 22 {
            b"SSH-2.0-OpenSSH_9.6\r\n"
        } else {
            &[0x17, 3, 3, 0, 64, 1, 2, 3]
        };
        push(tcp(c, s, cport, sport, 1, false, hello));
        push(tcp(s, c, sport, cport, 1, false, &[0x5a; 600]));
        push(tcp(
            c,
            s,
            cport,
            sport,
            1 + hello.len() as u32,
            false,
            &[0x33; 200],
        ));
        if i % 4 == 0 {
            let mut out = Vec::new();
            let _ = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4(c, [192, 0, 2, 53], 64)
                .udp(cport, 53)
                .write(
                    &mut out,
                    &[
                        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0,
                        1,
                    ],
                );
            push(out);
        }
    }
    frames
}

fn benches(c: &mut Criterion) {
    let frames = workload(2_000);
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for (ts, data) in &frames {
                let f = Frame {
                    ts: *ts,
                    data,
                    wire_len: data.len() as u32,
                };
                black_box(decode(LinkType::Ethernet, &f));
            }
        })
    });
    let cfg = Config::defaults();
    g.bench_function("pipeline", |b| {
        b.iter_batched(
            VecSink::default,
            |mut sink| {
                let mut pipe = Pipeline::new(&cfg, LinkType::Ethernet, &mut sink);
                for (ts, data) in &frames {
                    let f = Frame {
                        ts: *ts,
                        data,
                        wire_len: data.len() as u32,
                    };
                    let _ = pipe.frame(&f);
                }
                let _ = pipe.finish();
                black_box(pipe.stats().alerts_total())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
