//! Identity: who is behind the traffic, and whether that fits who they say they are.
//!
//! Detectors say *what* a flow is; this stage says what it means for a contractor. It sees the
//! sensor's traffic from two vantage points with one model:
//!
//! - **Endpoint** (the contractor's own machine is in the inventory): intel applies to its peers.
//!   A laptop that talks to a listed VPN or Tor exit gets `vpn_exit` / `tor_exit`.
//! - **Gateway** (the sensor sits in front of a VPN concentrator, VDI/RDP gateway, SSH bastion or
//!   SSO, listed as `[[identity.gateway]]`): the remote address of an inbound session *is* the
//!   contractor's egress. It is bound to a contractor by the inventory's `egress` networks or by
//!   a session log (time, user, public IP) exported by the VPN or identity provider.
//!
//! Each egress observation is checked for a VPN/Tor/proxy/hosting exit (`vpn_exit`, `tor_exit`,
//! `hosting_egress`), a location outside the claimed residence (`geo_mismatch`), a jump no one
//! could travel (`impossible_travel`), several contractors on one line (`laptop_farm`), a round
//! trip that contradicts the claimed distance (`rtt_implausible`); activity feeds the working-
//! hours check (`off_hours`); every finding feeds the contractor's risk score
//! (`contractor_risk`). Every finding carries its evidence: which list, which database, which
//! login bound the address, and the numbers behind a bound.
//!
//! All state is bounded (per contractor, or by named table limits) and driven by packet or log
//! time, never the wall clock.

pub mod farm;
pub mod geo;
pub mod hours;
pub mod session;

use crate::alert::risk::RiskWeights;
use crate::alert::{Alert, FlowRecord, Severity};
use crate::config::{Contractor, Inventory};
use crate::detect::{Confidence, Kind};
use crate::intel::{reserved, Intel, IntelVerdict, IpIntel};
use crate::ts::Ts;
use farm::Sightings;
use hours::{Hours, HoursConfig};
use ipnet::IpNet;
use session::{Bindings, Login};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Addresses whose intel is cached. Lookups are per new peer, not per packet; past this the
/// cache is cleared (a flood of distinct peers costs lookups, not memory).
pub const INTEL_CACHE_MAX: usize = 65_536;
/// Findings remembered per contractor for the risk score.
pub const RISK_FINDINGS_MAX: usize = 256;
/// Risk score from which a `contractor_risk` alert is `critical` rather than `high`.
pub const RISK_CRITICAL_AT: f64 = 90.0;
/// Radius around a claimed home assumed when the inventory gives coordinates without one, km.
pub const HOME_RADIUS_DEFAULT_KM: f64 = 50.0;
/// Countries whose appearance raises a location finding to `high` unless configured otherwise:
/// North Korea, and the countries US advisories name as bases or transit for its IT workers
/// (China, Russia), plus the comprehensively sanctioned Iran, Syria and Cuba (OFAC).
pub const WATCH_COUNTRIES_DEFAULT: [&str; 6] = ["KP", "CN", "RU", "IR", "SY", "CU"];

/// A corporate gateway whose inbound sessions reveal contractors' egress addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    /// Name (appears in evidence).
    pub name: String,
    /// Its addresses.
    pub nets: Vec<IpNet>,
    /// Its service ports; empty: any.
    pub ports: Vec<u16>,
}

impl Gateway {
    fn matches(&self, a: SocketAddr) -> bool {
        let ip = crate::config::canonical(a.ip());
        self.nets.iter().any(|n| n.contains(&ip))
            && (self.ports.is_empty() || self.ports.contains(&a.port()))
    }
}

/// A network with a reason (allowlists, known shared egress).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetNote {
    /// The network.
    pub net: IpNet,
    /// Why it is listed.
    pub reason: String,
}

/// Identity configuration (`[identity]`).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityConfig {
    /// Corporate gateways.
    pub gateways: Vec<Gateway>,
    /// Session log to bind addresses to contractors.
    pub session_log: Option<PathBuf>,
    /// How long a login binds its address, seconds.
    pub session_ttl_secs: u64,
    /// Where the sensor is (latitude, longitude), for round-trip checks.
    pub sensor_location: Option<(f64, f64)>,
    /// Countries that raise a location finding to `high`.
    pub watch_countries: Vec<String>,
    /// Egress that is never reported (corporate VPN egress, sanctioned relays).
    pub allow: Vec<NetNote>,
    /// Egress known to be shared by unrelated people (carrier-grade NAT pools, coworking
    /// spaces): a shared-egress finding there is `low`.
    pub shared: Vec<NetNote>,
    /// Distinct contractors on one egress (or controllers of one endpoint) that make a farm.
    pub farm_min: usize,
    /// Window for the farm count, seconds.
    pub farm_window_secs: u64,
    /// Two countries within this many seconds are impossible travel when no coordinates are
    /// known.
    pub travel_window_secs: u64,
    /// Fastest plausible travel, km/h (a long-haul flight averages ~800–900 km/h).
    pub travel_speed_kmh: f64,
    /// Working hours.
    pub hours: HoursConfig,
    /// A remote-control or VPN flow alive this long is a `continuous_session`, seconds.
    pub continuous_secs: u64,
    /// Slack added to the round-trip ceiling, ms (access networks, queueing).
    pub rtt_slack_ms: f64,
    /// How many times the fibre floor a direct path may take before a relay is suspected.
    pub rtt_factor: f64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            gateways: Vec::new(),
            session_log: None,
            session_ttl_secs: 12 * 3_600,
            sensor_location: None,
            watch_countries: WATCH_COUNTRIES_DEFAULT.map(str::to_owned).to_vec(),
            allow: Vec::new(),
            shared: Vec::new(),
            farm_min: 3,
            farm_window_secs: 86_400,
            travel_window_secs: 6 * 3_600,
            travel_speed_kmh: 1_000.0,
            hours: HoursConfig::default(),
            continuous_secs: 86_400,
            rtt_slack_ms: 40.0,
            rtt_factor: 3.0,
        }
    }
}

