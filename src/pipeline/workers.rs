//! Sharded analysis: `N` pipelines, one of them on the reading thread, and one final stage.
//!
//! ```text
//! reader: read, decode, shard ─┬─▶ own share: Pipeline (alerts without dedup) ──┐
//!                              └─▶ worker 1..N-1: Pipeline (threads)         ───┴─▶ final stage:
//!                                                                                  merge, dedup,
//!                                                                                  counts, sink
//! ```
//!
//! The reader (the caller's thread) decodes each frame just far enough to find its flow key,
//! which is normalised so both directions give the same key (`flow::FlowKey`), and the key's
//! hash names the pipeline the flow lives on: a flow lives on exactly one. The reader's own
//! pipeline is one of them: it analyses its share of flows in line, on frames it has just read
//! and decoded (nothing crosses to another core, nothing is decoded twice), and takes a smaller
//! share than the others ([`local_share`]) because reading costs it time the others spend
//! analysing. Frames for the worker threads travel either as shared chunks of records
//! (classic pcap files: no copy at all) or in batches (recycled buffers: nothing is allocated
//! per packet once they have grown) over bounded channels, so a slow worker holds the reader
//! back instead of growing a queue.
//!
//! Each pipeline is an ordinary [`Pipeline`], so a flow is decided exactly as one pipeline
//! decides it, given the same flow-independent inputs, which the reader supplies:
//! - idle expiry: the reader keeps one pipeline's expiry schedule (every
//!   [`super::EXPIRE_EVERY_NS`] of packet time) and runs each tick on every pipeline, in stream
//!   position, so flows end at the same points of the stream whichever pipeline holds them;
//! - DNS names: every DNS response is shown to every pipeline ([`Pipeline::learn_names`]), so a
//!   flow started after a lookup finds the name whichever pipeline the lookup went to.
//!
//! Alerts leave the pipelines undeduplicated, tagged with the stream position that produced
//! them (a frame's sequence number; its expiry tick just before it; the final drain last). The
//! final stage, on the caller's thread, merges them in (position, time, id, flow) order once
//! every pipeline has passed that position, then deduplicates, counts and delivers them through
//! the one sink. Output is therefore the same for any number of workers. It matches one
//! in-line pipeline alert for alert; only alerts from flows ended by the same expiry tick (or
//! the final drain) may come out in another order, since one pipeline ends those in
//! least-recently-active order. Anything that must see every alert or every flow once
//! (deduplication now; identity-level state later) belongs in this final stage, not in the
//! pipelines.
//!
//! Limits are split: each pipeline tracks up to `flow.max_flows / N` flows and inspects up to
//! `flow.max_inspecting / N` at once, so a table under eviction pressure may evict other flows
//! than one pipeline would.
//!
//! This is the way for a capture only one thread can read (a pcapng file, a replay, a live
//! interface read through one socket). An interface read through a fanout group of sockets is
//! shared out by the kernel instead ([`super::Fanout`]).
//! A classic pcap file can be read by every thread at once, which `analyze` does instead
//! ([`super::analyze_file`]), with this module's routing ([`Router`]) and final stage
//! ([`Merge`]).
//!
//! Failure policy: a worker cannot fail on its own (its sink is memory); if one panics, the
//! reader's next hand-over or the final join reports it as an error, and the run stops.

use super::{AlertSink, Heard, Pipeline, Stats, EXPIRE_EVERY_NS};
use crate::alert::{Alert, Dedup};
use crate::capture::{Chunk, Frame, LinkType};
use crate::config::Config;
use crate::decode::{decode, ip_proto, peek_as, Decoded, Packet, PeekAddr};
use crate::ts::Ts;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Most workers accepted (`--workers`): beyond the cores of any sensor this runs on.
pub const WORKERS_MAX: usize = 64;
/// Frames read between hand-overs: each hand-over sends every worker its batch, so watermarks
/// advance together and alerts leave the final stage with a delay of at most this many frames.
const BATCH_FRAMES: usize = 512;
/// Batches per worker in existence (one filling, the rest queued or in the worker's hands): the
/// bound on memory between reader and worker.
const BATCHES_PER_WORKER: usize = 4;
/// Hand-overs queued per worker. Chunks are shared, so a deep queue costs little memory, and it
/// is what keeps both workers busy while one works through a long run of one flow's packets
/// (flows are not spread evenly over time). Batches are bounded by `BATCHES_PER_WORKER`.
const QUEUE_PER_WORKER: usize = 32;
/// Seed of the shard hash: fixed, so a flow goes to the same worker on every run.
const SHARD_SEED: u64 = 0x7277_7368_6172_6473;

