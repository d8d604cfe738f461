//! Handshake messages of one flow, parsed once per new bytes and shared by every detector.
//!
//! Several detectors read the same ClientHello, ServerHello and certificate (the product
//! catalogue, Tor, Psiphon, TLS-in-TLS, the JA4 enricher), and the cascade runs after every
//! payload packet while a flow is under inspection. Parsing on each call made TLS parsing the
//! largest share of the sensor's time. A flow's kept prefix only ever grows (`flow::DirPayload`
//! appends), so a parse of a direction is valid for as long as that direction's kept length is
//! unchanged: [`HandshakeMemo::sync`] forgets exactly the parses whose input grew, and each
//! message is parsed at most once per growth, on first demand.

use super::{Certificate, ClientHello, Parse, ServerHello};
use crate::detect::catalogue::ProductMemo;
use crate::detect::FlowView;
use std::cell::{OnceCell, RefCell, RefMut};

/// One memoised parse: its input's size when parsed, and the result.
#[derive(Debug, Default)]
struct Slot<T> {
    key: (usize, usize),
    cell: OnceCell<Parse<T>>,
}

impl<T> Slot<T> {
    /// Forgets the parse when its input changed size, unless it succeeded: every parser reads
    /// its message from the start of the prefix, so bytes appended after a whole message cannot
    /// change what it says.
    fn sync(&mut self, key: (usize, usize)) {
        if self.key != key && !matches!(self.cell.get(), Some(Parse::Done(_))) {
            self.key = key;
            self.cell = OnceCell::new();
        }
    }

    fn get(&self, parse: impl FnOnce() -> Parse<T>) -> Parse<&T> {
        self.cell.get_or_init(parse).as_ref()
    }
}

/// What the detectors see of a flow's kept payload: each direction's kept bytes and segments,
/// and whether it carried an IPsec AH (the counters aside, everything a detector reads that a
/// packet can change).
pub type KeptState = [(usize, usize, bool); 2];

/// The parsed handshake messages of one flow (see the module documentation), and the kept state
/// the cascade last ran on for each packet direction.
#[derive(Debug, Default)]
pub struct HandshakeMemo {
    client_hello: Slot<ClientHello>,
    quic_hello: Slot<ClientHello>,
    server_hello: Slot<ServerHello>,
    certificate: Slot<Certificate>,
    /// Not a parse: what the catalogue detector found on the flow's earlier packets.
    product: RefCell<ProductMemo>,
    last_run: [Option<KeptState>; 2],
}

impl HandshakeMemo {
    /// Forgets every parse whose input grew since: `to_server` and `to_client` are each
    /// direction's kept bytes and recorded segments.
    pub fn sync(&mut self, to_server: (usize, usize), to_client: (usize, usize)) {
        self.client_hello.sync(to_server);
        self.quic_hello.sync(to_server);
        self.server_hello.sync(to_client);
        self.certificate.sync(to_client);
    }

    /// Records that the cascade runs on a packet in direction `dir` (0 to the server, 1 to the
    /// client) with the flow's payload kept as `state`; false when it already ran on a packet in
    /// that direction with exactly this state.
    pub fn fresh(&mut self, dir: usize, state: KeptState) -> bool {
        match self.last_run.get_mut(dir) {
            Some(last) if *last == Some(state) => false,
            Some(last) => {
                *last = Some(state);
                true
            }
            None => true,
        }
    }

    /// Forgets every parse (the memo is about to serve another flow).
    pub fn clear(&mut self) {
        *self = HandshakeMemo::default();
    }
}

