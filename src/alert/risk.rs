//! Contractor risk: one number per contractor, 0–100, that says how much of what the sensor saw
//! recently points to a fake remote worker, and why.
//!
//! Each distinct (kind, family) an endpoint of the contractor showed within the active window
//! contributes `weight(kind) × factor(severity)` (the highest severity seen for that pair); the
//! sum is capped at 100. Repeats of the same finding add nothing: ten RDP sessions are one signal.
//! Approved tools are reported at `info`, whose factor is 0, so they never raise the score.
//! Weights are configuration (`[risk]`); the defaults weigh remote control and anonymizers above
//! VPNs, which many legitimate workers use.

use super::Severity;
use crate::detect::Kind;
use std::collections::BTreeMap;

/// Weights of the risk score.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskWeights {
    /// Points for a remote-access finding at `high`.
    pub remote_access: f64,
    /// Points for a VPN or tunnel finding at `high`.
    pub vpn_tunnel: f64,
    /// Points for an anonymizer finding at `high`.
    pub anonymizer: f64,
}

impl Default for RiskWeights {
    fn default() -> Self {
        RiskWeights {
            remote_access: 40.0,
            vpn_tunnel: 25.0,
            anonymizer: 35.0,
        }
    }
}

/// Share of a kind's weight a finding of this severity earns.
pub fn severity_factor(s: Severity) -> f64 {
    match s {
        Severity::Info => 0.0,
        Severity::Low => 0.25,
        Severity::Medium => 0.5,
        Severity::High => 1.0,
        Severity::Critical => 1.5,
    }
}

impl RiskWeights {
    fn weight(&self, k: Kind) -> f64 {
        match k {
            Kind::RemoteAccess => self.remote_access,
            Kind::VpnTunnel => self.vpn_tunnel,
            Kind::Anonymizer => self.anonymizer,
        }
    }

    /// The score of a contractor's recent findings, and each contributing signal with its
    /// points, largest first.
    pub fn score<'a>(
        &self,
        findings: impl IntoIterator<Item = (Kind, &'a str, Severity)>,
    ) -> (f64, Vec<(String, f64)>) {
        let mut worst: BTreeMap<(Kind, &str), Severity> = BTreeMap::new();
        for (k, fam, sev) in findings {
            let e = worst.entry((k, fam)).or_insert(sev);
            *e = (*e).max(sev);
        }
        let mut parts: Vec<(String, f64)> = worst
            .into_iter()
            .map(|((k, fam), sev)| {
                (
                    format!("{}/{fam} at {sev}", k.as_str()),
                    self.weight(k) * severity_factor(sev),
                )
            })
            .filter(|(_, p)| *p > 0.0)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total: f64 = parts.iter().map(|p| p.1).sum();
        (total.min(100.0), parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_findings_add_up_repeats_do_not_and_the_score_is_capped() {
        let w = RiskWeights::default();
        let (s, parts) = w.score([
            (Kind::RemoteAccess, "rdp", Severity::High),
            (Kind::RemoteAccess, "rdp", Severity::High),
            (Kind::RemoteAccess, "rdp", Severity::Medium),
            (Kind::VpnTunnel, "openvpn", Severity::Medium),
            (Kind::RemoteAccess, "ssh", Severity::Info),
        ]);
        assert_eq!(s, 40.0 + 12.5);
        assert_eq!(parts[0], ("remote_access/rdp at high".into(), 40.0));
        assert_eq!(parts.len(), 2, "info findings contribute nothing");
        let (capped, _) = w.score([
            (Kind::RemoteAccess, "rdp", Severity::Critical),
            (Kind::Anonymizer, "tor", Severity::High),
            (Kind::VpnTunnel, "wireguard", Severity::High),
        ]);
        assert_eq!(capped, 100.0);
        assert_eq!(w.score([]).0, 0.0);
    }
}
