//! Sharded analysis of a classic pcap file with the reading shared: `N` pipelines on `N`
//! threads, and every thread reads.
//!
//! ```text
//! blocks:   0        1        2        3        4     ...   (capture::Blocks, read by pread)
//! read by:  whichever thread needs the next block first: read, split into records, decode,
//!           route (in block order: the relay), then shared with every thread
//! thread t: analyses its own flows' frames of every block, in block order ──▶ final stage on
//!           thread 0: merge, dedup, counts, sink
//! ```
//!
//! [`Workers`](super::Workers) reads on one thread and hands frames to the others, so on a
//! machine with as many cores as pipelines that thread, reading for everyone, sets the pace.
//! Here reading is shared: a thread that is about to need a block nobody has read yet claims
//! it, reads it (the kernel's copy runs on every core), splits it into records, routes every
//! frame to the pipeline of its flow ([`Router`], the same routing as `Workers`: the flow key
//! read from fixed header fields by `decode::peek`, a full decode only of the frames the peek
//! declines), and hands the block to every thread. Every thread then analyses, block after
//! block in file order, the frames of its own flows (decoding each from the shared block), and
//! the expiry ticks and DNS responses every pipeline sees, as a worker of `Workers` does: each
//! flow is decided as one pipeline decides it, and the final stage ([`Merge`]) gives the
//! same alerts in the same order. Handing the owner decoded packets instead, so no frame is
//! decoded twice, measured no faster: a decoded packet is as many cache lines to move between
//! cores as the frame's headers.
//!
//! Splitting is the only part done in file order: a block's first record is where the previous
//! block's last one ends, and the expiry schedule and frame numbers run on from the previous
//! block too. That relay ([`Relay`]) passes between threads with the blocks they claimed, in
//! order; a thread claims a block only to read and route it at once, so the relay never waits
//! for a thread that is busy analysing. Threads keep up to [`AHEAD_BLOCKS`] blocks routed
//! ahead of the one they analyse.
//!
//! Failure policy: an unreadable or corrupt record ends the records there, as a truncated file
//! does; every record before it is analysed, the flows are ended and their alerts delivered,
//! then the error is returned. A sink error stops every thread and is returned.

use super::workers::{
    Merge, Outbox, OutboxSink, Router, Shard, Tag, Tagged, DRAIN, ROUTE_NAMES, ROUTE_OWNER,
};
use super::{AlertSink, Pipeline, Stats};
use crate::capture::{BlockEnd, Blocks, CaptureError, Chunk, Fetched, FramePlace, LinkType};
use crate::config::Config;
use crate::ts::Ts;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Blocks kept routed ahead of the one a thread analyses: enough that a thread rarely finds
/// its next block missing, few enough that a block is still in the caches when it is
/// analysed.
const AHEAD_BLOCKS: u64 = 8;

/// Most blocks claimed past the slowest thread's: the bound on blocks in flight (each a
/// buffer of [`crate::capture::BLOCK_LEN`] plus the longest record), about 50 MB. Threads do
/// not progress evenly (thread 0 also runs the final stage), and a thread that is ahead reads
/// and routes blocks for the others. Measured on the 2 GB benchmark capture with 2 threads:
/// with a lead of 16 blocks the faster thread waited, and one run in two took up to 1.8 times
/// as long; 64 ran as fast as no bound.
const LEAD_BLOCKS: u64 = 64;

/// How many steps ahead a thread asks the CPU to fetch the frames it will analyse. Most of
/// them were read, and so written to the caches, by the other thread's core; a plain load
/// waits for each such line in turn (about 45 ns a frame more than a frame read on the same
/// core, measured with `perf` on the benchmark capture), while a prefetch lets the fetches of
/// the next frames overlap the analysis of this one. 16 steps: 8 and 32 measured the same
/// (±2 %), and without it `--workers 2` took 8–12 % longer.
const PREFETCH_STEPS: usize = 16;

