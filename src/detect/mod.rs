//! Detect: recognise remote-access, VPN and anonymizer protocols in a flow's first packets.
//!
//! Each protocol is one file implementing [`Detector`]. A detector is stateless: it reads the
//! [`FlowView`] (both directions' first payload bytes, segment sizes, handshake facts) and returns
//! a [`Verdict`] with the evidence that proves it, or nothing. The pipeline calls the cascade on
//! every payload-bearing packet while the flow is under inspection, keeps the strongest verdict,
//! and stops inspecting as soon as a verdict is [`Verdict::complete`] or the inspection budget is
//! spent; [`Detector::conclude`] then gets a last look (port hints live there). Handshake
//! messages several detectors read (ClientHello, ServerHello, certificate, QUIC Initials) are
//! parsed once per flow and per growth of the kept bytes, through `FlowView::client_hello`
//! and its siblings (`tls/memo.rs`), never by each detector on each call.
//!
//! Order of the cascade ([`Cascade::standard`]): detectors whose gate is a fixed IP protocol
//! number (ESP, AH, GRE) first, then fixed leading magic or banners that cost one comparison
//! (SSH, RFB, TPKT, PPTP magic), then structured datagram formats whose gate is a size or header
//! shape (WireGuard, IKE, OpenVPN, L2TP, XDMCP, RDP-UDP), then the product catalogue (TLS/QUIC
//! names, certificates, DNS names and product byte patterns; it parses TLS, so it comes after
//! the one-comparison gates), then names and payloads inside other protocols (Tor's and
//! Psiphon's TLS names, WebSocket tunnels, DNS and ICMP tunnels), then the size and entropy
//! heuristics (TLS inside TLS, fully encrypted proxies), then the looser formats (telnet, rsh).
//! A stronger verdict from a later detector still replaces a weaker one: order only decides who
//! answers first when two are equally sure.
//!
//! After the detectors, the cascade runs its [`Enricher`]s on the best verdict: steps that add
//! what a protocol detector cannot know, without replacing its verdict. The standard one names
//! the VPN brand (`provider`) of a generic tunnel (WireGuard, OpenVPN, IPsec, …) whose server
//! address was resolved from a name the product catalogue lists for that brand; a second adds
//! the initiator's TCP SYN fingerprint and what a reduced MSS is consistent with (`tcpfp`).
//!
//! Failure policy: detectors read wire bytes only through bounds-checked accessors (`get`), never
//! allocate on the miss path, and a port number alone never yields more than
//! [`Confidence::Port`].

#[cfg(test)]
mod anon_corpus_tests;
#[cfg(test)]
mod anon_testdata;
pub mod catalogue;
pub(crate) mod dns;
mod dnstunnel;
mod encrypted;
mod icmptunnel;
mod ipsec;
mod l2tp;
mod openvpn;
mod ports;
mod pptp;
mod psiphon;
mod rdp;
mod rsh;
mod ssh;
mod tcpfp;
mod telnet;
mod tls;
mod tlsfp;
mod tlsintls;
mod tor;
mod vnc;
mod websocket;
mod wireguard;
mod xdmcp;

#[cfg(test)]
pub(crate) mod testing;

use crate::decode::Packet;
use crate::flow::{DirPayload, Handshake, Segment};
use catalogue::Catalogue;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
pub use tls::{HandshakeMemo, KeptState};

/// What kind of activity an alert reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The endpoint is controlled, or controls a host, through a remote-access protocol.
    RemoteAccess,
    /// The endpoint carries a VPN or other tunnel.
    VpnTunnel,
    /// The endpoint uses an anonymity network or circumvention proxy.
    Anonymizer,
    /// A contractor's traffic leaves through (or goes to) a known VPN or proxy exit.
    VpnExit,
    /// A contractor's traffic leaves through a Tor exit relay.
    TorExit,
    /// A contractor's egress is a hosting or datacenter address, not a home line.
    HostingEgress,
    /// A contractor's egress is located outside the claimed residence.
    GeoMismatch,
    /// Two locations of one contractor closer in time than travel allows.
    ImpossibleTravel,
    /// Several contractors behind one egress, or one endpoint driven from several places.
    LaptopFarm,
    /// A contractor's working day does not fit the claimed time zone.
    OffHours,
    /// A remote-control or VPN session alive for a day or more.
    ContinuousSession,
    /// The TCP round trip contradicts the distance to the claimed residence.
    RttImplausible,
    /// A contractor's combined risk score crossed the alert threshold.
    ContractorRisk,
}

