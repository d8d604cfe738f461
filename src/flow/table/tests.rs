use super::*;
use crate::decode::ip_proto;
use proptest::prelude::*;
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pkt<'a>(
    src: &str,
    sp: u16,
    dst: &str,
    dp: u16,
    flags: u8,
    secs: u64,
    payload: &'a [u8],
) -> Packet<'a> {
    Packet {
        ts: Ts::from_secs(secs),
        vlan: 0,
        src: ip(src),
        dst: ip(dst),
        proto: ip_proto::TCP,
        ttl: 64,
        src_port: sp,
        dst_port: dp,
        tcp: Some(TcpInfo {
            seq: 1,
            ack: 0,
            flags,
            window: 1000,
            mss: (flags & TcpInfo::SYN != 0).then_some(1460),
            wscale: None,
        }),
        icmp: None,
        ah_spi: None,
        payload,
        wire_len: 60 + payload.len() as u32,
        payload_wire_len: payload.len() as u32,
        tunnel: None,
    }
}

fn udp<'a>(src: &str, sp: u16, dst: &str, dp: u16, secs: u64) -> Packet<'a> {
    let mut p = pkt(src, sp, dst, dp, 0, secs, b"");
    p.proto = ip_proto::UDP;
    p.tcp = None;
    p
}

type Table = FlowTable<()>;

fn table(max_flows: usize) -> Table {
    FlowTable::new(FlowConfig {
        max_flows,
        idle_timeout_ns: 60 * Ts::NANOS_PER_SEC,
        max_inspecting: 2,
    })
}

#[test]
fn both_directions_meet_in_one_flow_with_the_syn_sender_as_client() {
    let mut t = table(10);
    let none = |_: &mut Flow<()>, _| panic!("nothing ends");
    let a = t.ingest_at(
        &pkt("198.51.100.9", 3389, "192.0.2.1", 50000, 0, 1, b""),
        none,
    );
    // A mid-stream packet from a system port toward an ephemeral one: the sender is the server.
    assert!(a.new);
    assert_eq!(a.dir, Dir::ToClient);
    let b = t.ingest_at(
        &pkt("192.0.2.1", 50000, "198.51.100.9", 3389, 0, 2, b"abc"),
        none,
    );
    assert_eq!((b.id, b.dir, b.new), (a.id, Dir::ToServer, false));
    let f = t.get(a.id).unwrap();
    assert_eq!(f.client().to_string(), "192.0.2.1:50000");
    assert_eq!(f.server().to_string(), "198.51.100.9:3389");
    assert_eq!(f.pkts, [1, 1]);
    assert_eq!(f.bytes, [63, 60]);
    assert_eq!(
        (f.first_ts, f.last_ts),
        (Ts::from_secs(1), Ts::from_secs(2))
    );
}

#[test]
fn handshake_sets_roles_options_and_rtts() {
    let mut t = table(10);
    let none = |_: &mut Flow<()>, _| {};
    // Ports chosen so the system-port guess would get it wrong: the SYN decides.
    let syn = pkt(
        "192.0.2.1",
        80,
        "198.51.100.9",
        40000,
        TcpInfo::SYN,
        10,
        b"",
    );
    let id = t.ingest_at(&syn, none).id;
    let mut synack = pkt(
        "198.51.100.9",
        40000,
        "192.0.2.1",
        80,
        TcpInfo::SYN | TcpInfo::ACK,
        10,
        b"",
    );
    synack.ts = Ts::from_secs(10).plus(30_000_000);
    t.ingest_at(&synack, none);
    let mut ack = pkt(
        "192.0.2.1",
        80,
        "198.51.100.9",
        40000,
        TcpInfo::ACK,
        10,
        b"",
    );
    ack.ts = Ts::from_secs(10).plus(31_000_000);
    t.ingest_at(&ack, none);
    let f = t.get(id).unwrap();
    assert_eq!(f.client().port(), 80);
    assert!(f.tcp.established());
    assert_eq!(f.tcp.server_rtt_ns(), Some(30_000_000));
    assert_eq!(f.tcp.client_rtt_ns(), Some(1_000_000));
    assert_eq!(f.tcp.mss, [Some(1460), Some(1460)]);
    assert_eq!(f.ttl, [64, 64]);
    assert!(!f.tcp.closed());
}