/// What a pipeline-like stage does with frames: one [`Pipeline`] in line, or [`Workers`].
pub trait PacketPath {
    /// Processes one captured frame. Returns the sink's error if delivering an alert failed.
    fn frame(&mut self, f: &Frame<'_>) -> io::Result<()>;
    /// Lets time pass without traffic: idle flows expire.
    fn idle(&mut self, now: Ts) -> io::Result<()>;
    /// Ends every flow, delivers the last alerts and flushes the sink.
    fn finish(&mut self) -> io::Result<()>;
    /// Reopens the sink's file outputs.
    fn reopen_outputs(&mut self) -> io::Result<()>;
    /// Counters so far.
    fn stats(&self) -> Stats;
    /// Processes every frame of a run of records read in one piece. Returns a buffer that is
    /// free again (this chunk's, or an earlier one's) for the reader to fill next.
    fn chunk(&mut self, c: Chunk) -> io::Result<Option<Box<[u8]>>> {
        let mut result = Ok(());
        c.for_each(|f| {
            if result.is_ok() {
                result = self.frame(f);
            }
        });
        result.map(|()| Some(c.into_buffer()))
    }
    /// Applies a reloaded configuration's inventory, identity settings, policy and intel. Only
    /// one pipeline in line holds identity state; sharded workers keep what they started with
    /// (the command line runs identity work on one pipeline).
    fn reload(&mut self, _cfg: &Config, _intel: std::sync::Arc<crate::intel::Intel>) {}
    /// One session-log login (identity stage; see [`PacketPath::reload`]).
    fn login(&mut self, _l: &crate::identity::session::Login) -> io::Result<()> {
        Ok(())
    }
}

impl PacketPath for Pipeline<'_> {
    fn frame(&mut self, f: &Frame<'_>) -> io::Result<()> {
        Pipeline::frame(self, f)
    }
    fn idle(&mut self, now: Ts) -> io::Result<()> {
        Pipeline::idle(self, now)
    }
    fn finish(&mut self) -> io::Result<()> {
        Pipeline::finish(self)
    }
    fn reopen_outputs(&mut self) -> io::Result<()> {
        Pipeline::reopen_outputs(self)
    }
    fn stats(&self) -> Stats {
        Pipeline::stats(self)
    }
    fn reload(&mut self, cfg: &Config, intel: std::sync::Arc<crate::intel::Intel>) {
        Pipeline::reload(self, cfg, intel);
    }
    fn login(&mut self, l: &crate::identity::session::Login) -> io::Result<()> {
        Pipeline::login(self, l)
    }
}

/// What a batch entry asks the worker to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    /// Run the expiry check at the entry's time ([`Pipeline::idle`]).
    Tick,
    /// Process the frame ([`Pipeline::frame`]).
    Frame,
    /// Only learn the DNS names of the frame ([`Pipeline::learn_names`]).
    Names,
}

/// One batch entry; frame bytes are `data[start..start + len]` of its batch.
#[derive(Debug)]
struct Entry {
    seq: u64,
    ts: Ts,
    wire_len: u32,
    start: usize,
    len: usize,
    task: Task,
}

/// Frames for one worker, and the stream position they reach.
#[derive(Debug, Default)]
struct Batch {
    entries: Vec<Entry>,
    data: Vec<u8>,
    upto: u64,
}

impl Batch {
    fn push(&mut self, seq: u64, f: &Frame<'_>, task: Task) {
        let start = self.data.len();
        if task != Task::Tick {
            self.data.extend_from_slice(f.data);
        }
        self.entries.push(Entry {
            seq,
            ts: f.ts,
            wire_len: f.wire_len,
            start,
            len: self.data.len() - start,
            task,
        });
    }
}

/// What the reader hands a worker.
enum Work {
    /// Frames the reader routed to this worker (and ticks, and DNS responses to learn from).
    Batch(Batch),
    /// A run of records shared by all workers, with the reader's routing of each.
    Chunk(Arc<Routed>),
}

/// A chunk and, per frame in file order, where its record is and what each worker does with
/// it: the reader routes every frame once (`Workers::route`), as it does in
/// [`PacketPath::frame`], and a worker then touches only its own frames (and the rare tick or
/// DNS response), never decoding the others'.
pub(super) struct Routed {
    pub(super) chunk: Chunk,
    /// The sequence number before the chunk's first frame.
    pub(super) first: u64,
    pub(super) at: Vec<u32>,
    pub(super) route: Vec<u8>,
}

/// The owning worker's index: the low bits of a route.
pub(super) const ROUTE_OWNER: u8 = 0x3f;
/// Every worker learns the DNS names of the frame (a DNS response).
pub(super) const ROUTE_NAMES: u8 = 0x40;
/// Every worker runs an expiry check at the frame's time, before it.
pub(super) const ROUTE_TICK: u8 = 0x80;
const _: () = assert!(WORKERS_MAX <= ROUTE_OWNER as usize + 1);

