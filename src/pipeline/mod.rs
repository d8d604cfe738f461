//! Pipeline: wires the stages together for one capture source.
//!
//! `Frame → decode → FlowTable::ingest_at → Cascade::inspect → Policy/Dedup → AlertSink`
//!
//! Per packet the work is: decode (no allocation), one hash lookup, and, only while a flow is
//! under inspection and the packet carries payload, copying a bounded prefix and running the
//! detector cascade. A flow stops being inspected once a detector is sure or after
//! `inspect_packets` payload packets; from then on it costs only its counters.
//!
//! [`Workers`] runs one such pipeline per worker thread over shards of the flows and merges
//! their alerts in a final stage on the caller's thread (`workers.rs`).
//!
//! Failure policy: bad frames are counted by reason, never fatal. The only error is the alert sink
//! failing (disk full, closed pipe), which stops the run: an alert that cannot be delivered must
//! not be silently dropped.

mod fanout;
mod names;
mod parallel;
mod stats;
mod tunnels;
mod workers;

pub use fanout::{Fanout, LaneSource, PASSED_MAX};
pub use names::{Heard, NameCache};
pub use parallel::{analyze_file, FileEnd, FileError};
pub use stats::Stats;
pub use workers::{Folded, PacketPath, Workers, WORKERS_MAX};

use crate::alert::{Alert, AlertKey, Dedup, FlowRecord, Policy, TunnelRecord};
use crate::capture::{Frame, LinkType};
use crate::config::{Config, DetectConfig, Inventory};
use crate::decode::{decode, ip_proto, Decoded, Packet};
use crate::detect::dns::{self, DNS_PORT};
use crate::detect::{Cascade, FlowView, HandshakeMemo, Side, Verdict};
use crate::flow::{Dir, EndReason, Flow, FlowTable};
use crate::identity::{FlowFacts, Identity};
use crate::intel::Intel;
use crate::ts::Ts;
use std::borrow::Cow;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// How often (in packet time) idle flows are looked for.
const EXPIRE_EVERY_NS: u64 = Ts::NANOS_PER_SEC;

/// Where alerts go. The pipeline hands each alert over exactly once, after dedup.
pub trait AlertSink {
    /// Delivers one alert.
    fn emit(&mut self, alert: &Alert) -> io::Result<()>;
    /// Delivers one alert the caller has no further use for: a sink that keeps alerts takes it
    /// without a copy.
    fn take(&mut self, alert: Alert) -> io::Result<()> {
        self.emit(&alert)
    }
    /// Makes every delivered alert durable or visible.
    fn flush(&mut self) -> io::Result<()>;

    /// Reopens file outputs (after log rotation). Nothing to do for most sinks.
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The detector cascade `cfg` asks for: its catalogue shared, or the built-in one.
fn cascade_for(cfg: &Config) -> Cascade {
    match &cfg.catalogue {
        Some(c) => Cascade::with_shared_catalogue(Arc::clone(c)),
        None => Cascade::standard(),
    }
}

/// The sink a pipeline delivers to: borrowed from the caller, or its own. (An owned sink is
/// `'static`, so a pipeline holding a borrowed one still lets the borrow end where it is last
/// used, as a plain reference does.)
enum SinkSlot<'s> {
    Borrowed(&'s mut dyn AlertSink),
    Owned(Box<dyn AlertSink>),
}

impl SinkSlot<'_> {
    fn get(&mut self) -> &mut dyn AlertSink {
        match self {
            SinkSlot::Borrowed(s) => &mut **s,
            SinkSlot::Owned(s) => &mut **s,
        }
    }
}

/// Collects alerts in memory (tests, library users).
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<Alert>);

