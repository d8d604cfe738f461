use super::*;
use crate::alert::Alert;
use crate::capture::FileCapture;
use crate::pipeline::VecSink;
use std::path::Path;
use std::sync::atomic::AtomicUsize;

/// A frame read from a capture file, owned.
#[derive(Clone)]
struct Owned {
    ts: Ts,
    wire_len: u32,
    data: Vec<u8>,
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            data: &self.data,
            wire_len: self.wire_len,
        }
    }
}

fn read(path: &Path) -> (LinkType, Vec<Owned>) {
    let mut cap = FileCapture::open(path).unwrap();
    let mut frames = Vec::new();
    loop {
        let step = cap.pump(|f| {
            frames.push(Owned {
                ts: f.ts,
                wire_len: f.wire_len,
                data: f.data.to_vec(),
            });
        });
        match step.unwrap() {
            Step::Frames(_) => {}
            _ => break,
        }
    }
    (cap.linktype(), frames)
}

/// Alerts as JSON lines, sorted: lanes may deliver alerts of one instant in another order.
fn sorted(alerts: &[Alert]) -> Vec<String> {
    let mut v: Vec<String> = alerts.iter().map(Alert::to_json).collect();
    v.sort();
    v
}

fn one_pipeline(cfg: &Config, link: LinkType, frames: &[Owned]) -> (Vec<Alert>, Stats) {
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::new(cfg, link, &mut sink);
    for f in frames {
        pipe.frame(&f.frame()).unwrap();
    }
    pipe.finish().unwrap();
    let stats = pipe.stats();
    drop(pipe);
    (sink.0, stats)
}

/// One socket of a fanout group, played from a file: the frames dealt to it, each handed in
/// file order when every frame before it (on whichever socket) has been handed. A frame is
/// handed on the second call after its turn comes, so that the lane takes what other lanes
/// handed it in between, as a lane reading a live socket does between batches; between turns
/// the socket is idle (at time zero, so no flow expires early).
struct Scripted {
    lane: usize,
    deal: Arc<Vec<(usize, Owned)>>,
    cursor: Arc<AtomicUsize>,
    armed: bool,
}

impl LaneSource for Scripted {
    fn pump(&mut self, sink: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
        let k = self.cursor.load(Ordering::Acquire);
        let Some((lane, f)) = self.deal.get(k) else {
            return Ok(Step::End);
        };
        if *lane != self.lane || !self.armed {
            self.armed = *lane == self.lane;
            std::thread::yield_now();
            return Ok(Step::Idle(Ts(0)));
        }
        self.armed = false;
        sink(&f.frame());
        self.cursor.store(k + 1, Ordering::Release);
        Ok(Step::Frames(1))
    }

    fn stop(&mut self) {}
}

/// The lanes over `deal` (each frame with the lane whose socket receives it).
fn lanes(
    cfg: &Config,
    link: LinkType,
    n: usize,
    deal: Vec<(usize, Owned)>,
) -> (Vec<Alert>, Stats, Vec<u64>) {
    let deal = Arc::new(deal);
    let cursor = Arc::new(AtomicUsize::new(0));
    let sources = (0..n)
        .map(|lane| Scripted {
            lane,
            deal: Arc::clone(&deal),
            cursor: Arc::clone(&cursor),
            armed: false,
        })
        .collect();
    let mut sink = VecSink::default();
    let mut fan = Fanout::start(cfg, link, sources, &mut sink).unwrap();
    while !fan.pump(Duration::from_millis(50)).unwrap() {}
    fan.finish().unwrap().unwrap();
    let (stats, per_lane) = (fan.stats(), fan.lane_frames());
    drop(fan);
    (sink.0, stats, per_lane)
}

/// How the kernel deals frames (`capture::FANOUT_FLOW`): an IP packet by a hash of its two
/// ends (addresses, and ports where it has them) that is the same both ways; a tunnelled one
/// round-robin instead, which splits the two directions of its inner flow, as an encapsulating
/// end that picks its outer source port per packet makes the kernel do; anything else
/// (fragments, non-IP frames) to the first socket.
fn kernel_deal(link: LinkType, n: usize, frames: &[Owned]) -> Vec<(usize, Owned)> {
    let end = |ip: std::net::IpAddr, port: u16| {
        let mut h = u64::from(port);
        for b in ip.to_string().bytes() {
            h = h.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        h
    };
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let lane = match decode(link, &f.frame()) {
                Decoded::Packet(p) if p.tunnel.is_some() => i % n,
                Decoded::Packet(p) => {
                    let h = end(p.src, p.src_port) ^ end(p.dst, p.dst_port);
                    usize::try_from(h % n as u64).unwrap()
                }
                _ => 0,
            };
            (lane, f.clone())
        })
        .collect()
}