/// Resolution of the shard split: a flow's hash, reduced to this range, is compared with the
/// pipelines' cumulative shares.
const SHARD_SCALE: u64 = 1 << 16;
/// What reading costs the reading thread (the kernel's copy, splitting records, routing every
/// frame), in percent of what a worker thread spends analysing every flow of the same file.
/// Measured with per-thread CPU times (`/proc/PID/task/*/stat`) of `analyze --workers 2` on the
/// 2 GB benchmark capture (`benches/throughput.sh`) with every flow sent to the worker: the
/// reader used about 0.61 s, the worker about 0.96 s.
const READ_COST_PERCENT: u64 = 64;
/// What the reader's own analysis of a flow costs, in percent of a worker's analysis of it.
/// Fitted so that [`local_share`] lands where a sweep of shares on the same capture finished
/// soonest: 0.89 s at shares of 0.17 and 0.28, against 0.98 to 1.02 s at 0.10 and 1.0 to 1.7 s
/// at none. The reader decodes its own frames from its cache, a worker fetches each from the
/// reader's core; but the reader also handles the hand-over and the final stage.
const LOCAL_COST_PERCENT: u64 = 64;

/// The reader's share of flows among `n` pipelines, in [`SHARD_SCALE`] units, chosen so the
/// reader and each worker finish together. With costs relative to a worker analysing every
/// flow, reading `r` and the reader's analysis `l`, a reader share `a` costs the reader
/// `r + a·l` and each worker `(1 - a) / (n - 1)`; equal when
/// `a = (1/(n-1) - r) / (l + 1/(n-1))`. That is about a fifth with two pipelines, and none
/// from three on, where routing alone keeps the reader as busy as a worker.
fn local_share(n: u64) -> u64 {
    if n <= 1 {
        return SHARD_SCALE;
    }
    let (r, l) = (READ_COST_PERCENT, LOCAL_COST_PERCENT);
    // In percent: (100/(n-1) - r) / (l + 100/(n-1)), scaled; multiplied through by (n-1).
    let num = 100u64.saturating_sub(r * (n - 1));
    let den = l * (n - 1) + 100;
    SHARD_SCALE * num / den
}

/// Which pipeline each flow lives on: the reader's own (0) or worker `1..n`.
pub(super) struct Shard {
    /// Per pipeline, the end (exclusive) of its range of hash values, in [`SHARD_SCALE`]
    /// units: a flow's pipeline is found by comparisons, with no division per frame.
    bounds: Vec<u64>,
}

impl Shard {
    /// The split of [`Workers`]: the reader's pipeline takes [`local_share`], the others share
    /// the rest evenly.
    fn new(n: usize) -> Shard {
        Shard::with_first(n, local_share(n as u64))
    }

    /// `n` pipelines with equal shares: every pipeline reads as much as it analyses
    /// (`super::parallel`).
    pub(super) fn even(n: usize) -> Shard {
        Shard::with_first(n, SHARD_SCALE / n.max(1) as u64)
    }

    fn with_first(n: usize, first: u64) -> Shard {
        let n = n.max(1) as u64;
        if n == 1 {
            return Shard {
                bounds: vec![SHARD_SCALE],
            };
        }
        let rest = SHARD_SCALE - first.min(SHARD_SCALE);
        let bounds = (0..n)
            .map(|w| {
                if w + 1 == n {
                    SHARD_SCALE
                } else {
                    first + w * rest / (n - 1)
                }
            })
            .collect();
        Shard { bounds }
    }

    /// The pipeline a packet's flow lives on: both directions hash alike.
    pub(super) fn owner_of(&self, p: &Packet<'_>) -> usize {
        self.owner_of_ends(p.vlan, p.proto, (p.src, p.src_port), (p.dst, p.dst_port))
    }

    /// The pipeline of the flow between ends `a` and `b` (either way round).
    fn owner_of_ends(&self, vlan: u32, proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> usize {
        let fold = |(ip, port): (IpAddr, u16)| {
            let addr = match ip {
                IpAddr::V4(a) => Folded::v4(a.octets()),
                IpAddr::V6(a) => Folded::v6(a.octets()),
            };
            (addr, port)
        };
        self.owner_of_folded(vlan, proto, fold(a), fold(b))
    }

    /// [`Shard::owner_of_ends`] with the addresses folded.
    fn owner_of_folded(&self, vlan: u32, proto: u8, a: (Folded, u16), b: (Folded, u16)) -> usize {
        let v = shard_hash(vlan, proto, a, b) % SHARD_SCALE;
        // The first range that ends past `v`: a scan, as the bounds are few (one per
        // pipeline) and sorted; a binary search costs more on a handful.
        self.bounds
            .iter()
            .position(|&end| end > v)
            .unwrap_or(self.bounds.len())
    }
}

/// A flow's shard hash, the same whichever end `a` is: each end (address, port) is folded
/// into a word, the two words are combined by XOR, which does not care about their order, with
/// the VLAN and protocol, and a folded multiply (foldhash's mixing step) spreads the result.
/// Computed for every frame routed, so it is a handful of instructions rather than a general
/// hash of the normalised `FlowKey`.
fn shard_hash(vlan: u32, proto: u8, a: (Folded, u16), b: (Folded, u16)) -> u64 {
    let x = end_word(a) ^ end_word(b) ^ (u64::from(vlan) << 8 | u64::from(proto)).rotate_left(40);
    let m = u128::from(x ^ SHARD_SEED) * u128::from(SHARD_MULTIPLIER);
    // The product's low and high halves (truncation intended).
    (m as u64) ^ ((m >> 64) as u64)
}

/// Odd 64-bit constant of the shard hash's multiply (the golden ratio's fraction).
const SHARD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// An address folded into a word for the shard hash (an IPv6 address's halves combined): the
/// form the router's `decode::peek_as` builds, so routing a frame makes no `IpAddr`.
#[derive(Clone, Copy, Debug)]
pub struct Folded(pub u64);

impl PeekAddr for Folded {
    fn v4(b: [u8; 4]) -> Folded {
        Folded(u64::from(u32::from_be_bytes(b)))
    }
    fn v6(b: [u8; 16]) -> Folded {
        let v = u128::from_be_bytes(b);
        // The address's low and high halves (truncation intended).
        Folded((v as u64) ^ ((v >> 64) as u64).rotate_left(29))
    }
}

/// One end of a flow as a word: the folded address with the port.
fn end_word((addr, port): (Folded, u16)) -> u64 {
    addr.0.rotate_left(16) ^ u64::from(port)
}

/// Routes each frame to the pipeline its flow lives on (see `Routed`), and keeps one
/// pipeline's expiry schedule, so that every pipeline runs each expiry tick at the same place
/// in the stream.
pub(super) struct Router {
    link: LinkType,
    shard: Shard,
    next_expire: Ts,
}

impl Router {
    pub(super) fn new(link: LinkType, shard: Shard) -> Router {
        Router {
            link,
            shard,
            next_expire: Ts(0),
        }
    }