impl Kind {
    /// Every kind, in a fixed order for summaries and metric pre-registration.
    pub const ALL: [Kind; 13] = [
        Kind::RemoteAccess,
        Kind::VpnTunnel,
        Kind::Anonymizer,
        Kind::VpnExit,
        Kind::TorExit,
        Kind::HostingEgress,
        Kind::GeoMismatch,
        Kind::ImpossibleTravel,
        Kind::LaptopFarm,
        Kind::OffHours,
        Kind::ContinuousSession,
        Kind::RttImplausible,
        Kind::ContractorRisk,
    ];

    /// The kinds a traffic detector reports (the rest come from intel and identity checks).
    pub const DETECTED: [Kind; 3] = [Kind::RemoteAccess, Kind::VpnTunnel, Kind::Anonymizer];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RemoteAccess => "remote_access",
            Kind::VpnTunnel => "vpn_tunnel",
            Kind::Anonymizer => "anonymizer",
            Kind::VpnExit => "vpn_exit",
            Kind::TorExit => "tor_exit",
            Kind::HostingEgress => "hosting_egress",
            Kind::GeoMismatch => "geo_mismatch",
            Kind::ImpossibleTravel => "impossible_travel",
            Kind::LaptopFarm => "laptop_farm",
            Kind::OffHours => "off_hours",
            Kind::ContinuousSession => "continuous_session",
            Kind::RttImplausible => "rtt_implausible",
            Kind::ContractorRisk => "contractor_risk",
        }
    }

    /// The kind named `s` (its [`Kind::as_str`]).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How sure a detector is. Ordered: a higher value replaces a lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Only a port number matched. Never worth more than a low-severity alert.
    Port,
    /// A statistical or shape guess (sizes, entropy), not a parsed message.
    Heuristic,
    /// A protocol message parsed from one side.
    Signature,
    /// Messages from both sides parsed and consistent with each other.
    Handshake,
}

impl Confidence {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Port => "port",
            Confidence::Heuristic => "heuristic",
            Confidence::Signature => "signature",
            Confidence::Handshake => "handshake",
        }
    }
}

/// A detector's finding on one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Kind of activity.
    pub kind: Kind,
    /// Protocol or product family, lower-case (`rdp`, `wireguard`, …).
    pub family: Cow<'static, str>,
    /// A branded product or provider, when known.
    pub provider: Option<Cow<'static, str>>,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// Human-readable facts that matched, most decisive first.
    pub evidence: Vec<String>,
    /// Nothing more would change this verdict: report it now and stop inspecting the flow.
    pub complete: bool,
    /// A country the client revealed about itself (ISO 3166-1 alpha-2), e.g. from its RDP
    /// keyboard layout: the alert stage compares it with the contractor's claimed residence.
    pub client_country: Option<&'static str>,
}

impl Verdict {
    /// A verdict with no evidence yet.
    pub fn new(kind: Kind, family: &'static str, confidence: Confidence) -> Verdict {
        Verdict {
            kind,
            family: Cow::Borrowed(family),
            provider: None,
            confidence,
            evidence: Vec::new(),
            complete: false,
            client_country: None,
        }
    }

    /// Adds one fact.
    pub fn with(mut self, fact: impl Into<String>) -> Verdict {
        self.evidence.push(fact.into());
        self
    }

    /// Marks the verdict complete.
    pub fn done(mut self) -> Verdict {
        self.complete = true;
        self
    }
}

/// One direction of a flow as detectors see it.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    kept: Option<&'a DirPayload>,
    /// Packets seen in this direction (with or without payload).
    pub pkts: u64,
    /// Bytes on the wire in this direction.
    pub bytes: u64,
    /// SPI of the first IPsec Authentication Header seen in this direction.
    pub ah_spi: Option<u32>,
    /// IP TTL or IPv6 hop limit of the first packet seen in this direction (0 until seen): the
    /// initiator's SYN when the TCP handshake was seen.
    pub ttl: u8,
}

