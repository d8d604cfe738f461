//! The catalogue detector: recognises catalogue products in one flow.
//!
//! Signals, gathered from the flow view only (the detector is stateless; what it remembers of
//! a flow between packets lives in the flow's memo, see [`ProductMemo`]):
//! - TLS ClientHello (RFC 8446 §4.1.2) at the start of a TCP client stream: the server name
//!   (RFC 6066 §3), ALPN names (RFC 7301 §3.1) and, when the catalogue lists any, its JA4;
//! - QUIC client Initials (RFC 9001 §5, decrypted with the keys every observer can derive):
//!   the same ClientHello facts;
//! - the Host header of a plain HTTP/1.x request (RFC 9110 §7.2), matched like an SNI;
//! - the server's leaf certificate (TLS ≤ 1.2, RFC 5246 §7.4.2): subject and issuer names and
//!   subjectAltName DNS names (RFC 5280 §4.1.2.4, §4.1.2.6, §4.2.1.6);
//! - the DNS name the server's address was resolved from, once the server has answered;
//! - catalogue byte patterns on each kept segment or datagram (see `pattern`);
//! - the responder's port, as support only.
//!
//! Confidence (documented in `catalogue/products.toml` for catalogue authors): any one name,
//! certificate rule, ALPN prefix or counting pattern is a Signature; two independent sources
//! agreeing are a Handshake (see [`score`]); a JA4 alone is a Heuristic; a port alone is
//! nothing. When the client's SNI (or Host) names a host that is not the product's, the DNS
//! name and certificate DNS names are not used: on shared CDN addresses and multi-domain
//! certificates they would name somebody else. For the same reason a TLS or QUIC flow whose
//! handshake is past (or whose latest packet cannot change it) yields nothing rather than a
//! DNS-only answer; what it showed earlier was reported then.
//!
//! Cost: TLS and QUIC are parsed only while the handshake can still be in the kept bytes
//! (first few packets each way), and a ClientHello is not parsed again on client packets once
//! the server has answered; patterns are checked only while segments are being kept, each
//! segment against each pattern once per flow (the search so far is kept in the flow's memo,
//! see [`ProductMemo`]). The miss path allocates nothing beyond what the TLS parser needs.

use super::names::host_name;
use super::names::NameHit;
use super::pattern::STRONG_BITS;
use super::signal::{describe, Signal, Via};
use super::{Catalogue, CertRule, CertTerm, Product};
use crate::decode::{ip_proto, Packet};
use crate::detect::tls::{self, Certificate, ClientHello};
use crate::detect::{Confidence, Detector, FlowView, Side, Verdict};
use crate::flow::SEGMENTS_MAX;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Payload packets per direction while segments are still being kept (flow/payload.rs).
const KEPT_PKTS: u32 = SEGMENTS_MAX as u32;
/// Packets per direction within which a TLS ClientHello and the server's first flight (hello,
/// certificate) are complete: a hello spans at most 2 segments, a certificate chain 2–4.
const TLS_PKTS_MAX: u32 = 6;
/// Client datagrams a QUIC ClientHello spans (1, or 2 with post-quantum key shares), plus a
/// retransmission.
const QUIC_CLIENT_PKTS_MAX: u32 = 3;
/// Server datagrams after which the client's Initials are certainly all kept.
const QUIC_SERVER_PKTS_MAX: u32 = 2;
/// First-byte bits of a QUIC long header: Header Form and Fixed Bit (RFC 9000 §17.2).
const QUIC_LONG_HEADER: u8 = 0xc0;
/// HTTP/1.x request methods a client stream may open with (RFC 9110 §9.3), with the space.
const HTTP_METHODS: [&[u8]; 7] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"OPTIONS ",
    b"CONNECT ",
    b"DELETE ",
];
/// Request head bytes searched for the Host header.
const HTTP_HEAD_MAX: usize = 2048;
/// Evidence lines at most per verdict.
const EVIDENCE_MAX: usize = 10;

/// Recognises catalogue products.
pub(crate) struct ProductDetector {
    cat: Arc<Catalogue>,
    /// Tells this detector's [`ProductMemo`]s from another's: unique in the process.
    id: u64,
    /// Every (product, pattern) index pair of a TCP pattern, in catalogue order: most products
    /// have no pattern, and a flow only ever needs its own transport's.
    tcp_patterns: Vec<(usize, usize)>,
    /// The same for UDP patterns.
    udp_patterns: Vec<(usize, usize)>,
}

