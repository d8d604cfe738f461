//! The anonymizer and covert-tunnel detectors on the labelled corpus (next to the checkout, when
//! present), run through the real pipeline: every benign capture (HTTPS, QUIC, DNS over HTTPS,
//! video calls, messaging, streaming …) must stay silent, and each capture of a family these
//! detectors claim must be reported with that family. Skipped, with the reason printed, on a
//! machine without the corpus. A property test feeds the same detectors arbitrary flows.

use super::{dnstunnel, encrypted, icmptunnel, psiphon, tlsintls, tor, websocket};
use super::{Cascade, Detector};
use crate::alert::Alert;
use crate::capture::{FileCapture, Step};
use crate::config::Config;
use crate::pipeline::{Pipeline, VecSink};
use std::path::{Path, PathBuf};

/// The detectors under test, in their cascade order.
fn ours() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(tor::Tor),
        Box::new(psiphon::Psiphon),
        Box::new(websocket::WebSocketTunnel),
        Box::new(dnstunnel::DnsTunnel),
        Box::new(icmptunnel::IcmpTunnel),
        Box::new(tlsintls::TlsInTls),
        Box::new(encrypted::FullyEncrypted),
    ]
}

/// The corpus folder, or `None` (with the reason printed) when this machine has none.
fn corpus() -> Option<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let found = [beside, PathBuf::from("/work/shared/corpus")]
        .into_iter()
        .find(|p| p.join("labels.csv").is_file());
    if found.is_none() {
        eprintln!("skipped: no labelled corpus at ../shared/corpus or /work/shared/corpus");
    }
    found
}

/// (file, label, family) rows of `labels.csv`; the first four columns hold no commas.
fn labels(dir: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let file = f.next()?.to_owned();
            let _source = f.next()?;
            Some((file, f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect()
}

/// The alerts our detectors raise on one capture.
fn alerts(path: &Path) -> Vec<Alert> {
    let cfg = Config::defaults();
    let mut cap = FileCapture::open(path).unwrap();
    let mut sink = VecSink::default();
    {
        let mut pipe = Pipeline::with_cascade(&cfg, cap.linktype(), Cascade::of(ours()), &mut sink);
        loop {
            let step = cap.pump(|f| pipe.frame(f).unwrap()).unwrap();
            if !matches!(step, Step::Frames(_)) {
                break;
            }
        }
        pipe.finish().unwrap();
    }
    sink.0
}

#[test]
fn benign_captures_stay_silent() {
    let Some(dir) = corpus() else { return };
    let mut noisy = Vec::new();
    let mut seen = 0;
    for (file, label, _) in labels(&dir) {
        if label != "benign" {
            continue;
        }
        seen += 1;
        for a in alerts(&dir.join(&file)) {
            noisy.push(format!(
                "{file}: {}/{} {:?} {} {:?}",
                a.kind.as_str(),
                a.family,
                a.confidence,
                a.peer.map(|p| p.to_string()).unwrap_or_default(),
                a.evidence
            ));
        }
    }
    assert!(seen >= 30, "only {seen} benign captures listed");
    assert!(noisy.is_empty(), "{}", noisy.join("\n"));
}

#[test]
fn claimed_families_are_found() {
    let Some(dir) = corpus() else { return };
    let claimed = [
        "tor",
        "psiphon",
        "shadowsocks",
        "vmess",
        "trojan",
        "wstunnel",
        "dns_tunnel",
        "icmp_tunnel",
    ];
    let mut missed = Vec::new();
    for (file, label, family) in labels(&dir) {
        if !claimed.contains(&family.as_str()) {
            continue;
        }
        let found = alerts(&dir.join(&file));
        if !found
            .iter()
            .any(|a| a.kind.as_str() == label && a.family == family)
        {
            let got: Vec<String> = found
                .iter()
                .map(|a| format!("{}/{}", a.kind.as_str(), a.family))
                .collect();
            missed.push(format!("{file}: want {label}/{family}, got {got:?}"));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

mod arbitrary {
    use super::ours;
    use crate::decode::{ip_proto, Packet};
    use crate::detect::testing::ViewBuilder;
    use crate::ts::Ts;
    use proptest::prelude::*;

    /// The packet that triggers a call: from the client, an echo request for ICMP.
    fn packet(proto: u8, payload: &[u8]) -> Packet<'_> {
        Packet {
            ts: Ts::from_secs(1),
            vlan: 0,
            src: "192.0.2.10".parse().unwrap(),
            dst: "198.51.100.20".parse().unwrap(),
            proto,
            ttl: 64,
            src_port: if proto == ip_proto::ICMP { 0 } else { 40000 },
            dst_port: 0,
            tcp: None,
            icmp: (proto == ip_proto::ICMP).then_some((8, 0)),
            ah_spi: None,
            payload,
            wire_len: payload.len() as u32 + 54,
            payload_wire_len: payload.len() as u32,
            tunnel: None,
        }
    }

    proptest! {
        /// No input, on any transport, makes a detector panic; every verdict carries evidence.
        #[test]
        fn arbitrary_flows_never_panic(
            c in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 1..4),
            s in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..4),
        ) {
            let builders = [
                ViewBuilder::tcp(40000, 443),
                ViewBuilder::udp(40000, 53),
                ViewBuilder::ip(ip_proto::ICMP),
            ];
            for mut b in builders {
                for (i, p) in c.iter().enumerate() {
                    b = b.to_server(p);
                    if let Some(q) = s.get(i) {
                        b = b.to_client(q);
                    }
                }
                let mut view = b.view();
                let last = c.last().map(Vec::as_slice).unwrap_or_default();
                let p = packet(view.proto, last);
                view.packet = Some(&p);
                for d in ours() {
                    for v in [d.inspect(&view), d.conclude(&view)].into_iter().flatten() {
                        prop_assert!(!v.evidence.is_empty(), "{}", d.name());
                    }
                }
            }
        }
    }
}