    /// One pipeline's expiry schedule: whether it would look for idle flows at `now`, moving the
    /// schedule on if so.
    pub(super) fn expiry_due(&mut self, now: Ts) -> bool {
        if now < self.next_expire {
            return false;
        }
        self.next_expire = now.plus(EXPIRE_EVERY_NS);
        true
    }

    /// The pipeline of a frame routed from its header fields alone (`decode::peek`): `None`
    /// for a frame outside the common shapes, and for a possible DNS response, whose names
    /// every pipeline learns, so that the caller decodes it.
    fn peek_owner(&self, f: &Frame<'_>) -> Option<usize> {
        let k = peek_as::<Folded>(self.link, f.data)?;
        if k.proto == ip_proto::UDP && k.src.1 == super::DNS_PORT {
            return None;
        }
        Some(self.shard.owner_of_folded(k.vlan, k.proto, k.src, k.dst))
    }

    /// The route of a frame (see `Routed`), and its decode if routing needed one: the common
    /// frame is routed from its header fields alone, any other decoded.
    pub(super) fn route<'f>(&mut self, f: &Frame<'f>) -> (u8, Option<Decoded<'f>>) {
        match self.peek_owner(f) {
            Some(owner) => {
                let mut r = u8::try_from(owner).unwrap_or(0);
                // A frame the peek takes decodes to a packet at the frame's time.
                if self.expiry_due(f.ts) {
                    r |= ROUTE_TICK;
                }
                (r, None)
            }
            None => {
                let d = decode(self.link, f);
                (self.route_decoded(&d), Some(d))
            }
        }
    }

    /// The route of a decoded frame: its pipeline, an expiry tick where one pipeline would
    /// check, and whether every pipeline learns its DNS names.
    pub(super) fn route_decoded(&mut self, d: &Decoded<'_>) -> u8 {
        let mut r = self.place(d);
        if let Decoded::Packet(p) = d {
            if self.expiry_due(p.ts) {
                r |= ROUTE_TICK;
            }
        }
        r
    }

    /// The route of a frame without the expiry schedule (see [`Router::place`]), from its
    /// header fields when `decode::peek` takes it, and whether it is an IP packet (whose time
    /// moves the schedule).
    pub(super) fn place_frame(&self, f: &Frame<'_>) -> (u8, bool) {
        match self.peek_owner(f) {
            Some(owner) => (u8::try_from(owner).unwrap_or(0), true),
            None => {
                let d = decode(self.link, f);
                (self.place(&d), matches!(d, Decoded::Packet(_)))
            }
        }
    }

    /// What a frame every pipeline learns the DNS names of ([`ROUTE_NAMES`]) teaches
    /// ([`Heard::of`]): worked out once, for every pipeline.
    pub(super) fn heard(&self, f: &Frame<'_>) -> Option<Heard> {
        match decode(self.link, f) {
            Decoded::Packet(p) => Heard::of(p.payload),
            _ => None,
        }
    }

    /// The pipeline of a decoded frame, and whether every pipeline learns its DNS names: its
    /// route without the expiry schedule.
    pub(super) fn place(&self, d: &Decoded<'_>) -> u8 {
        match d {
            Decoded::Packet(p) => {
                let r = u8::try_from(self.shard.owner_of(p)).unwrap_or(0);
                if super::is_dns_response(p) {
                    r | ROUTE_NAMES
                } else {
                    r
                }
            }
            // Frames without a flow are only counted: the reader's pipeline does.
            Decoded::NotIp | Decoded::Fragment | Decoded::Malformed(_) => 0,
        }
    }
}

