//! TCP/IP hints: the initiator's SYN fingerprint, and what a reduced MSS is consistent with.
//!
//! A host derives the MSS it announces in its SYN from the MTU of the interface the connection
//! leaves by: MTU minus the IP and TCP headers (RFC 9293 §3.7.1; header sizes from RFC 791 §3.1
//! and RFC 8200 §3). On a plain 1500-byte Ethernet path (RFC 894) that is 1460 over IPv4 and
//! 1440 over IPv6. A host whose traffic leaves through a tunnel interface has a smaller MTU, by
//! about the tunnel's encapsulation overhead, so a SYN seen in clear after the tunnel (for
//! instance at the far end of a VPN) announces a correspondingly smaller MSS. The overheads
//! below are computed from each encapsulation's headers; the MSS gap is compared with them.
//!
//! This is a hint, never a verdict: routers and firewalls rewrite the MSS of SYNs they forward
//! (an "MSS clamp"; Cisco ASA clamps to 1380 by default), tunnel MTUs are often set lower than
//! the overhead requires, and encapsulations can be stacked. So [`SynFingerprint`] only adds one evidence
//! line to a verdict some detector already made; it creates no alert and changes no confidence.
//!
//! The line also gives the TTL (IPv6 hop limit) the initiator's SYN arrived with, the initial
//! TTL it most likely left with (the common operating system defaults 64, 128 and 255: the
//! smallest one not below the observed value), and so the number of routers in between, and
//! the SYN's window-scale option. The SYN's window size is not among the handshake facts the
//! flow table keeps, so it is not shown.

use super::{Enricher, FlowView, Verdict};
use crate::decode::ip_proto;
use crate::flow::Dir;
use std::fmt::Write as _;

/// Start of the evidence line; also how the enricher recognises its own line (idempotence).
const PREFIX: &str = "initiator SYN:";
/// Ethernet MTU (RFC 894): the link the expected MSS is computed for.
const ETHERNET_MTU: u16 = 1500;
/// IPv4 header without options (RFC 791 §3.1).
const IPV4_HEADER: u16 = 20;
/// IPv6 fixed header (RFC 8200 §3).
const IPV6_HEADER: u16 = 40;
/// TCP header without options (RFC 9293 §3.1).
const TCP_HEADER: u16 = 20;
/// Common initial TTLs: 64 (Linux, macOS, BSDs, Android, iOS), 128 (Windows), 255 (network
/// equipment, some Unix stacks). The smallest not below the observed TTL is the likely start.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];
/// Cisco ASA's default `sysopt connection tcpmss` (1380): a clamp that looks like a tunnel.
const ASA_DEFAULT_MSS_CLAMP: u16 = 1380;

/// Which inner IP version an encapsulation can carry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inner {
    /// IPv4 or IPv6.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// An encapsulation and the range of bytes it adds to each packet.
struct Encapsulation {
    name: &'static str,
    min: u16,
    max: u16,
    inner: Inner,
}