impl<'a> Side<'a> {
    /// A side with kept payload `kept` and the given counters.
    pub fn new(kept: Option<&'a DirPayload>, pkts: u64, bytes: u64) -> Side<'a> {
        Side {
            kept,
            pkts,
            bytes,
            ah_spi: None,
            ttl: 0,
        }
    }

    /// The kept bytes: the in-order TCP stream prefix, or datagram prefixes back to back.
    pub fn data(&self) -> &'a [u8] {
        self.kept.map(DirPayload::data).unwrap_or_default()
    }

    /// Recorded segments (TCP) or datagrams, in arrival order.
    pub fn segments(&self) -> &'a [Segment] {
        self.kept.map(DirPayload::segments).unwrap_or_default()
    }

    /// The kept bytes of segment or datagram `i`.
    pub fn segment(&self, i: usize) -> Option<&'a [u8]> {
        self.kept?.segment(i)
    }

    /// The first segment or datagram.
    pub fn first(&self) -> Option<&'a [u8]> {
        self.segment(0)
    }

    /// Payload length on the wire of segment or datagram `i`.
    pub fn wire_len(&self, i: usize) -> Option<usize> {
        self.segments().get(i).map(|s| usize::from(s.wire_len))
    }

    /// Payload-bearing packets seen in this direction while inspecting.
    pub fn payload_pkts(&self) -> u32 {
        self.kept.map_or(0, |k| k.payload_pkts)
    }
}

/// A flow as detectors see it.
#[derive(Clone, Copy, Debug)]
pub struct FlowView<'a> {
    /// IP protocol number.
    pub proto: u8,
    /// The initiator.
    pub client: SocketAddr,
    /// The responder.
    pub server: SocketAddr,
    /// Initiator → responder.
    pub to_server: Side<'a>,
    /// Responder → initiator.
    pub to_client: Side<'a>,
    /// TCP handshake facts.
    pub tcp: &'a Handshake,
    /// The packet that triggered this call (`None` in [`Detector::conclude`]).
    pub packet: Option<&'a Packet<'a>>,
    /// The DNS name the responder's address was resolved from, when the sensor saw the answer
    /// before the flow started (lower case, no trailing dot).
    pub server_name: Option<&'a str>,
    /// The flow's handshake messages parsed so far, shared by every detector (which read them
    /// through the view's accessors). The pipeline keeps one per inspected flow and syncs it as
    /// the kept bytes grow; a one-off view (a test, a fuzz target) passes a fresh
    /// `HandshakeMemo::default()`.
    pub memo: &'a HandshakeMemo,
}

impl FlowView<'_> {
    /// Whether either end uses `port` (the responder's port is the usual service port, but a
    /// capture that starts mid-flow may have guessed the roles wrong).
    pub fn either_port(&self, port: u16) -> bool {
        self.server.port() == port || self.client.port() == port
    }
}

/// One protocol recogniser.
pub trait Detector: Send + Sync {
    /// Short name for logs.
    fn name(&self) -> &'static str;

    /// Looks at the flow after a new payload-bearing packet; `None` when it is not this protocol
    /// (or not yet recognisable).
    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict>;

    /// A last look when inspection ends without a complete verdict.
    fn conclude(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }

    /// Whether [`Detector::inspect`] reads the triggering packet's own bytes
    /// ([`FlowView::packet`]), not only the kept payload, its counters and the packet's
    /// direction. Other detectors are not called again on a packet that left the flow's kept
    /// payload as it was when they last ran on a packet in the same direction: they would see
    /// what they saw then, with packet counts that only ever make detectors stricter.
    fn reads_each_packet(&self) -> bool {
        false
    }
}

/// A step run on the cascade's best verdict after the detectors: it may add facts (a provider,
/// evidence) that the detector that found the protocol cannot know. It must be idempotent: it
/// runs after every inspection of the flow.
pub trait Enricher: Send + Sync {
    /// Adds to `verdict` what this step knows about `view`.
    fn enrich(&self, view: &FlowView<'_>, verdict: &mut Verdict);
}

/// The ordered set of detectors the pipeline runs, and the enrichers run on the best verdict.
pub struct Cascade {
    detectors: Vec<Box<dyn Detector>>,
    enrichers: Vec<Box<dyn Enricher>>,
}

impl Cascade {
    /// Every built-in detector with the built-in product catalogue, in the order documented at
    /// the top of this module.
    pub fn standard() -> Cascade {
        Cascade::with_catalogue(Catalogue::builtin())
    }

