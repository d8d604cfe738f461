use super::*;
use crate::capture::{FileCapture, Step};
use crate::pipeline::VecSink;
use std::path::{Path, PathBuf};

/// A captured frame: time, length on the wire, bytes.
type Owned = (Ts, u32, Vec<u8>);

/// Every fixture capture, and the frames each holds.
fn fixtures() -> Vec<(PathBuf, LinkType, Vec<Owned>)> {
    crate::pipeline::fixture_captures()
        .into_iter()
        .map(|path| {
            let mut cap = FileCapture::open(&path).unwrap();
            let mut frames = Vec::new();
            while let Ok(Step::Frames(_)) =
                cap.pump(|f| frames.push((f.ts, f.wire_len, f.data.to_vec())))
            {}
            (path, cap.linktype(), frames)
        })
        .collect()
}

fn run(path: &mut dyn PacketPath, frames: &[Owned]) -> Stats {
    for (ts, wire_len, data) in frames {
        let f = Frame {
            ts: *ts,
            data,
            wire_len: *wire_len,
        };
        path.frame(&f).unwrap();
    }
    path.finish().unwrap();
    path.stats()
}

/// Feeds `path` in whole chunks, recycling buffers as a reader does.
fn run_chunks(path: &mut dyn PacketPath, file: &Path) -> Stats {
    use crate::capture::ChunkStep;
    let mut cap = FileCapture::open(file).unwrap();
    assert!(cap.chunked(), "{}", file.display());
    let mut spare = None;
    while let ChunkStep::Chunk(c) = cap.chunk(spare.take()).unwrap() {
        spare = path.chunk(c).unwrap();
    }
    path.finish().unwrap();
    path.stats()
}

fn lines(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(Alert::to_json).collect()
}

/// Sharding changes nothing a reader of the output can see: the same alerts with the same ids
/// as one pipeline, the same counts, and, between any two numbers of workers, the same order.
#[test]
fn workers_give_one_pipelines_alerts_in_one_order() {
    let cfg = Config::defaults();
    let all = fixtures();
    assert!(all.len() > 40, "fixtures not found");
    let mut alerts_seen = 0;
    for (path, link, frames) in &all {
        let mut one = VecSink::default();
        let single = run(&mut Pipeline::new(&cfg, *link, &mut one), frames);
        let mut by_n = Vec::new();
        for n in [2, 3] {
            let mut sink = VecSink::default();
            let st = run(
                &mut Workers::start(&cfg, *link, n, &mut sink).unwrap(),
                frames,
            );
            let what = format!("{} with {n} workers", path.display());
            st.assert_counts_as(&single, &what);
            let (mut got, mut want) = (lines(&sink.0), lines(&one.0));
            // Fed whole chunks of the file instead of frames, the workers route for themselves
            // and come to the same alerts, in the same order, and the same counts.
            let mut chunked = VecSink::default();
            let st_chunked = run_chunks(
                &mut Workers::start(&cfg, *link, n, &mut chunked).unwrap(),
                path,
            );
            assert_eq!(lines(&chunked.0), got, "{what}, fed chunks");
            assert_eq!(
                (st_chunked.frames, st_chunked.packets, st_chunked.alerts),
                (st.frames, st.packets, st.alerts),
                "{what}, fed chunks"
            );
            by_n.push(got.clone());
            got.sort();
            want.sort();
            assert_eq!(got, want, "{what}");
        }
        assert_eq!(by_n[0], by_n[1], "{}: order differs", path.display());
        let mut chunked = VecSink::default();
        run_chunks(&mut Pipeline::new(&cfg, *link, &mut chunked), path);
        assert_eq!(
            lines(&chunked.0),
            lines(&one.0),
            "{}, one pipeline fed chunks",
            path.display()
        );
        alerts_seen += one.0.len();
    }
    assert!(alerts_seen > 40);
}

/// A DNS answer and the connection it led to land on different workers for some number of
/// workers; the connection still carries the name.
#[test]
fn a_name_learned_on_one_worker_reaches_the_others() {
    let cfg = Config::defaults();
    let all = fixtures();
    let (_, link, frames) = all
        .iter()
        .find(|(p, _, _)| p.to_string_lossy().contains("anydesk-dns-name-then-flow"))
        .unwrap();
    let mut one = VecSink::default();
    run(&mut Pipeline::new(&cfg, *link, &mut one), frames);
    assert!(
        lines(&one.0).iter().any(|l| l.contains("resolved")),
        "{:?}",
        lines(&one.0)
    );
    for n in 2..=8 {
        let mut sink = VecSink::default();
        run(
            &mut Workers::start(&cfg, *link, n, &mut sink).unwrap(),
            frames,
        );
        assert_eq!(lines(&sink.0), lines(&one.0), "{n} workers");
    }
}

