use super::*;
use crate::alert::Severity;
use crate::detect::{Confidence, Detector, Kind};
use etherparse::PacketBuilder;

/// Signature on a client "HELLO", handshake when the server answers "WORLD"; a port hint in
/// `conclude` for port 7777.
struct Magic;

impl Detector for Magic {
    fn name(&self) -> &'static str {
        "magic"
    }

    fn inspect(&self, v: &FlowView<'_>) -> Option<Verdict> {
        if !v.to_server.data().starts_with(b"HELLO") {
            return None;
        }
        let sig =
            Verdict::new(Kind::RemoteAccess, "magic", Confidence::Signature).with("client HELLO");
        if v.to_client.data().starts_with(b"WORLD") {
            return Some(
                Verdict::new(Kind::RemoteAccess, "magic", Confidence::Handshake)
                    .with("client HELLO")
                    .with("server WORLD")
                    .done(),
            );
        }
        Some(sig)
    }

    fn conclude(&self, v: &FlowView<'_>) -> Option<Verdict> {
        (v.server.port() == 7777)
            .then(|| Verdict::new(Kind::VpnTunnel, "hint", Confidence::Port).with("port 7777"))
    }
}

/// Reports the DNS name of any flow to port 9999.
struct NameEcho;

impl Detector for NameEcho {
    fn name(&self) -> &'static str {
        "name-echo"
    }

    fn inspect(&self, v: &FlowView<'_>) -> Option<Verdict> {
        (v.server.port() == 9999).then(|| {
            Verdict::new(Kind::VpnTunnel, "echo", Confidence::Signature)
                .with(format!("name={}", v.server_name.unwrap_or("-")))
                .done()
        })
    }
}

struct Harness {
    sink: VecSink,
    cfg: Config,
}