impl ProductDetector {
    /// A detector over `cat`.
    pub(crate) fn new(cat: Arc<Catalogue>) -> ProductDetector {
        let of = |proto: u8| -> Vec<(usize, usize)> {
            let mut pairs = Vec::new();
            for (i, p) in cat.products.iter().enumerate() {
                for (k, pat) in p.patterns.iter().enumerate() {
                    if pat.proto == proto {
                        pairs.push((i, k));
                    }
                }
            }
            pairs
        };
        ProductDetector {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            tcp_patterns: of(ip_proto::TCP),
            udp_patterns: of(ip_proto::UDP),
            cat,
        }
    }
}

/// The next [`ProductDetector::id`]; 0 is never given out, so a fresh memo belongs to nobody.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What the detector worked out on one flow's earlier packets, kept in the flow's
/// [`crate::detect::HandshakeMemo`]: the detector runs on every payload packet of a flow under
/// inspection, and most of what it finds does not change from one packet to the next.
#[derive(Debug, Default)]
pub(crate) struct ProductMemo {
    /// The [`ProductDetector::id`] that wrote it: what it holds are indexes into that
    /// detector's catalogue, meaningless to another (a reloaded catalogue, a test's own).
    owner: u64,
    scan: PatternScan,
    /// The facts of the flow's ClientHello (TLS or QUIC). A parsed hello is never parsed again
    /// (`tls::memo`), so its facts hold for the rest of the flow.
    hello: Option<Gathered>,
    /// The facts of the server's certificate, likewise.
    cert: Option<Vec<(usize, Signal)>>,
    /// The Host facts of the client's first segment, with that segment's length: a recorded
    /// segment never changes, so they are worked out once.
    http: Option<(usize, Gathered)>,
    /// The DNS-name fact of the server's name, with that name (fixed when the flow starts).
    dns: Option<(Box<str>, Option<Hit>)>,
    /// The last facts a verdict was made from, and that verdict: the same facts make the same
    /// verdict, so its evidence lines need not be written again.
    last: Option<(Gathered, Option<Verdict>)>,
}

/// How far the catalogue patterns were searched in one flow's kept segments. A recorded
/// segment never changes and new ones are only appended, so a pattern's first matching segment,
/// once found, stays its first, and a pattern that matched none of the first `scanned` segments
/// need only be tried on the later ones: each segment is compared with each pattern of its
/// direction once per flow, not once per packet.
#[derive(Debug, Default)]
struct PatternScan {
    /// Segments searched so far in each direction (to the server, to the client).
    scanned: [usize; 2],
    /// Matches found: (index in the transport's pattern list, to the server, segment, wire
    /// length). At most one per pattern and direction, so bounded by the catalogue's patterns;
    /// ordered by pattern, the client's direction first.
    found: Vec<(usize, bool, usize, usize)>,
}

/// One fact tying the flow to a product: the product's index and the signal.
type Hit = (usize, Signal);

/// What was gathered from one view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Gathered {
    hits: Vec<(usize, Signal)>,
    /// The client sent an SNI that is a host name (not an address literal).
    sni_seen: bool,
}

impl Detector for ProductDetector {
    fn name(&self) -> &'static str {
        "catalogue"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP && view.proto != ip_proto::UDP {
            return None;
        }
        let (cs, sc) = (view.to_server.payload_pkts(), view.to_client.payload_pkts());
        if cs > KEPT_PKTS && sc > KEPT_PKTS {
            return None;
        }
        {
            let mut memo = view.product_memo();
            if memo.owner != self.id {
                *memo = ProductMemo {
                    owner: self.id,
                    ..ProductMemo::default()
                };
            }
        }
        let mut g = Gathered::default();
        let open = if view.proto == ip_proto::TCP {
            self.http(view, &mut g);
            self.tls(view, &mut g)
        } else {
            self.quic(view, &mut g)
        };
        if !open {
            return None;
        }
        self.patterns(view, &mut g);
        self.dns(view, &mut g);
        if g.hits.is_empty() {
            return None;
        }
        if let Some((facts, verdict)) = &view.product_memo().last {
            if *facts == g {
                return verdict.clone();
            }
        }
        let verdict = self.verdict(view, &g);
        view.product_memo().last = Some((g, verdict.clone()));
        verdict
    }
}

