//! One alert per (endpoint, kind, family, peer) per dedup window.
//!
//! Windows are aligned to the Unix epoch (window n covers `[n·w, (n+1)·w)` of packet time), so the
//! same traffic falls in the same window on every replay and after a restart, and the alert id,
//! which hashes the window number, is the same too.

use super::AlertKey;
use crate::ts::Ts;
use std::collections::HashMap;

/// Identities remembered at once. Past this, identities from older windows are forgotten first;
/// if every remembered identity is in the current window, the table is cleared (a flood of
/// distinct peers then yields repeated alerts rather than unbounded memory).
pub const DEDUP_KEYS_MAX: usize = 100_000;

/// The dedup table.
#[derive(Debug)]
pub struct Dedup {
    window_ns: u64,
    /// Admits every alert (the deduplication happens elsewhere).
    keep_all: bool,
    seen: HashMap<AlertKey, u64>,
    suppressed: u64,
}

impl Dedup {
    /// A table for windows of `window_secs` seconds (at least 1).
    pub fn new(window_secs: u64) -> Dedup {
        Dedup {
            window_ns: window_secs.max(1).saturating_mul(Ts::NANOS_PER_SEC),
            keep_all: false,
            seen: HashMap::new(),
            suppressed: 0,
        }
    }

    /// A table that admits every alert but numbers windows like [`Dedup::new`]: for a stage
    /// whose alerts are deduplicated by a later one.
    pub fn keep_all(window_secs: u64) -> Dedup {
        Dedup {
            keep_all: true,
            ..Dedup::new(window_secs)
        }
    }

    /// The window length in seconds.
    pub fn window_secs(&self) -> u64 {
        self.window_ns / Ts::NANOS_PER_SEC
    }

    /// The window number of `ts`.
    pub fn window_of(&self, ts: Ts) -> u64 {
        ts.0 / self.window_ns
    }

    /// Whether an alert for `key` at `ts` is the first of its window (and remembers it if so).
    pub fn admit(&mut self, key: &AlertKey, ts: Ts) -> bool {
        if self.keep_all {
            return true;
        }
        let w = self.window_of(ts);
        if self.seen.get(key) == Some(&w) {
            self.suppressed += 1;
            return false;
        }
        if self.seen.len() >= DEDUP_KEYS_MAX && !self.seen.contains_key(key) {
            self.seen.retain(|_, seen_w| *seen_w >= w);
            if self.seen.len() >= DEDUP_KEYS_MAX {
                self.seen.clear();
            }
        }
        self.seen.insert(key.clone(), w);
        true
    }

    /// Alerts suppressed as duplicates so far.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Kind;
    use std::borrow::Cow;

    fn key(port: u16) -> AlertKey {
        AlertKey {
            endpoint: "192.0.2.1".parse().unwrap(),
            kind: Kind::VpnTunnel,
            family: Cow::Borrowed("openvpn"),
            peer: format!("198.51.100.1:{port}").parse().unwrap(),
            subject: None,
        }
    }

    #[test]
    fn one_alert_per_identity_per_window() {
        let mut d = Dedup::new(3600);
        assert!(d.admit(&key(1194), Ts::from_secs(7200)));
        assert!(!d.admit(&key(1194), Ts::from_secs(7200 + 3599)));
        assert!(d.admit(&key(1195), Ts::from_secs(7200 + 10)));
        assert!(d.admit(&key(1194), Ts::from_secs(7200 + 3600)));
        assert_eq!(d.suppressed(), 1);
    }

    #[test]
    fn memory_stays_bounded_under_many_identities() {
        let mut d = Dedup::new(60);
        for i in 0..(DEDUP_KEYS_MAX as u64 + 10) {
            let mut k = key(1);
            k.peer = std::net::SocketAddr::new(
                std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(i))),
                1,
            );
            assert!(d.admit(&k, Ts::from_secs(10)));
        }
        assert!(d.seen.len() <= DEDUP_KEYS_MAX);
    }
}