/// How a file analysed by [`analyze_file`] ended.
#[derive(Debug)]
pub enum FileEnd {
    /// At a record boundary.
    End,
    /// Inside a record (libpcap's words); every record before it was analysed.
    Truncated(String),
}

/// Why [`analyze_file`] stopped early.
#[derive(Debug)]
pub enum FileError {
    /// A record could not be read; every record before it was analysed and its alerts
    /// delivered.
    Input(CaptureError),
    /// The sink failed.
    Output(io::Error),
}

/// The relay: what splitting the next block needs from the blocks before it.
#[derive(Debug)]
struct Relay {
    /// The next block to claim.
    claimed: u64,
    /// The block whose turn it is to be split.
    split: u64,
    /// Where its first record starts.
    first: u64,
    /// Frames before it.
    seq: u64,
    /// The block whose turn it is to place its expiry ticks and be sent.
    ticked: u64,
    /// The expiry schedule where the previous block left it.
    next_expire: Ts,
    /// Set by the block that ended the records (its number and why); no later block is split.
    end: Option<(u64, BlockEnd)>,
}

/// What the threads share.
struct Shared<'a> {
    blocks: &'a Blocks,
    n: usize,
    link: LinkType,
    relay: Mutex<Relay>,
    turn: Condvar,
    /// Counts the relay's moves, so a waiting thread can watch for one without the lock.
    moves: AtomicU64,
    /// Per thread, the block it is analysing (`u64::MAX` once it has stopped): no block is
    /// claimed more than [`LEAD_BLOCKS`] past the slowest thread, so blocks in flight stay
    /// bounded however unevenly the threads progress.
    at: Vec<AtomicU64>,
    /// Buffers and lists of blocks every thread is done with, per thread that read them: a
    /// thread reads into a buffer it read into before, so the kernel's copy writes to lines
    /// already in that core's cache.
    pool: Vec<Mutex<Vec<Spare>>>,
    /// Set when the final stage fails: every thread stops.
    abort: AtomicBool,
}

/// One step of one pipeline, at a frame of the block (its index there).
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Analyse the frame: the pipeline's own.
    Frame(u32),
    /// Learn the DNS names the frame carries (another pipeline's DNS response).
    Names(u32),
}

/// A block read, split and routed by the thread that read it: its records, and per pipeline
/// what that pipeline does with them, in stream order.
struct Spread {
    chunk: Chunk,
    /// Every frame of the block, in file order.
    frames: Vec<FramePlace>,
    /// Per pipeline, its steps in stream order.
    steps: Vec<Vec<Step>>,
    /// The frames every pipeline runs an expiry tick before, in order.
    ticks: Vec<u32>,
    /// The sequence number before the block's first frame.
    first: u64,
    /// The thread that read it (whose pool its buffers go back to).
    reader: usize,
}

/// What a block every thread is done with leaves to be filled again.
struct Spare {
    buf: Box<[u8]>,
    frames: Vec<FramePlace>,
    steps: Vec<Vec<Step>>,
    ticks: Vec<u32>,
}

/// A spread block on its way to every thread; `last` when it ended the records.
struct Block {
    spread: Arc<Spread>,
    last: bool,
}

/// A thread's report to the final stage: its alerts since the last, the position it has
/// passed (`u64::MAX` once drained) and its counters.
struct Report {
    pipeline: usize,
    alerts: Vec<Tagged>,
    upto: u64,
    stats: Stats,
    /// The file offset past the block just analysed.
    reached: u64,
}

