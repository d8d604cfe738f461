//! The flow table: a hash index over a slab of flows threaded on an LRU list.
//!
//! The LRU list is ordered by last activity, so idle expiry pops from its head and eviction under
//! pressure takes the least recently active flow: both O(1) per flow, and deterministic (a replay
//! ends flows in the same order every time, unlike iterating a hash map).

use super::key::{Dir, FlowKey};
use super::payload::Payloads;
use crate::decode::{Packet, TcpInfo, Tunnel};
use crate::ts::Ts;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::net::SocketAddr;

const NIL: u32 = u32::MAX;
/// Flows the table makes room for when it is created (or `max_flows` if smaller): the default
/// cap, so a table within it never rehashes or moves its slots while traffic grows. Beyond,
/// it grows on demand.
const PRESIZE_MAX: usize = 1 << 20;
/// Recycled payload buffers kept for reuse; beyond this they are freed.
const PAYLOAD_POOL_MAX: usize = 1024;
/// Below this port a service is "well known" (IANA system ports, RFC 6335 §6): used to guess the
/// responder of a flow whose start was not seen.
const SYSTEM_PORT_LIMIT: u16 = 1024;
/// Start of the range systems pick ephemeral source ports from (Linux uses 32768–60999 by
/// default; IANA's dynamic range, used by Windows and BSDs, starts at 49152).
const DYNAMIC_PORT_START: u16 = 32768;

/// Index of a flow in the table, valid until the flow ends.
pub type FlowId = u32;

/// Table limits.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Flows tracked at once; the least recently active is evicted beyond this.
    pub max_flows: usize,
    /// A flow with no packet for this long (nanoseconds) ends.
    pub idle_timeout_ns: u64,
    /// Flows that may hold payload buffers at once.
    pub max_inspecting: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            idle_timeout_ns: 120 * Ts::NANOS_PER_SEC,
            max_inspecting: 32_768,
        }
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// No packet for the idle timeout.
    Idle,
    /// Evicted to make room for a new flow.
    Evicted,
    /// End of input or shutdown.
    Drained,
}

/// TCP handshake observations. Timestamps are `None` until seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The client's SYN.
    pub syn: Option<Ts>,
    /// The server's SYN/ACK.
    pub syn_ack: Option<Ts>,
    /// The client's first ACK after the SYN/ACK.
    pub ack: Option<Ts>,
    /// MSS option per direction ([`Dir::idx`]).
    pub mss: [Option<u16>; 2],
    /// Window-scale option per direction.
    pub wscale: [Option<u8>; 2],
    /// A FIN was seen per direction.
    pub fin: [bool; 2],
    /// A RST was seen.
    pub rst: bool,
}

impl Handshake {
    /// SYN → SYN/ACK: the round trip between the sensor and the server, in nanoseconds.
    pub fn server_rtt_ns(&self) -> Option<u64> {
        Some(self.syn_ack?.since(self.syn?))
    }

    /// SYN/ACK → ACK: the round trip between the sensor and the client, in nanoseconds.
    pub fn client_rtt_ns(&self) -> Option<u64> {
        Some(self.ack?.since(self.syn_ack?))
    }

    /// Whether the three-way handshake was seen.
    pub fn established(&self) -> bool {
        self.syn.is_some() && self.syn_ack.is_some()
    }

    /// Whether the connection was closed (RST, or FIN both ways).
    pub fn closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }
}

/// One bidirectional flow. `S` is the per-flow state of the stage that owns the table.
#[derive(Debug)]
pub struct Flow<S> {
    /// The normalised key.
    pub key: FlowKey,
    /// Whether the key's `lo` end is the initiator.
    pub client_is_lo: bool,
    /// First packet time.
    pub first_ts: Ts,
    /// Last packet time.
    pub last_ts: Ts,
    /// Packets per direction ([`Dir::idx`]).
    pub pkts: [u64; 2],
    /// Bytes on the wire per direction.
    pub bytes: [u64; 2],
    /// First IP TTL / hop limit seen per direction (0 until seen).
    pub ttl: [u8; 2],
    /// SPI of the first IPsec Authentication Header seen per direction (RFC 4302).
    pub ah_spi: [Option<u32>; 2],
    /// The tunnel the flow's first packet was unwrapped from.
    pub tunnel: Option<Tunnel>,
    /// TCP handshake observations (empty for other protocols).
    pub tcp: Handshake,
    /// Kept payload while the flow is under inspection.
    pub payloads: Option<Box<Payloads>>,
    /// The owning stage's state.
    pub state: S,
    prev: u32,
    next: u32,
    // Links in the list of flows holding payload buffers, by last activity.
    iprev: u32,
    inext: u32,
}

