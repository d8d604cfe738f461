//! Run counters: what the summary prints and, later, what metrics export.

use crate::alert::Alert;
use crate::decode::{Malformed, Tunnel};
use crate::detect::Kind;
use crate::flow::FlowStats;
use crate::ts::Ts;

/// Counters for one pipeline run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames read.
    pub frames: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// Frames decoded to an IP packet.
    pub packets: u64,
    /// Valid non-IP frames (ARP, LLDP, …).
    pub not_ip: u64,
    /// Non-first IP fragments.
    pub fragments: u64,
    /// Packets unwrapped from a tunnel, by tunnel ([`Tunnel::index`]).
    pub unwrapped: [u64; Tunnel::ALL.len()],
    /// Malformed frames by reason ([`Malformed::index`]).
    pub malformed: [u64; Malformed::ALL.len()],
    /// Alerts delivered by kind ([`Kind::ALL`] order).
    pub alerts: [u64; Kind::ALL.len()],
    /// Alerts suppressed as duplicates.
    pub suppressed: u64,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Flows tracked at the time of the snapshot.
    pub flows_active: usize,
    /// Earliest packet time seen.
    pub first_ts: Option<Ts>,
    /// Latest packet time seen.
    pub last_ts: Option<Ts>,
    /// The identity stage's counters.
    pub identity: crate::identity::IdentityStats,
}

impl Stats {
    pub(super) fn see_time(&mut self, ts: Ts) {
        self.first_ts = Some(self.first_ts.map_or(ts, |t| t.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
    }

    pub(super) fn count_malformed(&mut self, m: Malformed) {
        if let Some(n) = self.malformed.get_mut(m.index()) {
            *n += 1;
        }
    }

    pub(super) fn count_unwrapped(&mut self, t: Tunnel) {
        if let Some(n) = self.unwrapped.get_mut(t.index()) {
            *n += 1;
        }
    }

    pub(super) fn count_alert(&mut self, a: &Alert) {
        if let Some(i) = Kind::ALL.iter().position(|k| *k == a.kind) {
            if let Some(n) = self.alerts.get_mut(i) {
                *n += 1;
            }
        }
    }

    /// Adds another pipeline's counters (a worker's, for [`super::Workers`]): sums, with the
    /// peak table size summed too (an upper bound of the workers' joint peak) and the time
    /// range widened.
    pub(super) fn absorb(&mut self, o: &Stats) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.packets += o.packets;
        self.not_ip += o.not_ip;
        self.fragments += o.fragments;
        for (a, b) in self.malformed.iter_mut().zip(o.malformed) {
            *a += b;
        }
        for (a, b) in self.unwrapped.iter_mut().zip(o.unwrapped) {
            *a += b;
        }
        for (a, b) in self.alerts.iter_mut().zip(o.alerts) {
            *a += b;
        }
        self.suppressed += o.suppressed;
        self.flows.created += o.flows.created;
        self.flows.expired += o.flows.expired;
        self.flows.evicted += o.flows.evicted;
        self.flows.peak += o.flows.peak;
        self.flows.inspect_skipped += o.flows.inspect_skipped;
        self.flows_active += o.flows_active;
        for t in [o.first_ts, o.last_ts].into_iter().flatten() {
            self.see_time(t);
        }
    }

    /// Packets unwrapped from a tunnel, in all.
    pub fn unwrapped_total(&self) -> u64 {
        self.unwrapped.iter().sum()
    }

    /// Malformed frames in all.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    /// Alerts delivered in all.
    pub fn alerts_total(&self) -> u64 {
        self.alerts.iter().sum()
    }
}

#[cfg(test)]
impl Stats {
    /// Asserts that `self` counts what `one` (one pipeline's run of the same input) counts:
    /// frames, packets, bytes, frames without IP, malformed frames, flows created and expired,
    /// alerts and suppressed duplicates. `what` names the run in a failure.
    pub(crate) fn assert_counts_as(&self, one: &Stats, what: &str) {
        assert_eq!(
            (
                self.frames,
                self.packets,
                self.bytes,
                self.not_ip,
                self.malformed,
                self.unwrapped
            ),
            (
                one.frames,
                one.packets,
                one.bytes,
                one.not_ip,
                one.malformed,
                one.unwrapped
            ),
            "{what}"
        );
        assert_eq!(
            (self.flows.created, self.flows.expired),
            (one.flows.created, one.flows.expired),
            "{what}"
        );
        assert_eq!(
            (self.alerts, self.suppressed),
            (one.alerts, one.suppressed),
            "{what}"
        );
    }
}