/// What this stage needs to know of a flow.
#[derive(Clone, Debug)]
pub struct FlowFacts {
    /// First packet.
    pub ts: Ts,
    /// IP protocol.
    pub proto: u8,
    /// Initiator.
    pub client: SocketAddr,
    /// Responder.
    pub server: SocketAddr,
    /// VLAN key.
    pub vlan: u32,
    /// SYN/ACK → ACK round trip (sensor ↔ client), ns.
    pub client_rtt_ns: Option<u64>,
}

impl FlowFacts {
    fn record(&self) -> FlowRecord {
        FlowRecord::new(self.proto, self.client, self.server, self.vlan)
    }
}

/// A finding, ready to become an alert (after dedup and severity policy).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// When.
    pub ts: Ts,
    /// Kind.
    pub kind: Kind,
    /// Sub-type (bounded set; a metric label).
    pub family: &'static str,
    /// VPN provider, when known.
    pub provider: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// Confidence.
    pub confidence: Confidence,
    /// The address it is about.
    pub endpoint: IpAddr,
    /// The contractor.
    pub contractor: Option<String>,
    /// The other end, when one connection is concerned.
    pub peer: Option<SocketAddr>,
    /// The flow, when one is concerned.
    pub flow: Option<FlowRecord>,
    /// Facts, most decisive first.
    pub evidence: Vec<String>,
    /// Dedup identity: the address pair (`None`), or a contractor-level subject.
    pub subject: Option<String>,
}

/// Counters of this stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdentityStats {
    /// Session-log logins applied.
    pub logins: u64,
    /// Logins of users the inventory does not know.
    pub unknown_users: u64,
    /// Egress observations (gateway sessions and logins).
    pub egress: u64,
    /// Intel lookups made (cache misses).
    pub lookups: u64,
}

/// Per-contractor state.
#[derive(Debug, Default)]
struct Person {
    last_fix: Option<Fix>,
    last_addr: Option<IpAddr>,
    hours: Hours,
    hours_alerted_day: Option<u64>,
    findings: VecDeque<(Ts, Kind, String, Severity)>,
    risk_alerted: Option<(Ts, Severity)>,
}

/// A located, non-anonymized egress of a contractor.
#[derive(Clone, Debug)]
struct Fix {
    ts: Ts,
    ip: IpAddr,
    country: String,
    place: String,
    lat_lon: Option<(f64, f64)>,
    accuracy_km: f64,
}

/// One egress observation.
struct Egress<'a> {
    ts: Ts,
    ip: IpAddr,
    contractor: Option<&'a Contractor>,
    /// How the address was bound to the contractor.
    bound_by: Option<String>,
    /// How it was seen: a gateway session or a login.
    seen: String,
    peer: Option<SocketAddr>,
    flow: Option<FlowRecord>,
    rtt_ns: Option<u64>,
}

/// The identity stage.
pub struct Identity {
    cfg: Arc<IdentityConfig>,
    intel: Arc<Intel>,
    risk: RiskWeights,
    active_window_ns: u64,
    cache: HashMap<IpAddr, Arc<IpIntel>>,
    bindings: Bindings,
    people: HashMap<String, Person>,
    shared: Sightings<IpNet, String>,
    driven: Sightings<IpAddr, IpAddr>,
    pending: VecDeque<Login>,
    out: Vec<Finding>,
    stats: IdentityStats,
}

impl Identity {
    /// A stage with `cfg`, looking addresses up in `intel`, scoring with `risk` over an active
    /// window of `active_window_secs`.
    pub fn new(
        cfg: Arc<IdentityConfig>,
        intel: Arc<Intel>,
        risk: RiskWeights,
        active_window_secs: u64,
    ) -> Identity {
        Identity {
            cfg,
            intel,
            risk,
            active_window_ns: active_window_secs.saturating_mul(Ts::NANOS_PER_SEC),
            cache: HashMap::new(),
            bindings: Bindings::default(),
            people: HashMap::new(),
            shared: Sightings::default(),
            driven: Sightings::default(),
            pending: VecDeque::new(),
            out: Vec::new(),
            stats: IdentityStats::default(),
        }
    }

