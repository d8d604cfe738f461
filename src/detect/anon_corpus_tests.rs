//! The anonymizer and covert-tunnel detectors on the labelled corpus (next to the checkout, when
//! present), run through the real pipeline: every benign capture (HTTPS, QUIC, DNS over HTTPS,
//! video calls, messaging, streaming …) must stay silent, and each capture of a family these
//! detectors claim must be reported with that family. Skipped, with the reason printed, on a
//! machine without the corpus.

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
                a.peer,
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