fn tcp(src: &str, dst: &str, flags: &str, seq: u32, payload: &[u8]) -> Vec<u8> {
    let s: SocketAddr = src.parse().unwrap();
    let d: SocketAddr = dst.parse().unwrap();
    let ip = |a: SocketAddr| match a.ip() {
        std::net::IpAddr::V4(v) => v.octets(),
        std::net::IpAddr::V6(_) => unreachable!(),
    };
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(ip(s), ip(d), 64)
        .tcp(s.port(), d.port(), seq, 1000);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(1),
            'F' => b.fin(),
            'P' => b.psh(),
            _ => b,
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

impl Harness {
    fn new() -> Harness {
        Harness {
            sink: VecSink::default(),
            cfg: Config::defaults(),
        }
    }

    /// Runs `frames` (time in seconds, bytes) through a pipeline; returns the alerts delivered
    /// before `finish` and the pipeline's stats after it.
    fn run(&mut self, frames: &[(u64, Vec<u8>)]) -> (usize, Stats) {
        let mut pipe = Pipeline::with_cascade(
            &self.cfg,
            LinkType::Ethernet,
            Cascade::of(vec![Box::new(Magic)]),
            &mut self.sink,
        );
        for (secs, data) in frames {
            let f = Frame {
                ts: Ts::from_secs(*secs),
                data,
                wire_len: data.len() as u32,
            };
            pipe.frame(&f).unwrap();
        }
        let before = pipe.emit.stats.alerts_total() as usize;
        pipe.finish().unwrap();
        (before, pipe.stats())
    }
}

const C: &str = "192.0.2.10:50000";
const S: &str = "198.51.100.20:4000";

#[test]
fn a_complete_handshake_alerts_at_once_with_the_first_evidence_time() {
    let mut h = Harness::new();
    let (early, stats) = h.run(&[
        (10, tcp(C, S, "S", 0, b"")),
        (11, tcp(C, S, "PA", 1, b"HELLO")),
        (12, tcp(S, C, "PA", 1, b"WORLD")),
        (13, tcp(C, S, "PA", 6, b"more")),
    ]);
    assert_eq!(early, 1, "reported before the flow ended");
    assert_eq!(h.sink.0.len(), 1);
    let a = &h.sink.0[0];
    assert_eq!(
        (a.kind, a.family.as_ref(), a.severity),
        (Kind::RemoteAccess, "magic", Severity::High)
    );
    assert_eq!(a.ts, Ts::from_secs(11));
    assert_eq!(a.endpoint.to_string(), "192.0.2.10");
    assert_eq!(a.peer.unwrap().to_string(), S);
    assert_eq!(a.evidence, ["client HELLO", "server WORLD"]);
    assert_eq!(a.contractor, None);
    assert_eq!(stats.packets, 4);
    assert_eq!(stats.alerts_total(), 1);
}

#[test]
fn a_pending_signature_is_reported_when_the_flow_ends() {
    let mut h = Harness::new();
    let (early, _) = h.run(&[
        (10, tcp(C, S, "S", 0, b"")),
        (11, tcp(C, S, "PA", 1, b"HELLO")),
    ]);
    assert_eq!(early, 0);
    assert_eq!(h.sink.0.len(), 1);
    assert_eq!(h.sink.0[0].severity, Severity::Medium);
}

#[test]
fn a_closed_connection_concludes_without_waiting_for_expiry() {
    let mut h = Harness::new();
    let (early, _) = h.run(&[
        (10, tcp(C, S, "S", 0, b"")),
        (11, tcp(C, S, "PA", 1, b"HELLO")),
        (12, tcp(C, S, "FA", 6, b"")),
        (12, tcp(S, C, "FA", 1, b"")),
    ]);
    assert_eq!(early, 1);
}

#[test]
fn duplicates_within_a_window_are_suppressed_and_ids_are_stable() {
    let mut h = Harness::new();
    let c2 = "192.0.2.10:50001";
    let frames = [
        (10, tcp(C, S, "PA", 1, b"HELLO")),
        (11, tcp(c2, S, "PA", 1, b"HELLO")),
        (3700, tcp("192.0.2.10:50002", S, "PA", 1, b"HELLO")),
    ];
    let (_, stats) = h.run(&frames);
    assert_eq!(h.sink.0.len(), 2, "one per window");
    assert_eq!(stats.suppressed, 1);
    let first_ids: Vec<String> = h.sink.0.iter().map(|a| a.id.clone()).collect();
    assert_ne!(first_ids[0], first_ids[1]);
    let mut again = Harness::new();
    again.run(&frames);
    let ids: Vec<String> = again.sink.0.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, first_ids, "a re-run yields the same ids");
}

#[test]
fn the_inventory_side_is_the_endpoint_even_when_it_is_the_responder() {
    let mut h = Harness::new();
    h.cfg = Config::parse(
        std::path::Path::new("t.toml"),
        "[[contractor]]\nid = \"c-7\"\nendpoints = [\"198.51.100.0/24\"]\n",
    )
    .unwrap();
    h.run(&[(10, tcp(C, S, "PA", 1, b"HELLO"))]);
    let a = &h.sink.0[0];
    assert_eq!(a.endpoint.to_string(), "198.51.100.20");
    assert_eq!(a.contractor.as_deref(), Some("c-7"));
    assert_eq!(a.peer.unwrap().to_string(), C);
    assert_eq!(
        a.flow.as_ref().unwrap().src_ip.to_string(),
        "192.0.2.10",
        "the flow record keeps the initiator first"
    );
}

#[test]
fn the_inspection_budget_ends_in_conclude_and_port_hints_obey_policy() {
    let mut h = Harness::new();
    h.cfg.detect.inspect_packets = 2;
    let s = "198.51.100.20:7777";
    let frames = [
        (10, tcp(C, s, "PA", 1, b"a")),
        (10, tcp(s, C, "PA", 1, b"b")),
        (10, tcp(C, s, "PA", 2, b"c")),
    ];
    let (early, _) = h.run(&frames);
    assert_eq!(early, 1, "budget spent after two payload packets");
    assert_eq!(h.sink.0[0].confidence, Confidence::Port);
    assert_eq!(h.sink.0[0].severity, Severity::Low);

    let mut off = Harness::new();
    off.cfg.detect.port_hints = false;
    off.run(&frames);
    assert!(off.sink.0.is_empty());
}