impl<'a> FlowView<'a> {
    /// The ClientHello opening the client→server TCP stream ([`super::client_hello`]).
    pub(crate) fn client_hello(&self) -> Parse<&'a ClientHello> {
        let data = self.to_server.data();
        self.memo.client_hello.get(|| super::client_hello(data))
    }

    /// The ClientHello in the client's first QUIC Initials ([`super::quic_initials`]).
    pub(crate) fn quic_hello(&self) -> Parse<&'a ClientHello> {
        let side = self.to_server;
        self.memo.quic_hello.get(|| {
            super::quic_initials((0..side.segments().len()).filter_map(|i| side.segment(i)))
        })
    }

    /// The ServerHello opening the server→client TCP stream ([`super::server_hello`]).
    pub(crate) fn server_hello(&self) -> Parse<&'a ServerHello> {
        let data = self.to_client.data();
        self.memo.server_hello.get(|| super::server_hello(data))
    }

    /// What the catalogue detector found on this flow's earlier packets.
    pub(crate) fn product_memo(&self) -> RefMut<'a, ProductMemo> {
        self.memo.product.borrow_mut()
    }

    /// The server's leaf certificate in the server→client TCP stream ([`super::certificate`]).
    pub(crate) fn certificate(&self) -> Parse<&'a Certificate> {
        let data = self.to_client.data();
        self.memo.certificate.get(|| super::certificate(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ip_proto;
    use crate::detect::Side;
    use crate::flow::{Handshake, Payloads};

    fn view<'a>(kept: &'a Payloads, hs: &'a Handshake, memo: &'a HandshakeMemo) -> FlowView<'a> {
        let addr = "192.0.2.1:40000".parse().unwrap();
        FlowView {
            proto: ip_proto::TCP,
            client: addr,
            server: addr,
            to_server: Side::new(Some(&kept.dirs[0]), 1, 1),
            to_client: Side::new(Some(&kept.dirs[1]), 1, 1),
            tcp: hs,
            packet: None,
            server_name: None,
            memo,
        }
    }

    fn lens(kept: &Payloads, d: usize) -> (usize, usize) {
        (kept.dirs[d].data().len(), kept.dirs[d].segments().len())
    }

    /// A hello cut across two segments is retried when the second arrives, and a parse that
    /// succeeded survives later bytes; growth of the other direction forgets nothing of this one.
    #[test]
    fn parses_are_redone_only_when_their_direction_grew() {
        let stream = super::super::testdata::ja4_example_stream();
        let (head, tail) = stream.split_at(40);
        let hs = Handshake::default();
        let mut kept = Payloads::default();
        let mut memo = HandshakeMemo::default();
        kept.dirs[0].push_tcp(1, head);
        memo.sync(lens(&kept, 0), lens(&kept, 1));
        assert!(view(&kept, &hs, &memo).client_hello().is_incomplete());
        // Same lengths: the memo answers without looking at the bytes again.
        memo.sync(lens(&kept, 0), lens(&kept, 1));
        assert!(view(&kept, &hs, &memo).client_hello().is_incomplete());
        kept.dirs[0].push_tcp(41, tail);
        kept.dirs[1].push_tcp(1, b"\x16\x03\x03");
        memo.sync(lens(&kept, 0), lens(&kept, 1));
        let v = view(&kept, &hs, &memo);
        let sni = v.client_hello().done().and_then(|h| h.sni.clone());
        assert!(sni.is_some());
        assert!(v.server_hello().is_incomplete());
        kept.dirs[0].push_tcp(41 + tail.len() as u32, b"\x17\x03\x03\x00\x01x");
        memo.sync(lens(&kept, 0), lens(&kept, 1));
        let v = view(&kept, &hs, &memo);
        assert_eq!(v.client_hello().done().and_then(|h| h.sni.clone()), sni);
        // The server direction did not grow: its (cut) parse stands.
        assert!(v.server_hello().is_incomplete());
        memo.clear();
        assert!(memo.client_hello.cell.get().is_none());
    }

    /// A packet is stale only when its own direction already ran on exactly this kept state.
    #[test]
    fn fresh_tracks_each_direction_and_every_part_of_the_kept_state() {
        let mut memo = HandshakeMemo::default();
        let s = [(10, 1, false), (0, 0, false)];
        assert!(memo.fresh(0, s));
        assert!(!memo.fresh(0, s));
        assert!(memo.fresh(1, s), "the other direction has not run on it");
        assert!(!memo.fresh(1, s));
        assert!(memo.fresh(0, [(11, 1, false), (0, 0, false)]));
        assert!(memo.fresh(0, [(11, 2, false), (0, 0, false)]));
        assert!(memo.fresh(0, [(11, 2, false), (0, 0, true)]));
        assert!(!memo.fresh(0, [(11, 2, false), (0, 0, true)]));
    }
}
