//! Live capture on a network interface.
//!
//! [`LiveSocket`] reads an interface on the caller's thread, straight from the kernel's block
//! ring: libpcap outside immediate mode uses `TPACKET_V3`, which hands frames over a block at a
//! time, when the block is full or a read timeout after its first frame, so a busy link costs
//! one wake-up per block rather than per frame, and no frame is copied before the pipeline
//! reads it. The handle is non-blocking and [`LiveSocket::pump`] waits for it with `poll(2)` up
//! to the read timeout, so a quiet link still returns control (to expire idle flows, serve
//! signals) and the last frames before a pause reach the pipeline at most a read timeout late.
//! The kernel ring (`capture.buffer_mb`) is the only buffer: while the pipeline is busy it
//! fills, and when it is full the kernel counts drops, which appear in [`LiveStats`], never
//! silently.
//!
//! Measured with `benches/live.sh` (README, Performance): this costs one pipeline about 0.35 to
//! 0.5 µs of CPU per frame, against 0.9 to 1.6 µs for a thread of its own that read in
//! immediate mode and copied frames into batches for the pipeline's thread, the shape this
//! module had before (and that rustnet, sniffnet and bandwhich use).
//!
//! Several sockets of one interface can share its traffic flow by flow in a fanout group
//! ([`FANOUT_FLOW`], [`FanoutGroup`]), each read by a pipeline of its own (`pipeline::Fanout`).

use super::{
    file::pcap_reason, libc_timeval::Timeval, ts_from_timeval, CaptureError, Frame, LinkType, Step,
};
use crate::ts::Ts;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Frames handed to the pipeline per [`LiveSocket::pump`] at most, so a busy link still lets
/// the caller serve signals and metrics between calls.
const BATCH_FRAMES: usize = 512;
/// libpcap read timeout (and the kernel's block timeout), and the longest
/// [`LiveSocket::pump`] waits for the handle to become readable: how often a quiet link
/// returns control.
const READ_TIMEOUT_MS: u16 = 100;
/// How often kernel drop counters are read.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// How to open a live interface.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interface name, e.g. `eth0` or `lo`.
    pub interface: String,
    /// BPF filter expression (tcpdump syntax); empty for none.
    pub bpf: String,
    /// Bytes captured per frame.
    pub snaplen: i32,
    /// Put the interface in promiscuous mode.
    pub promiscuous: bool,
    /// Kernel capture buffer in bytes (libpcap's default when `None`).
    pub buffer_bytes: Option<i32>,
    /// A fanout group to join (see [`FANOUT_FLOW`]): the sockets of one group on one interface
    /// share its traffic flow by flow, so that each can be read and analysed by its own thread.
    pub fanout: Option<FanoutGroup>,
}

/// Which fanout group a socket joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanoutGroup {
    /// A new group, whose id the kernel picks among those no socket uses
    /// (`PACKET_FANOUT_FLAG_UNIQUEID`, `0x2000`), so the sensor never joins a group of another
    /// program on the same interface (Suricata's default `cluster-id` is 99, Zeek's fanout id
    /// 23) and shares its traffic with it.
    New,
    /// The group of this id, made by a socket opened with [`FanoutGroup::New`]
    /// ([`LiveSocket::fanout_group`]).
    Join(u16),
}

/// `PACKET_FANOUT_FLAG_UNIQUEID` (`linux/if_packet.h`; not in the libc crate).
const FANOUT_UNIQUE_ID: u32 = 0x2000;

/// How a fanout group shares traffic (packet(7), `PACKET_FANOUT`): by the kernel's flow hash
/// (`PACKET_FANOUT_HASH`), which is symmetric, so both directions of a flow reach the same
/// socket (`fanout_demux_hash` uses `__skb_get_hash_symmetric`), with IP fragments reassembled
/// before they are hashed (`PACKET_FANOUT_FLAG_DEFRAG`, `0x8000` in `linux/if_packet.h`; the
/// libc crate does not define it), so a fragmented datagram is not split between sockets.
/// The kernel's flow dissector may hash a GRE or IP-in-IP packet by its inner flow, and hashes
/// a UDP tunnel (VXLAN, Geneve, Teredo) by its outer one: the reading side routes every
/// tunnelled frame by its inner flow itself (`pipeline::Fanout`).
pub const FANOUT_FLOW: u32 = nix::libc::PACKET_FANOUT_HASH | 0x8000;

