//! Severity policy: how sure a detector is, and which family it found, decide how loud an
//! alert is.
//!
//! Defaults: a port number alone or a heuristic is `low`, a protocol message parsed from one side
//! is `medium`, a handshake seen from both sides is `high`. Per-family overrides from the
//! configuration replace that (plain SSH is `info` by default: developers use it all day).

use crate::detect::{Confidence, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How urgent an alert is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Recorded for context; no action expected.
    Info,
    /// Worth a look when triaging the endpoint.
    Low,
    /// Likely policy-relevant.
    Medium,
    /// Act on it.
    High,
    /// Act on it now.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// One step up (critical stays critical).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!("severity {s:?} is not one of info, low, medium, high, critical")
            })
    }
}

/// Severity rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Severity per family, replacing the confidence-based default.
    pub family_severity: BTreeMap<String, Severity>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            family_severity: BTreeMap::from([("ssh".to_owned(), Severity::Info)]),
        }
    }
}

impl Policy {
    /// The severity of `v`.
    pub fn severity(&self, v: &Verdict) -> Severity {
        if let Some(s) = self.family_severity.get(v.family.as_ref()) {
            return *s;
        }
        match v.confidence {
            Confidence::Port | Confidence::Heuristic => Severity::Low,
            Confidence::Signature => Severity::Medium,
            Confidence::Handshake => Severity::High,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Kind;

    #[test]
    fn confidence_sets_default_severity_and_family_overrides_it() {
        let p = Policy::default();
        let v = |fam: &'static str, c| Verdict::new(Kind::RemoteAccess, fam, c);
        assert_eq!(p.severity(&v("rdp", Confidence::Port)), Severity::Low);
        assert_eq!(
            p.severity(&v("rdp", Confidence::Signature)),
            Severity::Medium
        );
        assert_eq!(p.severity(&v("rdp", Confidence::Handshake)), Severity::High);
        assert_eq!(p.severity(&v("ssh", Confidence::Handshake)), Severity::Info);
        assert_eq!("medium".parse::<Severity>(), Ok(Severity::Medium));
        assert!("loud".parse::<Severity>().is_err());
    }
}