#[test]
fn a_syn_ack_seen_first_makes_its_receiver_the_client() {
    let mut t = table(10);
    let p = pkt(
        "198.51.100.9",
        8443,
        "192.0.2.1",
        40000,
        TcpInfo::SYN | TcpInfo::ACK,
        1,
        b"",
    );
    let id = t.ingest_at(&p, |_, _| {}).id;
    assert_eq!(t.get(id).unwrap().client().to_string(), "192.0.2.1:40000");
}

#[test]
fn idle_flows_expire_oldest_first_and_touched_flows_survive() {
    let mut t = table(10);
    let mut ended = Vec::new();
    t.ingest_at(&udp("192.0.2.1", 1000, "192.0.2.9", 53, 0), |_, _| {});
    t.ingest_at(&udp("192.0.2.2", 1000, "192.0.2.9", 53, 10), |_, _| {});
    t.ingest_at(&udp("192.0.2.1", 1000, "192.0.2.9", 53, 20), |_, _| {}); // touch the first
    t.expire(Ts::from_secs(75), |f, why| {
        ended.push((f.client().ip().to_string(), why))
    });
    assert_eq!(ended, [("192.0.2.2".to_string(), EndReason::Idle)]);
    assert_eq!(t.len(), 1);
    t.expire(Ts::from_secs(81), |f, why| {
        ended.push((f.client().ip().to_string(), why))
    });
    assert_eq!(ended.len(), 2);
    assert!(t.is_empty());
    assert_eq!(t.stats().expired, 2);
}