impl<S> Flow<S> {
    /// The initiator's address.
    pub fn client(&self) -> SocketAddr {
        if self.client_is_lo {
            self.key.lo_addr()
        } else {
            self.key.hi_addr()
        }
    }

    /// The responder's address.
    pub fn server(&self) -> SocketAddr {
        if self.client_is_lo {
            self.key.hi_addr()
        } else {
            self.key.lo_addr()
        }
    }
}

/// The outcome of [`FlowTable::ingest_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ingest {
    /// The flow the packet belongs to.
    pub id: FlowId,
    /// The packet's direction relative to the initiator.
    pub dir: Dir,
    /// Whether this packet created the flow.
    pub new: bool,
}

/// Table counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// Flows ended by idle timeout.
    pub expired: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Highest number of flows tracked at once.
    pub peak: usize,
    /// Flows whose inspection was cut short because `max_inspecting` buffers were in use: each
    /// gave its buffer to a more recently active flow and was concluded on what it had shown.
    pub inspect_skipped: u64,
}

/// The flow table.
///
/// Memory per tracked flow: its slot (`size_of::<Option<Flow<S>>>()`, 240 bytes with the
/// pipeline's state) and its index entry, a 4-byte flow id plus one control byte in a table
/// at most 7/8 full (hashbrown), whose key is the slot's own: 250 bytes or so at the default
/// one million flows (the pipeline's tests pin the figure).
pub struct FlowTable<S> {
    cfg: FlowConfig,
    // Flow ids hashed by their flow's key (which lives in the slot): four bytes per bucket, so
    // that the index stays small next to the flows even when churn makes it grow once (the
    // hash table grows rather than rehashes in place when deleted entries fill it past half).
    index: HashTable<FlowId>,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Option<Flow<S>>>,
    free: Vec<FlowId>,
    // The flow of the previous packet, looked at before the index (see `ingest_at`).
    last: FlowId,
    head: u32,
    tail: u32,
    // Boxes are recycled whole: flows hold `Option<Box<Payloads>>`, so reuse avoids allocating.
    #[allow(clippy::vec_box)]
    pool: Vec<Box<Payloads>>,
    inspecting: usize,
    // The list of flows holding buffers, least recently active first.
    ihead: u32,
    itail: u32,
    stats: FlowStats,
}

