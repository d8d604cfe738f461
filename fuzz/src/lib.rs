//! Shared input layouts for the fuzz targets: how a flat byte string becomes a flow for the
//! detector cascade, or frames for the pipeline. The layouts are fixed so a corpus stays valid
//! across runs; `seeds.py` writes seeds in the same layouts.

use remotewatch::capture::{Frame, LinkType};
use remotewatch::config::Config;
use remotewatch::decode::{ip_proto, Packet, TcpInfo};
use remotewatch::detect::catalogue::Catalogue;
use remotewatch::detect::{Cascade, FlowView, HandshakeMemo, Side, Verdict};
use remotewatch::flow::{Dir, Handshake, Payloads};
use remotewatch::pipeline::{Pipeline, VecSink};
use remotewatch::ts::Ts;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::OnceLock;

/// Payload packets fed to the cascade per input, as `flow.inspect_packets` bounds it in the
/// sensor (its maximum is 1024; the default 32).
pub const PACKETS_MAX: usize = 64;
/// Largest chunk one length prefix can describe (a jumbo frame's payload).
pub const CHUNK_MAX: usize = 9000;

/// IP protocols a flow may carry: every protocol some detector gates on.
const PROTOS: [u8; 8] = [
    ip_proto::TCP,
    ip_proto::UDP,
    ip_proto::ESP,
    ip_proto::AH,
    ip_proto::GRE,
    ip_proto::ICMP,
    ip_proto::L2TP,
    ip_proto::ICMPV6,
];

/// Ports some detector or port hint looks at, so short inputs reach them.
const PORTS: [u16; 24] = [
    22, 23, 53, 80, 177, 443, 500, 512, 513, 514, 1194, 1701, 1723, 3389, 4500, 5500, 5900, 5938,
    6568, 7070, 9001, 41641, 51820, 0,
];

/// The built-in product catalogue, built once per process (building it per input would be most
/// of the work of a pipeline target).
pub fn catalogue() -> Arc<Catalogue> {
    static C: OnceLock<Arc<Catalogue>> = OnceLock::new();
    Arc::clone(C.get_or_init(|| Arc::new(Catalogue::builtin())))
}

/// The standard cascade with the built-in catalogue, built once per process.
pub fn cascade() -> &'static Cascade {
    static C: OnceLock<Cascade> = OnceLock::new();
    C.get_or_init(|| Cascade::with_shared_catalogue(catalogue()))
}

/// A pipeline as `Pipeline::new` builds it, sharing the catalogue built once.
pub fn pipeline<'s>(cfg: &Config, link: LinkType, sink: &'s mut VecSink) -> Pipeline<'s> {
    Pipeline::with_cascade(cfg, link, Cascade::with_shared_catalogue(catalogue()), sink)
}

/// Splits `data` into chunks, each introduced by a 2-byte prefix: the top bit is the direction
/// (set: responder to initiator), the rest the length (cut at [`CHUNK_MAX`] and at the end of
/// the input).
pub fn chunks(mut data: &[u8]) -> Vec<(Dir, &[u8])> {
    let mut out = Vec::new();
    while let [hi, lo, rest @ ..] = data {
        let dir = if hi & 0x80 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let len = usize::from(u16::from_be_bytes([hi & 0x7f, *lo])).min(CHUNK_MAX);
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push((dir, chunk));
        data = tail;
        if out.len() == PACKETS_MAX {
            break;
        }
    }
    out
}

/// A flow between two fixed documentation addresses: `proto`, the ports, and its packets.
pub struct FlowInput<'a> {
    /// IP protocol number.
    pub proto: u8,
    /// Initiator's port.
    pub client_port: u16,
    /// Responder's port.
    pub server_port: u16,
    /// Payloads in order, with their direction.
    pub packets: Vec<(Dir, &'a [u8])>,
}