#[test]
fn malformed_and_non_ip_frames_are_counted_not_fatal() {
    let mut h = Harness::new();
    let mut arp = vec![0xff; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    let (_, stats) = h.run(&[
        (1, vec![1, 2, 3]),
        (2, arp),
        (3, tcp(C, S, "PA", 1, b"HELLO")),
    ]);
    assert_eq!(stats.frames, 3);
    assert_eq!(
        stats.malformed[crate::decode::Malformed::LinkHeader.index()],
        1
    );
    assert_eq!(stats.not_ip, 1);
    assert_eq!(stats.packets, 1);
    assert_eq!(h.sink.0.len(), 1);
}

#[test]
fn idle_time_expires_flows_and_reports_them() {
    let mut sink = VecSink::default();
    let cfg = Config::defaults();
    let mut pipe = Pipeline::with_cascade(
        &cfg,
        LinkType::Ethernet,
        Cascade::of(vec![Box::new(Magic)]),
        &mut sink,
    );
    let data = tcp(C, S, "PA", 1, b"HELLO");
    pipe.frame(&Frame {
        ts: Ts::from_secs(10),
        data: &data,
        wire_len: 60,
    })
    .unwrap();
    pipe.idle(Ts::from_secs(11)).unwrap();
    assert_eq!(pipe.stats().alerts_total(), 0);
    pipe.idle(Ts::from_secs(10 + 121)).unwrap();
    assert_eq!(pipe.stats().alerts_total(), 1);
    assert_eq!(pipe.stats().flows.expired, 1);
}

fn udp(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let s: SocketAddr = src.parse().unwrap();
    let d: SocketAddr = dst.parse().unwrap();
    let ip = |a: SocketAddr| match a.ip() {
        std::net::IpAddr::V4(v) => v.octets(),
        std::net::IpAddr::V6(_) => unreachable!(),
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(ip(s), ip(d), 64)
        .udp(s.port(), d.port())
        .write(&mut out, payload)
        .unwrap();
    out
}

#[test]
fn flows_carry_the_dns_name_their_server_was_resolved_from() {
    // Response for relay.example.com A 198.51.100.20 (RFC 1035 §4.1 layout).
    let mut dns = vec![0x00, 0x07, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    dns.extend_from_slice(b"\x05relay\x07example\x03com\x00\x00\x01\x00\x01");
    dns.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, 20]);
    let mut sink = VecSink::default();
    let cfg = Config::defaults();
    let mut pipe = Pipeline::with_cascade(
        &cfg,
        LinkType::Ethernet,
        Cascade::of(vec![Box::new(NameEcho)]),
        &mut sink,
    );
    let frames = [
        udp("198.51.100.53:53", "192.0.2.10:40000", &dns),
        tcp("192.0.2.10:50000", "198.51.100.20:9999", "PA", 1, b"x"),
        tcp("192.0.2.10:50001", "198.51.100.21:9999", "PA", 1, b"x"),
    ];
    for (i, data) in frames.iter().enumerate() {
        pipe.frame(&Frame {
            ts: Ts::from_secs(10 + i as u64),
            data,
            wire_len: data.len() as u32,
        })
        .unwrap();
    }
    pipe.finish().unwrap();
    let ev: Vec<&str> = sink.0.iter().map(|a| a.evidence[0].as_str()).collect();
    assert_eq!(ev, ["name=relay.example.com", "name=-"]);
}

#[test]
fn an_approved_tool_is_reported_at_info_with_the_approval_named() {
    let mut h = Harness::new();
    h.cfg = Config::parse(
        std::path::Path::new("t.toml"),
        "[[contractor]]\nid = \"c-7\"\nendpoints = [\"192.0.2.10\"]\napproved_tools = [\"magic\"]\n\n[[contractor]]\nid = \"c-8\"\nendpoints = [\"192.0.2.11\"]\napproved_tools = [\"other\"]\n",
    )
    .unwrap();
    h.run(&[
        (10, tcp(C, S, "PA", 1, b"HELLO")),
        (11, tcp(S, C, "PA", 1, b"WORLD")),
        (12, tcp("192.0.2.11:50000", S, "PA", 1, b"HELLO")),
        (13, tcp(S, "192.0.2.11:50000", "PA", 1, b"WORLD")),
    ]);
    assert_eq!(h.sink.0.len(), 2);
    let approved = &h.sink.0[0];
    assert_eq!(approved.severity, Severity::Info);
    assert_eq!(approved.confidence, Confidence::Handshake);
    assert!(approved
        .evidence
        .last()
        .unwrap()
        .contains("approved for contractor c-7: magic"));
    let other = &h.sink.0[1];
    assert_eq!(
        other.severity,
        Severity::High,
        "another contractor's approval does not apply"
    );
}

#[test]
fn a_reported_session_open_for_a_day_is_reported_again_once() {
    let mut h = Harness::new();
    h.cfg.flow.idle_timeout_ns = 3 * 86_400 * Ts::NANOS_PER_SEC;
    h.run(&[
        (10, tcp(C, S, "S", 0, b"")),
        (11, tcp(C, S, "PA", 1, b"HELLO")),
        (12, tcp(S, C, "PA", 1, b"WORLD")),
        (40_000, tcp(C, S, "PA", 6, b"still")),
        (86_411, tcp(C, S, "PA", 11, b"there")),
        (90_000, tcp(C, S, "PA", 16, b"and on")),
    ]);
    let kinds: Vec<Kind> = h.sink.0.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [Kind::RemoteAccess, Kind::ContinuousSession]);
    let a = &h.sink.0[1];
    assert_eq!(a.ts, Ts::from_secs(86_411), "reported when the day is full");
    assert_eq!(a.family, "remote_control");
    assert!(
        a.evidence[0].contains("has been open for 24.0 h"),
        "{:?}",
        a.evidence
    );
    assert_eq!(a.peer.unwrap().to_string(), S);
}