// nix has no `PACKET_FANOUT` option; its `sockopt_impl!` is the documented way to add one, and
// the `setsockopt(2)`/`getsockopt(2)` calls it makes are nix's.
use nix::libc;
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
sockopt_impl!(
    /// `PACKET_FANOUT`: the group id in the low 16 bits, mode and flags in the high 16.
    PacketFanout,
    Both,
    libc::SOL_PACKET,
    libc::PACKET_FANOUT,
    u32,
    nix::sys::socket::sockopt::GetStruct<u32>,
    nix::sys::socket::sockopt::SetStruct<u32>
);

/// Counters the capture thread keeps: what libpcap's `pcap_stats` reports, plus our own.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Frames the capture thread read.
    pub frames: AtomicU64,
    /// Packets received by the filter (libpcap `ps_recv`).
    pub received: AtomicU64,
    /// Packets dropped because the kernel buffer was full (libpcap `ps_drop`).
    pub dropped: AtomicU64,
    /// Packets dropped by the interface or its driver (libpcap `ps_ifdrop`).
    pub if_dropped: AtomicU64,
}

/// Opens and activates `opts.interface` with its filter, joins the fanout group if one is asked
/// for, and makes the handle non-blocking (see the module documentation).
fn open_handle(
    opts: &LiveOptions,
) -> Result<(pcap::Capture<pcap::Active>, LinkType, Option<u16>), CaptureError> {
    let err = |e: pcap::Error| CaptureError::Live {
        interface: opts.interface.clone(),
        reason: pcap_reason(&e),
    };
    let mut inactive = pcap::Capture::from_device(opts.interface.as_str())
        .map_err(err)?
        .promisc(opts.promiscuous)
        .snaplen(opts.snaplen)
        .timeout(i32::from(READ_TIMEOUT_MS))
        // Not immediate: libpcap then uses the block ring (see the module documentation).
        .immediate_mode(false)
        .precision(pcap::Precision::Nano);
    if let Some(b) = opts.buffer_bytes {
        inactive = inactive.buffer_size(b);
    }
    let mut cap = inactive.open().map_err(err)?;
    if !opts.bpf.trim().is_empty() {
        cap.filter(&opts.bpf, true)
            .map_err(|e| CaptureError::Live {
                interface: opts.interface.clone(),
                reason: format!("BPF filter {:?}: {}", opts.bpf, pcap_reason(&e)),
            })?;
    }
    let group = match opts.fanout {
        None => None,
        Some(g) => {
            let (id, flags) = match g {
                FanoutGroup::New => (0, FANOUT_FLOW | FANOUT_UNIQUE_ID),
                FanoutGroup::Join(id) => (id, FANOUT_FLOW),
            };
            let fail = |what: &str, e: nix::Error| CaptureError::Live {
                interface: opts.interface.clone(),
                reason: format!("{what} fanout group: {}", e.desc()),
            };
            // The socket is bound to the interface by now (pcap_activate), as joining needs.
            nix::sys::socket::setsockopt(&cap, PacketFanout, &(u32::from(id) | flags << 16))
                .map_err(|e| fail("cannot join the", e))?;
            let joined = nix::sys::socket::getsockopt(&cap, PacketFanout)
                .map_err(|e| fail("cannot read the", e))?;
            Some(u16::try_from(joined & 0xffff).unwrap_or(0))
        }
    };
    let linktype = LinkType::from_dlt(cap.get_datalink().0)?;
    let cap = cap.setnonblock().map_err(err)?;
    Ok((cap, linktype, group))
}

/// How long a stopped [`LiveSocket`] goes on reading before it ends: long enough for the kernel
/// to hand over the block it was filling (at the latest a read timeout after its first frame)
/// and for one more wait.
const DRAIN_AFTER_STOP: Duration = Duration::from_millis(3 * READ_TIMEOUT_MS as u64);

