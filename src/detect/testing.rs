//! Builds [`FlowView`]s from byte strings for detector unit tests.

use super::{FlowView, HandshakeMemo, Side};
use crate::decode::ip_proto;
use crate::flow::{Dir, Handshake, Payloads};
use crate::ts::Ts;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A flow under construction: payloads are appended as the wire would deliver them.
pub(crate) struct ViewBuilder {
    proto: u8,
    client: SocketAddr,
    server: SocketAddr,
    payloads: Payloads,
    pkts: [u64; 2],
    bytes: [u64; 2],
    seq: [u32; 2],
    hs: Handshake,
    ah_spi: [Option<u32>; 2],
    server_name: Option<String>,
    memo: HandshakeMemo,
}

// `to_server`/`to_client` read as "a packet to the server/client", like the wire.
#[allow(clippy::wrong_self_convention, dead_code)]
impl ViewBuilder {
    fn new(proto: u8, client_port: u16, server_port: u16) -> ViewBuilder {
        ViewBuilder {
            proto,
            client: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), client_port),
            server: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)), server_port),
            payloads: Payloads::default(),
            pkts: [0; 2],
            bytes: [0; 2],
            seq: [1000, 5000],
            hs: Handshake::default(),
            ah_spi: [None; 2],
            server_name: None,
            memo: HandshakeMemo::default(),
        }
    }

    /// A TCP flow between the two ports, handshake seen.
    pub(crate) fn tcp(client_port: u16, server_port: u16) -> ViewBuilder {
        let mut b = ViewBuilder::new(ip_proto::TCP, client_port, server_port);
        b.hs.syn = Some(Ts::from_secs(1));
        b.hs.syn_ack = Some(Ts::from_secs(1).plus(1_000_000));
        b.hs.ack = Some(Ts::from_secs(1).plus(2_000_000));
        b.pkts = [2, 1];
        b
    }

    /// A UDP flow between the two ports.
    pub(crate) fn udp(client_port: u16, server_port: u16) -> ViewBuilder {
        ViewBuilder::new(ip_proto::UDP, client_port, server_port)
    }

    /// A flow of a port-less IP protocol (ESP, GRE, …).
    pub(crate) fn ip(proto: u8) -> ViewBuilder {
        ViewBuilder::new(proto, 0, 0)
    }

    /// Appends one packet from the client.
    pub(crate) fn to_server(self, payload: &[u8]) -> ViewBuilder {
        self.push(Dir::ToServer, payload)
    }

    /// Appends one packet from the server.
    pub(crate) fn to_client(self, payload: &[u8]) -> ViewBuilder {
        self.push(Dir::ToClient, payload)
    }

    fn push(mut self, dir: Dir, payload: &[u8]) -> ViewBuilder {
        let d = dir.idx();
        self.memo.clear();
        self.pkts[d] += 1;
        self.bytes[d] += payload.len() as u64 + 40;
        let side = &mut self.payloads.dirs[d];
        if self.proto == ip_proto::TCP {
            side.push_tcp(self.seq[d], payload);
            self.seq[d] = self.seq[d].wrapping_add(payload.len() as u32);
        } else {
            side.push_datagram(payload, payload.len());
        }
        self
    }

    /// For no-panic properties: `lead` (the protocol's own first bytes, or nothing) then `a` to
    /// the server, `down` back, then `tail` to the server.
    pub(crate) fn noise(self, lead: &[u8], a: &[u8], down: &[u8], tail: &[u8]) -> ViewBuilder {
        let mut up = lead.to_vec();
        up.extend_from_slice(a);
        self.to_server(&up).to_client(down).to_server(tail)
    }

    /// Records an IPsec Authentication Header SPI seen in direction `dir`.
    pub(crate) fn ah(mut self, dir: Dir, spi: u32) -> ViewBuilder {
        self.ah_spi[dir.idx()] = Some(spi);
        self.pkts[dir.idx()] += 1;
        self
    }

    /// Sets the DNS name the responder's address was resolved from.
    pub(crate) fn named(mut self, name: &str) -> ViewBuilder {
        self.server_name = Some(name.to_owned());
        self
    }

    /// The view detectors see (no current packet, as in `conclude`).
    pub(crate) fn view(&self) -> FlowView<'_> {
        let side = |d: usize| {
            let mut s = Side::new(Some(&self.payloads.dirs[d]), self.pkts[d], self.bytes[d]);
            s.ah_spi = self.ah_spi[d];
            s
        };
        FlowView {
            proto: self.proto,
            client: self.client,
            server: self.server,
            to_server: side(0),
            to_client: side(1),
            tcp: &self.hs,
            packet: None,
            server_name: self.server_name.as_deref(),
            memo: &self.memo,
        }
    }
}

/// Up to six datagrams of up to 600 arbitrary bytes: one direction of a UDP exchange for
/// property tests.
pub(crate) fn datagrams() -> impl proptest::strategy::Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(
        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        0..6,
    )
}

/// A UDP flow between the ports carrying `to_server` then `to_client`.
pub(crate) fn udp_exchange(
    client_port: u16,
    server_port: u16,
    to_server: &[Vec<u8>],
    to_client: &[Vec<u8>],
) -> ViewBuilder {
    let b = to_server
        .iter()
        .fold(ViewBuilder::udp(client_port, server_port), |b, p| {
            b.to_server(p)
        });
    to_client.iter().fold(b, |b, p| b.to_client(p))
}

/// Up to `max - 1` arbitrary bytes.
pub(crate) fn bytes(max: usize) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..max)
}