#[test]
fn a_short_session_is_not_continuous() {
    let mut h = Harness::new();
    h.run(&[
        (10, tcp(C, S, "S", 0, b"")),
        (11, tcp(C, S, "PA", 1, b"HELLO")),
        (12, tcp(S, C, "PA", 1, b"WORLD")),
        (5_000, tcp(C, S, "PA", 6, b"bye")),
    ]);
    assert_eq!(h.sink.0.len(), 1);
}

/// Memory per tracked flow stays within 256 bytes at the default cap of one million flows: the
/// flow's slot (key, counters, handshake facts, LRU links and this pipeline's state) plus its
/// share of the index, which holds only 4-byte flow ids and hashbrown's control bytes (the key
/// is read from the slot). Payload buffers and handshake memos come on top only for flows under
/// inspection, at most `flow.max_inspecting` of them.
#[test]
fn a_tracked_flow_costs_at_most_256_bytes() {
    use crate::flow::{Flow, FlowConfig, FlowTable};
    let table: FlowTable<FlowState> = FlowTable::new(FlowConfig::default());
    let flows = FlowConfig::default().max_flows;
    assert!(
        table.capacity() >= flows,
        "not pre-sized: {}",
        table.capacity()
    );
    let slot = std::mem::size_of::<Option<Flow<FlowState>>>();
    let index = table.index_bytes().div_ceil(flows);
    assert!(
        slot + index <= 256,
        "slot {slot} + index {index} bytes per flow"
    );
}