#[test]
fn a_full_table_evicts_the_least_recently_active() {
    let mut t = table(2);
    let mut ended = Vec::new();
    let mut go = |t: &mut Table, src: &str, secs| {
        t.ingest_at(
            &udp(src, 1000, "192.0.2.9", 53, secs),
            |f: &mut Flow<()>, why| ended.push((f.client().ip().to_string(), why)),
        );
    };
    go(&mut t, "192.0.2.1", 1);
    go(&mut t, "192.0.2.2", 2);
    go(&mut t, "192.0.2.1", 3);
    go(&mut t, "192.0.2.3", 4);
    assert_eq!(ended, [("192.0.2.2".to_string(), EndReason::Evicted)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t.stats().evicted, 1);
    assert_eq!(t.stats().peak, 2);
}

#[test]
fn payload_buffers_are_capped_pooled_and_released() {
    let mut t = table(10);
    let mut ids = Vec::new();
    let mut lost = Vec::new();
    for i in 1..=3u8 {
        let p = pkt(
            &format!("192.0.2.{i}"),
            1000,
            "192.0.2.9",
            22,
            0,
            u64::from(i),
            b"SSH-2.0-x\r\n",
        );
        let id = t.ingest_at(&p, |_, _| {}).id;
        let ok = t.record_payload(id, Dir::ToServer, &p, |f| {
            // The flow giving its buffer up is seen with its payload still there.
            assert!(f.payloads.is_some());
            lost.push(f.client());
        });
        assert!(ok);
        ids.push(id);
    }
    // Two buffers (max_inspecting): the third flow took the idlest holder's, the first flow's.
    assert_eq!(lost, [sa("192.0.2.1:1000")]);
    assert_eq!(t.stats().inspect_skipped, 1);
    assert!(t.get(ids[0]).unwrap().payloads.is_none());
    assert_eq!(
        t.get(ids[2]).unwrap().payloads.as_ref().unwrap().dirs[0].data(),
        b"SSH-2.0-x\r\n"
    );
    t.release_payload(ids[1]);
    assert!(t.get(ids[1]).unwrap().payloads.is_none());
    let p = pkt("192.0.2.1", 1000, "192.0.2.9", 22, 0, 4, b"SSH-2.0-y\r\n");
    let never = |_: &mut Flow<()>| panic!("a buffer is free");
    assert!(t.record_payload(ids[0], Dir::ToServer, &p, never));
    // The recycled buffer starts empty.
    assert_eq!(
        t.get(ids[0]).unwrap().payloads.as_ref().unwrap().dirs[0].data(),
        b"SSH-2.0-y\r\n"
    );
}

#[test]
fn the_idlest_buffer_holder_gives_way_not_the_active_one() {
    let mut t = table(10);
    let p = |host: u8, secs: u64| {
        pkt(
            &format!("192.0.2.{host}"),
            50000,
            "192.0.2.9",
            3389,
            0,
            secs,
            b"\x03\x00\x00\x0b",
        )
    };
    let a = t.ingest_at(&p(1, 1), |_, _| {}).id;
    assert!(t.record_payload(a, Dir::ToServer, &p(1, 1), |_| {}));
    let b = t.ingest_at(&p(2, 2), |_, _| {}).id;
    assert!(t.record_payload(b, Dir::ToServer, &p(2, 2), |_| {}));
    // Activity on `a` (even without payload) makes `b` the idlest holder.
    t.ingest_at(&ack_from(1, 3), |_, _| {});
    let c = t.ingest_at(&p(3, 4), |_, _| {}).id;
    let mut lost = Vec::new();
    assert!(t.record_payload(c, Dir::ToServer, &p(3, 4), |f| lost.push(f.client())));
    assert_eq!(lost, [sa("192.0.2.2:50000")]);
    assert!(t.get(a).unwrap().payloads.is_some());
    // An evicted holder leaves the list too: evict everything, then buffers are free again.
    let mut small = table(1);
    let x = small.ingest_at(&p(1, 1), |_, _| {}).id;
    assert!(small.record_payload(x, Dir::ToServer, &p(1, 1), |_| {}));
    let y = small.ingest_at(&p(2, 2), |_, _| {}).id;
    let never = |_: &mut Flow<()>| panic!("the evicted flow's buffer came back");
    assert!(small.record_payload(y, Dir::ToServer, &p(2, 2), never));
    assert_eq!(small.stats().inspect_skipped, 0);
}

/// A segment without payload from 192.0.2.`host`:50000 to the RDP port, at `secs`.
fn ack_from<'a>(host: u8, secs: u64) -> Packet<'a> {
    pkt(
        &format!("192.0.2.{host}"),
        50000,
        "192.0.2.9",
        3389,
        0,
        secs,
        b"",
    )
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn drain_ends_every_flow_once() {
    let mut t = table(10);
    for i in 1..=5u8 {
        t.ingest_at(
            &udp(&format!("192.0.2.{i}"), 1, "192.0.2.9", 2, u64::from(i)),
            |_, _| {},
        );
    }
    let mut n = 0;
    t.drain(|_, why| {
        assert_eq!(why, EndReason::Drained);
        n += 1;
    });
    assert_eq!(n, 5);
    assert!(t.is_empty());
}

proptest! {
    /// Under any packet sequence the table stays within its cap, and every flow created is either
    /// still tracked or was ended exactly once.
    #[test]
    fn counts_add_up(pkts in proptest::collection::vec((0u8..20, 0u8..20, 0u64..300), 1..400)) {
        let mut t = table(8);
        let mut ended = 0u64;
        for (a, b, secs) in pkts {
            let p = udp(&format!("192.0.2.{a}"), 1000, &format!("198.51.100.{b}"), 53, secs);
            t.ingest_at(&p, |_, _| ended += 1);
            t.expire(Ts::from_secs(secs), |_, _| ended += 1);
            prop_assert!(t.len() <= 8);
        }
        let s = t.stats();
        prop_assert_eq!(s.created, t.len() as u64 + ended);
        prop_assert_eq!(ended, s.evicted + s.expired);
        t.drain(|_, _| ended += 1);
        prop_assert_eq!(s.created, ended);
    }
}

/// The previous packet's flow is checked before the index: it must never answer for a packet
/// of another flow, nor for a flow that ended (expired, evicted or drained) and whose slot was
/// reused.
#[test]
fn the_previous_packets_flow_answers_only_for_its_own_key() {
    let mut t = table(2);
    let a = udp("192.0.2.1", 1000, "192.0.2.9", 53, 0);
    let a_back = udp("192.0.2.9", 53, "192.0.2.1", 1000, 0);
    let b = udp("192.0.2.2", 1000, "192.0.2.9", 53, 0);
    let first = t.ingest_at(&a, |_, _| {});
    let again = t.ingest_at(&a_back, |_, _| {});
    assert_eq!(
        (again.id, again.dir, again.new),
        (first.id, Dir::ToClient, false)
    );
    let other = t.ingest_at(&b, |_, _| {});
    assert_ne!(other.id, first.id);
    assert!(other.new);
    // `a` expires; `c` takes its slot; `a` comes back as a new flow, not as `c`.
    t.expire(Ts::from_secs(100), |_, _| {});
    assert!(t.is_empty());
    let c = udp("192.0.2.3", 1000, "192.0.2.9", 53, 100);
    let c_in = t.ingest_at(&c, |_, _| {});
    let mut a_late = a.clone();
    a_late.ts = Ts::from_secs(100);
    let a_new = t.ingest_at(&a_late, |_, _| {});
    assert!(a_new.new);
    assert_ne!(a_new.id, c_in.id);
    assert_eq!(t.get(a_new.id).map(|f| f.pkts), Some([1, 0]));
    // A third flow evicts the idlest (`c`), not the previous packet's (`a`); `c` again is new.
    let d = udp("192.0.2.4", 1000, "192.0.2.9", 53, 100);
    let mut ended = Vec::new();
    t.ingest_at(&d, |f, why| ended.push((f.client(), why)));
    assert_eq!(
        ended,
        [(SocketAddr::new(ip("192.0.2.3"), 1000), EndReason::Evicted)]
    );
    let d_again = t.ingest_at(&d, |_, _| {});
    assert!(!d_again.new);
    assert_eq!(t.get(d_again.id).map(|f| f.pkts), Some([2, 0]));
    let c_back = t.ingest_at(&c, |_, _| {});
    assert!(c_back.new);
    // Drained: the next packet of the last flow starts a new one.
    t.drain(|_, _| {});
    assert!(t.ingest_at(&c, |_, _| {}).new);
    assert_eq!(t.stats().created, 7);
}

proptest! {
    /// Whatever the packet order, every packet is accounted to the flow of its own key: each
    /// tracked flow's packet count equals the packets of its key since it was created.
    #[test]
    fn every_packet_lands_in_the_flow_of_its_key(
        pkts in proptest::collection::vec((0u8..4, any::<bool>(), 0u64..200), 1..300),
    ) {
        let mut t = table(3);
        let mut since: std::collections::HashMap<u8, u64> = Default::default();
        for (host, back, secs) in pkts {
            let (me, peer) = (format!("192.0.2.{host}"), "198.51.100.1");
            let p = if back { udp(peer, 53, &me, 1000, secs) } else { udp(&me, 1000, peer, 53, secs) };
            let mut gone = Vec::new();
            t.expire(Ts::from_secs(secs), |f, _| gone.push(f.key));
            let ing = t.ingest_at(&p, |f, _| gone.push(f.key));
            for k in gone {
                since.retain(|h, _| FlowKey::of(&udp(&format!("192.0.2.{h}"), 1000, peer, 53, 0)).0 != k);
            }
            let n = since.entry(host).or_insert(0);
            if ing.new {
                prop_assert_eq!(*n, 0);
            }
            *n += 1;
            let f = t.get(ing.id).unwrap();
            prop_assert_eq!(FlowKey::of(&p).0, f.key);
            prop_assert_eq!(f.pkts[0] + f.pkts[1], *n);
        }
    }
}