/// A live capture, read on the caller's thread (see the module documentation).
pub struct LiveSocket {
    cap: pcap::Capture<pcap::Active>,
    linktype: LinkType,
    fanout_group: Option<u16>,
    interface: String,
    stats: Arc<LiveStats>,
    last_stats: Instant,
    /// When [`LiveSocket::stop`] was called.
    stopped: Option<Instant>,
}

impl LiveSocket {
    /// Opens the interface, applies the filter and joins the fanout group if `opts` names one.
    pub fn open(opts: &LiveOptions) -> Result<LiveSocket, CaptureError> {
        let (cap, linktype, fanout_group) = open_handle(opts)?;
        Ok(LiveSocket {
            cap,
            linktype,
            fanout_group,
            interface: opts.interface.clone(),
            stats: Arc::new(LiveStats::default()),
            last_stats: Instant::now(),
            stopped: None,
        })
    }

    /// The interface's link-layer framing.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// The id of the fanout group the socket is in.
    pub fn fanout_group(&self) -> Option<u16> {
        self.fanout_group
    }

    /// Capture counters (libpcap's, read once a second and when the capture ends).
    pub fn stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the capture: [`LiveSocket::pump`] reads for three read timeouts more, then
    /// returns [`Step::End`].
    pub fn stop(&mut self) {
        self.stopped.get_or_insert_with(Instant::now);
    }

    /// Hands up to a batch of frames to `sink`, waiting up to the read timeout for the first;
    /// [`Step::Idle`] with the wall clock if none came.
    pub fn pump<F: FnMut(&Frame<'_>)>(&mut self, mut sink: F) -> Result<Step, CaptureError> {
        if self.last_stats.elapsed() >= STATS_EVERY {
            self.last_stats = Instant::now();
            read_stats(&mut self.cap, &self.stats);
        }
        if self
            .stopped
            .is_some_and(|t| t.elapsed() >= DRAIN_AFTER_STOP)
        {
            read_stats(&mut self.cap, &self.stats);
            return Ok(Step::End);
        }
        match self.read(&mut sink)? {
            0 => {}
            n => return Ok(Step::Frames(n)),
        }
        wait_readable(&self.cap);
        match self.read(&mut sink)? {
            0 => Ok(Step::Idle(wall_clock())),
            n => Ok(Step::Frames(n)),
        }
    }

    /// Reads what is waiting, at most [`BATCH_FRAMES`] frames.
    fn read(&mut self, sink: &mut impl FnMut(&Frame<'_>)) -> Result<usize, CaptureError> {
        let mut n = 0;
        while n < BATCH_FRAMES {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = ts_from_timeval(&Timeval::from(p.header), true);
                    sink(&Frame {
                        ts,
                        data: p.data,
                        wire_len: p.header.len,
                    });
                    n += 1;
                }
                // Non-blocking: nothing is waiting.
                Err(pcap::Error::TimeoutExpired) => break,
                Err(e) => {
                    return Err(CaptureError::Live {
                        interface: self.interface.clone(),
                        reason: pcap_reason(&e),
                    })
                }
            }
        }
        self.stats.frames.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The wall clock, read only here at the capture boundary so idle flows can expire on a quiet link.
fn wall_clock() -> Ts {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ts::from_parts(i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos())
}

/// Waits until the handle has packets to read, at most [`READ_TIMEOUT_MS`].
fn wait_readable(cap: &pcap::Capture<pcap::Active>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    // An error (EINTR) only ends the wait early: the loop reads again either way.
    let _ = poll(&mut fds, PollTimeout::from(READ_TIMEOUT_MS));
}

/// Copies libpcap's counters (`pcap_stats`) into `stats`.
fn read_stats(cap: &mut pcap::Capture<pcap::Active>, stats: &LiveStats) {
    if let Ok(s) = cap.stats() {
        stats
            .received
            .store(u64::from(s.received), Ordering::Relaxed);
        stats.dropped.store(u64::from(s.dropped), Ordering::Relaxed);
        stats
            .if_dropped
            .store(u64::from(s.if_dropped), Ordering::Relaxed);
    }
}
