//! Live capture on a network interface.
//!
//! libpcap's read is blocking, so it runs on a dedicated, named thread that copies frames into
//! reusable batches and passes them over a bounded channel (the shape rustnet, sniffnet and
//! bandwhich use). Batches come back through a second channel, so steady-state capture allocates
//! nothing per packet. When the processing side falls behind, the capture thread blocks, the
//! kernel ring fills and the kernel counts drops: those appear in [`LiveStats`], never silently.
//!
//! The handle is read non-blocking and the thread waits for it with `poll(2)` up to the read
//! timeout: in immediate mode a blocking read may sit in libpcap's own poll until the next packet
//! whatever the timeout, which on a quiet link would hold the last packets (and their alerts) in
//! a partial batch indefinitely. Non-blocking, a partial batch is handed over as soon as nothing
//! more is waiting.

use super::{
    file::pcap_reason, libc_timeval::Timeval, ts_from_timeval, CaptureError, Frame, LinkType, Step,
};
use crate::ts::Ts;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Frames per batch before it is handed over even if the read timeout has not fired.
const BATCH_FRAMES: usize = 512;
/// Captured bytes per batch before it is handed over.
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between the capture thread and the pipeline.
const BATCHES_IN_FLIGHT: usize = 8;
/// libpcap read timeout, and the longest the capture thread waits for the handle to become
/// readable: how often it checks for shutdown on a quiet link.
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
}

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

struct Batch {
    buf: Vec<u8>,
    recs: Vec<(Ts, usize, usize, u32)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            buf: Vec::with_capacity(BATCH_BYTES + 65_536),
            recs: Vec::with_capacity(BATCH_FRAMES),
        }
    }
}

/// A running live capture.
pub struct LiveCapture {
    linktype: LinkType,
    full: Receiver<Batch>,
    empty: SyncSender<Batch>,
    stop: Arc<AtomicBool>,
    breaker: pcap::BreakLoop,
    stats: Arc<LiveStats>,
    thread: Option<JoinHandle<Result<(), CaptureError>>>,
}

impl LiveCapture {
    /// Opens the interface, applies the filter and starts the capture thread.
    pub fn open(opts: &LiveOptions) -> Result<LiveCapture, CaptureError> {
        let err = |e: pcap::Error| CaptureError::Live {
            interface: opts.interface.clone(),
            reason: pcap_reason(&e),
        };
        let mut inactive = pcap::Capture::from_device(opts.interface.as_str())
            .map_err(err)?
            .promisc(opts.promiscuous)
            .snaplen(opts.snaplen)
            .timeout(i32::from(READ_TIMEOUT_MS))
            .immediate_mode(true)
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
        let linktype = LinkType::from_dlt(cap.get_datalink().0)?;
        let mut cap = cap.setnonblock().map_err(err)?;
        // In immediate mode libpcap may block in poll() until a packet arrives, whatever the read
        // timeout; pcap_breakloop (libpcap ≥ 1.10 wakes the poll) is what ends a quiet capture.
        let breaker = cap.breakloop_handle();
        let (full_tx, full) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty, empty_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        for _ in 0..BATCHES_IN_FLIGHT {
            // The channel has exactly this capacity, so this never blocks.
            let _ = empty.try_send(Batch::new());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(LiveStats::default());
        let thread = {
            let (stop, stats) = (Arc::clone(&stop), Arc::clone(&stats));
            let interface = opts.interface.clone();
            std::thread::Builder::new()
                .name(format!("capture-{}", opts.interface))
                .spawn(move || capture_loop(cap, interface, full_tx, empty_rx, stop, stats))
                .map_err(|e| CaptureError::Live {
                    interface: opts.interface.clone(),
                    reason: format!("cannot start capture thread: {e}"),
                })?
        };
        Ok(LiveCapture {
            linktype,
            full,
            empty,
            stop,
            breaker,
            stats,
            thread: Some(thread),
        })
    }

    /// The interface's link-layer framing.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Capture counters, shared with the capture thread.
    pub fn stats(&self) -> Arc<LiveStats> {
        Arc::clone(&self.stats)
    }

    /// Asks the capture thread to stop; the next [`LiveCapture::pump`] calls drain what it had
    /// captured and then return [`Step::End`].
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.breaker.breakloop();
    }

    /// Waits up to the read timeout for a batch and hands its frames to `sink`.
    pub fn pump<F: FnMut(&Frame<'_>)>(&mut self, mut sink: F) -> Result<Step, CaptureError> {
        let wait = Duration::from_millis(u64::from(READ_TIMEOUT_MS) * 2);
        match self.full.recv_timeout(wait) {
            Ok(mut batch) => {
                let n = batch.recs.len();
                for &(ts, off, len, wire_len) in &batch.recs {
                    if let Some(data) = batch.buf.get(off..off + len) {
                        sink(&Frame { ts, data, wire_len });
                    }
                }
                batch.buf.clear();
                batch.recs.clear();
                // The thread may have exited; a batch that cannot be returned is simply dropped.
                let _ = self.empty.try_send(batch);
                Ok(Step::Frames(n))
            }
            Err(RecvTimeoutError::Timeout) => Ok(Step::Idle(wall_clock())),
            Err(RecvTimeoutError::Disconnected) => self.join(),
        }
    }

    fn join(&mut self) -> Result<Step, CaptureError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(CaptureError::Live {
                interface: String::new(),
                reason: "capture thread panicked".into(),
            }),
            _ => Ok(Step::End),
        }
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        self.stop();
        // Drain so a blocked capture thread can observe the stop flag, then let it finish.
        while self.full.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

fn capture_loop(
    mut cap: pcap::Capture<pcap::Active>,
    interface: String,
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
    stop: Arc<AtomicBool>,
    stats: Arc<LiveStats>,
) -> Result<(), CaptureError> {
    let mut batch = Batch::new();
    let mut last_stats = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut idle = false;
        let flush = match cap.next_packet() {
            Ok(p) => {
                let off = batch.buf.len();
                batch.buf.extend_from_slice(p.data);
                let ts = ts_from_timeval(&Timeval::from(p.header), true);
                batch.recs.push((ts, off, p.data.len(), p.header.len));
                stats.frames.fetch_add(1, Ordering::Relaxed);
                batch.recs.len() >= BATCH_FRAMES || batch.buf.len() >= BATCH_BYTES
            }
            // Non-blocking: nothing is waiting. Hand over what the batch holds now, then wait.
            Err(pcap::Error::TimeoutExpired) => {
                idle = true;
                !batch.recs.is_empty()
            }
            // pcap_breakloop makes pcap_next_ex return PCAP_ERROR_BREAK, which the crate reports
            // as the end of packets.
            Err(pcap::Error::NoMorePackets) if stop.load(Ordering::Relaxed) => break,
            Err(e) => {
                return Err(CaptureError::Live {
                    interface,
                    reason: pcap_reason(&e),
                })
            }
        };
        if flush {
            let next = loop {
                match empty.try_recv() {
                    Ok(b) => break b,
                    Err(TryRecvError::Empty) if stop.load(Ordering::Relaxed) => break Batch::new(),
                    Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(1)),
                    Err(TryRecvError::Disconnected) => return Ok(()),
                }
            };
            if full.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(());
            }
        }
        if idle {
            wait_readable(&cap);
        }
        if last_stats.elapsed() >= STATS_EVERY {
            last_stats = std::time::Instant::now();
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
    }
    if !batch.recs.is_empty() {
        let _ = full.send(batch);
    }
    Ok(())
}