/// Where an alert was produced in the stream: the frame's sequence number and the step (expiry
/// tick 0, the frame 1); the final drain is `(u64::MAX, 2)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Tag {
    pub(super) seq: u64,
    pub(super) step: u8,
}

pub(super) const DRAIN: Tag = Tag {
    seq: u64::MAX,
    step: 2,
};

/// An alert and where it was produced.
#[derive(Debug)]
pub(super) struct Tagged {
    tag: Tag,
    /// Boxed: alerts are sorted and moved between stages, and an alert is large.
    alert: Box<Alert>,
}

/// The final stage's order: stream position, then fields that tell apart alerts produced at
/// the same position (flows ended by one tick) independently of which worker held them.
fn merge_order(a: &Tagged, b: &Tagged) -> Ordering {
    let (x, y) = (&a.alert, &b.alert);
    a.tag
        .cmp(&b.tag)
        .then(x.ts.cmp(&y.ts))
        .then_with(|| x.id.cmp(&y.id))
        .then_with(|| flow_order(x).cmp(&flow_order(y)))
}

/// The flow fields that order alerts of one position and time.
type FlowOrder = Option<(u32, &'static str, IpAddr, u16, IpAddr, u16)>;

fn flow_order(a: &Alert) -> FlowOrder {
    a.flow
        .as_ref()
        .map(|f| (f.vlan, f.proto, f.src_ip, f.src_port, f.dst_ip, f.dst_port))
}

/// A worker's report after a batch (or, with `finished`, after its final drain).
struct Done {
    worker: usize,
    batch: Option<Batch>,
    alerts: Vec<Tagged>,
    upto: u64,
    stats: Stats,
    finished: bool,
}

/// The worker side of the alert hand-over: a sink that tags each alert with the current stream
/// position and keeps it for the next report.
pub(super) struct Outbox {
    pub(super) tag: Tag,
    pub(super) alerts: Vec<Tagged>,
}

impl Outbox {
    /// An empty outbox, shared between a pipeline's sink and the code that empties it.
    pub(super) fn shared() -> Rc<RefCell<Outbox>> {
        Rc::new(RefCell::new(Outbox {
            tag: Tag::default(),
            alerts: Vec::new(),
        }))
    }
}

pub(super) struct OutboxSink(pub(super) Rc<RefCell<Outbox>>);

impl AlertSink for OutboxSink {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        self.take(alert.clone())
    }

    fn take(&mut self, alert: Alert) -> io::Result<()> {
        let mut o = self.0.borrow_mut();
        let tag = o.tag;
        o.alerts.push(Tagged {
            tag,
            alert: Box::new(alert),
        });
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The final stage: takes every pipeline's alerts and progress, and delivers the alerts no
/// pipeline can still precede, merged in stream order, deduplicated once, through the one sink.
pub(super) struct Merge<'s> {
    /// Per pipeline: the stream position it has passed.
    watermark: Vec<u64>,
    /// Per pipeline: its counters in its last report.
    stats: Vec<Stats>,
    pending: Vec<Tagged>,
    dedup: Dedup,
    delivered: Stats,
    sink: &'s mut dyn AlertSink,
}

impl<'s> Merge<'s> {
    pub(super) fn new(n: usize, cfg: &Config, sink: &'s mut dyn AlertSink) -> Merge<'s> {
        Merge {
            watermark: vec![0; n],
            stats: vec![Stats::default(); n],
            pending: Vec::new(),
            dedup: Dedup::new(cfg.alerts.dedup_window_secs),
            delivered: Stats::default(),
            sink,
        }
    }

    /// Whether every pipeline has reported its final drain.
    pub(super) fn all_finished(&self) -> bool {
        self.watermark.iter().all(|&m| m == u64::MAX)
    }

    /// Whether pipeline `p` has reported its final drain.
    pub(super) fn finished(&self, p: usize) -> bool {
        self.watermark.get(p) == Some(&u64::MAX)
    }

    /// Frames each pipeline had analysed at its last report.
    pub(super) fn frames_of_each(&self) -> Vec<u64> {
        self.stats.iter().map(|s| s.frames).collect()
    }

    /// Takes pipeline `p`'s report: its alerts, the position it has passed (`u64::MAX` once
    /// drained) and its counters.
    pub(super) fn report(&mut self, p: usize, alerts: Vec<Tagged>, upto: u64, stats: Stats) {
        if let Some(m) = self.watermark.get_mut(p) {
            *m = upto;
        }
        if let Some(s) = self.stats.get_mut(p) {
            *s = stats;
        }
        self.pending.extend(alerts);
    }

    /// Delivers every alert no pipeline can still precede.
    pub(super) fn deliver(&mut self) -> io::Result<()> {
        let ready = if self.all_finished() {
            DRAIN
        } else {
            Tag {
                seq: self.watermark.iter().copied().min().unwrap_or(0),
                step: 1,
            }
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending.sort_by(merge_order);
        let cut = self.pending.partition_point(|t| t.tag <= ready);
        for t in self.pending.drain(..cut) {
            if self.dedup.admit(&t.alert.key(), t.alert.ts) {
                self.delivered.count_alert(&t.alert);
                self.sink.emit(&t.alert)?;
            }
        }
        Ok(())
    }

    /// Every pipeline's counters (pipeline 0's as `first`, the others' as last reported),
    /// and the alerts as delivered.
    pub(super) fn stats(&self, first: &Stats) -> Stats {
        let mut s = first.clone();
        for p in self.stats.iter().skip(1) {
            s.absorb(p);
        }
        s.alerts = self.delivered.alerts;
        s.suppressed = self.dedup.suppressed();
        s
    }

    /// Every pipeline's counters as last reported, and the alerts as delivered (for stages
    /// where every pipeline reports, `super::Fanout`).
    pub(super) fn stats_of_all(&self) -> Stats {
        let first = self.stats.first().cloned().unwrap_or_default();
        self.stats(&first)
    }

    pub(super) fn sink(&mut self) -> &mut dyn AlertSink {
        self.sink
    }
}

/// `N` pipelines: the reader's own, `N - 1` worker threads, and one final stage (see the module
/// documentation).
pub struct Workers<'s> {
    router: Router,
    /// The reader's own pipeline (pipeline 0) and where its alerts wait.
    local: Pipeline<'static>,
    outbox: Rc<RefCell<Outbox>>,
    /// Per worker thread (pipeline `w` is thread `w - 1`).
    senders: Vec<SyncSender<Work>>,
    /// Chunks handed out, oldest first, until every worker has let go of them.
    chunks: VecDeque<Arc<Routed>>,
    /// Buffers of chunks no worker holds any more.
    free: Vec<Box<[u8]>>,
    results: Receiver<Done>,
    handles: Vec<JoinHandle<()>>,
    /// Per worker thread.
    filling: Vec<Batch>,
    spare: Vec<Vec<Batch>>,
    seq: u64,
    since_handover: usize,
    /// Pipeline 0 is the reader's.
    merge: Merge<'s>,
}

impl<'s> Workers<'s> {
    /// Starts `n` (1..=[`WORKERS_MAX`]) pipelines for frames of framing `link`, configured by
    /// `cfg`, delivering to `sink`: one on the caller's thread, `n - 1` on threads of their own.
    pub fn start(
        cfg: &Config,
        link: LinkType,
        n: usize,
        sink: &'s mut dyn AlertSink,
    ) -> io::Result<Workers<'s>> {
        let n = n.clamp(1, WORKERS_MAX);
        let mut share = cfg.clone();
        share.flow.max_flows = cfg.flow.max_flows.div_ceil(n);
        share.flow.max_inspecting = cfg.flow.max_inspecting.div_ceil(n);
        let (done_tx, results) = mpsc::channel();
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for w in 1..n {
            let (tx, rx) = mpsc::sync_channel(QUEUE_PER_WORKER);
            let (cfg, done) = (share.clone(), done_tx.clone());
            let h = std::thread::Builder::new()
                .name(format!("remotewatch-worker-{w}"))
                .spawn(move || work(w, &cfg, link, &rx, &done))?;
            senders.push(tx);
            handles.push(h);
        }
        let outbox = Outbox::shared();
        let local = Pipeline::owning(&share, link, Box::new(OutboxSink(Rc::clone(&outbox))))
            .without_dedup();
        Ok(Workers {
            router: Router::new(link, Shard::new(n)),
            local,
            outbox,
            senders,
            chunks: VecDeque::new(),
            free: Vec::new(),
            results,
            handles,
            filling: (1..n).map(|_| Batch::default()).collect(),
            spare: (1..n)
                .map(|_| (1..BATCHES_PER_WORKER).map(|_| Batch::default()).collect())
                .collect(),
            seq: 0,
            since_handover: 0,
            merge: Merge::new(n, cfg, sink),
        })
    }

    /// Runs an expiry tick on every pipeline when one pipeline would check at `now`: at once on
    /// the reader's, queued for the workers.
    fn tick(&mut self, seq: u64, now: Ts) {
        if !self.router.expiry_due(now) {
            return;
        }
        self.outbox.borrow_mut().tag = Tag { seq, step: 0 };
        // The outbox cannot fail, so neither can the pipeline.
        let _ = self.local.idle(now);
        let f = Frame {
            ts: now,
            data: &[],
            wire_len: 0,
        };
        for b in &mut self.filling {
            b.push(seq, &f, Task::Tick);
        }
    }

    /// Sends every worker thread its batch; blocks while one has all its batches in hand.
    fn hand_over(&mut self) -> io::Result<()> {
        for t in 0..self.senders.len() {
            let fresh = self.spare_batch(t)?;
            let mut b = std::mem::replace(self.filling.get_mut(t).ok_or_else(worker_lost)?, fresh);
            b.upto = self.seq;
            self.senders
                .get(t)
                .ok_or_else(worker_lost)?
                .send(Work::Batch(b))
                .map_err(|_| worker_lost())?;
        }
        self.since_handover = 0;
        self.collect()
    }

    /// A free batch for worker thread `t`.
    fn spare_batch(&mut self, t: usize) -> io::Result<Batch> {
        loop {
            if let Some(b) = self.spare.get_mut(t).and_then(Vec::pop) {
                return Ok(b);
            }
            let d = self.results.recv().map_err(|_| worker_lost())?;
            self.absorb(d);
        }
    }

    /// Takes the reports waiting, the reader's own alerts, and delivers what is ready.
    fn collect(&mut self) -> io::Result<()> {
        while let Ok(d) = self.results.try_recv() {
            self.absorb(d);
        }
        self.deliver()
    }

    /// Takes a worker's report.
    fn absorb(&mut self, d: Done) {
        if let Some(b) = d.batch {
            if let Some(s) = self.spare.get_mut(d.worker - 1) {
                s.push(b);
            }
        }
        let upto = if d.finished { u64::MAX } else { d.upto };
        self.merge.report(d.worker, d.alerts, upto, d.stats);
    }

    /// Delivers every alert no pipeline can still precede, the reader's own included.
    fn deliver(&mut self) -> io::Result<()> {
        let alerts = std::mem::take(&mut self.outbox.borrow_mut().alerts);
        self.merge.report(0, alerts, self.seq, self.local.stats());
        self.merge.deliver()
    }
}

/// What the reader does with a frame itself: its expiry tick, its own frame (decoded by
/// `decoded`) or another's DNS names, in that order, as a worker would (see `run_chunk`).
fn run_local<'f>(
    local: &mut Pipeline<'_>,
    outbox: &RefCell<Outbox>,
    seq: u64,
    f: &Frame<'f>,
    route: u8,
    decoded: impl FnOnce() -> Decoded<'f>,
) {
    let set_tag = |step| outbox.borrow_mut().tag = Tag { seq, step };
    // The outbox cannot fail, so neither can the pipeline.
    if route & ROUTE_TICK != 0 {
        set_tag(0);
        let _ = local.idle(f.ts);
    }
    if route & ROUTE_OWNER == 0 {
        set_tag(1);
        let _ = local.decoded(f, decoded());
    } else if route & ROUTE_NAMES != 0 {
        local.learn_names(f);
    }
}