/// Analyses the classic pcap file `blocks` (frames of framing `link`) with `n` pipelines
/// configured by `cfg`, delivering to `sink`: the caller's thread and `n - 1` more, all of them
/// reading (see the module documentation). `progress` is told the file
/// offset reached after each block. Returns the counters and how the file ended.
pub fn analyze_file(
    cfg: &Config,
    blocks: &Blocks,
    link: LinkType,
    n: usize,
    sink: &mut dyn AlertSink,
    progress: &dyn Fn(u64),
) -> Result<(Stats, FileEnd), FileError> {
    let n = n.clamp(1, super::WORKERS_MAX);
    let mut share = cfg.clone();
    share.flow.max_flows = cfg.flow.max_flows.div_ceil(n);
    share.flow.max_inspecting = cfg.flow.max_inspecting.div_ceil(n);
    let shared = Shared {
        blocks,
        n,
        link,
        relay: Mutex::new(Relay {
            claimed: 0,
            split: 0,
            ticked: 0,
            first: blocks.first_record(),
            seq: 0,
            next_expire: Ts(0),
            end: None,
        }),
        turn: Condvar::new(),
        moves: AtomicU64::new(0),
        at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        pool: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
        abort: AtomicBool::new(false),
    };
    // Routed blocks, to every thread, sent in block order (while the sender holds the relay).
    let (outs, inboxes): (Vec<Sender<Block>>, Vec<Receiver<Block>>) =
        (0..n).map(|_| mpsc::channel()).unzip();
    let (report_tx, reports) = mpsc::channel::<Report>();
    let mut merge = Merge::new(n, cfg, sink);
    let abort = || {
        shared.abort.store(true, Ordering::Relaxed);
        shared.moves.fetch_add(1, Ordering::Release);
        shared.turn.notify_all();
    };
    let result = std::thread::scope(|scope| {
        let mut lanes = inboxes.into_iter().enumerate();
        let Some((_, own_in)) = lanes.next() else {
            return Err(FileError::Output(io::Error::other(
                "no pipeline to analyse with",
            )));
        };
        for (t, inb) in lanes {
            let (shared, share, report, out) = (&shared, &share, report_tx.clone(), outs.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("remotewatch-reader-{t}"))
                .spawn_scoped(scope, move || {
                    Lane::new(t, shared, share, out, inb).run(|r| {
                        // The final stage gone means the run was aborted.
                        let _ = report.send(r);
                        Ok(())
                    })
                });
            if let Err(e) = spawned {
                abort();
                return Err(FileError::Output(e));
            }
        }
        drop(report_tx);
        let mut own_stats = Stats::default();
        let ran = Lane::new(0, &shared, &share, outs, own_in).run(|r| {
            if r.upto == u64::MAX {
                own_stats = r.stats.clone();
            } else {
                progress(r.reached);
            }
            merge.report(0, r.alerts, r.upto, r.stats);
            while let Ok(o) = reports.try_recv() {
                merge.report(o.pipeline, o.alerts, o.upto, o.stats);
            }
            merge.deliver()
        });
        if let Err(e) = ran {
            abort();
            return Err(FileError::Output(e));
        }
        // Every other thread reports its drain as it ends.
        for o in &reports {
            merge.report(o.pipeline, o.alerts, o.upto, o.stats);
        }
        if !merge.all_finished() {
            return Err(FileError::Output(io::Error::other(
                "an analysis thread stopped unexpectedly",
            )));
        }
        merge.deliver().map_err(FileError::Output)?;
        merge.sink().flush().map_err(FileError::Output)?;
        Ok(merge.stats(&own_stats))
    })?;
    let end = shared
        .relay
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .end;
    match end {
        None | Some((_, BlockEnd::End | BlockEnd::Next(_))) => Ok((result, FileEnd::End)),
        Some((_, BlockEnd::Truncated(why))) => Ok((result, FileEnd::Truncated(why))),
        Some((_, BlockEnd::Failed(e))) => Err(FileError::Input(e)),
    }
}

/// Spins (`std::hint::spin_loop`, tens of nanoseconds each) a thread waits for the relay or a
/// block before it sleeps. What it waits for is usually another thread's split of one block,
/// a few microseconds away: sooner than a sleep and a wake-up cost both threads.
const SPINS: u32 = 1 << 10;