    /// Every built-in detector, with `catalogue` (e.g. from [`Catalogue::load`]) for product
    /// recognition and VPN provider names.
    pub fn with_catalogue(catalogue: Catalogue) -> Cascade {
        Cascade::with_shared_catalogue(Arc::new(catalogue))
    }

    /// As [`Cascade::with_catalogue`], sharing a catalogue already loaded.
    pub fn with_shared_catalogue(cat: Arc<Catalogue>) -> Cascade {
        Cascade {
            detectors: vec![
                Box::new(ipsec::Ipsec),
                Box::new(pptp::Pptp),
                Box::new(ssh::Ssh),
                Box::new(vnc::Vnc),
                Box::new(rdp::Rdp),
                Box::new(wireguard::WireGuard),
                Box::new(openvpn::OpenVpn),
                Box::new(l2tp::L2tp),
                Box::new(xdmcp::Xdmcp),
                Box::new(catalogue::ProductDetector::new(Arc::clone(&cat))),
                Box::new(tor::Tor),
                Box::new(psiphon::Psiphon),
                Box::new(websocket::WebSocketTunnel),
                Box::new(dnstunnel::DnsTunnel),
                Box::new(icmptunnel::IcmpTunnel),
                Box::new(tlsintls::TlsInTls),
                Box::new(encrypted::FullyEncrypted),
                Box::new(telnet::Telnet),
                Box::new(rsh::Rsh),
                Box::new(ports::PortHints),
            ],
            enrichers: vec![
                Box::new(catalogue::ProviderEnricher::new(cat)),
                Box::new(tlsfp::TlsFingerprint),
                Box::new(tcpfp::SynFingerprint),
            ],
        }
    }

    /// The detectors' names, in cascade order.
    pub fn detector_names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// This cascade with only the detectors `keep` accepts by name (benches, diagnosis).
    pub fn retain(mut self, keep: impl Fn(&str) -> bool) -> Cascade {
        self.detectors.retain(|d| keep(d.name()));
        self
    }

    /// A cascade of exactly these detectors and no enricher (tests, benches).
    pub fn of(detectors: Vec<Box<dyn Detector>>) -> Cascade {
        Cascade {
            detectors,
            enrichers: Vec::new(),
        }
    }

    /// Runs every detector on `view`, replacing `best` with any stronger verdict, then the
    /// enrichers on `best`. Returns true when `best` is complete.
    pub fn inspect(&self, view: &FlowView<'_>, best: &mut Option<Verdict>) -> bool {
        self.inspect_packet(view, best, true)
    }

    /// As [`Cascade::inspect`] after a payload packet; `fresh` is false when the packet left
    /// the kept payload as it was when the cascade last ran on a packet in the same direction,
    /// and then only the detectors that [read each packet](Detector::reads_each_packet) run.
    pub fn inspect_packet(
        &self,
        view: &FlowView<'_>,
        best: &mut Option<Verdict>,
        fresh: bool,
    ) -> bool {
        let mut complete = false;
        for d in &self.detectors {
            if !fresh && !d.reads_each_packet() {
                continue;
            }
            if let Some(v) = d.inspect(view) {
                complete = v.complete;
                if stronger(&v, best.as_ref()) {
                    *best = Some(v);
                }
                if complete {
                    break;
                }
            }
        }
        self.enrich(view, best);
        complete
    }

    /// Gives every detector its last look, replacing `best` with any stronger verdict, then
    /// runs the enrichers on `best`.
    pub fn conclude(&self, view: &FlowView<'_>, best: &mut Option<Verdict>) {
        for d in &self.detectors {
            if let Some(v) = d.conclude(view) {
                if stronger(&v, best.as_ref()) {
                    *best = Some(v);
                }
            }
        }
        self.enrich(view, best);
    }