impl AlertSink for VecSink {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        self.0.push(alert.clone());
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// State the pipeline keeps per flow.
#[derive(Debug, Default)]
pub struct FlowState {
    /// The DNS name the responder's address was resolved from, if a response was seen.
    name: Option<names::Name>,
    det: Detection,
    /// Handshake parses shared by the detectors; only while the flow is under inspection.
    memo: Option<Box<HandshakeMemo>>,
}

/// A reported remote-control or tunnel flow, watched for its length.
#[derive(Debug)]
struct Session {
    kind: crate::detect::Kind,
    family: Cow<'static, str>,
    contractor: Option<String>,
    reported_long: bool,
}

/// Detection progress of one flow.
#[derive(Debug, Default)]
struct Detection {
    done: bool,
    inspected: u32,
    /// While inspecting: the best verdict so far. Once reported as remote access, a tunnel or
    /// an anonymizer: the session, watched for one that never ends. One box for both keeps a
    /// tracked flow within its memory budget.
    held: Option<Box<Held>>,
}

#[derive(Debug)]
enum Held {
    /// The best verdict so far (out while the cascade runs) and when its evidence first
    /// appeared.
    Best(Option<Verdict>, Ts),
    /// A reported session.
    Session(Session),
}

impl Detection {
    /// Takes the best verdict so far out, with the time its evidence first appeared. Its box
    /// stays, empty, for [`Detection::put_best`]: the cascade runs per payload packet, and a box
    /// freed and allocated again each time would be two allocator calls per packet.
    fn take_best(&mut self) -> (Option<Verdict>, Option<Ts>) {
        match self.held.as_deref_mut() {
            Some(Held::Best(v, t)) => (v.take(), Some(*t)),
            _ => (None, None),
        }
    }

    /// Puts back the best verdict (`since`: when its evidence first appeared).
    fn put_best(&mut self, v: Option<Verdict>, since: Ts) {
        let Some(v) = v else {
            return;
        };
        match self.held.as_deref_mut() {
            Some(Held::Best(slot, t)) => {
                *slot = Some(v);
                *t = since;
            }
            Some(Held::Session(_)) => {}
            None => self.held = Some(Box::new(Held::Best(Some(v), since))),
        }
    }

    fn session_mut(&mut self) -> Option<&mut Session> {
        match self.held.as_deref_mut() {
            Some(Held::Session(s)) => Some(s),
            _ => None,
        }
    }
}

/// Everything downstream of the flow table, split from it so flow-end callbacks can use it while
/// the table is borrowed.
struct Emitter<'s> {
    cascade: Cascade,
    detect: DetectConfig,
    policy: Policy,
    inventory: Inventory,
    identity: Identity,
    dedup: Dedup,
    sink: SinkSlot<'s>,
    stats: Stats,
    error: Option<io::Error>,
    /// Stands in for the memo of a flow that was never inspected when it is concluded.
    spare_memo: HandshakeMemo,
    /// The tunnel addresses of live flows that arrived in a tunnel.
    tunnels: tunnels::TunnelEnds,
}

/// The decode-to-alert pipeline for one source.
pub struct Pipeline<'s> {
    link: LinkType,
    flows: FlowTable<FlowState>,
    names: NameCache,
    /// What the caller of [`Pipeline::frame_heard`] worked out of the frame in hand's DNS
    /// names, until the frame takes it.
    told: Option<Option<Heard>>,
    emit: Emitter<'s>,
    next_expire: Ts,
}

impl<'s> Pipeline<'s> {
    /// A pipeline for frames of framing `link`, configured by `cfg`, delivering to `sink`.
    pub fn new(cfg: &Config, link: LinkType, sink: &'s mut dyn AlertSink) -> Pipeline<'s> {
        Pipeline::with_slot(cfg, link, cascade_for(cfg), SinkSlot::Borrowed(sink))
    }

    /// As [`Pipeline::new`], the pipeline owning its sink.
    pub fn owning(cfg: &Config, link: LinkType, sink: Box<dyn AlertSink>) -> Pipeline<'s> {
        Pipeline::with_slot(cfg, link, cascade_for(cfg), SinkSlot::Owned(sink))
    }