    /// Swaps in reloaded configuration and intel. History (logins, activity, sightings, risk
    /// findings) is kept: it is about people, not files.
    pub fn reload(&mut self, cfg: Arc<IdentityConfig>, intel: Arc<Intel>, risk: RiskWeights) {
        self.cfg = cfg;
        self.intel = intel;
        self.risk = risk;
        self.cache.clear();
    }

    /// Looks addresses up in `intel` from now on.
    pub fn set_intel(&mut self, intel: Arc<Intel>) {
        self.intel = intel;
        self.cache.clear();
    }

    /// The configuration in use.
    pub fn config(&self) -> &IdentityConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> IdentityStats {
        self.stats
    }

    /// Whether the stage has anything to do for flows (gateways, egress lists or contractor
    /// endpoints); without, a flow costs one call and one branch.
    fn watches_flows(&self, inv: &Inventory) -> bool {
        !self.cfg.gateways.is_empty() || !inv.is_empty()
    }

    /// Logins read ahead (analysis of a capture): each is applied when packet time reaches it,
    /// so bindings and findings happen in time order.
    pub fn queue_logins(&mut self, mut logins: Vec<Login>) {
        logins.sort_by_key(|l| l.ts);
        self.pending.extend(logins);
    }

    /// Applies queued logins up to `now`.
    pub fn advance(&mut self, now: Ts, inv: &Inventory) {
        while self.pending.front().is_some_and(|l| l.ts <= now) {
            if let Some(l) = self.pending.pop_front() {
                self.login(&l, inv);
            }
        }
    }

    /// Whether a queued login is due at `now` or findings wait to be taken: the per-packet
    /// check that lets [`Identity::advance`] and [`Identity::take`] be skipped on almost every
    /// packet.
    pub fn has_work(&self, now: Ts) -> bool {
        !self.out.is_empty() || self.pending.front().is_some_and(|l| l.ts <= now)
    }

    /// Applies every queued login (end of input).
    pub fn drain_logins(&mut self, inv: &Inventory) {
        while let Some(l) = self.pending.pop_front() {
            self.login(&l, inv);
        }
    }