impl ProductDetector {
    /// ClientHello and certificate of a TLS-over-TCP flow. Returns false when the flow is TLS
    /// but its handshake is behind it (or this packet cannot change what it showed): then
    /// nothing is reported, because without the SNI at hand a DNS name could be contradicted.
    fn tls(&self, v: &FlowView<'_>, g: &mut Gathered) -> bool {
        let client = v.to_server.data();
        if client.first() != Some(&tls::CONTENT_HANDSHAKE)
            || client.get(1) != Some(&tls::VERSION_MAJOR)
        {
            return true;
        }
        let (cs, sc) = (v.to_server.payload_pkts(), v.to_client.payload_pkts());
        // Once the server has spoken, a client packet changes neither the hello (already
        // whole) nor the certificate: only a server packet can add to what was found.
        let by_client = v.packet.is_some_and(|p| !from_server(v, p));
        if cs > TLS_PKTS_MAX || sc > TLS_PKTS_MAX || (by_client && sc > 0) {
            return false;
        }
        if let Some(ch) = v.client_hello().done() {
            self.hello_once(v, ch, false, g);
        }
        let server = v.to_client.data();
        if !by_client && server.first() == Some(&tls::CONTENT_HANDSHAKE) {
            if let Some(cert) = v.certificate().done() {
                let mut memo = v.product_memo();
                let facts = memo.cert.get_or_insert_with(|| {
                    let mut own = Gathered::default();
                    self.certificate(cert, &mut own);
                    own.hits
                });
                g.hits.extend(facts.iter().cloned());
            }
        }
        true
    }

    /// ClientHello carried in a QUIC client's first Initials. Returns false when the flow
    /// opened with a long header but is past its Initials (see [`ProductDetector::tls`]).
    fn quic(&self, v: &FlowView<'_>, g: &mut Gathered) -> bool {
        let first = v.to_server.first().and_then(|d| d.first());
        if first.is_none_or(|b| b & QUIC_LONG_HEADER != QUIC_LONG_HEADER) {
            return true;
        }
        let (cs, sc) = (v.to_server.payload_pkts(), v.to_client.payload_pkts());
        if cs > QUIC_CLIENT_PKTS_MAX || sc > QUIC_SERVER_PKTS_MAX {
            return false;
        }
        if let Some(ch) = v.quic_hello().done() {
            self.hello_once(v, ch, true, g);
        }
        true
    }

    /// [`ProductDetector::hello`], worked out on the flow's first packet with a whole hello and
    /// remembered.
    fn hello_once(&self, v: &FlowView<'_>, ch: &ClientHello, quic: bool, g: &mut Gathered) {
        let mut memo = v.product_memo();
        let facts = memo.hello.get_or_insert_with(|| {
            let mut own = Gathered::default();
            self.hello(ch, quic, &mut own);
            own
        });
        g.hits.extend(facts.hits.iter().cloned());
        g.sni_seen |= facts.sni_seen;
    }

    /// SNI, ALPN and JA4 facts of a ClientHello.
    fn hello(&self, ch: &ClientHello, quic: bool, g: &mut Gathered) {
        if let Some(name) = ch.sni.as_deref() {
            let via = if quic { Via::Quic } else { Via::Tls };
            self.asked_for(name, via, g);
        }
        for (i, p) in self.cat.products.iter().enumerate() {
            let offered = p.alpn.iter().enumerate().find_map(|(r, prefix)| {
                ch.alpn
                    .iter()
                    .find(|id| id.starts_with(prefix.as_bytes()))
                    .map(|id| (r, id))
            });
            if let Some((rule, id)) = offered {
                g.hits.push((
                    i,
                    Signal::Alpn {
                        id: id.clone(),
                        rule,
                    },
                ));
            }
        }
        if self.cat.has_ja4 {
            let fp = ch.ja4(quic);
            for (i, p) in self.cat.products.iter().enumerate() {
                if p.ja4.contains(&fp) {
                    g.hits.push((i, Signal::Ja4 { fp: fp.clone() }));
                }
            }
        }
    }

