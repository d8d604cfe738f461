//! Prometheus metrics: every metric the sensor exposes is declared here, once.
//!
//! Names follow the node_exporter style (`remotewatch_<what>_<unit>[_total]`). Labels come from
//! closed sets only: malformed reason, skip reason, alert kind, family (built-in detectors and the
//! product catalogue), severity, contractor id (bounded by the inventory; empty for endpoints
//! outside it). No label ever carries an address or free text.
//!
//! The packet path never touches these: it keeps plain counters ([`Stats`]) and the daemon copies
//! them here about once a second ([`Metrics::observe`]). Alerts are counted by the alert sink,
//! after the store has committed them.

use crate::alert::{Alert, Severity};
use crate::capture::LiveStats;
use crate::decode::{Malformed, Tunnel};
use crate::detect::Kind;
use crate::pipeline::Stats;
use crate::ts::Ts;
use prometheus::{
    Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// Alerts remembered for the active-alert gauges; older ones fall out of the window anyway.
pub const RECENT_ALERTS_MAX: usize = 100_000;

/// Adds to each counter of `v`, labelled by `labels` in turn, what its count grew by from `old`
/// to `new` (in the same order).
fn inc_each<const N: usize>(v: &IntCounterVec, labels: [&str; N], new: &[u64; N], old: &[u64; N]) {
    for (label, (n, o)) in labels.iter().zip(new.iter().zip(old)) {
        v.with_label_values(&[*label]).inc_by(n.saturating_sub(*o));
    }
}

/// Every metric, registered in one registry.
pub struct Metrics {
    registry: Registry,
    frames: IntCounter,
    bytes: IntCounter,
    packets: IntCounter,
    skipped: IntCounterVec,
    malformed: IntCounterVec,
    unwrapped: IntCounterVec,
    flows: IntCounter,
    flows_expired: IntCounter,
    flows_evicted: IntCounter,
    flows_not_inspected: IntCounter,
    flows_active: IntGauge,
    alerts: IntCounterVec,
    alerts_suppressed: IntCounter,
    alerts_restored: IntCounter,
    active_alerts: IntGaugeVec,
    risk: prometheus::GaugeVec,
    capture_received: IntCounter,
    capture_dropped: IntCounter,
    capture_if_dropped: IntCounter,
    last_packet: Gauge,
    intel_db_built: IntGaugeVec,
    intel_feed_entries: IntGaugeVec,
    intel_load_seconds: Gauge,
    intel_loaded: Gauge,
    reloads: IntCounterVec,
    reload_ok: IntGauge,
    reload_ok_at: Gauge,
    logins: IntCounter,
    unknown_users: IntCounter,
    session_log_errors: IntCounter,
    egress: IntCounter,
    intel_lookups: IntCounter,
    state: Mutex<State>,
    active_window_ns: u64,
}

/// An alert within the active window.
struct Recent {
    ts: Ts,
    contractor: String,
    kind: Kind,
    family: String,
    severity: Severity,
}

#[derive(Default)]
struct State {
    last: Stats,
    last_capture: [u64; 3],
    recent: VecDeque<Recent>,
    /// Risk weights and the inventory's contractors: replaced on reload.
    risk_weights: crate::alert::risk::RiskWeights,
    contractors: Vec<String>,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| unreachable_metric(name, &e));
    let _ = r.register(Box::new(c.clone()));
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable_metric(name, &e));
    let _ = r.register(Box::new(c.clone()));
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable_metric(name, &e));
    let _ = r.register(Box::new(g.clone()));
    g
}

/// Metric names and labels are compile-time constants checked by the tests; an invalid one is a
/// programming error, reported loudly rather than silently exporting nothing.
#[allow(clippy::panic)]
fn unreachable_metric(name: &str, e: &prometheus::Error) -> ! {
    panic!("metric {name} is invalid: {e}")
}

