//! Flow table: packets in, bidirectional flows out.
//!
//! A flow is keyed by VLAN, IP protocol and both (address, port) ends, normalised so both
//! directions meet in one entry. The table records who initiated it, per-direction packet and
//! byte counts, the TCP handshake (SYN options, TTLs, RTTs) and, while detectors still want it,
//! the first payload bytes of each direction up to [`payload::STREAM_PREFIX_MAX`].
//!
//! Failure policy: every size is bounded. The table holds at most `max_flows` entries and evicts
//! the least recently active one when full; payload retention is capped per flow and by the
//! number of flows under inspection at once, and when every buffer is taken the least recently
//! active holder gives its own up (so a flood of new flows cannot starve a live session of
//! inspection). Evictions and inspections cut short are counted, never silent. Time comes only from packets (`ingest_at`) or from the caller (`expire`).

mod key;
mod payload;
mod table;

pub use key::{Dir, FlowKey};
pub use payload::{
    DirPayload, Payloads, Segment, DATAGRAM_PREFIX_MAX, SEGMENTS_MAX, STREAM_PREFIX_MAX,
};
pub use table::{EndReason, Flow, FlowConfig, FlowId, FlowStats, FlowTable, Handshake, Ingest};