    /// The host name the client asked for (an address literal is not a name).
    fn asked_for(&self, name: &str, via: Via, g: &mut Gathered) {
        if name.parse::<IpAddr>().is_ok() {
            return;
        }
        g.sni_seen = true;
        if let Some(NameHit { product, rule }) = self.cat.sni.lookup(name) {
            let name = name.to_owned();
            g.hits.push((product, Signal::Sni { name, via, rule }));
        }
    }

    /// The Host header of a plain HTTP/1.x request at the start of a TCP client stream.
    fn http(&self, v: &FlowView<'_>, g: &mut Gathered) {
        let Some(first) = v.to_server.first() else {
            return;
        };
        let mut memo = v.product_memo();
        if memo
            .http
            .as_ref()
            .is_none_or(|(len, _)| *len != first.len())
        {
            let mut own = Gathered::default();
            if let Some(host) = http_host(first) {
                self.asked_for(&host, Via::Http, &mut own);
            }
            memo.http = Some((first.len(), own));
        }
        if let Some((_, facts)) = &memo.http {
            g.hits.extend(facts.hits.iter().cloned());
            g.sni_seen |= facts.sni_seen;
        }
    }

    /// Attribute rules and DNS names of the server's certificate.
    fn certificate(&self, cert: &Certificate, g: &mut Gathered) {
        for (i, p) in self.cat.products.iter().enumerate() {
            let hit = p.cert.iter().position(|r| match r {
                CertRule::Attrs { terms, .. } => terms.iter().all(|t| term_holds(t, cert)),
                CertRule::Name(_) => false,
            });
            if let Some(rule) = hit {
                g.hits.push((i, Signal::CertAttrs { rule }));
            }
        }
        let cn = cert.subject_cn.as_deref().map(str::to_ascii_lowercase);
        let mut named: Vec<usize> = Vec::new();
        for name in cn.iter().chain(&cert.san_dns) {
            // A wildcard SAN ("*.example.com") is looked up as the domain it covers.
            let name = name.strip_prefix("*.").unwrap_or(name);
            if let Some(NameHit { product, rule }) = self.cat.cert.lookup(name) {
                if !named.contains(&product) {
                    named.push(product);
                    let name = name.to_owned();
                    g.hits.push((product, Signal::CertName { name, rule }));
                }
            }
        }
    }

    /// Catalogue patterns on the kept segments of each direction.
    ///
    /// Only the segments recorded since the previous call are searched, and only in the
    /// direction they arrived in: the cascade runs on every packet that changes the kept bytes,
    /// most add at most one segment to one direction, and many (a stream past its segment table,
    /// the other direction's run after this one's) add none. The hits are then reported from
    /// [`PatternScan::found`] in the order a search of every pattern over every segment gives.
    fn patterns(&self, v: &FlowView<'_>, g: &mut Gathered) {
        let port = v.server.port();
        let pairs = if v.proto == ip_proto::TCP {
            &self.tcp_patterns
        } else {
            &self.udp_patterns
        };
        let lens = [v.to_server.segments().len(), v.to_client.segments().len()];
        let mut memo = v.product_memo();
        let scan = &mut memo.scan;
        if lens
            .iter()
            .zip(&scan.scanned)
            .any(|(now, before)| now < before)
        {
            // Not the segments scanned before: start over.
            *scan = PatternScan::default();
        }
        for (to_server, side) in [(true, &v.to_server), (false, &v.to_client)] {
            let d = usize::from(!to_server);
            let from = scan.scanned.get(d).copied().unwrap_or(0);
            if lens.get(d).is_none_or(|&now| now <= from) {
                continue;
            }
            for (n, &(i, k)) in pairs.iter().enumerate() {
                let Some(pat) = self.cat.products.get(i).and_then(|p| p.patterns.get(k)) else {
                    continue;
                };
                if !pat.applies(v.proto, port) || !pat.dir.covers(to_server) {
                    continue;
                }
                if scan.found.iter().any(|f| f.0 == n && f.1 == to_server) {
                    // A pattern's first matching segment stays its first.
                    continue;
                }
                if let Some((seg, wire)) =
                    first_match(side, from, |kept, wire| pat.matches(kept, wire))
                {
                    let at = scan
                        .found
                        .partition_point(|f| (f.0, !f.1) < (n, !to_server));
                    scan.found.insert(at, (n, to_server, seg, wire));
                }
            }
        }
        scan.scanned = lens;
        for &(n, to_server, seg, wire) in &scan.found {
            let Some(&(i, k)) = pairs.get(n) else {
                continue;
            };
            let Some(p) = self.cat.products.get(i) else {
                continue;
            };
            let s = Signal::Pattern {
                to_server,
                seg,
                wire,
                pattern: k,
            };
            keep_strongest(g, i, p, s);
        }
    }