impl<'a> FlowInput<'a> {
    /// Reads the layout: protocol selector, 2-byte server and client port selectors (a value
    /// below 0x8000 picks a known port, above it is the port itself minus 0x8000 shifted), then
    /// [`chunks`].
    pub fn parse(data: &'a [u8]) -> Option<FlowInput<'a>> {
        let (&[p, s0, s1, c0, c1], rest) = data.split_first_chunk::<5>()?;
        Some(FlowInput {
            proto: PROTOS.get(usize::from(p) % PROTOS.len()).copied()?,
            server_port: port(s0, s1),
            client_port: port(c0, c1),
            packets: chunks(rest),
        })
    }

    /// Runs the cascade after each packet, as the pipeline does, then lets it conclude. Returns
    /// the final verdict.
    pub fn run(&self, cascade: &Cascade) -> Option<Verdict> {
        let client = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), self.client_port);
        let server = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)),
            self.server_port,
        );
        let mut payloads = Payloads::default();
        let mut pkts = [0u64; 2];
        let mut bytes = [0u64; 2];
        let mut seq = [1000u32, 5000];
        let mut hs = Handshake::default();
        if self.proto == ip_proto::TCP {
            hs.syn = Some(Ts::from_secs(1));
            hs.syn_ack = Some(Ts::from_secs(1).plus(1_000_000));
            hs.ack = Some(Ts::from_secs(1).plus(2_000_000));
            hs.mss = [Some(1460), Some(1460)];
            pkts = [2, 1];
        }
        let mut best = None;
        for (n, (dir, payload)) in self.packets.iter().enumerate() {
            let d = dir.idx();
            let (src, dst) = match dir {
                Dir::ToServer => (client, server),
                Dir::ToClient => (server, client),
            };
            if let (Some(p), Some(b)) = (pkts.get_mut(d), bytes.get_mut(d)) {
                *p += 1;
                *b += payload.len() as u64 + 40;
            }
            let tcp = (self.proto == ip_proto::TCP).then(|| {
                let s = seq.get(d).copied().unwrap_or(0);
                TcpInfo {
                    seq: s,
                    ack: 0,
                    flags: 0x18,
                    window: 512,
                    mss: None,
                    wscale: None,
                }
            });
            if let Some(side) = payloads.dirs.get_mut(d) {
                match &tcp {
                    Some(t) => side.push_tcp(t.seq, payload),
                    None => side.push_datagram(payload, payload.len()),
                }
            }
            if let Some(s) = seq.get_mut(d) {
                *s = s.wrapping_add(payload.len() as u32);
            }
            let is_icmp = self.proto == ip_proto::ICMP || self.proto == ip_proto::ICMPV6;
            let packet = Packet {
                ts: Ts::from_secs(2).plus(n as u64 * 1_000_000),
                vlan: 0,
                src: src.ip(),
                dst: dst.ip(),
                proto: self.proto,
                ttl: 64,
                src_port: src.port(),
                dst_port: dst.port(),
                tcp,
                icmp: is_icmp.then(|| (payload.first().copied().unwrap_or(8), 0)),
                ah_spi: None,
                payload,
                wire_len: payload.len() as u32 + 40,
                payload_wire_len: payload.len() as u32,
                tunnel: None,
            };
            // A fresh memo per view: the payload grew since the last one.
            let memo = HandshakeMemo::default();
            let view = view(
                self.proto,
                client,
                server,
                &payloads,
                pkts,
                bytes,
                (&hs, &memo),
                Some(&packet),
            );
            if cascade.inspect(&view, &mut best) {
                return best;
            }
        }
        let memo = HandshakeMemo::default();
        let view = view(
            self.proto,
            client,
            server,
            &payloads,
            pkts,
            bytes,
            (&hs, &memo),
            None,
        );
        cascade.conclude(&view, &mut best);
        best
    }
}

#[allow(clippy::too_many_arguments)]
fn view<'a>(
    proto: u8,
    client: SocketAddr,
    server: SocketAddr,
    payloads: &'a Payloads,
    pkts: [u64; 2],
    bytes: [u64; 2],
    (hs, memo): (&'a Handshake, &'a HandshakeMemo),
    packet: Option<&'a Packet<'a>>,
) -> FlowView<'a> {
    let [up, down] = &payloads.dirs;
    let ([pkts_up, pkts_down], [bytes_up, bytes_down]) = (pkts, bytes);
    FlowView {
        proto,
        client,
        server,
        to_server: Side::new(Some(up), pkts_up, bytes_up),
        to_client: Side::new(Some(down), pkts_down, bytes_down),
        tcp: hs,
        packet,
        server_name: None,
        memo,
    }
}

fn port(hi: u8, lo: u8) -> u16 {
    let v = u16::from_be_bytes([hi, lo]);
    if v < 0x8000 {
        PORTS
            .get(usize::from(v) % PORTS.len())
            .copied()
            .unwrap_or(0)
    } else {
        v - 0x8000
    }
}

/// Frames for the pipeline: [`chunks`] of `data` (the direction bit is ignored), each one frame,
/// 10 ms apart.
pub fn frames(data: &[u8]) -> Vec<Frame<'_>> {
    chunks(data)
        .into_iter()
        .enumerate()
        .map(|(i, (_, bytes))| Frame {
            ts: Ts::from_secs(1_709_283_600).plus(i as u64 * 10_000_000),
            data: bytes,
            wire_len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        })
        .collect()
}

/// A scratch directory for targets that must go through files (config, pcap), one per process.
pub fn scratch() -> &'static std::path::Path {
    static D: OnceLock<std::path::PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("remotewatch-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        d
    })
}