impl PacketPath for Workers<'_> {
    fn frame(&mut self, f: &Frame<'_>) -> io::Result<()> {
        self.seq += 1;
        let seq = self.seq;
        // Routed as in `chunk`; a worker decodes its own frames, the reader only its own and
        // those it cannot route from their header fields.
        let (route, d) = self.router.route(f);
        let link = self.router.link;
        run_local(&mut self.local, &self.outbox, seq, f, route, || {
            d.unwrap_or_else(|| decode(link, f))
        });
        // Each worker thread's part, in the order `run_local` keeps.
        let owner = usize::from(route & ROUTE_OWNER);
        for (t, b) in self.filling.iter_mut().enumerate() {
            if route & ROUTE_TICK != 0 {
                b.push(seq, f, Task::Tick);
            }
            if t + 1 == owner {
                b.push(seq, f, Task::Frame);
            } else if route & ROUTE_NAMES != 0 {
                b.push(seq, f, Task::Names);
            }
        }
        self.since_handover += 1;
        if self.since_handover >= BATCH_FRAMES {
            self.hand_over()?;
        }
        Ok(())
    }

    /// The reader routes every frame of the chunk (see `Routed`), analyses its own share at
    /// once, and hands the chunk, shared, to every worker thread; nothing is copied per frame.
    fn chunk(&mut self, c: Chunk) -> io::Result<Option<Box<[u8]>>> {
        let first = self.seq;
        let (mut at, mut route) = (
            Vec::with_capacity(c.frames()),
            Vec::with_capacity(c.frames()),
        );
        let link = self.router.link;
        let mut seq = self.seq;
        c.for_each_at(|place, f| {
            seq += 1;
            // The common frame is routed from its header fields alone and decoded only if it is
            // the reader's own; any other (and a possible DNS response, whose names every
            // pipeline learns) is decoded to route it.
            let (r, d) = self.router.route(f);
            run_local(&mut self.local, &self.outbox, seq, f, r, || {
                d.unwrap_or_else(|| decode(link, f))
            });
            at.push(place);
            route.push(r);
        });
        self.seq = seq;
        if self.senders.is_empty() {
            self.deliver()?;
            return Ok(Some(c.into_buffer()));
        }
        let c = Arc::new(Routed {
            chunk: c,
            first,
            at,
            route,
        });
        for tx in &self.senders {
            tx.send(Work::Chunk(Arc::clone(&c)))
                .map_err(|_| worker_lost())?;
        }
        self.chunks.push_back(c);
        self.collect()?;
        // Chunks every worker has let go of (the oldest first) give their buffers back; the
        // reader is handed one, so buffers are reused rather than allocated and faulted in anew.
        while self
            .chunks
            .front()
            .is_some_and(|c| Arc::strong_count(c) == 1)
        {
            if let Some(r) = self
                .chunks
                .pop_front()
                .and_then(|c| Arc::try_unwrap(c).ok())
            {
                self.free.push(r.chunk.into_buffer());
            }
        }
        Ok(self.free.pop())
    }

    fn idle(&mut self, now: Ts) -> io::Result<()> {
        // The tick takes a position of its own, after every frame read so far.
        self.seq += 1;
        self.tick(self.seq, now);
        self.hand_over()
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.merge.all_finished() {
            return Ok(());
        }
        self.hand_over()?;
        // Closing the channels tells each worker to end its flows and report for the last time.
        self.senders.clear();
        self.outbox.borrow_mut().tag = DRAIN;
        // The outbox cannot fail, so neither can the pipeline.
        let _ = self.local.finish();
        // The reader's pipeline has passed every position.
        self.seq = u64::MAX;
        self.deliver()?;
        while !self.merge.all_finished() {
            let d = self.results.recv().map_err(|_| worker_lost())?;
            self.absorb(d);
        }
        self.deliver()?;
        for h in self.handles.drain(..) {
            h.join().map_err(|_| worker_lost())?;
        }
        self.merge.sink().flush()
    }

    fn reopen_outputs(&mut self) -> io::Result<()> {
        let sink = self.merge.sink();
        sink.flush()?;
        sink.reopen()
    }

    fn stats(&self) -> Stats {
        self.merge.stats(&self.local.stats())
    }
}