/// Overheads, each computed from the encapsulation's own headers:
/// - PPPoE: 6-byte PPPoE header + 2-byte PPP protocol field (RFC 2516 §4, §7: MTU 1492).
/// - IP in IP: one more IPv4 header, 20 bytes (RFC 2003 §3 for IPv4, RFC 4213 §3.2 for IPv6).
/// - GRE: outer IPv4 20 + 4-byte base GRE header (RFC 2784 §2.1).
/// - OpenVPN over UDP: outer IPv4 20 + UDP 8 + opcode/peer-id, packet id, IV or nonce,
///   HMAC or AEAD tag and CBC padding: about 41–69 bytes depending on cipher and HMAC
///   (OpenVPN reference manual, --tun-mtu / --mssfix).
/// - IPsec ESP, tunnel mode: outer IPv4 20 + SPI/sequence 8 + IV 8–16 + padding 0–15 + pad
///   length/next header 2 + ICV 12–16, about 50–73 bytes (RFC 4303 §2); with UDP
///   encapsulation for NAT traversal 8 more (RFC 3948 §2.1).
/// - WireGuard: outer IP + UDP 8 + 16-byte data header + 16-byte Poly1305 tag (WireGuard
///   whitepaper §5.4.6): 60 bytes over IPv4, 80 over IPv6; wg-quick leaves 80 bytes, so a
///   1500-byte link gives its default MTU of 1420.
const ENCAPSULATIONS: [Encapsulation; 9] = [
    Encapsulation {
        name: "PPPoE",
        min: 8,
        max: 8,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "IPv4-in-IPv4",
        min: 20,
        max: 20,
        inner: Inner::V4,
    },
    Encapsulation {
        name: "IPv6-in-IPv4",
        min: 20,
        max: 20,
        inner: Inner::V6,
    },
    Encapsulation {
        name: "GRE over IPv4",
        min: 24,
        max: 24,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "OpenVPN over UDP",
        min: 41,
        max: 69,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "IPsec ESP tunnel mode",
        min: 50,
        max: 73,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "IPsec ESP in UDP for NAT traversal",
        min: 58,
        max: 81,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "WireGuard over IPv4",
        min: 60,
        max: 60,
        inner: Inner::Any,
    },
    Encapsulation {
        name: "WireGuard over IPv6 or at wg-quick's default MTU 1420",
        min: 80,
        max: 80,
        inner: Inner::Any,
    },
];

/// Adds the initiator's SYN fingerprint to the verdict of a TCP flow whose SYN was seen.
///
/// The line is added only to a verdict that is final (complete, or at the flow's last look):
/// the cascade prefers, between two equally sure verdicts, the one with more evidence, and a
/// line that every TCP verdict carries must not tip that choice.
pub(crate) struct SynFingerprint;

impl Enricher for SynFingerprint {
    fn enrich(&self, view: &FlowView<'_>, verdict: &mut Verdict) {
        if view.proto != ip_proto::TCP || view.tcp.syn.is_none() {
            return;
        }
        if !verdict.complete && view.packet.is_some() {
            return;
        }
        if verdict.evidence.iter().any(|e| e.starts_with(PREFIX)) {
            return;
        }
        verdict.evidence.push(line(view));
    }
}

/// The evidence line for `view`'s initiator SYN.
fn line(view: &FlowView<'_>) -> String {
    let d = Dir::ToServer.idx();
    let ipv6 = view.client.is_ipv6();
    let mss = view.tcp.mss.get(d).copied().flatten();
    let wscale = view.tcp.wscale.get(d).copied().flatten();
    let mut s = String::from(PREFIX);
    match mss {
        Some(m) => {
            let _ = write!(s, " MSS {m}");
        }
        None => s.push_str(" no MSS option"),
    }
    match wscale {
        Some(w) => {
            let _ = write!(s, ", window scale {w}");
        }
        None => s.push_str(", no window scale option"),
    }
    let ttl = view.to_server.ttl;
    if ttl != 0 {
        let name = if ipv6 { "hop limit" } else { "TTL" };
        let _ = write!(s, ", {name} {ttl}");
        if let Some(initial) = INITIAL_TTLS.iter().copied().find(|&i| i >= ttl) {
            let hops = initial - ttl;
            let unit = if hops == 1 { "hop" } else { "hops" };
            let _ = write!(s, " (likely initial {initial}, {hops} {unit} away)");
        }
    }
    if let Some(m) = mss {
        if let Some(hint) = tunnel_hint(m, ipv6) {
            s.push_str("; ");
            s.push_str(&hint);
        }
    }
    s
}