impl Metrics {
    /// Declares and registers every metric. `active_window_secs` is the span over which alerts
    /// count as active.
    pub fn new(sensor: &str, active_window_secs: u64) -> Metrics {
        Metrics::with_risk(
            sensor,
            active_window_secs,
            crate::alert::risk::RiskWeights::default(),
            &[],
        )
    }

    /// As [`Metrics::new`], scoring risk with `weights` and listing every contractor of the
    /// inventory (`contractors`) in the risk gauge from the start.
    pub fn with_risk(
        sensor: &str,
        active_window_secs: u64,
        weights: crate::alert::risk::RiskWeights,
        contractors: &[&str],
    ) -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let build = gauge_vec(
            r,
            "remotewatch_build_info",
            "Build information; the value is always 1.",
            &["version", "sensor"],
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), sensor])
            .set(1);
        #[cfg(target_os = "linux")]
        let _ = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        let last_packet = Gauge::new(
            "remotewatch_last_packet_timestamp_seconds",
            "Capture time of the newest packet processed (Unix seconds).",
        )
        .unwrap_or_else(|e| unreachable_metric("remotewatch_last_packet_timestamp_seconds", &e));
        let _ = registry.register(Box::new(last_packet.clone()));
        let gauge = |name: &str, help: &str| {
            let g = Gauge::new(name, help).unwrap_or_else(|e| unreachable_metric(name, &e));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        let intel_load_seconds = gauge(
            "remotewatch_intel_load_duration_seconds",
            "Time the IP-intelligence databases and lists took to load.",
        );
        let intel_loaded = gauge(
            "remotewatch_intel_loaded_timestamp_seconds",
            "When the IP-intelligence databases and lists were loaded (Unix seconds).",
        );
        let m = Metrics {
            frames: counter(r, "remotewatch_frames_total", "Frames read from the capture."),
            bytes: counter(r, "remotewatch_bytes_total", "Bytes on the wire of the frames read."),
            packets: counter(r, "remotewatch_packets_total", "Frames decoded to an IP packet."),
            skipped: counter_vec(r, "remotewatch_frames_skipped_total", "Valid frames not analysed, by reason (not_ip, fragment).", &["reason"]),
            malformed: counter_vec(r, "remotewatch_frames_malformed_total", "Frames that could not be decoded, by reason.", &["reason"]),
            unwrapped: counter_vec(r, "remotewatch_packets_unwrapped_total", "Packets unwrapped from a tunnel, by tunnel (ipip, gre, vxlan, geneve, teredo).", &["tunnel"]),
            flows: counter(r, "remotewatch_flows_total", "Flows created."),
            flows_expired: counter(r, "remotewatch_flows_expired_total", "Flows ended by the idle timeout."),
            flows_evicted: counter(r, "remotewatch_flows_evicted_total", "Flows evicted because the flow table was full."),
            flows_not_inspected: counter(r, "remotewatch_flows_not_inspected_total", "Flows whose inspection was cut short because every payload buffer was in use (the idlest holder gave its buffer up)."),
            flows_active: IntGauge::new("remotewatch_flows_active", "Flows in the flow table.")
                .unwrap_or_else(|e| unreachable_metric("remotewatch_flows_active", &e)),
            alerts: counter_vec(r, "remotewatch_alerts_total", "Alerts reported, by kind, family and severity.", &["kind", "family", "severity"]),
            alerts_suppressed: counter(r, "remotewatch_alerts_suppressed_total", "Alerts suppressed as duplicates within the dedup window."),
            alerts_restored: counter(r, "remotewatch_alerts_already_stored_total", "Alerts not reported again because the store already had them (e.g. after a restart)."),
            active_alerts: gauge_vec(r, "remotewatch_active_alerts", "Alerts within the active window, by contractor (empty: outside the inventory) and kind.", &["contractor", "kind"]),
            risk: {
                let g = prometheus::GaugeVec::new(
                    Opts::new(
                        "remotewatch_contractor_risk_score",
                        "Risk score 0-100 of each inventory contractor from the distinct findings within the active window (weights in [risk]).",
                    ),
                    &["contractor"],
                )
                .unwrap_or_else(|e| unreachable_metric("remotewatch_contractor_risk_score", &e));
                let _ = r.register(Box::new(g.clone()));
                for c in contractors {
                    g.with_label_values(&[c]).set(0.0);
                }
                g
            },
            capture_received: counter(r, "remotewatch_capture_received_packets_total", "Packets received by the capture filter (libpcap ps_recv)."),
            capture_dropped: counter(r, "remotewatch_capture_dropped_packets_total", "Packets dropped because the kernel buffer was full (libpcap ps_drop)."),
            capture_if_dropped: counter(r, "remotewatch_capture_interface_dropped_packets_total", "Packets dropped by the interface or driver (libpcap ps_ifdrop)."),
            last_packet,
            intel_db_built: gauge_vec(r, "remotewatch_intel_database_build_timestamp_seconds", "Build time of each IP-intelligence database (Unix seconds), by role (country, city, asn, anonymous-N).", &["database"]),
            intel_feed_entries: gauge_vec(r, "remotewatch_intel_feed_entries", "Entries of each address list in use.", &["feed"]),
            intel_load_seconds,
            intel_loaded,
            reloads: counter_vec(r, "remotewatch_reloads_total", "Reloads of configuration, inventory, lists and databases (SIGHUP or a changed file), by result (success, failure).", &["result"]),
            reload_ok: {
                let name = "remotewatch_reload_last_successful";
                let g = IntGauge::new(name, "Whether the last reload succeeded (1) or failed and the previous state is still in use (0).")
                    .unwrap_or_else(|e| unreachable_metric(name, &e));
                let _ = r.register(Box::new(g.clone()));
                g
            },
            reload_ok_at: gauge(
                "remotewatch_reload_last_success_timestamp_seconds",
                "When the configuration in use was loaded (Unix seconds).",
            ),
            logins: counter(r, "remotewatch_session_logins_total", "Session-log logins bound to an inventory contractor."),
            unknown_users: counter(r, "remotewatch_session_unknown_users_total", "Session-log logins of users the inventory does not know."),
            session_log_errors: counter(r, "remotewatch_session_log_errors_total", "Session-log lines that could not be read (logged with file and line)."),
            egress: counter(r, "remotewatch_egress_observations_total", "Contractor egress addresses observed (gateway sessions and logins)."),
            intel_lookups: counter(r, "remotewatch_intel_lookups_total", "IP-intelligence lookups made (cache misses)."),
            state: Mutex::new(State {
                risk_weights: weights,
                contractors: contractors.iter().map(|c| (*c).to_owned()).collect(),
                ..State::default()
            }),
            active_window_ns: active_window_secs.saturating_mul(Ts::NANOS_PER_SEC),
            registry,
        };
        let _ = m.registry.register(Box::new(m.flows_active.clone()));
        for reason in Malformed::ALL {
            m.malformed.with_label_values(&[reason.as_str()]);
        }
        for reason in ["not_ip", "fragment"] {
            m.skipped.with_label_values(&[reason]);
        }
        for t in Tunnel::ALL {
            m.unwrapped.with_label_values(&[t.name()]);
        }
        for result in ["success", "failure"] {
            m.reloads.with_label_values(&[result]);
        }
        m.reload_ok.set(1);
        m
    }

    /// A reload succeeded at `now` (wall clock, Unix seconds): new weights and contractors.
    pub fn reloaded(
        &self,
        weights: crate::alert::risk::RiskWeights,
        contractors: &[&str],
        now: f64,
    ) {
        self.reloads.with_label_values(&["success"]).inc();
        self.reload_ok.set(1);
        self.reload_ok_at.set(now);
        if let Ok(mut st) = self.state.lock() {
            st.risk_weights = weights;
            st.contractors = contractors.iter().map(|c| (*c).to_owned()).collect();
        }
        self.risk.reset();
    }

    /// A reload failed: the previous state stays in use.
    pub fn reload_failed(&self) {
        self.reloads.with_label_values(&["failure"]).inc();
        self.reload_ok.set(0);
    }

    /// Records when the configuration in use was loaded (start).
    pub fn loaded_at(&self, now: f64) {
        self.reload_ok_at.set(now);
    }

    /// Counts a session-log line that could not be read.
    pub fn session_log_error(&self) {
        self.session_log_errors.inc();
    }

    /// Copies the pipeline's counters (and libpcap's, for live capture) into the metrics.
    pub fn observe(&self, s: &Stats, capture: Option<&LiveStats>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let prev = &st.last;
        let delta = |new: u64, old: u64| new.saturating_sub(old);
        self.frames.inc_by(delta(s.frames, prev.frames));
        self.bytes.inc_by(delta(s.bytes, prev.bytes));
        self.packets.inc_by(delta(s.packets, prev.packets));
        self.skipped
            .with_label_values(&["not_ip"])
            .inc_by(delta(s.not_ip, prev.not_ip));
        self.skipped
            .with_label_values(&["fragment"])
            .inc_by(delta(s.fragments, prev.fragments));
        inc_each(
            &self.malformed,
            Malformed::ALL.map(Malformed::as_str),
            &s.malformed,
            &prev.malformed,
        );
        inc_each(
            &self.unwrapped,
            Tunnel::ALL.map(Tunnel::name),
            &s.unwrapped,
            &prev.unwrapped,
        );
        self.flows
            .inc_by(delta(s.flows.created, prev.flows.created));
        self.flows_expired
            .inc_by(delta(s.flows.expired, prev.flows.expired));
        self.flows_evicted
            .inc_by(delta(s.flows.evicted, prev.flows.evicted));
        self.flows_not_inspected
            .inc_by(delta(s.flows.inspect_skipped, prev.flows.inspect_skipped));
        self.alerts_suppressed
            .inc_by(delta(s.suppressed, prev.suppressed));
        let (i, pi) = (&s.identity, &prev.identity);
        self.logins.inc_by(delta(i.logins, pi.logins));
        self.unknown_users
            .inc_by(delta(i.unknown_users, pi.unknown_users));
        self.egress.inc_by(delta(i.egress, pi.egress));
        self.intel_lookups.inc_by(delta(i.lookups, pi.lookups));
        self.flows_active
            .set(i64::try_from(s.flows_active).unwrap_or(i64::MAX));
        if let Some(t) = s.last_ts {
            self.last_packet.set(t.0 as f64 / Ts::NANOS_PER_SEC as f64);
        }
        st.last = s.clone();
        if let Some(c) = capture {
            let now = [
                c.received.load(Ordering::Relaxed),
                c.dropped.load(Ordering::Relaxed),
                c.if_dropped.load(Ordering::Relaxed),
            ];
            // libpcap's counters are 32-bit and wrap; a smaller value is a wrap, counted as 0.
            for ((ctr, n), o) in [
                &self.capture_received,
                &self.capture_dropped,
                &self.capture_if_dropped,
            ]
            .iter()
            .zip(now)
            .zip(st.last_capture)
            {
                ctr.inc_by(delta(n, o));
            }
            st.last_capture = now;
        }
    }

    /// Records what the intel stage loaded: database build times, list sizes, load duration and
    /// time (`now`: wall clock, Unix seconds).
    pub fn intel_loaded(&self, intel: &crate::intel::Intel, load_secs: f64, now: f64) {
        self.intel_db_built.reset();
        for (role, _, _, built) in intel.databases() {
            self.intel_db_built
                .with_label_values(&[role.as_str()])
                .set(i64::try_from(built.secs()).unwrap_or(i64::MAX));
        }
        self.intel_feed_entries.reset();
        for (name, _, entries) in intel.feeds() {
            self.intel_feed_entries
                .with_label_values(&[name])
                .set(i64::try_from(entries).unwrap_or(i64::MAX));
        }
        self.intel_load_seconds.set(load_secs);
        self.intel_loaded.set(now);
    }

    /// Counts an alert that was just stored and reported.
    pub fn alert(&self, a: &Alert) {
        self.alerts
            .with_label_values(&[a.kind.as_str(), a.family.as_ref(), a.severity.as_str()])
            .inc();
        self.push_recent(Recent {
            ts: a.ts,
            contractor: a.contractor.clone().unwrap_or_default(),
            kind: a.kind,
            family: a.family.to_string(),
            severity: a.severity,
        });
    }

    /// Counts an alert known only by its stored JSON record (delivered after a restart).
    pub fn alert_record(&self, record: &str) {
        if let Some(r) = recent_of(record) {
            self.alerts
                .with_label_values(&[r.kind.as_str(), &r.family, r.severity.as_str()])
                .inc();
            self.push_recent(r);
        }
    }

    /// Counts an alert the store already had.
    pub fn alert_already_stored(&self) {
        self.alerts_restored.inc();
    }

    /// Adds an alert reported before a restart (its stored record) to the active window, without
    /// counting it again.
    pub fn remember(&self, record: &str) {
        if let Some(r) = recent_of(record) {
            self.push_recent(r);
        }
    }

    fn push_recent(&self, r: Recent) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.recent.len() >= RECENT_ALERTS_MAX {
            st.recent.pop_front();
        }
        st.recent.push_back(r);
    }

    /// The text exposition of every metric, with the active-alert gauges brought up to the newest
    /// packet time.
    pub fn render(&self) -> String {
        self.refresh_active();
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn refresh_active(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let now = st
            .last
            .last_ts
            .or_else(|| st.recent.back().map(|r| r.ts))
            .unwrap_or_default();
        let horizon = Ts(now.0.saturating_sub(self.active_window_ns));
        st.recent.retain(|r| r.ts >= horizon);
        let mut counts: BTreeMap<(&str, Kind), i64> = BTreeMap::new();
        let mut by_contractor: BTreeMap<&str, Vec<(Kind, &str, Severity)>> = BTreeMap::new();
        for r in &st.recent {
            *counts.entry((r.contractor.as_str(), r.kind)).or_default() += 1;
            if !r.contractor.is_empty() {
                by_contractor
                    .entry(r.contractor.as_str())
                    .or_default()
                    .push((r.kind, r.family.as_str(), r.severity));
            }
        }
        self.active_alerts.reset();
        for ((c, k), n) in counts {
            self.active_alerts
                .with_label_values(&[c, k.as_str()])
                .set(n);
        }
        // Every inventory contractor keeps a series (0 when quiet), so dashboards list them all.
        for c in &st.contractors {
            self.risk.with_label_values(&[c.as_str()]).set(0.0);
        }
        for (c, findings) in by_contractor {
            let (score, _) = st.risk_weights.score(findings);
            self.risk.with_label_values(&[c]).set(score);
        }
    }

    /// The risk score of `contractor` now and its contributing signals (for alerts and APIs).
    pub fn risk_of(&self, contractor: &str) -> (f64, Vec<(String, f64)>) {
        let Ok(st) = self.state.lock() else {
            return (0.0, Vec::new());
        };
        st.risk_weights.score(
            st.recent
                .iter()
                .filter(|r| r.contractor == contractor)
                .map(|r| (r.kind, r.family.as_str(), r.severity)),
        )
    }
}

/// The fields of a stored alert record the window needs.
fn recent_of(record: &str) -> Option<Recent> {
    let v: serde_json::Value = serde_json::from_str(record).ok()?;
    let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let kind = Kind::ALL.into_iter().find(|k| k.as_str() == s("kind"))?;
    let severity = s("severity").parse::<Severity>().ok()?;
    let ts = s("ts")
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| u64::try_from(t.as_nanosecond()).ok())
        .map_or(Ts(0), Ts);
    Some(Recent {
        ts,
        contractor: s("contractor").to_owned(),
        kind,
        family: s("family").to_owned(),
        severity,
    })
}

#[cfg(test)]
mod tests;