/// A flow that gives its inspection buffer up to a newer one lets its handshake memo go too:
/// memos, like buffers, are held by at most `flow.max_inspecting` flows at once, however many
/// flows the table tracks.
#[test]
fn a_flow_losing_its_buffer_lets_its_memo_go() {
    let mut cfg = Config::defaults();
    cfg.flow.max_inspecting = 2;
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::new(&cfg, LinkType::Ethernet, &mut sink);
    let memos = |pipe: &Pipeline<'_>| {
        (0..pipe.flows.capacity())
            .filter_map(|id| pipe.flows.get(u32::try_from(id).ok()?))
            .filter(|f| f.state.memo.is_some())
            .count()
    };
    for i in 0..10u64 {
        let data = udp(
            &format!("192.0.2.{}:40000", 10 + i),
            "198.51.100.7:9999",
            &[0x5a; 64],
        );
        pipe.frame(&Frame {
            ts: Ts::from_secs(10 + i),
            data: &data,
            wire_len: data.len() as u32,
        })
        .unwrap();
        let held = memos(&pipe);
        assert!(held <= 2, "{held} memos after {} flows", i + 1);
    }
    assert_eq!(pipe.flows.len(), 10);
    assert_eq!(memos(&pipe), 2, "the two newest flows are under inspection");
}

/// `frame` (an Ethernet frame carrying IPv4) sent through a GRE tunnel from `near` to `far`.
fn in_gre(frame: &[u8], near: [u8; 4], far: [u8; 4]) -> Vec<u8> {
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(&frame[14..]);
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])
        .ipv4(near, far, 60)
        .write(&mut out, etherparse::IpNumber(47), &gre)
        .unwrap();
    out
}

/// A flow that arrived in a tunnel is reported with the tunnel's own addresses, in its evidence
/// and its flow record, and they are kept only while the flow lives.
#[test]
fn a_tunnelled_flow_is_reported_with_its_tunnel_addresses() {
    let (near, far) = ([203, 0, 113, 1], [203, 0, 113, 200]);
    let cfg = Config::defaults();
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::with_cascade(
        &cfg,
        LinkType::Ethernet,
        Cascade::of(vec![Box::new(Magic)]),
        &mut sink,
    );
    let frames = [
        in_gre(&tcp(C, S, "S", 0, b""), near, far),
        in_gre(&tcp(C, S, "PA", 1, b"HELLO"), near, far),
        in_gre(&tcp(S, C, "PA", 1, b"WORLD"), far, near),
    ];
    for (i, data) in frames.iter().enumerate() {
        let f = Frame {
            ts: Ts::from_secs(10 + i as u64),
            data,
            wire_len: data.len() as u32,
        };
        pipe.frame(&f).unwrap();
    }
    assert_eq!(pipe.emit.tunnels.len(), 1);
    let mut unwrapped = [0; crate::decode::Tunnel::ALL.len()];
    unwrapped[crate::decode::Tunnel::Gre.index()] = 3;
    assert_eq!(pipe.stats().unwrapped, unwrapped);
    pipe.finish().unwrap();
    assert_eq!(pipe.emit.tunnels.len(), 0, "forgotten when the flow ended");
    drop(pipe);
    assert_eq!(sink.0.len(), 1);
    let a = &sink.0[0];
    assert!(
        a.evidence.contains(
            &"carried in a GRE tunnel (RFC 2784) from 203.0.113.1 to 203.0.113.200, unwrapped"
                .to_owned()
        ),
        "{:?}",
        a.evidence
    );
    let flow = serde_json::to_value(a.flow.as_ref().unwrap()).unwrap();
    assert_eq!(
        flow["tunnel"],
        serde_json::json!({"kind": "gre", "outer_src": "203.0.113.1", "outer_dst": "203.0.113.200"})
    );
    assert_eq!(flow["src_ip"], "192.0.2.10");
}