    /// Findings made since the last call.
    pub fn take(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.out)
    }

    /// Everything known about `ip`, cached.
    pub fn intel(&mut self, ip: IpAddr) -> Arc<IpIntel> {
        if let Some(i) = self.cache.get(&ip) {
            return Arc::clone(i);
        }
        if self.cache.len() >= INTEL_CACHE_MAX {
            self.cache.clear();
        }
        self.stats.lookups += 1;
        let i = Arc::new(self.intel.lookup(ip));
        self.cache.insert(ip, Arc::clone(&i));
        i
    }

    /// The contractor a public address belongs to at `ts`, and how that is known: an inventory
    /// egress, or the latest login from it.
    pub fn owner_of<'i>(
        &self,
        ip: IpAddr,
        ts: Ts,
        inv: &'i Inventory,
    ) -> Option<(&'i Contractor, String)> {
        if let Some(c) = inv.lookup_egress(ip) {
            let net = c
                .egress
                .iter()
                .find(|n| n.contains(&crate::config::canonical(ip)))
                .map_or_else(String::new, ToString::to_string);
            return Some((c, format!("inventory egress {net} of contractor {}", c.id)));
        }
        let (id, origin, at) = self.bindings.bind(ip, ts, self.cfg.session_ttl_secs)?;
        let c = inv.by_id(id)?;
        Some((
            c,
            format!(
                "session log {origin}: {} logged in from {ip} at {}",
                c.id,
                at.rfc3339()
            ),
        ))
    }

    /// Whether `server` is a configured gateway, and its name.
    pub fn gateway(&self, server: SocketAddr) -> Option<&str> {
        self.cfg
            .gateways
            .iter()
            .find(|g| g.matches(server))
            .map(|g| g.name.as_str())
    }

    /// One login from the session log.
    pub fn login(&mut self, l: &Login, inv: &Inventory) {
        let Some(c) = inv.by_account(&l.user) else {
            self.stats.unknown_users += 1;
            return;
        };
        self.stats.logins += 1;
        let ip = crate::config::canonical(l.ip);
        self.bindings.learn(ip, l.ts, &c.id, &l.origin);
        if reserved::special(ip).is_some() {
            return;
        }
        self.egress(
            Egress {
                ts: l.ts,
                ip,
                contractor: Some(c),
                bound_by: Some(format!("session log {}: user {}", l.origin, l.user)),
                seen: format!("login of {} from {ip}", l.user),
                peer: None,
                flow: None,
                rtt_ns: None,
            },
            inv,
        );
    }

    /// One flow, once its detection is over.
    pub fn flow(&mut self, f: &FlowFacts, inv: &Inventory) {
        if !self.watches_flows(inv) {
            return;
        }
        let (cip, sip) = (
            crate::config::canonical(f.client.ip()),
            crate::config::canonical(f.server.ip()),
        );
        // Endpoint vantage: the contractor's machine and its peer.
        let client_is_endpoint = inv.lookup(cip);
        if let Some(c) = client_is_endpoint {
            self.peer_intel(c, cip, SocketAddr::new(sip, f.server.port()), f);
        } else if let Some(c) = inv.lookup(sip) {
            self.peer_intel(c, sip, SocketAddr::new(cip, 0), f);
        }
        // Gateway vantage: the initiator's address is the contractor's egress.
        if reserved::special(cip).is_some() || client_is_endpoint.is_some() {
            return;
        }
        let gw = self.gateway(f.server).map(str::to_owned);
        let owner = self.owner_of(cip, f.ts, inv);
        if gw.is_none() && owner.is_none() {
            return;
        }
        let (contractor, bound_by) = match owner {
            Some((c, how)) => (Some(c), Some(how)),
            None => (None, None),
        };
        let seen = match &gw {
            Some(g) => format!("session from {} to gateway {g} ({})", f.client, f.server),
            None => format!("flow from {} to {}", f.client, f.server),
        };
        self.egress(
            Egress {
                ts: f.ts,
                ip: cip,
                contractor,
                bound_by,
                seen,
                peer: Some(f.server),
                flow: Some(f.record()),
                rtt_ns: f.client_rtt_ns,
            },
            inv,
        );
    }

    /// A flow that a detector reported as remote access or a tunnel has lasted `secs`.
    pub fn long_session(
        &mut self,
        f: &FlowFacts,
        kind: Kind,
        family: &str,
        contractor: Option<String>,
        last: Ts,
    ) {
        let hours = last.since(f.ts) as f64 / 3.6e12;
        self.out.push(Finding {
            ts: last,
            kind: Kind::ContinuousSession,
            family: if kind == Kind::RemoteAccess {
                "remote_control"
            } else {
                "tunnel"
            },
            provider: None,
            severity: Severity::Medium,
            confidence: Confidence::Signature,
            endpoint: f.client.ip(),
            contractor,
            peer: Some(f.server),
            flow: Some(f.record()),
            evidence: vec![
                format!(
                    "{family} {} session {} → {} has been open for {hours:.1} h (since {}; reported from {:.0} h)",
                    kind.as_str(),
                    f.client,
                    f.server,
                    f.ts.rfc3339(),
                    self.cfg.continuous_secs as f64 / 3_600.0
                ),
                "people end their working day; a session that never closes suggests a machine driven around the clock, or shared in shifts".into(),
            ],
            subject: None,
        });
    }

    /// An alert was delivered: it feeds the risk score, the working-hours activity, and the
    /// count of places an endpoint is controlled from.
    pub fn alerted(&mut self, a: &Alert, inv: &Inventory) {
        if a.kind == Kind::ContractorRisk {
            return;
        }
        if a.kind == Kind::RemoteAccess {
            self.controllers(a, inv);
        }
        let Some(id) = a.contractor.clone() else {
            return;
        };
        if Kind::DETECTED.contains(&a.kind) {
            self.activity(&id, a.ts, inv);
        }
        let window = self.active_window_ns;
        let p = self.people.entry(id.clone()).or_default();
        p.findings
            .retain(|(t, _, _, _)| a.ts.since(*t) <= window && t.since(a.ts) <= window);
        if p.findings.len() >= RISK_FINDINGS_MAX {
            p.findings.pop_front();
        }
        p.findings
            .push_back((a.ts, a.kind, a.family.to_string(), a.severity));
        let (score, parts) = self.risk.score(
            p.findings
                .iter()
                .map(|(_, k, fam, sev)| (*k, fam.as_str(), *sev)),
        );
        if score < self.risk.alert_at {
            return;
        }
        let severity = if score >= RISK_CRITICAL_AT {
            Severity::Critical
        } else {
            Severity::High
        };
        // Once per active window, and again when the score reaches the critical band.
        let due = match p.risk_alerted {
            None => true,
            Some((t, s)) => severity > s || a.ts.since(t) > window,
        };
        if !due {
            return;
        }
        p.risk_alerted = Some((a.ts, severity));
        let endpoint = p.last_addr.unwrap_or(a.endpoint);
        let mut evidence = vec![format!(
            "risk score {score:.0} of 100 for contractor {id} (alert at {:.0}): {}",
            self.risk.alert_at,
            parts
                .iter()
                .map(|(what, pts)| format!("{what} +{pts:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        evidence.push(format!(
            "findings of the last {:.0} h, each counted once at its worst severity; weights in [risk]",
            window as f64 / 3.6e12
        ));
        self.out.push(Finding {
            ts: a.ts,
            kind: Kind::ContractorRisk,
            family: "score",
            provider: None,
            severity,
            confidence: Confidence::Heuristic,
            endpoint,
            contractor: Some(id.clone()),
            peer: None,
            flow: None,
            evidence,
            subject: Some(format!("{id} {severity}")),
        });
    }

    /// One endpoint controlled from several addresses (remote-access flows into a contractor
    /// endpoint).
    fn controllers(&mut self, a: &Alert, inv: &Inventory) {
        let Some(flow) = &a.flow else { return };
        let (controlled, controller) = (flow.dst_ip, flow.src_ip);
        let Some(c) = inv.lookup(controlled) else {
            return;
        };
        let window = self.cfg.farm_window_secs.saturating_mul(Ts::NANOS_PER_SEC);
        let (group, new) = self.driven.see(&controlled, controller, a.ts, window);
        if !new || group.len() < self.cfg.farm_min.max(2) {
            return;
        }
        let list = members(&group);
        self.out.push(Finding {
            ts: a.ts,
            kind: Kind::LaptopFarm,
            family: "shared_endpoint",
            provider: None,
            severity: Severity::High,
            confidence: Confidence::Heuristic,
            endpoint: controlled,
            contractor: Some(c.id.clone()),
            peer: None,
            flow: None,
            evidence: vec![
                format!(
                    "endpoint {controlled} of contractor {} was remote-controlled from {} different addresses within {:.0} h: {list}",
                    c.id,
                    group.len(),
                    window as f64 / 3.6e12
                ),
                format!("threshold: {} (identity.farm_min)", self.cfg.farm_min),
            ],
            subject: Some(c.id.clone()),
        });
    }

    /// Marks activity and judges working hours.
    fn activity(&mut self, id: &str, ts: Ts, inv: &Inventory) {
        let cfg = self.cfg.hours;
        let p = self.people.entry(id.to_owned()).or_default();
        if !p.hours.mark(ts) {
            return;
        }
        let Some(tz_name) = inv
            .by_id(id)
            .and_then(|c| c.residence.as_ref())
            .and_then(|r| r.timezone.as_deref())
        else {
            return;
        };
        let Some(offset) = tz_offset(tz_name, ts) else {
            return;
        };
        let Some(j) = p.hours.judge(&cfg, offset) else {
            return;
        };
        let day = ts.secs() / 86_400;
        if !hours::contradicts(&cfg, &j, offset) || p.hours_alerted_day == Some(day) {
            return;
        }
        p.hours_alerted_day = Some(day);
        let endpoint = p.last_addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.out.push(Finding {
            ts,
            kind: Kind::OffHours,
            family: "timezone",
            provider: None,
            severity: Severity::Medium,
            confidence: Confidence::Heuristic,
            endpoint,
            contractor: Some(id.to_owned()),
            peer: None,
            flow: None,
            evidence: vec![
                format!(
                    "contractor {id} was active in {} distinct hours on {} days; {:.0} % of them fall inside {:02}:00–{:02}:00 in the claimed time zone {tz_name} ({})",
                    j.hours,
                    j.days,
                    j.claimed_share * 100.0,
                    cfg.work_start,
                    cfg.work_end,
                    geo::offset_label(offset)
                ),
                format!(
                    "the working day fits {} best ({:.0} % inside), {} h away from the claim",
                    geo::offset_label(j.best_offset_h * 3600),
                    j.best_share * 100.0,
                    hours::circular(j.best_offset_h - (f64::from(offset) / 3600.0).round() as i32)
                ),
                "activity: gateway and VPN sessions, session-log logins and remote-access findings, one bit per hour".into(),
            ],
            subject: Some(id.to_owned()),
        });
    }

    /// Intel on the peer of a contractor endpoint: only exit verdicts count here (every SaaS is
    /// hosted, so a hosting peer says nothing).
    fn peer_intel(&mut self, c: &Contractor, endpoint: IpAddr, peer: SocketAddr, f: &FlowFacts) {
        if reserved::special(peer.ip()).is_some() || self.allowed(peer.ip()).is_some() {
            return;
        }
        let intel = self.intel(peer.ip());
        let Some(x) = exit_of(&intel, false) else {
            return;
        };
        let mut evidence = vec![format!(
            "contractor {} endpoint {endpoint} exchanged traffic with {}, {}",
            c.id,
            peer,
            describe(x.verdict)
        )];
        evidence.extend(x.sources.iter().map(|v| cite(v)));
        evidence.push(place(&intel));
        self.out.push(Finding {
            ts: f.ts,
            kind: x.kind,
            family: family_of(x.verdict),
            provider: x.provider(),
            severity: x.severity,
            confidence: x.confidence,
            endpoint,
            contractor: Some(c.id.clone()),
            peer: Some(peer),
            flow: Some(f.record()),
            evidence,
            subject: None,
        });
    }

    fn allowed(&self, ip: IpAddr) -> Option<&NetNote> {
        self.cfg.allow.iter().find(|a| a.net.contains(&ip))
    }

    /// One egress observation: exit verdicts, location, travel, shared egress, round trip.
    fn egress(&mut self, e: Egress<'_>, inv: &Inventory) {
        self.stats.egress += 1;
        let id = e.contractor.map(|c| c.id.clone());
        if let Some(id) = &id {
            self.people.entry(id.clone()).or_default().last_addr = Some(e.ip);
            self.activity(id, e.ts, inv);
        }
        if self.allowed(e.ip).is_some() {
            return;
        }
        let intel = self.intel(e.ip);
        let mut context = vec![e.seen.clone()];
        if let Some(b) = &e.bound_by {
            context.push(format!("bound by {b}"));
        }
        context.push(place(&intel));
        if let Some(x) = exit_of(&intel, true) {
            let who = id.as_deref().map_or_else(
                || "an unidentified user".to_owned(),
                |i| format!("contractor {i}"),
            );
            let mut evidence = vec![format!(
                "{who} egresses from {}, {}",
                e.ip,
                describe(x.verdict)
            )];
            evidence.extend(x.sources.iter().map(|v| cite(v)));
            evidence.extend(context);
            self.out.push(Finding {
                ts: e.ts,
                kind: x.kind,
                family: family_of(x.verdict),
                provider: x.provider(),
                severity: x.severity,
                confidence: x.confidence,
                endpoint: e.ip,
                contractor: id.clone(),
                peer: e.peer,
                flow: e.flow.clone(),
                evidence,
                subject: Some(format!("{} {}", id.as_deref().unwrap_or("-"), e.ip)),
            });
        }
        let Some(c) = e.contractor else { return };
        self.shared_egress(c, &e, &intel);
        if intel.anonymized() {
            // The location and round trip are the exit's, not the person's; the exit finding
            // already says so.
            return;
        }
        self.location(c, &e, &intel);
        self.round_trip(c, &e, &intel);
    }

    /// Location against the claimed residence, and travel since the last location.
    fn location(&mut self, c: &Contractor, e: &Egress<'_>, intel: &IpIntel) {
        let Some(country) = intel.country.clone() else {
            // No database answer: nothing is claimed either way.
            return;
        };
        let acc = intel.accuracy_km.unwrap_or(0.0);
        if let Some(home) = &c.residence {
            let mut finding = None;
            if home.country != country {
                let watched = self.cfg.watch_countries.contains(&country);
                finding = Some((
                    "country",
                    format!(
                        "egress {} is in {country}; contractor {} claims to live in {}",
                        e.ip, c.id, home.country
                    ),
                    if watched {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    watched,
                ));
            } else if let (Some(h), Some(at)) = (home.lat_lon, intel.lat_lon) {
                let radius = home.radius_km.unwrap_or(HOME_RADIUS_DEFAULT_KM);
                let d = geo::distance_km(h, at);
                if d - radius - acc > 0.0 {
                    finding = Some((
                        "city",
                        format!(
                            "egress {} is located {d:.0} km from contractor {}'s claimed home{} (home radius {radius:.0} km, database accuracy {acc:.0} km)",
                            e.ip,
                            c.id,
                            home.city.as_deref().map(|x| format!(" in {x}")).unwrap_or_default()
                        ),
                        Severity::Low,
                        false,
                    ));
                }
            }
            if let Some((family, what, mut severity, watched)) = finding {
                let mut evidence = vec![what];
                if watched {
                    evidence.push(format!(
                        "{country} is on the watch list (identity.watch_countries)"
                    ));
                }
                if let Some(note) = lowered(intel) {
                    severity = Severity::Low;
                    evidence.push(note);
                }
                evidence.push(e.seen.clone());
                if let Some(b) = &e.bound_by {
                    evidence.push(format!("bound by {b}"));
                }
                evidence.push(place(intel));
                self.out.push(Finding {
                    ts: e.ts,
                    kind: Kind::GeoMismatch,
                    family,
                    provider: None,
                    severity,
                    confidence: Confidence::Signature,
                    endpoint: e.ip,
                    contractor: Some(c.id.clone()),
                    peer: e.peer,
                    flow: e.flow.clone(),
                    evidence,
                    subject: Some(format!("{} {}", c.id, e.ip)),
                });
            }
        }
        let fix = Fix {
            ts: e.ts,
            ip: e.ip,
            country: country.clone(),
            place: place(intel),
            lat_lon: intel.lat_lon,
            accuracy_km: acc,
        };
        let window = self
            .cfg
            .travel_window_secs
            .saturating_mul(Ts::NANOS_PER_SEC);
        let speed_max = self.cfg.travel_speed_kmh;
        let p = self.people.entry(c.id.clone()).or_default();
        let prev = p.last_fix.replace(fix.clone());
        let Some(prev) = prev else { return };
        if prev.ts > fix.ts {
            p.last_fix = Some(prev);
            return;
        }
        let dt_ns = fix.ts.since(prev.ts);
        let hours = dt_ns as f64 / 3.6e12;
        let verdict = match (prev.lat_lon, fix.lat_lon) {
            (Some(a), Some(b)) => {
                let d = (geo::distance_km(a, b) - prev.accuracy_km - fix.accuracy_km).max(0.0);
                // A minute is the least time counted: timestamps of two sessions are not
                // precise enough to divide by less.
                let speed = d / hours.max(1.0 / 60.0);
                (d > 0.0 && speed > speed_max && prev.country != fix.country).then(|| {
                    (
                        "speed",
                        format!(
                            "{:.0} km in {:.1} h is {speed:.0} km/h, faster than {speed_max:.0} km/h (identity.travel_speed_kmh), after subtracting both locations' accuracy",
                            d, hours
                        ),
                    )
                })
            }
            _ => (prev.country != fix.country && dt_ns <= window).then(|| {
                (
                    "countries",
                    format!(
                        "two countries within {:.1} h (window {:.0} h, identity.travel_window_secs); no coordinates to compute a speed",
                        hours,
                        window as f64 / 3.6e12
                    ),
                )
            }),
        };
        let Some((family, why)) = verdict else { return };
        let mut severity = if family == "speed" {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut evidence = vec![
            format!(
                "contractor {} was at {} ({}) at {} and at {} ({}) at {}",
                c.id,
                prev.ip,
                prev.place,
                prev.ts.rfc3339(),
                fix.ip,
                fix.place,
                fix.ts.rfc3339()
            ),
            why,
        ];
        if let Some(note) = lowered(intel) {
            severity = Severity::Low;
            evidence.push(note);
        }
        self.out.push(Finding {
            ts: e.ts,
            kind: Kind::ImpossibleTravel,
            family,
            provider: None,
            severity,
            confidence: Confidence::Heuristic,
            endpoint: e.ip,
            contractor: Some(c.id.clone()),
            peer: e.peer,
            flow: e.flow.clone(),
            evidence,
            subject: Some(format!("{} {} {}", c.id, prev.ip, e.ip)),
        });
    }

    /// Several contractors on one address (or its /24, /48) within the window.
    fn shared_egress(&mut self, c: &Contractor, e: &Egress<'_>, intel: &IpIntel) {
        let window = self.cfg.farm_window_secs.saturating_mul(Ts::NANOS_PER_SEC);
        let min = self.cfg.farm_min.max(2);
        let exact = IpNet::from(e.ip);
        let wide = match e.ip {
            IpAddr::V4(_) => IpNet::new(e.ip, 24),
            IpAddr::V6(_) => IpNet::new(e.ip, 48),
        }
        .map(|n| n.trunc())
        .unwrap_or(exact);
        let (group, new) = self.shared.see(&exact, c.id.clone(), e.ts, window);
        let (wgroup, wnew) = self.shared.see(&wide, c.id.clone(), e.ts, window);
        let (net, group, family) = if group.len() >= min {
            if !new {
                return;
            }
            (exact, group, "shared_egress")
        } else if wgroup.len() >= min && wnew {
            (wide, wgroup, "shared_network")
        } else {
            return;
        };
        let list = members(&group);
        let mut severity = if family == "shared_egress" {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut notes = Vec::new();
        if let Some(s) = self.cfg.shared.iter().find(|s| s.net.contains(&e.ip)) {
            severity = Severity::Low;
            notes.push(format!(
                "{} is a known shared egress ({}): identity.shared",
                s.net, s.reason
            ));
        }
        if let Some(note) = lowered(intel) {
            severity = Severity::Low;
            notes.push(note);
        }
        for m in &group {
            let mut evidence = vec![
                format!(
                    "{} contractors egress from {net} within {:.0} h: {list}",
                    group.len(),
                    window as f64 / 3.6e12
                ),
                format!(
                    "several remote workers behind one line is the pattern of a laptop farm (threshold {}: identity.farm_min)",
                    self.cfg.farm_min
                ),
            ];
            evidence.extend(notes.iter().cloned());
            evidence.push(place(intel));
            self.out.push(Finding {
                ts: e.ts,
                kind: Kind::LaptopFarm,
                family,
                provider: None,
                severity,
                confidence: Confidence::Heuristic,
                endpoint: e.ip,
                contractor: Some(m.who.clone()),
                peer: None,
                flow: None,
                evidence,
                subject: Some(format!("{} {net}", m.who)),
            });
        }
    }

    /// The handshake round trip against the distance from the sensor to the claimed home.
    fn round_trip(&mut self, c: &Contractor, e: &Egress<'_>, intel: &IpIntel) {
        let (Some(rtt_ns), Some(sensor), Some(home)) = (
            e.rtt_ns,
            self.cfg.sensor_location,
            c.residence.as_ref().and_then(|r| r.lat_lon.map(|l| (l, r))),
        ) else {
            return;
        };
        let (home_at, res) = home;
        let radius = res.radius_km.unwrap_or(HOME_RADIUS_DEFAULT_KM);
        let d = geo::distance_km(sensor, home_at);
        let floor = geo::rtt_floor_ms(d - radius);
        let ceiling = self.cfg.rtt_factor * geo::rtt_floor_ms(d + radius) + self.cfg.rtt_slack_ms;
        let rtt = rtt_ns as f64 / 1e6;
        let where_ = res.city.as_deref().unwrap_or(res.country.as_str());
        let (family, why) = if rtt < floor {
            (
                "below_bound",
                format!(
                    "light in fibre (~{:.0} km/ms) needs at least {floor:.1} ms there and back over the {:.0} km from the sensor to the nearest edge of the claimed home ({where_}); a shorter round trip means the machine is nearer the sensor than claimed",
                    geo::FIBRE_KM_PER_MS,
                    (d - radius).max(0.0)
                ),
            )
        } else if rtt > ceiling && !intel.satellite {
            (
                "above_bound",
                format!(
                    "a direct path from the claimed home ({where_}, {d:.0} km from the sensor) takes at most ~{ceiling:.1} ms ({} × the {:.1} ms fibre floor + {:.0} ms, identity.rtt_factor / rtt_slack_ms); far longer suggests a relay (VPN, proxy or a remote-desktop hop) in between",
                    self.cfg.rtt_factor,
                    geo::rtt_floor_ms(d + radius),
                    self.cfg.rtt_slack_ms
                ),
            )
        } else {
            return;
        };
        let mut evidence = vec![
            format!(
                "TCP handshake round trip between the sensor and {} (SYN/ACK → ACK) was {rtt:.1} ms",
                e.ip
            ),
            why,
            e.seen.clone(),
        ];
        if let Some(b) = &e.bound_by {
            evidence.push(format!("bound by {b}"));
        }
        self.out.push(Finding {
            ts: e.ts,
            kind: Kind::RttImplausible,
            family,
            provider: None,
            severity: Severity::Medium,
            confidence: Confidence::Heuristic,
            endpoint: e.ip,
            contractor: Some(c.id.clone()),
            peer: e.peer,
            flow: e.flow.clone(),
            evidence,
            subject: Some(format!("{} {}", c.id, e.ip)),
        });
    }
}

/// The UTC offset of time zone `name` at `ts`, seconds.
fn tz_offset(name: &str, ts: Ts) -> Option<i32> {
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    let t = jiff::Timestamp::from_nanosecond(i128::from(ts.0)).ok()?;
    Some(tz.to_offset(t).seconds())
}

/// The strongest exit verdict on an address, with every source that says so.
struct Exit<'a> {
    kind: Kind,
    verdict: &'static str,
    sources: Vec<&'a IntelVerdict>,
    severity: Severity,
    confidence: Confidence,
}

impl Exit<'_> {
    fn provider(&self) -> Option<String> {
        self.sources.iter().find_map(|v| v.provider.clone())
    }
}

/// Tor, then VPN, then proxy, then (with `hosting`) hosting: the first that any source names.
/// One is enough: exits sit in hosting ranges, and a Tor exit is often on VPN lists too.
///
/// A listing or database flag is a signature; a neighbourhood, ASN or network-name match a
/// heuristic. Two independent sources agreeing raise the severity one step. Tor exits are high:
/// no business reason routes a contractor through Tor.
fn exit_of(intel: &IpIntel, hosting: bool) -> Option<Exit<'_>> {
    let order: &[(Kind, &'static str)] = &[
        (Kind::TorExit, "tor_exit"),
        (Kind::VpnExit, "vpn_exit"),
        (Kind::VpnExit, "proxy"),
        (Kind::HostingEgress, "hosting_egress"),
    ];
    let (kind, verdict, sources) = order
        .iter()
        .filter(|(k, _)| hosting || *k != Kind::HostingEgress)
        .find_map(|(k, name)| {
            let vs: Vec<&IntelVerdict> =
                intel.verdicts.iter().filter(|v| v.kind == *name).collect();
            (!vs.is_empty()).then_some((*k, *name, vs))
        })?;
    let direct = sources
        .iter()
        .any(|v| v.basis == "listed" || v.basis == "database");
    let mut names: Vec<&str> = sources.iter().map(|v| v.source.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut severity = match (kind, direct) {
        (Kind::TorExit, _) => Severity::High,
        (_, true) => Severity::Medium,
        (_, false) => Severity::Low,
    };
    if names.len() >= 2 && kind != Kind::TorExit {
        severity = severity.raised();
    }
    let confidence = if direct {
        Confidence::Signature
    } else {
        Confidence::Heuristic
    };
    Some(Exit {
        kind,
        verdict,
        sources,
        severity,
        confidence,
    })
}

fn family_of(verdict: &str) -> &'static str {
    match verdict {
        "tor_exit" => "tor",
        "proxy" => "proxy",
        "hosting_egress" => "hosting",
        _ => "vpn",
    }
}

fn describe(verdict: &str) -> &'static str {
    match verdict {
        "tor_exit" => "a Tor exit relay",
        "proxy" => "a proxy",
        "hosting_egress" => "a hosting / datacenter address, not a home or office line",
        _ => "a VPN exit",
    }
}

/// One verdict as evidence: source, entry and basis.
fn cite(v: &IntelVerdict) -> String {
    let provider = v
        .provider
        .as_deref()
        .map(|p| format!(" (provider {p})"))
        .unwrap_or_default();
    format!("{}: {} [{}]{provider}", v.source, v.entry, v.basis)
}

/// A group's members, each with when it was first seen in the window.
fn members<V: std::fmt::Display>(group: &[farm::Member<V>]) -> String {
    group
        .iter()
        .map(|m| format!("{} (first {})", m.who, m.first.rfc3339()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where an address is, by which source.
fn place(i: &IpIntel) -> String {
    let mut s = format!(
        "{}: {}",
        i.ip,
        match (&i.city, &i.country) {
            (Some(c), Some(cc)) => format!("{c}, {cc}"),
            (None, Some(cc)) => cc.clone(),
            _ => "location unknown".into(),
        }
    );
    if let Some(asn) = i.asn {
        s.push_str(&format!(", AS{asn}"));
        if let Some(org) = &i.as_org {
            s.push_str(&format!(" {org}"));
        }
    }
    if let Some(by) = &i.located_by {
        s.push_str(&format!(" (located by {by})"));
    }
    s
}

/// Why a location-based finding on this address is lowered, if it is.
fn lowered(i: &IpIntel) -> Option<String> {
    if i.satellite {
        return Some(
            "satellite access network: its egress is a ground station, shared by many users; lowered to low".into(),
        );
    }
    if i.relay {
        return Some(
            "privacy relay egress (e.g. iCloud Private Relay): shared and only roughly located; lowered to low".into(),
        );
    }
    None
}

#[cfg(test)]
mod tests;