fn worker_lost() -> io::Error {
    io::Error::other("an analysis worker stopped unexpectedly")
}

/// A worker thread (pipeline `w`): runs its pipeline over each batch or chunk and reports,
/// until the reader hangs up.
fn work(w: usize, cfg: &Config, link: LinkType, inbox: &Receiver<Work>, done: &Sender<Done>) {
    let outbox = Outbox::shared();
    let mut sink = OutboxSink(Rc::clone(&outbox));
    let mut pipe = Pipeline::new(cfg, link, &mut sink).without_dedup();
    let set_tag = |seq: u64, step: u8| outbox.borrow_mut().tag = Tag { seq, step };
    let take = || std::mem::take(&mut outbox.borrow_mut().alerts);
    for item in inbox {
        let (batch, upto) = match item {
            Work::Batch(mut b) => {
                run_batch(&mut pipe, &b, set_tag);
                let upto = b.upto;
                b.entries.clear();
                b.data.clear();
                (Some(b), upto)
            }
            Work::Chunk(c) => {
                let upto = run_chunk(&mut pipe, w, &c, set_tag);
                (None, upto)
            }
        };
        let report = Done {
            worker: w,
            batch,
            alerts: take(),
            upto,
            stats: pipe.stats(),
            finished: false,
        };
        if done.send(report).is_err() {
            return;
        }
    }
    set_tag(DRAIN.seq, DRAIN.step);
    let _ = pipe.finish();
    let _ = done.send(Done {
        worker: w,
        batch: None,
        alerts: take(),
        upto: u64::MAX,
        stats: pipe.stats(),
        finished: true,
    });
}