/// On every fixture, with two and three lanes, dealt as the kernel deals them or all to one
/// socket: the alerts are one pipeline's, and every frame is analysed exactly once.
#[test]
fn lanes_of_a_fanout_group_give_one_pipelines_alerts() {
    let cfg = Config::default();
    let mut checked = 0;
    for path in crate::pipeline::fixture_captures() {
        let (link, frames) = read(&path);
        let (want, want_stats) = one_pipeline(&cfg, link, &frames);
        for n in [2, 3] {
            for (how, deal) in [
                ("kernel", kernel_deal(link, n, &frames)),
                (
                    "one socket",
                    frames.iter().map(|f| (0, f.clone())).collect(),
                ),
            ] {
                let (got, stats, per_lane) = lanes(&cfg, link, n, deal);
                let at = format!("{} with {n} lanes, {how}", path.display());
                assert_eq!(sorted(&got), sorted(&want), "{at}");
                assert_eq!(stats.frames, want_stats.frames, "{at}");
                assert_eq!(per_lane.iter().sum::<u64>(), want_stats.frames, "{at}");
                assert_eq!(stats.packets, want_stats.packets, "{at}");
                assert_eq!(stats.flows.created, want_stats.flows.created, "{at}");
                assert_eq!(stats.unwrapped, want_stats.unwrapped, "{at}");
                assert_eq!(stats.alerts, want_stats.alerts, "{at}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 50, "{checked} runs");
}

/// The two cases where a lane hands frames on: the inner flow of a VXLAN mirror received on
/// one socket but living on another lane, and a DNS response whose name another lane's flow
/// is reported with.
#[test]
fn a_tunnelled_flow_and_a_dns_name_reach_the_lane_that_needs_them() {
    let cfg = Config::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");

    // Everything on socket 0: the mirrored session's inner flow lives on another lane for
    // some number of lanes, which then analyses every frame of it.
    let (link, frames) = read(&root.join("teamviewer-in-a-vxlan-traffic-mirror/capture.pcap"));
    let (want, _) = one_pipeline(&cfg, link, &frames);
    assert!(want.iter().any(|a| a.family == "teamviewer"), "{want:#?}");
    let moved = (2..=4).any(|n| {
        let deal = frames.iter().map(|f| (0, f.clone())).collect();
        let (got, _, per_lane) = lanes(&cfg, link, n, deal);
        assert_eq!(sorted(&got), sorted(&want), "{n} lanes");
        per_lane.iter().skip(1).any(|&m| m > 0)
    });
    assert!(moved, "the inner flow lives on lane 0 for 2, 3 and 4 lanes");

    // The DNS response on one socket, the flow to the address it resolved on the other.
    let (link, frames) = read(&root.join("anydesk-dns-name-then-flow/capture.pcap"));
    let (want, _) = one_pipeline(&cfg, link, &frames);
    let named = |alerts: &[Alert]| {
        alerts
            .iter()
            .any(|a| a.evidence.iter().any(|e| e.contains("anydesk.com")))
    };
    assert!(named(&want), "{want:#?}");
    let deal: Vec<(usize, Owned)> = frames
        .iter()
        .map(|f| {
            let dns = peek(link, &f.data).is_some_and(|k| k.src.1 == DNS_PORT);
            (usize::from(!dns), f.clone())
        })
        .collect();
    assert!(deal.iter().any(|(l, _)| *l == 0) && deal.iter().any(|(l, _)| *l == 1));
    let (got, _, _) = lanes(&cfg, link, 2, deal);
    assert!(named(&got), "{got:#?}");
    assert_eq!(sorted(&got), sorted(&want));
}

/// A link without traffic, until stopped.
struct Quiet(bool);

impl LaneSource for Quiet {
    fn pump(&mut self, _: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
        if self.0 {
            return Ok(Step::End);
        }
        std::thread::sleep(Duration::from_millis(5));
        Ok(Step::Idle(Ts(1)))
    }
    fn stop(&mut self) {
        self.0 = true;
    }
}

/// A capture that fails on one lane ends the run with that error, after every lane has
/// delivered what it analysed.
#[test]
fn a_lane_whose_capture_fails_stops_the_run_with_its_error() {
    struct Failing;
    impl LaneSource for Failing {
        fn pump(&mut self, _: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
            Err(CaptureError::Live {
                interface: "eth9".into(),
                reason: "the interface went down".into(),
            })
        }
        fn stop(&mut self) {}
    }
    let cfg = Config::default();
    let mut sink = VecSink::default();
    let sources: Vec<Box<dyn LaneSource>> = vec![Box::new(Quiet(false)), Box::new(Failing)];
    let mut fan = Fanout::start(&cfg, LinkType::Ethernet, sources, &mut sink).unwrap();
    // The failing lane's report stops the others; the run ends without being asked to.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !fan.pump(Duration::from_millis(50)).unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lanes did not end"
        );
    }
    let err = fan.finish().unwrap_err();
    assert!(err.to_string().contains("went down"), "{err}");
}

/// A lane that panics does not leave the others waiting for it: the run ends with an error.
#[test]
fn a_lane_that_panics_ends_the_run_with_an_error() {
    struct Panics;
    impl LaneSource for Panics {
        fn pump(&mut self, _: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
            panic!("a lane that panics (expected by this test)");
        }
        fn stop(&mut self) {}
    }
    let cfg = Config::default();
    let mut sink = VecSink::default();
    let sources: Vec<Box<dyn LaneSource>> = vec![Box::new(Quiet(false)), Box::new(Panics)];
    let mut fan = Fanout::start(&cfg, LinkType::Ethernet, sources, &mut sink).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let err = loop {
        match fan.pump(Duration::from_millis(50)) {
            Ok(false) => assert!(std::time::Instant::now() < deadline, "no error"),
            Ok(true) => panic!("every lane reported its end"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("stopped unexpectedly"), "{err}");
    // The other lane ends too, so finishing returns.
    assert!(fan.finish().unwrap().is_err());
}
