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

/// Weights of the risk score: points per kind of finding at `high`, and the score at which a
/// `contractor_risk` alert is raised.
#[derive(Clone, Debug, PartialEq)]
pub struct RiskWeights {
    weights: [f64; Kind::ALL.len()],
    /// Score (0–100) at or above which the contractor gets a `contractor_risk` alert.
    pub alert_at: f64,
}

/// Default points per kind at `high`. Remote control, anonymizers, a shared egress and a
/// location that contradicts the claimed home weigh most; a plain VPN, which many legitimate
/// workers use, and a long session weigh less. A `contractor_risk` alert never feeds the score.
const DEFAULT_WEIGHTS: [(Kind, f64); Kind::ALL.len()] = [
    (Kind::RemoteAccess, 40.0),
    (Kind::VpnTunnel, 25.0),
    (Kind::Anonymizer, 35.0),
    (Kind::VpnExit, 25.0),
    (Kind::TorExit, 35.0),
    (Kind::HostingEgress, 20.0),
    (Kind::GeoMismatch, 35.0),
    (Kind::ImpossibleTravel, 35.0),
    (Kind::LaptopFarm, 50.0),
    (Kind::OffHours, 25.0),
    (Kind::ContinuousSession, 15.0),
    (Kind::RttImplausible, 25.0),
    (Kind::ContractorRisk, 0.0),
];

/// Default score that raises a `contractor_risk` alert.
pub const ALERT_AT_DEFAULT: f64 = 60.0;

impl Default for RiskWeights {
    fn default() -> Self {
        let mut weights = [0.0; Kind::ALL.len()];
        for (k, w) in DEFAULT_WEIGHTS {
            if let Some(slot) = index(k).and_then(|i| weights.get_mut(i)) {
                *slot = w;
            }
        }
        RiskWeights {
            weights,
            alert_at: ALERT_AT_DEFAULT,
        }
    }
}

fn index(k: Kind) -> Option<usize> {
    Kind::ALL.iter().position(|x| *x == k)
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
    /// Points for a finding of kind `k` at `high`.
    pub fn weight(&self, k: Kind) -> f64 {
        if k == Kind::ContractorRisk {
            return 0.0;
        }
        index(k)
            .and_then(|i| self.weights.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Sets the points for kind `k` (configuration `[risk]`).
    pub fn set_weight(&mut self, k: Kind, w: f64) {
        if let Some(slot) = index(k).and_then(|i| self.weights.get_mut(i)) {
            *slot = w;
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

    #[test]
    fn identity_findings_count_and_a_risk_alert_never_feeds_itself() {
        let mut w = RiskWeights::default();
        let (s, parts) = w.score([
            (Kind::VpnExit, "vpn", Severity::Medium),
            (Kind::LaptopFarm, "shared_egress", Severity::High),
            (Kind::ContractorRisk, "score", Severity::Critical),
        ]);
        assert_eq!(s, 12.5 + 50.0);
        assert_eq!(parts.len(), 2);
        w.set_weight(Kind::ContractorRisk, 99.0);
        assert_eq!(w.weight(Kind::ContractorRisk), 0.0);
        w.set_weight(Kind::OffHours, 10.0);
        assert_eq!(w.weight(Kind::OffHours), 10.0);
    }
}