/// Runs the entries of a batch the reader routed.
fn run_batch(pipe: &mut Pipeline<'_>, b: &Batch, set_tag: impl Fn(u64, u8)) {
    for e in &b.entries {
        let f = Frame {
            ts: e.ts,
            data: b.data.get(e.start..e.start + e.len).unwrap_or_default(),
            wire_len: e.wire_len,
        };
        // The outbox cannot fail, so neither can the pipeline.
        let _ = match e.task {
            Task::Tick => {
                set_tag(e.seq, 0);
                pipe.idle(e.ts)
            }
            Task::Frame => {
                set_tag(e.seq, 1);
                pipe.frame(&f)
            }
            Task::Names => {
                pipe.learn_names(&f);
                Ok(())
            }
        };
    }
}

/// Runs worker `w`'s part of a routed chunk: its frames, every tick, and other workers' DNS
/// responses for their names. Returns the chunk's last sequence number.
pub(super) fn run_chunk(
    pipe: &mut Pipeline<'_>,
    w: usize,
    c: &Routed,
    set_tag: impl Fn(u64, u8),
) -> u64 {
    let mut seq = c.first;
    for (&at, &route) in c.at.iter().zip(&c.route) {
        seq += 1;
        let mine = usize::from(route & ROUTE_OWNER) == w;
        if !mine && route & (ROUTE_TICK | ROUTE_NAMES) == 0 {
            continue;
        }
        let Some(f) = c.chunk.frame_at(at) else {
            continue;
        };
        // The outbox cannot fail, so neither can the pipeline.
        if route & ROUTE_TICK != 0 {
            set_tag(seq, 0);
            let _ = pipe.idle(f.ts);
        }
        if mine {
            set_tag(seq, 1);
            let _ = pipe.frame(&f);
        } else if route & ROUTE_NAMES != 0 {
            pipe.learn_names(&f);
        }
    }
    seq
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