/// The merge order puts the stream position first and is total on distinct flows.
#[test]
fn merge_order_is_position_then_time_then_id() {
    let cfg = Config::defaults();
    let all = fixtures();
    let alerts: Vec<Alert> = all
        .iter()
        .flat_map(|(_, link, frames)| {
            let mut sink = VecSink::default();
            run(&mut Pipeline::new(&cfg, *link, &mut sink), frames);
            sink.0
        })
        .take(3)
        .collect();
    assert_eq!(alerts.len(), 3);
    let tagged = |seq: u64, step: u8, a: &Alert| Tagged {
        tag: Tag { seq, step },
        alert: Box::new(a.clone()),
    };
    let (a, b) = (&alerts[0], &alerts[1]);
    assert_eq!(
        merge_order(&tagged(1, 1, a), &tagged(2, 0, b)),
        Ordering::Less
    );
    assert_eq!(
        merge_order(&tagged(2, 0, a), &tagged(2, 1, b)),
        Ordering::Less
    );
    assert_eq!(
        merge_order(&tagged(5, 0, a), &tagged(5, 0, a)),
        Ordering::Equal
    );
    let by_time = a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id));
    assert_eq!(merge_order(&tagged(5, 0, a), &tagged(5, 0, b)), by_time);
}

/// A TCP packet of a flow numbered `i`, in one direction or the other.
fn flow_packet(i: u32, reply: bool) -> Packet<'static> {
    let client = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 | i));
    let server = IpAddr::from(std::net::Ipv4Addr::new(192, 0, 2, 1));
    let port = 1024 + u16::try_from(i % 60_000).unwrap();
    let (src, dst, src_port, dst_port) = if reply {
        (server, client, 443, port)
    } else {
        (client, server, port, 443)
    };
    Packet {
        ts: Ts(0),
        vlan: 0,
        src,
        dst,
        proto: 6,
        ttl: 64,
        src_port,
        dst_port,
        tcp: None,
        icmp: None,
        ah_spi: None,
        payload: &[],
        wire_len: 60,
        payload_wire_len: 0,
        tunnel: None,
    }
}

/// Flows are split as `local_share` says: with two pipelines the reader's takes the smaller
/// share its reading leaves room for, from three on it takes none, the worker threads share the
/// rest evenly, and both directions of a flow always meet on one pipeline.
#[test]
fn shard_splits_flows_by_share_and_keeps_directions_together() {
    const FLOWS: u32 = 40_000;
    assert_eq!(local_share(1), SHARD_SCALE);
    let two = local_share(2) as f64 / SHARD_SCALE as f64;
    assert!((0.1..0.4).contains(&two), "{two}");
    for n in 3..=WORKERS_MAX as u64 {
        assert_eq!(local_share(n), 0, "{n}");
    }
    for n in [1usize, 2, 3, 4, 7] {
        let shard = Shard::new(n);
        let mut count = vec![0u32; n];
        for i in 0..FLOWS {
            let w = shard.owner_of(&flow_packet(i, false));
            assert_eq!(w, shard.owner_of(&flow_packet(i, true)), "flow {i}, {n}");
            count[w] += 1;
        }
        let share = |c: u32| f64::from(c) / f64::from(FLOWS);
        let local = local_share(n as u64) as f64 / SHARD_SCALE as f64;
        assert!((share(count[0]) - local).abs() < 0.02, "{n}: {count:?}");
        let each = (1.0 - local) / (n as f64 - 1.0);
        for &c in &count[1..] {
            assert!((share(c) - each).abs() < 0.02, "{n}: {count:?}");
        }
    }
}

/// A frame routed from its header fields (`decode::peek` with folded addresses) goes to the
/// pipeline its decoded packet's flow lives on: on every fixture frame the peek takes, for
/// several pipeline counts, and it takes most of them.
#[test]
fn the_peek_route_and_the_decoded_route_agree() {
    let (mut frames, mut peeked) = (0u64, 0u64);
    for (path, link, owned) in fixtures() {
        for n in [2usize, 3, 5] {
            let router = Router::new(link, Shard::even(n));
            for (ts, wire_len, data) in &owned {
                let f = Frame {
                    ts: *ts,
                    data,
                    wire_len: *wire_len,
                };
                frames += 1;
                let Some(owner) = router.peek_owner(&f) else {
                    continue;
                };
                peeked += 1;
                let Decoded::Packet(p) = decode(link, &f) else {
                    panic!(
                        "{}: the peek took a frame that is no packet",
                        path.display()
                    );
                };
                assert_eq!(owner, router.shard.owner_of(&p), "{}", path.display());
            }
        }
    }
    assert!(peeked * 2 > frames, "the peek took {peeked} of {frames}");
}