    /// The DNS name the server was resolved from, once the server has answered.
    fn dns(&self, v: &FlowView<'_>, g: &mut Gathered) {
        if v.to_client.payload_pkts() == 0 {
            return;
        }
        let Some(name) = v.server_name else {
            return;
        };
        let mut memo = v.product_memo();
        if memo.dns.as_ref().is_none_or(|(known, _)| **known != *name) {
            let hit = self.cat.dns.lookup(name).map(|NameHit { product, rule }| {
                let name = name.to_owned();
                (product, Signal::Dns { name, rule })
            });
            memo.dns = Some((name.into(), hit));
        }
        if let Some((_, Some(hit))) = &memo.dns {
            g.hits.push(hit.clone());
        }
    }

    /// The strongest product verdict among the gathered hits.
    fn verdict(&self, v: &FlowView<'_>, g: &Gathered) -> Option<Verdict> {
        let mut best: Option<(Confidence, usize, usize)> = None;
        let mut seen: Vec<usize> = Vec::new();
        for &(i, _) in &g.hits {
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            let p = self.cat.products.get(i)?;
            let Some(conf) = score(p, i, v, g) else {
                continue;
            };
            let n = g.hits.iter().filter(|(j, _)| *j == i).count();
            if best.is_none_or(|(c, m, _)| (conf, n) > (c, m)) {
                best = Some((conf, n, i));
            }
        }
        let (conf, _, i) = best?;
        let p = self.cat.products.get(i)?;
        let mut mine: Vec<&Signal> = g
            .hits
            .iter()
            .filter(|(j, s)| *j == i && usable(s, g, i))
            .map(|(_, s)| s)
            .collect();
        mine.sort_by_key(|s| s.rank());
        let mut evidence: Vec<String> = mine.iter().map(|s| describe(p, s)).collect();
        if let Some(r) = p.port(v.proto, v.server.port()) {
            evidence.push(format!(
                "responder port {r} is listed for {} (supporting evidence only)",
                p.id
            ));
        }
        evidence.truncate(EVIDENCE_MAX);
        Some(Verdict {
            kind: p.kind,
            family: Cow::Owned(p.id.clone()),
            provider: p.provider.clone().map(Cow::Owned),
            confidence: conf,
            evidence,
            complete: conf == Confidence::Handshake,
            client_country: None,
        })
    }
}

/// The host of an HTTP/1.x request's Host header (RFC 9110 §7.2), lower case, port removed;
/// `None` when `b` is not a request head starting with a method, or has no valid Host.
fn http_host(b: &[u8]) -> Option<String> {
    let head = b.get(..b.len().min(HTTP_HEAD_MAX))?;
    if !HTTP_METHODS.iter().any(|m| head.starts_with(m)) {
        return None;
    }
    let text = std::str::from_utf8(head).ok().or_else(|| {
        // A cut multi-byte character at the end: keep the valid prefix.
        std::str::from_utf8(head.get(..head.utf8_chunks().next()?.valid().len())?).ok()
    })?;
    let value = text
        .split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("host").then_some(value.trim())
        })?;
    // "name:port"; an IPv6 literal ("[…]") is not a name anyway.
    let host = value.rsplit_once(':').map_or(value, |(h, _)| h);
    host_name(host)
}

/// Whether packet `p` of the flow was sent by the responder.
fn from_server(v: &FlowView<'_>, p: &Packet<'_>) -> bool {
    p.src == v.server.ip() && p.src_port == v.server.port()
}

/// Whether a signal counts: DNS names and certificate DNS names do not when the client's SNI
/// named a host that is not this product's.
fn usable(s: &Signal, g: &Gathered, product: usize) -> bool {
    match s {
        Signal::Dns { .. } | Signal::CertName { .. } => {
            !g.sni_seen
                || g.hits
                    .iter()
                    .any(|(j, s)| *j == product && matches!(s, Signal::Sni { .. }))
        }
        _ => true,
    }
}