impl<S: Default> FlowTable<S> {
    /// An empty table with limits `cfg`.
    pub fn new(cfg: FlowConfig) -> FlowTable<S> {
        // Allocated up front (pages are only touched as flows arrive): no rehash or move while
        // the table fills, so memory grows in step with the flows and stays flat at the cap.
        let initial = cfg.max_flows.clamp(1, PRESIZE_MAX);
        FlowTable {
            cfg,
            index: HashTable::with_capacity(initial),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::with_capacity(initial),
            free: Vec::new(),
            last: NIL,
            head: NIL,
            tail: NIL,
            pool: Vec::new(),
            inspecting: 0,
            ihead: NIL,
            itail: NIL,
            stats: FlowStats::default(),
        }
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes the index has allocated (ids and control bytes; the keys live in the slots).
    pub fn index_bytes(&self) -> usize {
        self.index.allocation_size()
    }

    /// Flows the slots and the index have room for before either grows.
    pub fn capacity(&self) -> usize {
        self.slots.capacity().min(self.index.capacity())
    }

    /// Counters so far.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// The flow `id`.
    pub fn get(&self, id: FlowId) -> Option<&Flow<S>> {
        self.slots.get(id as usize)?.as_ref()
    }

    /// The flow `id`, mutably.
    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut Flow<S>> {
        self.slots.get_mut(id as usize)?.as_mut()
    }

    /// Accounts `p` to its flow at the packet's own time, creating the flow if needed (evicting
    /// the least recently active one when full; `ended` sees it before it goes).
    pub fn ingest_at<F: FnMut(&mut Flow<S>, EndReason)>(
        &mut self,
        p: &Packet<'_>,
        mut ended: F,
    ) -> Ingest {
        let (key, src_is_lo) = FlowKey::of(p);
        // Packets of one flow come in runs (a burst of segments, their acknowledgements): the
        // previous packet's flow is compared before the index is hashed and probed. The slot's
        // own key decides, so nothing needs forgetting when that flow ends: a slot holds a flow
        // exactly while the index has it, and keys in the index are unique.
        if key_of(&self.slots, self.last) == Some(&key) {
            return self.ingest_known(self.last, false, src_is_lo, p);
        }
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let found = self.index.find(hash, |&id| key_of(slots, id) == Some(&key));
        let (id, new) = match found {
            Some(&id) => (id, false),
            None => {
                if self.index.len() >= self.cfg.max_flows.max(1) {
                    self.stats.evicted += 1;
                    self.end_head(EndReason::Evicted, &mut ended);
                }
                (
                    self.insert(key, hash, initiator_is_src(p), src_is_lo, p),
                    true,
                )
            }
        };
        self.last = id;
        self.ingest_known(id, new, src_is_lo, p)
    }

    /// Accounts `p` to flow `id`, found or just created (`new`).
    fn ingest_known(&mut self, id: FlowId, new: bool, src_is_lo: bool, p: &Packet<'_>) -> Ingest {
        self.touch(id);
        self.itouch(id);
        let Some(flow) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            // Unreachable: `id` was just looked up or inserted.
            return Ingest {
                id,
                new,
                dir: Dir::ToServer,
            };
        };
        let dir = if src_is_lo == flow.client_is_lo {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        account(flow, p, dir);
        Ingest { id, dir, new }
    }

    /// Keeps `p`'s payload on flow `id` for inspection. When `max_inspecting` flows already hold
    /// buffers, the least recently active of them gives its buffer up: `lost` sees that flow
    /// first (to conclude its detection on what it has shown), and it is counted. Taking from the
    /// idlest rather than refusing the newcomer means a flood of junk flows cannot keep a live
    /// session from being inspected, just as the table itself evicts the idlest flow. Returns
    /// false when no buffer could be given.
    pub fn record_payload<F: FnMut(&mut Flow<S>)>(
        &mut self,
        id: FlowId,
        dir: Dir,
        p: &Packet<'_>,
        mut lost: F,
    ) -> bool {
        let needs_buffer = matches!(self.get(id), Some(f) if f.payloads.is_none());
        let fresh = if needs_buffer {
            if self.inspecting >= self.cfg.max_inspecting && !self.reclaim_idlest(id, &mut lost) {
                return false;
            }
            self.inspecting += 1;
            self.ilink_tail(id);
            Some(self.pool.pop().unwrap_or_default())
        } else {
            None
        };
        let Some(flow) = self.get_mut(id) else {
            return false;
        };
        if let Some(buf) = fresh {
            flow.payloads = Some(buf);
        }
        let Some(bufs) = flow.payloads.as_mut() else {
            return false;
        };
        let Some(side) = bufs.dirs.get_mut(dir.idx()) else {
            return false;
        };
        match p.tcp {
            Some(t) => side.push_tcp(t.seq, p.payload),
            None => side.push_datagram(
                p.payload,
                usize::try_from(p.payload_wire_len).unwrap_or(usize::MAX),
            ),
        }
        true
    }

    /// Returns flow `id`'s payload buffers to the pool (inspection is over).
    pub fn release_payload(&mut self, id: FlowId) {
        let Some(buf) = self.get_mut(id).and_then(|f| f.payloads.take()) else {
            return;
        };
        self.iunlink(id);
        self.recycle(buf);
    }

    /// Takes the buffer of the least recently active flow holding one (never `taker`'s), after
    /// `lost` has seen that flow. Returns false when there is none to take.
    fn reclaim_idlest<F: FnMut(&mut Flow<S>)>(&mut self, taker: FlowId, lost: &mut F) -> bool {
        let victim = self.ihead;
        if victim == NIL || victim == taker {
            return false;
        }
        let Some(flow) = self.link_mut(victim) else {
            return false;
        };
        lost(flow);
        let buf = flow.payloads.take();
        self.iunlink(victim);
        self.stats.inspect_skipped += 1;
        if let Some(buf) = buf {
            self.recycle(buf);
        }
        true
    }

    /// Ends every flow idle for longer than the timeout at time `now`, oldest first.
    pub fn expire<F: FnMut(&mut Flow<S>, EndReason)>(&mut self, now: Ts, mut ended: F) {
        while let Some(flow) = self.slots.get(self.head as usize).and_then(Option::as_ref) {
            if now.since(flow.last_ts) <= self.cfg.idle_timeout_ns {
                break;
            }
            self.stats.expired += 1;
            self.end_head(EndReason::Idle, &mut ended);
        }
    }

    /// Ends every flow, least recently active first (end of input, shutdown).
    pub fn drain<F: FnMut(&mut Flow<S>, EndReason)>(&mut self, mut ended: F) {
        while self.head != NIL {
            self.end_head(EndReason::Drained, &mut ended);
        }
    }

    fn insert(
        &mut self,
        key: FlowKey,
        hash: u64,
        src_is_client: bool,
        src_is_lo: bool,
        first: &Packet<'_>,
    ) -> FlowId {
        let ts = first.ts;
        let flow = Flow {
            key,
            client_is_lo: src_is_client == src_is_lo,
            first_ts: ts,
            last_ts: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            ttl: [0; 2],
            ah_spi: [None; 2],
            tunnel: first.tunnel,
            tcp: Handshake::default(),
            payloads: None,
            state: S::default(),
            prev: NIL,
            next: NIL,
            iprev: NIL,
            inext: NIL,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    *slot = Some(flow);
                }
                id
            }
            None => {
                self.slots.push(Some(flow));
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL)
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, id, |&other| {
            key_of(slots, other).map_or(0, |k| hasher.hash_one(k))
        });
        self.stats.created += 1;
        self.stats.peak = self.stats.peak.max(self.index.len());
        id
    }

    fn end_head<F: FnMut(&mut Flow<S>, EndReason)>(&mut self, why: EndReason, ended: &mut F) {
        let id = self.head;
        self.unlink(id);
        let Some(mut flow) = self.slots.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        ended(&mut flow, why);
        let hash = self.hasher.hash_one(flow.key);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        if let Some(buf) = flow.payloads.take() {
            // The flow is out of its slot: unlink it from the buffer list by its neighbours.
            self.iunlink_links(id, flow.iprev, flow.inext);
            self.recycle(buf);
        }
        self.free.push(id);
    }

    fn recycle(&mut self, mut buf: Box<Payloads>) {
        self.inspecting = self.inspecting.saturating_sub(1);
        if self.pool.len() < PAYLOAD_POOL_MAX {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn link_mut(&mut self, id: u32) -> Option<&mut Flow<S>> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    fn unlink(&mut self, id: u32) {
        let head = self.head;
        let Some(f) = self.link_mut(id) else { return };
        if f.prev == NIL && head != id {
            return; // not on the list (just inserted)
        }
        let (prev, next) = (f.prev, f.next);
        f.prev = NIL;
        f.next = NIL;
        match self.link_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.link_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    /// Appends `id` to the list of flows holding buffers.
    fn ilink_tail(&mut self, id: u32) {
        let tail = self.itail;
        if let Some(f) = self.link_mut(id) {
            f.iprev = tail;
            f.inext = NIL;
        }
        match self.link_mut(tail) {
            Some(t) => t.inext = id,
            None => self.ihead = id,
        }
        self.itail = id;
    }

    /// Removes `id` from the list of flows holding buffers.
    fn iunlink(&mut self, id: u32) {
        let Some(f) = self.link_mut(id) else { return };
        let (prev, next) = (f.iprev, f.inext);
        f.iprev = NIL;
        f.inext = NIL;
        self.iunlink_links(id, prev, next);
    }

    fn iunlink_links(&mut self, id: u32, prev: u32, next: u32) {
        if prev == NIL && self.ihead != id {
            return; // not on the list
        }
        match self.link_mut(prev) {
            Some(p) => p.inext = next,
            None => self.ihead = next,
        }
        match self.link_mut(next) {
            Some(n) => n.iprev = prev,
            None => self.itail = prev,
        }
    }

    /// Moves `id` to the most recently active end of the buffer list, if it holds a buffer.
    fn itouch(&mut self, id: u32) {
        if self.itail == id {
            return;
        }
        if matches!(self.get(id), Some(f) if f.payloads.is_some()) {
            self.iunlink(id);
            self.ilink_tail(id);
        }
    }

    fn touch(&mut self, id: u32) {
        if self.tail == id {
            return;
        }
        self.unlink(id);
        let tail = self.tail;
        if let Some(f) = self.link_mut(id) {
            f.prev = tail;
            f.next = NIL;
        }
        match self.link_mut(tail) {
            Some(t) => t.next = id,
            None => self.head = id,
        }
        self.tail = id;
    }
}

/// The key of the flow in slot `id`.
fn key_of<S>(slots: &[Option<Flow<S>>], id: FlowId) -> Option<&FlowKey> {
    slots.get(id as usize)?.as_ref().map(|f| &f.key)
}

/// Whether the sender of the first packet of a flow is its initiator.
fn initiator_is_src(p: &Packet<'_>) -> bool {
    if let Some(t) = p.tcp {
        if t.has(TcpInfo::SYN) {
            // SYN alone opens; a SYN/ACK answers (the SYN was missed).
            return !t.has(TcpInfo::ACK);
        }
    }
    // Start not seen: the end whose port looks more like a service is the responder; on a tie
    // the first sender is the initiator.
    port_rank(p.src_port) <= port_rank(p.dst_port)
}

/// How much a port looks like a listening service (RFC 6335 §6): system ports rank highest,
/// then registered ports, then the dynamic range operating systems draw source ports from.
fn port_rank(port: u16) -> u8 {
    match port {
        0 => 0,
        1..SYSTEM_PORT_LIMIT => 3,
        SYSTEM_PORT_LIMIT..DYNAMIC_PORT_START => 2,
        _ => 1,
    }
}

fn account<S>(flow: &mut Flow<S>, p: &Packet<'_>, dir: Dir) {
    let d = dir.idx();
    flow.last_ts = flow.last_ts.max(p.ts);
    if let Some(n) = flow.pkts.get_mut(d) {
        *n += 1;
    }
    if let Some(b) = flow.bytes.get_mut(d) {
        *b += u64::from(p.wire_len);
    }
    if let Some(ttl) = flow.ttl.get_mut(d) {
        if *ttl == 0 {
            *ttl = p.ttl;
        }
    }
    if let (Some(spi), Some(slot)) = (p.ah_spi, flow.ah_spi.get_mut(d)) {
        slot.get_or_insert(spi);
    }
    let Some(t) = p.tcp else { return };
    let hs = &mut flow.tcp;
    if t.has(TcpInfo::SYN) {
        if let Some(m) = hs.mss.get_mut(d) {
            *m = m.or(t.mss);
        }
        if let Some(w) = hs.wscale.get_mut(d) {
            *w = w.or(t.wscale);
        }
        match dir {
            Dir::ToServer if !t.has(TcpInfo::ACK) => hs.syn = hs.syn.or(Some(p.ts)),
            Dir::ToClient if t.has(TcpInfo::ACK) => hs.syn_ack = hs.syn_ack.or(Some(p.ts)),
            _ => {}
        }
    } else if dir == Dir::ToServer && hs.syn_ack.is_some() && hs.ack.is_none() {
        hs.ack = Some(p.ts);
    }
    if t.has(TcpInfo::FIN) {
        if let Some(f) = hs.fin.get_mut(d) {
            *f = true;
        }
    }
    if t.has(TcpInfo::RST) {
        hs.rst = true;
    }
}

#[cfg(test)]
mod tests;
