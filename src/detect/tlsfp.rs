//! TLS fingerprint as evidence: every verdict on a flow that opens with a TLS ClientHello (over
//! TCP) or a QUIC Initial gets one line naming the client's JA4 fingerprint (FoxIO JA4,
//! `technical_details/JA4.md`), the server name and the ALPN values it offered. An analyst can then
//! compare the client with known software, or pivot to other flows from the same client.
//!
//! It never creates a verdict or changes one's confidence. Like the SYN fingerprint, the line is
//! added once, to a final verdict (complete, or at the flow's last look): a line on every
//! intermediate verdict would change which of two equally sure verdicts the cascade keeps.

use super::tls::ClientHello;
use super::{Enricher, FlowView, Verdict};
use crate::decode::ip_proto;

/// ALPN values shown.
const ALPN_SHOWN: usize = 4;

/// Adds the client's JA4 line.
pub(crate) struct TlsFingerprint;

impl Enricher for TlsFingerprint {
    fn enrich(&self, view: &FlowView<'_>, verdict: &mut Verdict) {
        if !verdict.complete && view.packet.is_some() {
            return;
        }
        if verdict
            .evidence
            .iter()
            .any(|e| e.contains(" ClientHello JA4 "))
        {
            return;
        }
        let (hello, quic) = match view.proto {
            ip_proto::TCP => (view.client_hello().done(), false),
            ip_proto::UDP => (view.quic_hello().done(), true),
            _ => (None, false),
        };
        if let Some(h) = hello {
            verdict.evidence.push(line(h, quic));
        }
    }
}

fn line(h: &ClientHello, quic: bool) -> String {
    let alpn: Vec<String> = h
        .alpn
        .iter()
        .take(ALPN_SHOWN)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    format!(
        "{} ClientHello JA4 {} (SNI {}, ALPN {})",
        if quic { "QUIC" } else { "TLS" },
        h.ja4(quic),
        h.sni.as_deref().unwrap_or("none"),
        if alpn.is_empty() {
            "none".to_owned()
        } else {
            alpn.join(",")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;
    use crate::detect::{Confidence, Kind};

    #[test]
    fn tls_flows_get_their_ja4_and_others_nothing() {
        // The JA4 specification's worked example.
        let hello = crate::detect::tls::testdata_client_hello();
        let b = ViewBuilder::tcp(50000, 443).to_server(&hello);
        let mut v = Verdict::new(Kind::VpnTunnel, "x", Confidence::Signature);
        TlsFingerprint.enrich(&b.view(), &mut v);
        TlsFingerprint.enrich(&b.view(), &mut v);
        assert_eq!(v.evidence.len(), 1, "added once");
        assert!(
            v.evidence[0]
                .starts_with("TLS ClientHello JA4 t13d1516h2_8daaf6152771_e5627efa2ab1 (SNI "),
            "{:?}",
            v.evidence
        );
        let plain = ViewBuilder::tcp(50000, 22).to_server(b"SSH-2.0-x\r\n");
        let mut v = Verdict::new(Kind::RemoteAccess, "ssh", Confidence::Signature);
        TlsFingerprint.enrich(&plain.view(), &mut v);
        assert!(v.evidence.is_empty());
    }
}