    fn enrich(&self, view: &FlowView<'_>, best: &mut Option<Verdict>) {
        if let Some(v) = best.as_mut() {
            for e in &self.enrichers {
                e.enrich(view, v);
            }
        }
    }
}

/// Whether `v` should replace `best`: higher confidence wins, then completeness, then more
/// evidence. A verdict of the same kind and family that is at least as strong also replaces it,
/// so evidence that grows with the flow (packet counts, a later message) stays current.
fn stronger(v: &Verdict, best: Option<&Verdict>) -> bool {
    let Some(b) = best else {
        return true;
    };
    let rank = |x: &Verdict| (x.confidence, x.complete, x.evidence.len());
    rank(v) > rank(b)
        || (v.kind == b.kind
            && v.family == b.family
            && (v.confidence, v.complete) >= (b.confidence, b.complete))
}

/// The server name a TLS ClientHello at the start of a client→server TCP stream asks for
/// (RFC 6066 §3), lower-cased; `None` when the stream does not open with a whole ClientHello or
/// it names no valid host.
pub fn server_name_indication(stream: &[u8]) -> Option<String> {
    tls::client_hello(stream).done()?.sni
}

/// Reads a big-endian u16 at `off`.
pub(crate) fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Reads a big-endian u32 at `off`.
pub(crate) fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

/// Reads a little-endian u16 at `off`.
pub(crate) fn le16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

/// Reads a little-endian u32 at `off`.
pub(crate) fn le32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

/// Printable rendering of untrusted bytes for evidence: ASCII graphic characters and spaces kept,
/// everything else escaped, cut at `max` input bytes.
pub(crate) fn printable(b: &[u8], max: usize) -> String {
    let cut = b.get(..b.len().min(max)).unwrap_or_default();
    let mut s = String::with_capacity(cut.len());
    for &c in cut {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(char::from(c));
        } else {
            s.push_str("\\x");
            crate::hex::push(&mut s, &[c]);
        }
    }
    if b.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod cascade_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its calls; reads each packet when `each` is set.
    struct Counting {
        each: bool,
        calls: AtomicUsize,
    }

    impl Detector for Counting {
        fn name(&self) -> &'static str {
            if self.each {
                "each"
            } else {
                "kept"
            }
        }

        fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            None
        }

        fn reads_each_packet(&self) -> bool {
            self.each
        }
    }

    #[test]
    fn a_stale_packet_reaches_only_detectors_that_read_each_packet() {
        let kept = Arc::new(Counting {
            each: false,
            calls: AtomicUsize::new(0),
        });
        let each = Arc::new(Counting {
            each: true,
            calls: AtomicUsize::new(0),
        });
        struct Shared(Arc<Counting>);
        impl Detector for Shared {
            fn name(&self) -> &'static str {
                self.0.name()
            }
            fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
                self.0.inspect(view)
            }
            fn reads_each_packet(&self) -> bool {
                self.0.reads_each_packet()
            }
        }
        let cascade = Cascade::of(vec![
            Box::new(Shared(Arc::clone(&kept))),
            Box::new(Shared(Arc::clone(&each))),
        ]);
        let b = testing::ViewBuilder::tcp(40000, 443).to_server(b"x");
        let mut best = None;
        cascade.inspect_packet(&b.view(), &mut best, true);
        cascade.inspect_packet(&b.view(), &mut best, false);
        cascade.inspect(&b.view(), &mut best);
        assert_eq!(kept.calls.load(Ordering::Relaxed), 2);
        assert_eq!(each.calls.load(Ordering::Relaxed), 3);
        assert_eq!(cascade.detector_names(), ["kept", "each"]);
        assert_eq!(cascade.retain(|n| n == "each").detector_names(), ["each"]);
    }

    #[test]
    fn stronger_prefers_confidence_then_refreshes_the_same_family() {
        let sig = |fam: &'static str, n: usize| {
            let mut v = Verdict::new(Kind::VpnTunnel, fam, Confidence::Signature);
            v.evidence = vec![format!("{n} packets")];
            v
        };
        let hs = Verdict::new(Kind::VpnTunnel, "ipsec", Confidence::Handshake);
        assert!(stronger(&sig("ipsec", 1), None));
        assert!(stronger(&hs, Some(&sig("ipsec", 1))));
        assert!(!stronger(&sig("ipsec", 1), Some(&hs)));
        // Same family, same strength, fresher evidence: replaces.
        assert!(stronger(&sig("ipsec", 3), Some(&sig("ipsec", 1))));
        // Another family at the same strength does not displace the first answer.
        assert!(!stronger(&sig("openvpn", 1), Some(&sig("ipsec", 1))));
    }
}