/// How long a thread too far ahead to claim its next block sleeps before it looks again.
const HELD_BACK: Duration = Duration::from_micros(100);

/// How long a thread waiting for a block sleeps before it looks whether the run was aborted
/// (a thread that stopped may have claimed the block it waits for).
const ABORT_POLL: Duration = Duration::from_millis(20);

/// One thread: its pipeline, and its part in reading.
struct Lane<'a> {
    t: usize,
    shared: &'a Shared<'a>,
    pipe: Pipeline<'static>,
    outbox: Rc<RefCell<Outbox>>,
    router: Router,
    /// To every thread (this one included).
    out: Vec<Sender<Block>>,
    inbox: Receiver<Block>,
    /// The stream position this pipeline has passed.
    upto: u64,
    /// Per frame of the block being read, whether it is an IP packet (for the expiry
    /// schedule).
    packets: Vec<bool>,
}

impl<'a> Lane<'a> {
    fn new(
        t: usize,
        shared: &'a Shared<'a>,
        cfg: &Config,
        out: Vec<Sender<Block>>,
        inbox: Receiver<Block>,
    ) -> Lane<'a> {
        let outbox = Outbox::shared();
        let pipe = Pipeline::owning(cfg, shared.link, Box::new(OutboxSink(Rc::clone(&outbox))))
            .without_dedup();
        Lane {
            t,
            shared,
            pipe,
            outbox,
            router: Router::new(shared.link, Shard::even(shared.n)),
            out,
            inbox,
            upto: 0,
            packets: Vec::new(),
        }
    }

    /// Reads, routes and analyses until the records end, reporting after every block and once
    /// drained; stops at once when `report` fails or the run is aborted.
    fn run(mut self, mut report: impl FnMut(Report) -> io::Result<()>) -> io::Result<()> {
        let mut b = 0u64;
        while !self.shared.abort.load(Ordering::Relaxed) {
            if let Some(at) = self.shared.at.get(self.t) {
                at.store(b, Ordering::Release);
            }
            // Keep blocks routed ahead, then take this one (routing it if nobody has).
            while self.claim(b + AHEAD_BLOCKS) {}
            let Some(block) = self.next(b) else {
                break;
            };
            self.analyse(&block.spread);
            if let Some(s) = Arc::into_inner(block.spread) {
                let (mut frames, mut steps, mut ticks) = (s.frames, s.steps, s.ticks);
                frames.clear();
                steps.iter_mut().for_each(Vec::clear);
                ticks.clear();
                if let Some(pool) = self.shared.pool.get(s.reader) {
                    pool.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Spare {
                            buf: s.chunk.into_buffer(),
                            frames,
                            steps,
                            ticks,
                        });
                }
            }
            report(self.report(self.upto, self.shared.blocks.block_end(b)))?;
            if block.last {
                break;
            }
            b += 1;
        }
        if let Some(at) = self.shared.at.get(self.t) {
            at.store(u64::MAX, Ordering::Release);
        }
        self.outbox.borrow_mut().tag = DRAIN;
        // The outbox cannot fail, so neither can the pipeline.
        let _ = self.pipe.finish();
        report(self.report(u64::MAX, 0))
    }

    /// Block `b`: as soon as it is routed, routing it here if no thread has claimed it yet;
    /// `None` when none will come (the records ended before it, or the run was aborted).
    fn next(&mut self, b: u64) -> Option<Block> {
        loop {
            if let Ok(block) = self.inbox.try_recv() {
                return Some(block);
            }
            if self.claim(b) {
                continue;
            }
            let (routing, ended) = {
                let relay = self
                    .shared
                    .relay
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                (
                    relay.claimed > b,
                    relay.end.is_some() || relay.claimed >= self.shared.blocks.count(),
                )
            };
            if self.shared.abort.load(Ordering::Relaxed) || (!routing && ended) {
                return None;
            }
            // Another thread is reading it, or this thread is too far ahead of the slowest
            // one to claim it: that one will move on.
            for _ in 0..SPINS {
                if let Ok(block) = self.inbox.try_recv() {
                    return Some(block);
                }
                std::hint::spin_loop();
            }
            let wait = if routing { ABORT_POLL } else { HELD_BACK };
            match self.inbox.recv_timeout(wait) {
                Ok(block) => return Some(block),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Claims the next block to read if it is not past block `upto` and the records have not
    /// ended, and reads, splits, routes and sends it. Whether it claimed one.
    fn claim(&mut self, upto: u64) -> bool {
        let sh = self.shared;
        let slowest = sh
            .at
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let upto = upto.min(slowest.saturating_add(LEAD_BLOCKS));
        let b = {
            let mut relay = sh.relay.lock().unwrap_or_else(PoisonError::into_inner);
            if relay.claimed > upto
                || relay.claimed >= sh.blocks.count()
                || relay.end.is_some()
                || sh.abort.load(Ordering::Relaxed)
            {
                return false;
            }
            relay.claimed += 1;
            relay.claimed - 1
        };
        self.read(b);
        true
    }

    /// Reads block `b` (claimed by this thread), splits it when the relay reaches it, decodes
    /// and routes its frames, places its expiry ticks when the relay reaches it again, and sends
    /// it to every thread. The relay holds only the two short steps in file order: splitting
    /// (a walk over record headers) and placing ticks (a walk over the decoded times).
    fn read(&mut self, b: u64) {
        let sh = self.shared;
        let (spare, mut frames, mut steps, mut ticks) = match sh
            .pool
            .get(self.t)
            .and_then(|p| p.lock().unwrap_or_else(PoisonError::into_inner).pop())
        {
            Some(s) => (Some(s.buf), s.frames, s.steps, s.ticks),
            None => (
                None,
                Vec::new(),
                (0..sh.n).map(|_| Vec::new()).collect(),
                Vec::new(),
            ),
        };
        // Read before waiting: reading needs nothing from other blocks.
        let fetched: Fetched = sh.blocks.fetch(b, spare);
        let (first, seq) = {
            let relay = self.wait(|r| r.split == b || r.end.is_some());
            if relay.split != b || relay.end.is_some() || sh.abort.load(Ordering::Relaxed) {
                // An earlier block ended the records, or the run was aborted.
                return;
            }
            (relay.first, relay.seq)
        };
        // The turn is this block's until `split` moves on: split without holding the lock, which
        // other threads take to claim blocks.
        let (chunk, end) = fetched.split(sh.blocks, first, seq, &mut frames);
        let last = {
            let mut relay = sh.relay.lock().unwrap_or_else(PoisonError::into_inner);
            relay.split = b + 1;
            self.moved();
            relay.seq = seq + chunk.frames() as u64;
            match end {
                BlockEnd::Next(next) => {
                    relay.first = next;
                    false
                }
                other => {
                    relay.end = Some((b, other));
                    true
                }
            }
        };
        sh.turn.notify_all();
        let (router, packets) = (&self.router, &mut self.packets);
        packets.clear();
        for (i, &place) in frames.iter().enumerate() {
            // A block holds fewer frames than `u32::MAX` (its bytes are fewer).
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let (route, packet) = router.place_frame(&chunk.frame(place));
            packets.push(packet);
            let owner = usize::from(route & ROUTE_OWNER);
            for (t, list) in steps.iter_mut().enumerate() {
                if t == owner {
                    list.push(Step::Frame(i));
                } else if route & ROUTE_NAMES != 0 {
                    list.push(Step::Names(i));
                }
            }
        }
        {
            let mut relay = self.wait(|r| r.ticked == b);
            if relay.ticked != b || sh.abort.load(Ordering::Relaxed) {
                return;
            }
            self.router.resume(relay.next_expire);
            for (i, (p, &packet)) in frames.iter().zip(&self.packets).enumerate() {
                if packet && self.router.expiry_due(p.ts()) {
                    ticks.push(u32::try_from(i).unwrap_or(u32::MAX));
                }
            }
            let spread = Arc::new(Spread {
                chunk,
                frames,
                steps,
                ticks,
                first: seq,
                reader: self.t,
            });
            // Sent before the relay moves on, so every thread receives blocks in order.
            for tx in &self.out {
                // A thread that has stopped (aborted run) no longer needs blocks.
                let _ = tx.send(Block {
                    spread: Arc::clone(&spread),
                    last,
                });
            }
            relay.ticked = b + 1;
            self.moved();
            relay.next_expire = self.router.next_expire();
        }
        sh.turn.notify_all();
    }

    /// The relay once `ready` holds of it (or the run is aborted).
    fn wait(&self, ready: impl Fn(&Relay) -> bool) -> std::sync::MutexGuard<'a, Relay> {
        let sh = self.shared;
        let lock = || sh.relay.lock().unwrap_or_else(PoisonError::into_inner);
        let mut relay = lock();
        let mut spins = 0;
        while !ready(&relay) && !sh.abort.load(Ordering::Relaxed) {
            if spins < SPINS {
                // Watch for the next move without holding the lock the mover needs.
                let seen = sh.moves.load(Ordering::Acquire);
                drop(relay);
                while spins < SPINS && sh.moves.load(Ordering::Acquire) == seen {
                    spins += 1;
                    std::hint::spin_loop();
                }
                relay = lock();
            } else {
                relay = sh.turn.wait(relay).unwrap_or_else(PoisonError::into_inner);
            }
        }
        relay
    }

    /// Tells waiting threads the relay has moved (called with the relay's lock held).
    fn moved(&self) {
        self.shared.moves.fetch_add(1, Ordering::Release);
    }

    /// Runs this pipeline's steps of a block, and every expiry tick in its place.
    fn analyse(&mut self, s: &Spread) {
        let outbox = &self.outbox;
        let set_tag = |i: u32, step: u8| {
            outbox.borrow_mut().tag = Tag {
                seq: s.first + u64::from(i) + 1,
                step,
            };
        };
        let frame = |i: u32| s.frames.get(i as usize);
        let pipe = &mut self.pipe;
        let mut ticks = s.ticks.iter().copied().peekable();
        // The outbox cannot fail, so neither can the pipeline.
        let mut tick_upto = |pipe: &mut Pipeline<'_>, upto: u32| {
            while let Some(k) = ticks.next_if(|&k| k <= upto) {
                if let Some(p) = frame(k) {
                    set_tag(k, 0);
                    let _ = pipe.idle(p.ts());
                }
            }
        };
        let steps = s.steps.get(self.t).map(Vec::as_slice).unwrap_or_default();
        for (k, &step) in steps.iter().enumerate() {
            if let Some(&(Step::Frame(j) | Step::Names(j))) = steps.get(k + PREFETCH_STEPS) {
                if let Some(&p) = frame(j) {
                    s.chunk.prefetch(p);
                }
            }
            match step {
                Step::Frame(i) => {
                    tick_upto(pipe, i);
                    if let Some(&p) = frame(i) {
                        set_tag(i, 1);
                        let _ = pipe.frame(&s.chunk.frame(p));
                    }
                }
                Step::Names(i) => {
                    tick_upto(pipe, i);
                    if let Some(&p) = frame(i) {
                        pipe.learn_names(&s.chunk.frame(p));
                    }
                }
            }
        }
        tick_upto(pipe, u32::MAX);
        self.upto = s.first + s.frames.len() as u64;
    }

    fn report(&self, upto: u64, reached: u64) -> Report {
        Report {
            pipeline: self.t,
            alerts: std::mem::take(&mut self.outbox.borrow_mut().alerts),
            upto,
            stats: self.pipe.stats(),
            reached,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