/// What an MSS below the 1500-byte Ethernet value is consistent with; `None` when it is not
/// below.
fn tunnel_hint(mss: u16, ipv6: bool) -> Option<String> {
    let ip_header = if ipv6 { IPV6_HEADER } else { IPV4_HEADER };
    let expected = ETHERNET_MTU - ip_header - TCP_HEADER;
    let gap = expected.checked_sub(mss).filter(|&g| g > 0)?;
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let mut s = format!(
        "MSS {gap} bytes below {expected} ({family} on a {ETHERNET_MTU}-byte Ethernet path): "
    );
    let matches: Vec<String> = ENCAPSULATIONS
        .iter()
        .filter(|e| {
            (e.min..=e.max).contains(&gap)
                && match e.inner {
                    Inner::Any => true,
                    Inner::V4 => !ipv6,
                    Inner::V6 => ipv6,
                }
        })
        .map(|e| {
            if e.min == e.max {
                format!("{} ({} bytes)", e.name, e.min)
            } else {
                format!("{} ({}-{} bytes)", e.name, e.min, e.max)
            }
        })
        .collect();
    if matches.is_empty() {
        s.push_str(
            "no listed encapsulation adds exactly that much \
             (a tunnel with a lower MTU, or an MSS clamp)",
        );
    } else {
        s.push_str("consistent with ");
        s.push_str(&matches.join(", "));
        s.push_str("; a hint, not proof: an MSS clamp on a router gives the same");
        if mss == ASA_DEFAULT_MSS_CLAMP && !ipv6 {
            s.push_str(" (1380 is Cisco ASA's default clamp)");
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Packet;
    use crate::detect::testing::ViewBuilder;
    use crate::detect::{Confidence, Kind};
    use crate::flow::Handshake;
    use crate::ts::Ts;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    /// A handshake whose initiator SYN announced `mss` and `wscale`.
    fn syn(mss: Option<u16>, wscale: Option<u8>) -> Handshake {
        let b = ViewBuilder::tcp(50000, 3389);
        let mut hs = *b.view().tcp;
        hs.mss = [mss, Some(1460)];
        hs.wscale = [wscale, Some(7)];
        hs
    }

    fn verdict() -> Verdict {
        Verdict::new(Kind::RemoteAccess, "rdp", Confidence::Handshake).with("X.224 exchange")
    }

    /// Runs the enricher at the flow's last look (no current packet) with `ttl` on the SYN.
    fn enriched(hs: &Handshake, ttl: u8, ipv6: bool) -> Verdict {
        let b = ViewBuilder::tcp(50000, 3389);
        let mut view = b.view();
        view.tcp = hs;
        view.to_server.ttl = ttl;
        if ipv6 {
            view.client = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 50000);
        }
        let mut v = verdict();
        SynFingerprint.enrich(&view, &mut v);
        v
    }

    #[test]
    fn wireguard_default_mtu_on_ipv4() {
        let v = enriched(&syn(Some(1380), Some(8)), 116, false);
        let line = &v.evidence[1];
        assert!(line.starts_with(
            "initiator SYN: MSS 1380, window scale 8, TTL 116 (likely initial 128, 12 hops away); \
             MSS 80 bytes below 1460 (IPv4 on a 1500-byte Ethernet path): consistent with "
        ));
        assert!(line.contains("WireGuard over IPv6 or at wg-quick's default MTU 1420 (80 bytes)"));
        assert!(line.contains("a hint, not proof"));
        assert!(line.contains("Cisco ASA"));
        assert!(!line.contains("OpenVPN"));
    }

    #[test]
    fn full_size_mss_has_no_tunnel_sentence() {
        let v = enriched(&syn(Some(1460), Some(7)), 64, false);
        assert_eq!(
            v.evidence[1],
            "initiator SYN: MSS 1460, window scale 7, TTL 64 (likely initial 64, 0 hops away)"
        );
        // Larger than Ethernet (jumbo frames, loopback): no sentence either.
        let v = enriched(&syn(Some(8960), None), 0, false);
        assert_eq!(
            v.evidence[1],
            "initiator SYN: MSS 8960, no window scale option"
        );
    }

    #[test]
    fn pppoe() {
        let v = enriched(&syn(Some(1452), Some(8)), 128, false);
        assert!(v.evidence[1].contains("MSS 8 bytes below 1460"));
        assert!(v.evidence[1].contains("consistent with PPPoE (8 bytes)"));
        assert!(!v.evidence[1].contains("WireGuard"));
    }

    #[test]
    fn ranges_and_families() {
        // 60 bytes: OpenVPN, ESP, ESP in UDP and WireGuard over IPv4 all fit.
        let v = enriched(&syn(Some(1400), Some(8)), 50, false);
        for name in [
            "OpenVPN over UDP (41-69 bytes)",
            "IPsec ESP tunnel mode (50-73 bytes)",
            "WireGuard over IPv4 (60 bytes)",
        ] {
            assert!(v.evidence[1].contains(name), "{name}: {}", v.evidence[1]);
        }
        assert!(v.evidence[1].contains("TTL 50 (likely initial 64, 14 hops away)"));
        // 20 bytes below 1440 on IPv6 is IPv6-in-IPv4 (6in4); on IPv4 it is IPv4-in-IPv4.
        let v6 = enriched(&syn(Some(1420), None), 57, true);
        assert!(v6.evidence[1].contains("hop limit 57"));
        assert!(v6.evidence[1].contains("below 1440 (IPv6"));
        assert!(v6.evidence[1].contains("IPv6-in-IPv4 (20 bytes)"));
        assert!(!v6.evidence[1].contains("IPv4-in-IPv4"));
        let v4 = enriched(&syn(Some(1440), None), 57, false);
        assert!(v4.evidence[1].contains("IPv4-in-IPv4 (20 bytes)"));
        assert!(!v4.evidence[1].contains("IPv6-in-IPv4"));
        // 200 bytes (MSS 1260): nothing listed fits, and the line says so.
        let v = enriched(&syn(Some(1260), None), 128, false);
        assert!(v.evidence[1].contains("no listed encapsulation adds exactly that much"));
        assert!(!v.evidence[1].contains("consistent with"));
    }

    #[test]
    fn initial_ttl_guess() {
        for (seen, initial) in [
            (1, 64),
            (63, 64),
            (64, 64),
            (65, 128),
            (128, 128),
            (200, 255),
            (255, 255),
        ] {
            let v = enriched(&syn(Some(1460), None), seen, false);
            let hops = initial - u16::from(seen);
            let unit = if hops == 1 { "hop" } else { "hops" };
            assert!(
                v.evidence[1].contains(&format!("(likely initial {initial}, {hops} {unit} away)")),
                "{seen}: {}",
                v.evidence[1]
            );
        }
    }

    #[test]
    fn only_final_tcp_verdicts_with_a_syn_and_only_once() {
        let hs = syn(Some(1380), Some(8));
        // Idempotent: a second run adds nothing.
        let b = ViewBuilder::tcp(50000, 3389);
        let mut view = b.view();
        view.tcp = &hs;
        let mut v = verdict();
        SynFingerprint.enrich(&view, &mut v);
        SynFingerprint.enrich(&view, &mut v);
        assert_eq!(v.evidence.len(), 2);
        assert!(v.evidence.iter().all(|e| e.len() < 400));
        // Confidence, kind and completeness are never touched.
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(!v.complete);
        // No SYN seen (capture began mid-flow): nothing.
        let mut no_syn = hs;
        no_syn.syn = None;
        view.tcp = &no_syn;
        let mut v = verdict();
        SynFingerprint.enrich(&view, &mut v);
        assert_eq!(v.evidence.len(), 1);
        // UDP: nothing.
        let u = ViewBuilder::udp(50000, 51820);
        let mut v = verdict();
        SynFingerprint.enrich(&u.view(), &mut v);
        assert_eq!(v.evidence.len(), 1);
    }

    #[test]
    fn an_open_verdict_mid_inspection_is_left_alone() {
        // Any current packet will do: only whether there is one matters.
        let p = Packet {
            ts: Ts::from_secs(1),
            vlan: 0,
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20)),
            proto: ip_proto::TCP,
            ttl: 116,
            src_port: 50000,
            dst_port: 3389,
            tcp: None,
            icmp: None,
            ah_spi: None,
            payload: b"x",
            wire_len: 55,
            payload_wire_len: 1,
            tunnel: None,
        };
        let hs = syn(Some(1380), Some(8));
        let b = ViewBuilder::tcp(50000, 3389);
        let mut view = b.view();
        view.tcp = &hs;
        view.packet = Some(&p);
        let mut open = verdict();
        SynFingerprint.enrich(&view, &mut open);
        assert_eq!(open.evidence.len(), 1);
        let mut done = verdict().done();
        SynFingerprint.enrich(&view, &mut done);
        assert_eq!(done.evidence.len(), 2);
    }
}