/// The confidence the hits give product `p` (index `i`), if any.
///
/// Independent sources: the client's hello (SNI, ALPN), the resolver's answer (DNS name), the
/// server's certificate, and each direction's protocol bytes (patterns). A Handshake needs two
/// of them agreeing, one not derived from the other: the certificate with anything, the DNS
/// name with protocol facts (ALPN or a pattern), the SNI with the server's bytes, or patterns
/// from both directions. The SNI and the DNS name carry the same name, and the SNI and the ALPN
/// come in one message: each pair is one source, a Signature.
fn score(p: &Product, i: usize, v: &FlowView<'_>, g: &Gathered) -> Option<Confidence> {
    let mine = || {
        g.hits
            .iter()
            .filter(move |(j, s)| *j == i && usable(s, g, i))
            .map(|(_, s)| s)
    };
    let any = |f: fn(&Signal) -> bool| mine().any(f);
    let sni = any(|s| matches!(s, Signal::Sni { .. }));
    let dns = any(|s| matches!(s, Signal::Dns { .. }));
    let cert = any(|s| matches!(s, Signal::CertAttrs { .. } | Signal::CertName { .. }));
    let alpn = any(|s| matches!(s, Signal::Alpn { .. }));
    let ja4 = any(|s| matches!(s, Signal::Ja4 { .. }));
    let (mut ts, mut tc) = (0u32, 0u32);
    for s in mine() {
        if let Signal::Pattern {
            to_server, pattern, ..
        } = s
        {
            let bits = p.patterns.get(*pattern).map_or(0, |x| x.bits());
            let side = if *to_server { &mut ts } else { &mut tc };
            *side = (*side).max(bits);
        }
    }
    let port = p.port(v.proto, v.server.port()).is_some();
    let counts = |bits: u32| bits >= STRONG_BITS || (bits > 0 && port);
    let two_sided = ts > 0 && tc > 0 && ts + tc >= STRONG_BITS;
    let patterns = two_sided || counts(ts) || counts(tc);
    let protocol = alpn || patterns;
    let handshake =
        two_sided || (cert && (sni || dns || protocol)) || (dns && protocol) || (sni && counts(tc));
    if handshake {
        Some(Confidence::Handshake)
    } else if sni || dns || cert || protocol {
        Some(Confidence::Signature)
    } else if ja4 {
        Some(Confidence::Heuristic)
    } else {
        None
    }
}

/// Records a pattern hit of product `i`, unless a pattern of at least as many bits already
/// matched the same segment (TeamViewer's 4-byte and 2-byte headers on one segment say the same
/// thing once); a stronger one replaces it.
fn keep_strongest(g: &mut Gathered, i: usize, p: &Product, s: Signal) {
    let bits = |s: &Signal| match s {
        Signal::Pattern { pattern, .. } => p.patterns.get(*pattern).map_or(0, |x| x.bits()),
        _ => 0,
    };
    let place = |s: &Signal| match s {
        Signal::Pattern { to_server, seg, .. } => Some((*to_server, *seg)),
        _ => None,
    };
    let same = g
        .hits
        .iter_mut()
        .find(|(j, h)| *j == i && place(h).is_some() && place(h) == place(&s));
    match same {
        Some((_, h)) if bits(h) >= bits(&s) => {}
        Some((_, h)) => *h = s,
        None => g.hits.push((i, s)),
    }
}

/// The first kept segment of `side` from segment `from` on for which `f(kept, wire_len)` holds.
fn first_match(
    side: &Side<'_>,
    from: usize,
    f: impl Fn(&[u8], usize) -> bool,
) -> Option<(usize, usize)> {
    (from..side.segments().len()).find_map(|i| {
        let kept = side.segment(i)?;
        let wire = side.wire_len(i)?;
        f(kept, wire).then_some((i, wire))
    })
}

/// Whether one exact certificate term holds (ASCII case-insensitive).
fn term_holds(t: &CertTerm, cert: &Certificate) -> bool {
    let eq = |field: &Option<String>, want: &str| {
        field
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case(want))
    };
    match t {
        CertTerm::SubjectCn(w) => eq(&cert.subject_cn, w),
        CertTerm::IssuerCn(w) => eq(&cert.issuer_cn, w),
        CertTerm::IssuerO(w) => eq(&cert.issuer_o, w),
    }
}

#[cfg(test)]
#[path = "detector_tests.rs"]
mod tests;