    /// As [`Pipeline::new`] with a chosen detector cascade.
    pub fn with_cascade(
        cfg: &Config,
        link: LinkType,
        cascade: Cascade,
        sink: &'s mut dyn AlertSink,
    ) -> Pipeline<'s> {
        Pipeline::with_slot(cfg, link, cascade, SinkSlot::Borrowed(sink))
    }

    fn with_slot(
        cfg: &Config,
        link: LinkType,
        cascade: Cascade,
        sink: SinkSlot<'s>,
    ) -> Pipeline<'s> {
        Pipeline {
            link,
            flows: FlowTable::new(cfg.flow),
            names: NameCache::default(),
            told: None,
            emit: Emitter {
                cascade,
                detect: cfg.detect.clone(),
                policy: cfg.policy.clone(),
                inventory: cfg.inventory.clone(),
                identity: Identity::new(
                    Arc::clone(&cfg.identity),
                    Arc::new(Intel::default()),
                    cfg.risk.clone(),
                    cfg.alerts.active_window_secs,
                ),
                dedup: Dedup::new(cfg.alerts.dedup_window_secs),
                sink,
                stats: Stats::default(),
                error: None,
                spare_memo: HandshakeMemo::default(),
                tunnels: tunnels::TunnelEnds::default(),
            },
            next_expire: Ts(0),
        }
    }

    /// Looks addresses up in `intel` (databases and lists) from now on. Without, the pipeline
    /// knows no address: exit, location and travel findings need it.
    pub fn set_intel(&mut self, intel: Arc<Intel>) {
        self.emit.identity.set_intel(intel);
    }

    /// Applies a reloaded configuration's inventory, identity settings and risk weights, and
    /// reloaded intel, without touching flows, dedup state or history.
    pub fn reload(&mut self, cfg: &Config, intel: Arc<Intel>) {
        let e = &mut self.emit;
        e.inventory = cfg.inventory.clone();
        e.policy = cfg.policy.clone();
        e.identity
            .reload(Arc::clone(&cfg.identity), intel, cfg.risk.clone());
    }

    /// Session-log logins read ahead (analysis of a capture); each is applied when packet time
    /// reaches it.
    pub fn queue_logins(&mut self, logins: Vec<crate::identity::session::Login>) {
        self.emit.identity.queue_logins(logins);
    }

    /// One login read live from the session log.
    pub fn login(&mut self, l: &crate::identity::session::Login) -> io::Result<()> {
        let e = &mut self.emit;
        e.identity.login(l, &e.inventory);
        e.flush_findings();
        self.take_error()?;
        // Logins are rare and may arrive while no packet flows: make their alerts visible now.
        self.emit.sink.get().flush()
    }

    /// Hands every alert on without deduplication: for a worker of [`Workers`], whose alerts
    /// are deduplicated once, in a deterministic order, where all workers' alerts meet.
    pub fn without_dedup(mut self) -> Pipeline<'s> {
        self.emit.dedup = Dedup::keep_all(self.emit.dedup.window_secs());
        self
    }

    /// Learns the DNS names a response in `f` carries, as [`Pipeline::frame`] does, without
    /// accounting the frame: a worker of [`Workers`] sees every DNS response so the names
    /// cache matches one pipeline's whatever shard the response belongs to.
    pub fn learn_names(&mut self, f: &Frame<'_>) {
        if let Decoded::Packet(p) = decode(self.link, f) {
            self.learn_names_from(&p);
        }
    }

    /// Learns what a DNS response taught, worked out by the caller ([`Heard::of`]): as
    /// [`Pipeline::learn_names`], without decoding or parsing the response again.
    pub fn learn_heard(&mut self, h: &Heard) {
        self.names.remember_heard(h);
    }

    fn learn_names_from(&mut self, p: &Packet<'_>) {
        if is_dns_response(p) {
            self.learn_response(p);
        }
    }

    /// Learns the names of `p`, a DNS response: from what the caller was told, or parsed here.
    /// Out of line: one frame in a hundred or so is one, and every frame pays for what is
    /// inlined into [`Pipeline::packet`].
    #[inline(never)]
    fn learn_response(&mut self, p: &Packet<'_>) {
        match self.told.take() {
            Some(heard) => {
                if let Some(h) = heard {
                    self.names.remember_heard(&h);
                }
            }
            None => {
                if let Some((q, addrs)) = dns::resolution(p.payload) {
                    self.names.remember(&q, addrs);
                }
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.emit.stats.clone();
        s.flows = self.flows.stats();
        s.flows_active = self.flows.len();
        s.suppressed = self.emit.dedup.suppressed();
        s.identity = self.emit.identity.stats();
        s
    }

    /// Processes one captured frame. Returns the sink's error if delivering an alert failed.
    pub fn frame(&mut self, f: &Frame<'_>) -> io::Result<()> {
        // `decode`, with the common frame's packet handed on where it was built rather than
        // moved into a `Decoded` and out again.
        match crate::decode::fast(self.link, f) {
            Some(p) => {
                self.count_frame(f);
                self.packet(&p, f);
                self.take_error()
            }
            None => self.decoded(f, crate::decode::whole(self.link, f)),
        }
    }

    /// As [`Pipeline::frame`], for a frame whose DNS names, if it is a DNS response, the caller
    /// has worked out already ([`Heard::of`] of its payload, `None` when it teaches nothing):
    /// they are learned without parsing the response again.
    pub fn frame_heard(&mut self, f: &Frame<'_>, heard: Option<&Heard>) -> io::Result<()> {
        self.told = Some(heard.cloned());
        let done = self.frame(f);
        self.told = None;
        done
    }

    /// As [`Pipeline::frame`], for a frame already decoded (`d` is `decode` of `f`).
    pub fn decoded(&mut self, f: &Frame<'_>, d: Decoded<'_>) -> io::Result<()> {
        self.count_frame(f);
        let st = &mut self.emit.stats;
        match d {
            Decoded::Packet(p) => {
                if let Some(t) = p.tunnel {
                    st.count_unwrapped(t);
                }
                self.packet(&p, f)
            }
            Decoded::NotIp => st.not_ip += 1,
            Decoded::Fragment => st.fragments += 1,
            Decoded::Malformed(m) => st.count_malformed(m),
        }
        self.take_error()
    }

    fn count_frame(&mut self, f: &Frame<'_>) {
        let st = &mut self.emit.stats;
        st.frames += 1;
        st.bytes += u64::from(f.wire_len);
        st.see_time(f.ts);
    }

    /// Lets time pass without traffic (live capture on a quiet link): idle flows expire.
    pub fn idle(&mut self, now: Ts) -> io::Result<()> {
        self.expire(now);
        self.take_error()
    }

    /// Ends every flow (end of input or shutdown), concluding pending detections, and flushes the
    /// sink.
    pub fn finish(&mut self) -> io::Result<()> {
        let emit = &mut self.emit;
        self.flows.drain(|flow, why| emit.flow_ended(flow, why));
        emit.identity.drain_logins(&emit.inventory);
        emit.flush_findings();
        self.take_error()?;
        self.emit.sink.get().flush()
    }

    /// Reopens the sink's file outputs (SIGHUP after log rotation).
    pub fn reopen_outputs(&mut self) -> io::Result<()> {
        self.emit.sink.get().flush()?;
        self.emit.sink.get().reopen()
    }

    fn take_error(&mut self) -> io::Result<()> {
        match self.emit.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Ends idle flows, at most once per [`EXPIRE_EVERY_NS`] of packet time. Inlined (the
    /// compiler does not on a hint): on nearly every packet this is one comparison, cheaper
    /// than the call.
    #[inline(always)]
    fn expire(&mut self, now: Ts) {
        if now >= self.next_expire {
            self.expire_due(now);
        }
    }

    #[inline(never)]
    fn expire_due(&mut self, now: Ts) {
        self.next_expire = now.plus(EXPIRE_EVERY_NS);
        let emit = &mut self.emit;
        self.flows
            .expire(now, |flow, why| emit.flow_ended(flow, why));
    }

    /// One decoded packet `p` of the frame `f`.
    fn packet(&mut self, p: &Packet<'_>, f: &Frame<'_>) {
        self.emit.stats.packets += 1;
        self.expire(p.ts);
        if self.emit.identity.has_work(p.ts) {
            let e = &mut self.emit;
            e.identity.advance(p.ts, &e.inventory);
            e.flush_findings();
        }
        self.learn_names_from(p);
        let emit = &mut self.emit;
        let ing = self
            .flows
            .ingest_at(p, |flow, why| emit.flow_ended(flow, why));
        if ing.new && !self.names.is_empty() {
            if let Some(f) = self.flows.get_mut(ing.id) {
                f.state.name = self.names.get(&f.server().ip());
            }
        }
        let Some(flow) = self.flows.get_mut(ing.id) else {
            return;
        };
        if ing.new && p.tunnel.is_some() {
            if let Some(t) = crate::decode::tunnel_of(self.link, f) {
                self.emit.tunnels.remember(flow.key, t);
            }
        }
        if flow.state.det.done {
            if flow.state.det.held.is_some() {
                self.emit.check_long(flow);
            }
            return;
        }
        let carries = !p.payload.is_empty() || p.ah_spi.is_some();
        if !carries {
            if flow.tcp.closed() {
                self.conclude_now(ing.id);
            }
            return;
        }
        let emit = &mut self.emit;
        let recorded = p.payload.is_empty()
            || self.flows.record_payload(ing.id, ing.dir, p, |idlest| {
                // Gives its buffer to this flow: it is concluded on what it has shown, and its
                // handshake parses go with the buffer they were made from.
                emit.conclude(idlest);
                emit.report(idlest);
                idlest.state.memo = None;
            });
        if !recorded {
            // No buffer to spare: the flow is not inspected rather than inspected blind.
            if let Some(f) = self.flows.get_mut(ing.id) {
                f.state.det.done = true;
            }
            return;
        }
        let budget = self.emit.detect.inspect_packets;
        let Some(flow) = self.flows.get_mut(ing.id) else {
            return;
        };
        let finished = self.emit.inspect(flow, p, ing.dir, budget);
        if finished {
            self.release(ing.id);
        }
    }

    /// Inspection of flow `id` is over: its payload and handshake parses are let go.
    fn release(&mut self, id: crate::flow::FlowId) {
        if let Some(f) = self.flows.get_mut(id) {
            f.state.memo = None;
        }
        self.flows.release_payload(id);
    }

    fn conclude_now(&mut self, id: crate::flow::FlowId) {
        let Some(flow) = self.flows.get_mut(id) else {
            return;
        };
        self.emit.conclude(flow);
        self.emit.report(flow);
        self.release(id);
    }
}

impl Emitter<'_> {
    /// Runs the cascade after a payload packet travelling in `dir`. Returns true when
    /// inspection of the flow is over.
    fn inspect(
        &mut self,
        flow: &mut Flow<FlowState>,
        p: &Packet<'_>,
        dir: Dir,
        budget: u32,
    ) -> bool {
        let complete = {
            let (view, st, fresh) = split_view(flow, Some((p, dir)), &mut self.spare_memo);
            // The alert's time is when the evidence first appeared, not when it became conclusive.
            let (mut best, since) = st.take_best();
            let complete = self.cascade.inspect_packet(&view, &mut best, fresh);
            st.put_best(best, since.unwrap_or(p.ts));
            st.inspected += 1;
            complete
        };
        if complete || flow.state.det.inspected >= budget {
            if !complete {
                self.conclude(flow);
            }
            self.report(flow);
            return true;
        }
        false
    }

    /// Gives detectors their last look and reports the best verdict, if any.
    fn conclude(&mut self, flow: &mut Flow<FlowState>) {
        if flow.state.det.done {
            return;
        }
        let first_ts = flow.first_ts;
        let (view, st, _) = split_view(flow, None, &mut self.spare_memo);
        let (mut best, since) = st.take_best();
        self.cascade.conclude(&view, &mut best);
        st.put_best(best, since.unwrap_or(first_ts));
    }

    fn flow_ended(&mut self, flow: &mut Flow<FlowState>, _why: EndReason) {
        self.conclude(flow);
        self.report(flow);
        if flow.state.det.held.is_some() {
            self.check_long(flow);
        }
        if flow.tunnel.is_some() {
            self.tunnels.forget(&flow.key);
        }
    }

    /// A reported session that has lasted `identity.continuous_secs` is reported once more.
    /// Inlined: it runs on every packet of a reported flow, and is one comparison until the
    /// session is long.
    #[inline(always)]
    fn check_long(&mut self, flow: &mut Flow<FlowState>) {
        let limit = self
            .identity
            .config()
            .continuous_secs
            .saturating_mul(Ts::NANOS_PER_SEC);
        if flow.last_ts.since(flow.first_ts) >= limit {
            self.report_long(flow);
        }
    }

    #[inline(never)]
    fn report_long(&mut self, flow: &mut Flow<FlowState>) {
        let facts = facts_of(flow);
        let Some(s) = flow.state.det.session_mut() else {
            return;
        };
        if s.reported_long {
            return;
        }
        s.reported_long = true;
        self.identity.long_session(
            &facts,
            s.kind,
            &s.family,
            s.contractor.clone(),
            flow.last_ts,
        );
        self.flush_findings();
    }

    /// Turns the identity stage's findings into alerts (dedup, severity policy, approvals) and
    /// delivers them; what they add to a contractor's risk can raise one more.
    fn flush_findings(&mut self) {
        // Findings made while delivering findings are risk scores, which feed nothing: two
        // rounds settle it; the bound only guards against a future loop.
        for _ in 0..4 {
            let found = self.identity.take();
            if found.is_empty() {
                return;
            }
            for f in found {
                self.deliver_finding(f);
            }
        }
    }

    fn deliver_finding(&mut self, f: crate::identity::Finding) {
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        // A finding with a subject is identified by it (a contractor, with the address or
        // network concerned): the same exit seen at login and again in the gateway session is
        // one finding. Without, by its address pair, as flow alerts are.
        let key = match &f.subject {
            Some(_) => AlertKey {
                endpoint: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                kind: f.kind,
                family: Cow::Borrowed(f.family),
                peer: unspecified,
                subject: f.subject.clone(),
            },
            None => AlertKey {
                endpoint: f.endpoint,
                kind: f.kind,
                family: Cow::Borrowed(f.family),
                peer: f.peer.unwrap_or(unspecified),
                subject: None,
            },
        };
        if !self.dedup.admit(&key, f.ts) {
            return;
        }
        let mut severity = self
            .policy
            .family_severity
            .get(f.kind.as_str())
            .copied()
            .unwrap_or(f.severity);
        let mut evidence = f.evidence;
        if let Some(c) = f
            .contractor
            .as_deref()
            .and_then(|id| self.inventory.by_id(id))
        {
            let approved = c.approved_tools.iter().find(|t| {
                Some(t.as_str()) == f.provider.as_deref() || t.as_str() == f.kind.as_str()
            });
            if let Some(tool) = approved {
                severity = crate::alert::Severity::Info;
                evidence.push(format!(
                    "approved for contractor {}: {tool} (inventory approved_tools)",
                    c.id
                ));
            }
        }
        let alert = Alert {
            ts: f.ts,
            id: key.id(self.dedup.window_of(f.ts)),
            kind: f.kind,
            family: Cow::Borrowed(f.family),
            provider: f.provider.map(Cow::Owned),
            severity,
            confidence: f.confidence,
            endpoint: f.endpoint,
            contractor: f.contractor,
            peer: f.peer,
            flow: f.flow,
            evidence,
        };
        self.deliver(alert);
    }

    /// Hands one alert to the identity stage and to the sink.
    fn deliver(&mut self, a: Alert) {
        self.stats.count_alert(&a);
        self.identity.alerted(&a, &self.inventory);
        if let Err(e) = self.sink.get().take(a) {
            self.error.get_or_insert(e);
        }
    }

    /// Turns the flow's best verdict into an alert (policy, inventory, dedup) and delivers it.
    fn report(&mut self, flow: &mut Flow<FlowState>) {
        let st = &mut flow.state.det;
        if st.done {
            return;
        }
        st.done = true;
        let (best, since) = st.take_best();
        st.held = None;
        let reported = best
            .and_then(|b| self.detect_filter(b))
            .zip(since.or(Some(flow.first_ts)));
        if let Some((v, since)) = reported {
            let (kind, family) = (v.kind, v.family.clone());
            let alert = self.alert_for(flow, v, since);
            let contractor = alert.as_ref().and_then(|a| a.contractor.clone());
            if let Some(a) = alert {
                self.deliver(a);
            }
            flow.state.det.held = Some(Box::new(Held::Session(Session {
                kind,
                family,
                contractor,
                reported_long: false,
            })));
        }
        let facts = facts_of(flow);
        self.identity.flow(&facts, &self.inventory);
        self.flush_findings();
    }

    fn detect_filter(&self, v: Verdict) -> Option<Verdict> {
        if v.confidence == crate::detect::Confidence::Port && !self.detect.port_hints {
            return None;
        }
        Some(v)
    }

    fn alert_for(&mut self, flow: &Flow<FlowState>, v: Verdict, ts: Ts) -> Option<Alert> {
        let (client, server) = (flow.client(), flow.server());
        // The monitored endpoint is the side the inventory knows; without one (or when it knows
        // neither side) it is the initiator.
        let server_known = self.inventory.lookup(server.ip()).is_some();
        let client_known = self.inventory.lookup(client.ip()).is_some();
        let (endpoint, peer, peer_is_initiator) = if server_known && !client_known {
            (server.ip(), client, true)
        } else {
            (client.ip(), server, false)
        };
        // An initiator's source port is ephemeral: identify such a peer by address alone, so
        // repeated connections from it fall in one alert per window.
        let key_peer = if peer_is_initiator {
            SocketAddr::new(peer.ip(), 0)
        } else {
            peer
        };
        let key = AlertKey {
            endpoint,
            kind: v.kind,
            family: v.family.clone(),
            peer: key_peer,
            subject: None,
        };
        if !self.dedup.admit(&key, ts) {
            return None;
        }
        let mut severity = self.policy.severity(&v);
        let mut evidence = v.evidence;
        let tunnel = flow.tunnel.map(|kind| {
            let ends = self.tunnels.get(&flow.key).filter(|t| t.kind == kind);
            evidence.push(match ends {
                Some(t) => format!(
                    "carried in {} from {} to {}, unwrapped",
                    kind.describe(),
                    t.src,
                    t.dst
                ),
                None => format!("carried in {}, unwrapped", kind.describe()),
            });
            TunnelRecord {
                kind: kind.name(),
                outer_src: ends.map(|t| t.src),
                outer_dst: ends.map(|t| t.dst),
            }
        });
        // Neither side is a contractor endpoint: the initiator may be a contractor's egress
        // (inbound to a gateway), bound by the inventory or a session log.
        let mut contractor = self.inventory.lookup(endpoint);
        if contractor.is_none() && !peer_is_initiator {
            if let Some((c, how)) = self.identity.owner_of(endpoint, ts, &self.inventory) {
                evidence.push(format!("bound by {how}"));
                contractor = Some(c);
            }
        }
        // A tool the company approved for this contractor (its own VPN, its RMM) is still
        // reported, so the record is complete, but at `info`, with the approval named.
        // A client that reveals a home country (RDP keyboard layout) other than the contractor's
        // claimed residence is strong evidence: say so and raise the severity one step.
        if let (Some(c), Some(cc)) = (contractor, v.client_country) {
            if let Some(home) = c.residence.as_ref().map(|r| r.country.as_str()) {
                if home != cc {
                    severity = severity.max(crate::alert::Severity::Medium).raised();
                    evidence.push(format!(
                        "the client's keyboard layout points to {cc}, contractor {} claims to live in {home}",
                        c.id
                    ));
                }
            }
        }
        if let Some(c) = contractor {
            let approved = c.approved_tools.iter().find(|t| {
                t.as_str() == v.family.as_ref() || Some(t.as_str()) == v.provider.as_deref()
            });
            if let Some(tool) = approved {
                severity = crate::alert::Severity::Info;
                evidence.push(format!(
                    "approved for contractor {}: {tool} (inventory approved_tools)",
                    c.id
                ));
            }
        }
        Some(Alert {
            ts,
            id: key.id(self.dedup.window_of(ts)),
            kind: v.kind,
            severity,
            confidence: v.confidence,
            family: v.family,
            provider: v.provider,
            endpoint,
            contractor: contractor.map(|c| c.id.clone()),
            peer: Some(peer),
            flow: Some(FlowRecord {
                tunnel,
                ..FlowRecord::new(flow.key.proto, client, server, flow.key.vlan)
            }),
            evidence,
        })
    }
}

/// What the identity stage needs of `flow`.
fn facts_of(flow: &Flow<FlowState>) -> FlowFacts {
    FlowFacts {
        ts: flow.first_ts,
        proto: flow.key.proto,
        client: flow.client(),
        server: flow.server(),
        vlan: flow.key.vlan,
        client_rtt_ns: flow.tcp.client_rtt_ns(),
    }
}

/// Whether `p` may be a DNS response whose names the cache learns.
fn is_dns_response(p: &Packet<'_>) -> bool {
    p.src_port == DNS_PORT && p.proto == ip_proto::UDP && !p.payload.is_empty()
}

/// The detectors' view of `flow`, and its detection state (borrowed apart so the cascade can
/// read one while the pipeline updates the other). An inspected flow (packet `p` given with its
/// direction) gets a memo of its own; otherwise `spare` stands in, emptied. The flag says
/// whether `p` shows the detectors anything new ([`HandshakeMemo::fresh`]).
fn split_view<'a>(
    flow: &'a mut Flow<FlowState>,
    p: Option<(&'a Packet<'a>, Dir)>,
    spare: &'a mut HandshakeMemo,
) -> (FlowView<'a>, &'a mut Detection, bool) {
    let (client, server) = (flow.client(), flow.server());
    let Flow {
        key,
        pkts,
        bytes,
        ttl,
        ah_spi,
        tcp,
        payloads,
        state,
        ..
    } = flow;
    let FlowState { name, det, memo } = state;
    let memo: &mut HandshakeMemo = match (p, memo) {
        (Some(_), memo) => memo.get_or_insert_with(Box::default),
        (None, Some(memo)) => memo,
        (None, None) => {
            spare.clear();
            spare
        }
    };
    let kept = |d: Dir| {
        payloads
            .as_ref()
            .and_then(|b| b.dirs.get(d.idx()))
            .map_or((0, 0), |k| (k.data().len(), k.segments().len()))
    };
    let (to_server, to_client) = (kept(Dir::ToServer), kept(Dir::ToClient));
    memo.sync(to_server, to_client);
    let fresh = p.is_none_or(|(_, dir)| {
        let ah = |d: Dir| ah_spi.get(d.idx()).copied().flatten().is_some();
        let state = [
            (to_server.0, to_server.1, ah(Dir::ToServer)),
            (to_client.0, to_client.1, ah(Dir::ToClient)),
        ];
        memo.fresh(dir.idx(), state)
    });
    let side = |d: Dir| {
        let mut s = Side::new(
            payloads.as_ref().and_then(|b| b.dirs.get(d.idx())),
            pkts.get(d.idx()).copied().unwrap_or(0),
            bytes.get(d.idx()).copied().unwrap_or(0),
        );
        s.ah_spi = ah_spi.get(d.idx()).copied().flatten();
        s.ttl = ttl.get(d.idx()).copied().unwrap_or(0);
        s
    };
    let view = FlowView {
        proto: key.proto,
        client,
        server,
        to_server: side(Dir::ToServer),
        to_client: side(Dir::ToClient),
        tcp,
        packet: p.map(|(p, _)| p),
        server_name: name.as_deref().map(|n| &**n),
        memo,
    };
    (view, det, fresh)
}

/// Every fixture capture (`fixtures/pcap/*/capture.pcap`), in name order.
#[cfg(test)]
pub(crate) fn fixture_captures() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let mut all: Vec<std::path::PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("capture.pcap"))
        .filter(|p| p.is_file())
        .collect();
    all.sort();
    all
}

#[cfg(test)]
mod tests;
